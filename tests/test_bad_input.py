"""Bad input through the real CLIs: one line naming the problem and the fix, exit 1, nothing lost.

Each case of docs/reliability.md has its test here (or in test_prepare.py for hybrid-vae-prepare).
"""

import os
import random
import shutil
import subprocess
import sys

import pytest
from conftest import PACKAGE_DIR, run_train, train_flags

BIN = os.path.dirname(sys.executable)
HELPER = os.path.join(os.path.dirname(__file__), "helpers", "train_and_dump.py")


def cli(program: str, args, env=None, cwd=None) -> subprocess.CompletedProcess:
    command = [sys.executable, HELPER] if program == "train_and_dump" else [os.path.join(BIN, program)]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def generate_flags(data, checkpoint, subset: str = "valid"):
    return [data, "--user-dir", PACKAGE_DIR, "--task", "text_vae", "--sample-size", "16", "--path",
            checkpoint, "--gen-subset", subset, "--beam", "1", "--batch-size", "8", "--cpu"]


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("trained")
    run_train(tiny_data, str(save_dir), "hybrid_vae_lstm", ["--max-update", "10"])
    return save_dir / "checkpoint_last.pt"


def prepared(tmp_path, text: str) -> str:
    from fairseq_hybrid_vae.cli.prepare import cli_main

    (tmp_path / "corpus.txt").write_text(text)
    cli_main(["--train", str(tmp_path / "corpus.txt"), "--valid", str(tmp_path / "corpus.txt"),
              "--destdir", str(tmp_path / "data")])
    return str(tmp_path / "data")


def test_corpus_shorter_than_one_window(tmp_path):
    data = prepared(tmp_path, "a tiny corpus\n")
    flags = train_flags(data, str(tmp_path / "ckpt"), "hybrid_vae_lstm", ["--max-update", "2"])
    result = cli("hybrid-vae-train", flags)
    one_line_error(result, "fewer than one window of --sample-size 16", "smaller --sample-size")
    assert not os.path.exists(tmp_path / "ckpt" / "checkpoint_last.pt")


def test_a_wrong_data_path_leaves_no_folder_behind_and_keeps_an_existing_one(tmp_path, trained):
    """fairseq-train creates --save-dir before the task reads the data: a start refused there
    removes the folder it created, empty, and leaves one that was there, with its checkpoint."""
    missing = str(tmp_path / "no-data")
    result = cli("hybrid-vae-train", train_flags(missing, str(tmp_path / "new"), "hybrid_vae_lstm", []))
    one_line_error(result, f"no dictionary at {missing}/dict.txt", "hybrid-vae-prepare")
    assert not os.path.exists(tmp_path / "new")
    nested = str(tmp_path / "runs" / "new")
    result = cli("hybrid-vae-train", train_flags(missing, nested, "hybrid_vae_lstm", []))
    one_line_error(result, f"no dictionary at {missing}/dict.txt")
    assert not os.path.exists(tmp_path / "runs")  # fairseq made both folders
    kept = tmp_path / "kept"
    kept.mkdir()
    shutil.copy(trained, kept / "checkpoint_last.pt")
    result = cli("hybrid-vae-train", train_flags(missing, str(kept), "hybrid_vae_lstm", []))
    one_line_error(result, f"no dictionary at {missing}/dict.txt")
    assert os.listdir(kept) == ["checkpoint_last.pt"]


def test_sample_size_not_divisible_by_two_to_the_layers(tiny_data, tmp_path):
    result = cli("hybrid-vae-train", train_flags(tiny_data, str(tmp_path), "hybrid_vae_lstm",
                                              ["--max-update", "2", "--sample-size", "18"]))
    one_line_error(result, "--sample-size 18 is not divisible by 2^2 = 4", "e.g. 16 or 20")


def test_missing_split(tiny_data, tmp_path, trained):
    result = cli("hybrid-vae-generate", generate_flags(tiny_data, trained, subset="nosuch"))
    one_line_error(result, "split 'nosuch' not found", "--gen-subset")
    result = cli("hybrid-vae-latent", ["neighbours", tiny_data, " the ", "--path", trained,
                                       "--split", "nosuch"])
    one_line_error(result, "split 'nosuch' not found", "--split")
    assert result.stdout == ""  # no S- record printed before the refusal


def test_data_directory_with_another_dictionary(tmp_path, trained):
    other = prepared(tmp_path, "completely different letters: xyz qwv 0123456789\n" * 40)
    result = cli("hybrid-vae-generate", generate_flags(other, trained))
    one_line_error(result, "is not the dictionary this model was trained with", "pass the data directory")
    result = cli("hybrid-vae-eval", [other, "--path", trained, "--iw-samples", "2", "--cpu"])
    one_line_error(result, "is not the dictionary this model was trained with")


def test_line_padding_must_match_the_checkpoints_in_line_mode_only(tiny_data):
    """What a checkpoint's task state holds of the samples its encoder read, against the task that
    loads it: the padding of lines is compared in line mode, where it is part of every sample the
    encoder reads (not in prior mode, which encodes none)."""
    from fairseq_hybrid_vae.common.errors import InputError
    from fairseq_hybrid_vae.tasks.text_vae import TextVAEConfig, TextVAETask

    def task(mode: str, padding: str, gen_mode: str = "reconstruct") -> TextVAETask:
        return TextVAETask.setup_task(TextVAEConfig(data=tiny_data, sample_mode=mode, line_padding=padding,
                                                    gen_mode=gen_mode))

    trained_with = task("line", "eos").state_dict()
    assert {trained_with["sample_mode"], trained_with["line_padding"]} == {"line", "eos"}
    with pytest.raises(InputError, match="--line-padding pad differs from the checkpoint's eos: pass "
                                         "--line-padding eos"):
        task("line", "pad").load_state_dict(trained_with)
    task("line", "eos").load_state_dict(trained_with)
    task("line", "pad", gen_mode="prior").load_state_dict(trained_with)  # draws of z: no line is encoded
    window = task("window", "eos").state_dict()
    task("window", "pad").load_state_dict(window)  # no lines, no padding to differ
    with pytest.raises(InputError, match="--sample-mode line differs from the checkpoint's window"):
        task("line", "eos").load_state_dict(window)
    task("line", "pad").load_state_dict({"dictionary_checksum": trained_with["dictionary_checksum"]})  # older


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty"])
def test_truncated_or_corrupt_checkpoint(tiny_data, tmp_path, trained, damage):
    broken = tmp_path / "checkpoint_broken.pt"
    raw = trained.read_bytes()
    random_bytes = random.Random(0).randbytes(5000)  # fixed: which error torch raises depends on them
    damaged = {"truncated": raw[: len(raw) // 2], "random bytes": random_bytes, "empty": b""}
    broken.write_bytes(damaged[damage])
    result = cli("hybrid-vae-generate", generate_flags(tiny_data, broken))
    one_line_error(result, "checkpoint_broken.pt is truncated or corrupt", "use an intact checkpoint")


def test_any_random_bytes_are_a_corrupt_checkpoint(tmp_path):
    """torch fails on garbage with whatever its first bytes lead to (UnpicklingError, EOFError,
    UnicodeDecodeError, ...): every such failure is the one-line corrupt-checkpoint error."""
    from fairseq_hybrid_vae.fairseq_fixes.checkpoint_safety import CheckpointError, load_checkpoint_to_cpu

    broken = tmp_path / "checkpoint_broken.pt"
    for seed in range(200):
        rng = random.Random(seed)
        broken.write_bytes(rng.randbytes(rng.randint(1, 5000)))
        with pytest.raises(CheckpointError, match="is truncated or corrupt"):
            load_checkpoint_to_cpu(str(broken))


def test_checkpoint_of_another_arch_is_refused_and_kept(tiny_data, tmp_path, trained):
    save_dir = tmp_path / "run"
    save_dir.mkdir()
    shutil.copy(trained, save_dir / "checkpoint_last.pt")  # a hybrid_vae_lstm run, resumed as bytenet
    before = (save_dir / "checkpoint_last.pt").read_bytes()
    flags = train_flags(tiny_data, str(save_dir), "hybrid_vae_bytenet", ["--max-update", "20"])
    result = cli("hybrid-vae-train", flags)
    one_line_error(result, "Cannot load model parameters from checkpoint", "another --arch")
    assert (save_dir / "checkpoint_last.pt").read_bytes() == before


def test_loss_turning_nan_stops_with_the_last_good_checkpoint_kept(tiny_data, tmp_path):
    flags = train_flags(tiny_data, str(tmp_path), "hybrid_vae_lstm", [
        "--max-update", "30", "--save-interval-updates", "5", "--disable-validation"])
    result = cli("train_and_dump", flags, env={"TEST_NAN_FROM_UPDATE": "12"})
    one_line_error(result, "training stopped: the loss or its gradients became NaN or inf", "--lr")
    from fairseq import checkpoint_utils

    last = checkpoint_utils.load_checkpoint_to_cpu(str(tmp_path / "checkpoint_last.pt"))
    assert last["optimizer_history"][-1]["num_updates"] == 10  # the last save before update 12
    assert all(p.isfinite().all() for p in last["model"].values() if p.is_floating_point())


def without_arch(flags):
    at = flags.index("--arch")
    return flags[:at] + flags[at + 2:]


# One case per entry point and kind of check, through the installed commands: one line, exit status 1,
# no traceback, nothing written. (tests/test_option_ranges.py walks every option in-process.)
ENTRY_POINT_CASES = [
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstm",
                                                  ["--lstm-hiden-size", "8"]),  # fairseq: usage, status 2
     "unrecognized arguments: --lstm-hiden-size 8 (--lstm-hiden-size: did you mean --lstm-hidden-size?)"),
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--gen-mode", "sample"],
     "argument --gen-mode: invalid choice: 'sample' (choose from 'reconstruct', 'prior', 'interpolate', "
     "'steer')"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstmm", []),
     "invalid choice: 'hybrid_vae_lstmm' (did you mean hybrid_vae_lstm, "),  # not fairseq's ~200 archs
    # fairseq: a RuntimeError() without a message
    ("hybrid-vae-train", lambda d, t, c: without_arch(train_flags(d, str(t / "run"), "hybrid_vae_lstm", [])),
     "--arch is missing: choose one of the plugin's, hybrid_vae, hybrid_vae_feedforward, "),
    ("hybrid-vae-eval", lambda d, t, c: [d, "--path", c, "--iw-sampels", "5"],
     "unrecognized arguments: --iw-sampels 5 (--iw-sampels: did you mean --iw-samples?)"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstm",
                                                  ["--latent-dim", "0"]),
     "--latent-dim 0 is out of range: it must be at least 1"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "a_file"), "hybrid_vae_lstm", []),
     "a_file is a file: give a folder to write into"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstm", ["--fp16"]),
     "--fp16 trains in fp16 on a CUDA GPU and this run is on a CPU: drop it, or add --bf16-autocast"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstm", ["--bf16"]),
     "--bf16 is fairseq's training on a TPU, which needs torch_xla: for bf16 here, drop it and add"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstm",
                                                  ["--best-checkpoint-metric", "iw_nll"]),
     "--best-checkpoint-metric iw_nll is not a validation metric of hybrid_vae_elbo: choose one of"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstm",  # fairseq: a
                                                  ["--combine-valid-subsets",  # KeyError at validation
                                                   "--valid-subset", "valid,test"]),
     "--combine-valid-subsets loads the split 'valid' alone, not --valid-subset valid,test"),
    ("hybrid-vae-train", lambda d, t, c: train_flags(d, str(t / "run"), "hybrid_vae_lstm",
                                                  ["--restore-file", str(t / "checkpoint_5.pt")]),
     "checkpoint_5.pt is missing: fairseq would train from scratch over --save-dir's checkpoints"),
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--sample-size", "32"],
     "--sample-size 32 differs from the checkpoint's 16: pass --sample-size 16"),
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--gen-mode", "prior"],
     "--gen-mode prior decodes draws of z, not the texts of a split: add --gen-subset prior"),
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--gen-mode", "prior", "--results-path",
                                                                  str(t / "results")],
     "--gen-mode prior decodes draws of z"),  # fairseq opened results/generate-valid.txt before the refusal
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--gen-mode", "steer"],  # read as a
     "--gen-mode steer needs --steer-vector: give the .pt file written by"),  # path: "--steer-vector None"
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c, "prior"),
     "--gen-subset prior holds no text to encode: add --gen-mode prior"),
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--sample-mode", "line"],
     "--sample-mode line differs from the checkpoint's window: pass --sample-mode window"),
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--beam", "0"],
     "--beam 0 is out of range"),
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c) + ["--post-process", "sentencepiece"],
     "--post-process sentencepiece (or --remove-bpe): the task already turns"),  # S-/D- without spaces
    ("hybrid-vae-generate", lambda d, t, c: generate_flags(d, c.parent), "is a folder: give a file"),
    ("hybrid-vae-validate", lambda d, t, c: generate_flags(d, c.parent)[:9] + ["--cpu", "--batch-size", "8"],
     "is a folder: give a file"),
    ("hybrid-vae-validate", lambda d, t, c: generate_flags(d, c)[:9] + ["--cpu"],  # fairseq's assertion
     "Must specify batch size either with --max-tokens or --batch-size"),
    ("hybrid-vae-eval", lambda d, t, c: [d, "--path", c, "--iw-samples", "0"],
     "argument --iw-samples: 0 is out of range: it must be at least 1"),
    ("hybrid-vae-prepare", lambda d, t, c: ["--train", str(t / "a_file"), "--destdir", str(t / "a_file")],
     "argument --destdir: "),
]


@pytest.mark.parametrize("program,flags,message", ENTRY_POINT_CASES,
                         ids=[f"{p}:{m[:24]}" for p, _, m in ENTRY_POINT_CASES])
def test_each_entry_point_refuses_a_bad_value(tiny_data, tmp_path, trained, program, flags, message):
    (tmp_path / "a_file").write_text("some text\n")
    one_line_error(cli(program, flags(tiny_data, tmp_path, trained)), message)
    written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")]  # files and folders
    assert written == ["a_file"] and (tmp_path / "a_file").read_text() == "some text\n"


HYDRA_CASES = [  # hydra printed a traceback for each (its own, cut short, or the plugin's error inside it)
    (["task.sample_mode=windows"], "Invalid value 'windows', expected one of [window, line] (config key "
     "sample_mode)"),
    (["model.latent_dim=8"], "Could not override 'model.latent_dim' (Key 'latent_dim' is not in struct). "
     "To append to your config use +model.latent_dim=8"),
    (["+model.latent_dim=0"], "--latent-dim 0 is out of range: it must be at least 1"),
    (["+model.lstm_hiden_size=8"], "Key 'lstm_hiden_size' not in 'HybridVAEConfig'"),
    (["task.data=NO_DATA"], "no dictionary at NO_DATA/dict.txt"),
]


@pytest.mark.parametrize("overrides,message", HYDRA_CASES, ids=[case[0][0] for case in HYDRA_CASES])
def test_hydra_train_refuses_a_bad_override_in_one_line(tiny_data, tmp_path, overrides, message):
    """The shipped config with a bad override: one line (not after hydra's "Error executing job"), exit
    status 1, and nothing left in the run folder by the refused start: no checkpoints/, no hydra record."""
    missing = str(tmp_path / "no-data")
    overrides = [o.replace("NO_DATA", missing) for o in overrides]
    result = cli("hybrid-vae-hydra-train", ["--config-name", "hybrid_vae_lstm_ptb", f"task.data={tiny_data}",
                                            "common.cpu=true", *overrides], cwd=tmp_path)
    one_line_error(result, message.replace("NO_DATA", missing))
    assert "Error executing job" not in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_hydra_train_keeps_the_hydra_record_of_earlier_work(tmp_path):
    """A refused start keeps a job log and a .hydra/ that were there before it, and its own record where
    the save dir holds work (a checkpoint, fairseq's crash.pt): the job may have run before it failed."""
    (tmp_path / "hydra_train.log").write_text("an earlier run\n")
    save_dir = tmp_path / "checkpoints" / "hybrid_vae_lstm_ptb"
    save_dir.mkdir(parents=True)
    (save_dir / "crash.pt").write_text("work")
    result = cli("hybrid-vae-hydra-train", ["--config-name", "hybrid_vae_lstm_ptb", "common.cpu=true",
                                            f"task.data={tmp_path / 'no-data'}"], cwd=tmp_path)
    one_line_error(result, "no dictionary at")
    assert (tmp_path / "hydra_train.log").read_text().startswith("an earlier run\n")
    assert (tmp_path / ".hydra" / "config.yaml").is_file() and (save_dir / "crash.pt").read_text() == "work"


def test_a_config_key_read_by_code_that_lacks_it_keeps_its_traceback():
    """omegaconf's errors about a user's value or key are one line; reading a missing attribute is a bug."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigAttributeError

    from fairseq_hybrid_vae.common.errors import one_line_message

    config = OmegaConf.structured({"sample_size": 60})
    OmegaConf.set_struct(config, True)
    with pytest.raises(ConfigAttributeError) as read:
        getattr(config, "sample_mode")  # noqa: B009  (the read itself raises)
    assert one_line_message(read.value) is None
    with pytest.raises(Exception) as given:
        OmegaConf.merge(config, {"sample_mode": "window"})
    assert one_line_message(given.value) == "Key 'sample_mode' is not in struct (config key sample_mode)"
