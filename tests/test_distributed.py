"""Two training processes on CPU (gloo, legacy_ddp), launched by flags or by torchrun, against one process
with the same global batch; and a lost rank."""

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Optional

import pytest
import torch
from conftest import logged_updates, train_flags

HELPER = os.path.join(os.path.dirname(__file__), "helpers", "train_and_dump.py")
UPDATES = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(flags, noise: bool = True, env: Optional[dict] = None, prefix: tuple = ()):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEST_NO_LATENT_NOISE": "" if noise else "1", **(env or {})}
    return subprocess.Popen([sys.executable, *prefix, HELPER] + flags, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def finish(process) -> list:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, out[-3000:]
    return logged_updates(out.splitlines())


def launch_ranks(flags, launcher: str, noise: bool = True, rank_env: Optional[dict] = None) -> list:
    """Two ranks on this machine: by fairseq's flags (tcp://, explicit ranks, as docs/distributed.md
    gives for CPU), or by torchrun as two nodes of one process each over loopback."""
    port, rank_env = free_port(), rank_env or {}
    if launcher == "tcp":
        return [launch(flags + [
            "--distributed-world-size", "2", "--distributed-rank", str(rank), "--distributed-backend", "gloo",
            "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--distributed-no-spawn",
            "--ddp-backend", "legacy_ddp"], noise, rank_env.get(rank, {})) for rank in range(2)]
    # The torchrun recipe of docs/distributed.md on CPU: no --distributed-world-size, torchrun's counts.
    return [launch(flags + ["--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"], noise,
                   rank_env.get(node, {}), (
        "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(node),
        "--master-addr", "127.0.0.1", "--master-port", str(port))) for node in range(2)]


def small_run(data, save_dir, updates: int = UPDATES, extra=()) -> list:
    flags = train_flags(data, str(save_dir), "hybrid_vae_lstm", [
        "--max-update", str(updates), "--batch-size", "8", "--windows-per-epoch", "640",
        "--kl-anneal-start", "2", "--kl-anneal-updates", "4", "--disable-validation", *extra])
    at = flags.index("--distributed-world-size")  # each launch sets its own
    return flags[:at] + flags[at + 2:]


def train_two_ways(data, root, noise: bool, launcher: str = "tcp"):
    """(per-update stats, state) of a 2-rank run and of 1 process with --update-freq 2, same windows."""
    dist_dir, single_dir = root / "two-ranks", root / "one"
    ranks = launch_ranks(small_run(data, dist_dir), launcher, noise)
    dist_stats = [finish(p) for p in ranks][0]  # rank 0 logs the all-reduced statistics
    single_stats = finish(launch(small_run(data, single_dir) + ["--update-freq", "2"], noise))
    load = lambda path: torch.load(path, weights_only=True)  # noqa: E731
    return {
        "dist": (dist_stats, [load(dist_dir / f"rank{r}.pt") for r in range(2)]),
        "single": (single_stats, load(single_dir / "rank0.pt")),
        "init": load(single_dir / "rank0-init.pt"),
    }


@pytest.fixture(scope="module")
def runs(tiny_data, tmp_path_factory):
    return train_two_ways(tiny_data, tmp_path_factory.mktemp("noise"), noise=True)


def parameters(state) -> torch.Tensor:
    return torch.cat([value.float().reshape(-1) for name, value in state["state"].items()
                      if "running" not in name and "num_batches" not in name])


def test_ranks_hold_identical_parameters_and_batch_norm_statistics(runs):
    _, (rank0, rank1) = runs["dist"]
    assert rank0["num_updates"] == rank1["num_updates"] == UPDATES
    for name, value in rank0["state"].items():
        assert torch.equal(value, rank1["state"][name]), name
    assert any("running_mean" in name for name in rank0["state"])  # the BatchNorm buffers were compared


@pytest.mark.parametrize("launcher", ["tcp", "torchrun"])
def test_two_ranks_equal_one_process_with_the_same_global_batch(tiny_data, tmp_path, launcher):
    """With z = mu the runs see the same windows, normalisation and gradients: equal to float rounding.
    torchrun: two node ranks of one process each, over loopback, with no --distributed-world-size."""
    result = train_two_ways(tiny_data, tmp_path, noise=False, launcher=launcher)
    (_, (dist, _)), (_, single), init = result["dist"], result["single"], result["init"]
    moved = (parameters(single) - parameters(init)).norm()
    assert moved > 0.1
    gap = (parameters(dist) - parameters(single)).norm()
    print(f"2 ranks ({launcher}) vs 1 process: {float(gap):.3g} apart after moving {float(moved):.3g}")
    assert gap < 1e-4 * moved
    # Not compared: BatchNorm running statistics. Each rank advances them once per update and the
    # ranks average them; --update-freq 2 advances them twice per update, so they differ by design.


def test_with_sampled_z_the_losses_match_within_two_percent(runs):
    """fairseq seeds every rank alike, so rank 1 reuses rank 0's noise where one process draws fresh
    noise for its second batch: the trajectories differ only by that noise."""
    (dist_stats, _), (single_stats, _) = runs["dist"], runs["single"]
    assert [s["num_updates"] for s in dist_stats] == [s["num_updates"] for s in single_stats]
    assert float(dist_stats[0]["wpb"]) == float(single_stats[0]["wpb"]) == 16 * 16  # the global batch
    for a, b in zip(dist_stats, single_stats):
        assert float(a["rec"]) == pytest.approx(float(b["rec"]), rel=0.02)


def test_kl_annealing_follows_the_global_update_count(runs):
    dist_stats, _ = runs["dist"]
    weights = [float(s["kl_weight"]) for s in dist_stats]
    expected = [min(max((update - 1 - 2) / 4, 0), 1) * 0.999 + 0.001 for update in range(1, UPDATES + 1)]
    assert weights == pytest.approx(expected, abs=1e-4)


def test_a_lost_rank_is_named_and_rerunning_the_command_resumes(tiny_data, tmp_path):
    """Rank 1 dies (SIGKILL, as a lost node) at update 30; rank 0 stops within seconds with one line that
    names rank 1 and says how to resume; the same command run again continues from checkpoint_last.pt
    (saved at update 20) and finishes on both ranks."""
    flags = small_run(tiny_data, tmp_path, updates=40, extra=["--save-interval-updates", "10"])
    survivor, lost = launch_ranks(flags, "tcp", rank_env={1: {"TEST_KILL_AT_UPDATE": "30"}})
    lost.communicate(timeout=300)
    assert lost.returncode == -signal.SIGKILL
    died = time.monotonic()
    out, _ = survivor.communicate(timeout=120)
    print(f"rank 0 stopped {time.monotonic() - died:.1f} s after rank 1 died")
    assert survivor.returncode == 1 and "Traceback" not in out, out[-3000:]
    [line] = [line for line in out.splitlines() if "error:" in line]
    assert "lost rank 1 of 2" in line and "rerun the same command" in line and "checkpoint_last.pt" in line

    rerun = launch_ranks(flags, "tcp")
    logs = [p.communicate(timeout=300)[0] for p in rerun]
    assert [p.returncode for p in rerun] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    assert "Loaded checkpoint" in logs[0] and "@ 20 updates" in logs[0]
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert [state["num_updates"] for state in states] == [40, 40]
    assert torch.equal(parameters(states[0]), parameters(states[1]))
