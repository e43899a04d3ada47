"""A run killed with SIGKILL and restarted with the same command continues exactly where it stopped."""

import os
import random
import re
import signal
import subprocess
import sys

import pytest
from conftest import IN_PROCESS_PATCHES, logged_updates, train_flags
from fairseq import checkpoint_utils
from fairseq.file_io import PathManager

from fairseq_hybrid_vae.fairseq_fixes.patches import command_line_patches

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down

UPDATES, SAVE_EVERY, EPOCH = 24, 4, 10  # 10 updates per epoch: the run crosses two epoch boundaries


def command(data: str, save_dir: str):
    train = os.path.join(os.path.dirname(sys.executable), "hybrid-vae-train")
    return [train] + train_flags(data, save_dir, "hybrid_vae_lstm", [
        "--max-update", str(UPDATES), "--save-interval-updates", str(SAVE_EVERY),
        "--kl-anneal-start", "5", "--kl-anneal-updates", "10", "--disable-validation"])


def stats_of(lines) -> dict:
    return {int(s["num_updates"]): s for s in logged_updates(lines)}


def run(cmd) -> list:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return (result.stdout + result.stderr).splitlines()


def test_sigkill_then_restart_matches_an_uninterrupted_run(tiny_data, tmp_path):
    reference = stats_of(run(command(tiny_data, str(tmp_path / "reference"))))
    assert sorted(reference) == list(range(1, UPDATES + 1))

    save_dir = str(tmp_path / "killed")
    kill_at = random.Random(0).randint(SAVE_EVERY + 1, UPDATES - SAVE_EVERY)  # the same in every run
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    job = subprocess.Popen(command(tiny_data, save_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env)
    for line in job.stdout:
        if f'"num_updates": "{kill_at}"' in line:
            job.send_signal(signal.SIGKILL)
            break
    job.wait()
    assert job.returncode == -signal.SIGKILL, f"the job ended before update {kill_at}"

    # Every file under a checkpoint's name is complete, and no partial file is left to look like one.
    saved = sorted(name for name in os.listdir(save_dir) if name.endswith(".pt"))
    assert "checkpoint_last.pt" in saved
    for name in saved:
        state = checkpoint_utils.load_checkpoint_to_cpu(os.path.join(save_dir, name))
        assert state["model"], name
    last = checkpoint_utils.load_checkpoint_to_cpu(os.path.join(save_dir, "checkpoint_last.pt"))
    resumed_from = last["optimizer_history"][-1]["num_updates"]
    # fairseq saves every SAVE_EVERY updates and at the end of every epoch; a kill after update k (the
    # log line can trail the run by a few updates) resumes from one of those saves.
    saves = [u for u in range(1, UPDATES + 1) if u % SAVE_EVERY == 0 or u % EPOCH == 0]
    assert resumed_from in saves and resumed_from <= kill_at + 3

    restarted = run(command(tiny_data, save_dir))
    assert any(re.search(rf"Loaded checkpoint .*checkpoint_last\.pt .*@ {resumed_from} updates", line)
               for line in restarted), "\n".join(restarted[-30:])
    after = stats_of(restarted)
    assert sorted(after) == list(range(resumed_from + 1, UPDATES + 1)), (kill_at, resumed_from)
    for update, stats in after.items():  # the same windows, noise, optimizer state: the same numbers
        for key in ["loss", "rec", "kl", "aux", "kl_weight", "gnorm"]:
            assert stats[key] == reference[update][key], (update, key, kill_at)


def test_checkpoint_copies_are_atomic(tmp_path, monkeypatch):
    """fairseq copies a saved checkpoint to checkpoint_last.pt; a copy that dies midway leaves the old
    checkpoint_last.pt whole and no partial file behind."""
    src, dst = tmp_path / "checkpoint_3_8.pt", tmp_path / "checkpoint_last.pt"
    src.write_bytes(b"new" * 1000)
    dst.write_bytes(b"old checkpoint")

    def dies_midway(a, b):
        with open(b, "wb") as f:
            f.write(b"ne")
        raise KeyboardInterrupt

    monkeypatch.setattr("shutil.copyfile", dies_midway)
    with command_line_patches(IN_PROCESS_PATCHES):  # what fairseq-train runs with
        try:
            PathManager.copy(str(src), str(dst), overwrite=True)
        except KeyboardInterrupt:
            pass
        assert dst.read_bytes() == b"old checkpoint"
        assert sorted(os.listdir(tmp_path)) == ["checkpoint_3_8.pt", "checkpoint_last.pt"]
        monkeypatch.undo()
        assert PathManager.copy(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == b"new" * 1000
