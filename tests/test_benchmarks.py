"""The benchmark scripts run end to end at tiny sizes and print complete tables (no timing is asserted)."""

import json
import os
import re
import subprocess
import sys

MODES = {"incremental", "recompute prefix", "one parallel pass"}  # generate_throughput's decodings
BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def run_benchmark(script: str, *flags: str, cwd: str | None = None) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, os.path.join(BENCHMARKS, script), *flags], capture_output=True,
                          text=True, env=env, timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def table_rows(output: str) -> dict:
    """First cell -> the other cells, of every markdown table row but headers and rules."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and not line.startswith("| model") and not line.startswith("| head"):
            rows[" / ".join(cells[:2]) if cells[1] in MODES else cells[0]] = cells[1:]
    return rows


def test_train_throughput_counts_the_hybrids_extra_arithmetic():
    same_model = ["hybrid_vae_lstm", "hybrid_vae_lstm (bare loop)", "hybrid_vae_lstm (torch_adam)"]
    models = ",".join(same_model + ["window_lm_lstm", "lstm_vae"])
    out = run_benchmark("train_throughput.py", "--sample-sizes", "16", "--batch-size", "4", "--repeats", "1",
                        "--models", models, "--memory")
    rows = table_rows(out)
    assert set(rows) == set(models.split(","))
    gflop = {name: float(cells[2]) for name, cells in rows.items()}
    # The same model through fairseq's Trainer (either Adam) and the bare loop does the same arithmetic;
    # the hybrid's head reads 200 deconv features more per position than the no-latent LM's: more.
    assert len({gflop[name] for name in same_model}) == 1
    assert gflop["hybrid_vae_lstm"] > gflop["window_lm_lstm"] > 0
    assert all(float(cells[-1].replace(",", "")) > 0 for cells in rows.values())  # peak memory (MB)


def test_train_throughput_times_each_cell_in_the_same_rounds():
    out = run_benchmark("train_throughput.py", "--sample-sizes", "16", "--batch-size", "4", "--repeats", "1",
                        "--models", "lstm_vae,hybrid_vae_bytenet", "--lstm-cell", "layernorm,authors")
    rows = table_rows(out)
    # Every model with an LSTM once per cell, the others once; the last column compares with the first cell.
    assert set(rows) == {"lstm_vae [layernorm]", "lstm_vae [authors]", "hybrid_vae_bytenet"}
    assert rows["lstm_vae [layernorm]"][-1] == "1.00x" and rows["hybrid_vae_bytenet"][-1] == ""
    # Each row is built with its own cell: the authors' reads one-hot inputs, the other an embedding.
    assert rows["lstm_vae [layernorm]"][2] != rows["lstm_vae [authors]"][2]


def test_profile_step_profiles_one_update_with_the_cell_and_precision_asked_for():
    out = run_benchmark("profile_step.py", "--model", "lstm_vae", "--lstm-cell", "authors",
                        "--sample-size", "16", "--batch-size", "4", "--rows", "5")
    assert "one fp32 update of lstm_vae, --lstm-cell authors, L=16, batch 4" in out
    assert "fairseq Trainer sections (ms, CPU total): forward" in out
    out = run_benchmark("profile_step.py", "--model", "hybrid_vae_bytenet", "--dtype", "bf16",
                        "--sample-size", "16", "--batch-size", "4", "--rows", "40")
    assert "one bf16 update of hybrid_vae_bytenet" in out and "fairseq Trainer sections" in out


def test_generate_throughput_prints_every_head_and_the_scaling():
    out = run_benchmark("generate_throughput.py", "--sample-size", "16", "--scaling-sizes", "8,16,24",
                        "--recompute-up-to", "8", "--batch-size", "2", "--repeats", "1")
    rows = table_rows(out)
    for head in ["lstm", "bytenet"]:
        for mode in ["incremental", "recompute prefix"]:
            assert f"{head} / {mode}" in rows
    assert "none / one parallel pass" in rows
    assert re.search(r"bytenet: incremental is [\d.]+x faster", out)
    recompute = [line for line in out.splitlines() if line.startswith("| lstm | recompute prefix")]
    assert "| - |" in recompute[-1], "the scaling table leaves out recompute beyond --recompute-up-to (L=24)"


def test_learning_speed_and_its_yardstick_run_end_to_end(tiny_data, tmp_path):
    """Every model of the bare yardstick and one fairseq-train row print validation points."""
    for model in ["lm", "hybrid", "lstm_vae"]:
        out = run_benchmark("bare_yardstick.py", tiny_data, "--model", model, "--sample-size", "16",
                            "--batch-size", "4", "--updates", "2", "--valid-at", "1,2", "--hidden", "16",
                            "--latent-dim", "4", "--embed-dim", "8")
        points = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert [p["update"] for p in points] == [1, 2] and all(p["valid_bpc"] > 0 for p in points)
    # Run from a folder whose ./checkpoints holds another model's checkpoint_last.pt, as a user's
    # clone may: fairseq-train --no-save would resume from it unless given a save dir of its own.
    cwd = tmp_path / "clone"
    (cwd / "checkpoints").mkdir(parents=True)
    (cwd / "checkpoints" / "checkpoint_last.pt").write_bytes(b"another run's checkpoint")
    out = run_benchmark("learning_speed.py", tiny_data, "--models", "window_lm_lstm", "--cells", "torch",
                        "--updates", "2", "--sample-size", "16", "--batch-size", "4", "--no-yardstick",
                        "--extra", "--lstm-hidden-size 16 --windows-per-epoch 16 --log-interval 1",
                        "--out", str(tmp_path / "out"), cwd=str(cwd))
    rows = table_rows(out)
    assert float(rows["window_lm_lstm"][1]) > 0  # bits/char at update 2


def test_cell_step_times_every_cell():
    from fairseq_hybrid_vae.modules import LSTM_CELLS

    out = run_benchmark("cell_step.py", "--batch-size", "2", "--length", "5", "--hidden", "8",
                        "--repeats", "1")
    rows = {name: cells for name, cells in table_rows(out).items() if name in LSTM_CELLS}
    assert set(rows) == set(LSTM_CELLS) and rows["authors"][0] == "53" and rows["layernorm"][0] == "64"
    for cells in rows.values():  # times print as 0.000 at these sizes on a fast machine: no sign test
        forward, backward, total, first = (float(x) for x in cells[1:])
        assert min(forward, backward) >= 0 and abs(total - forward - backward) <= 0.0015  # rounding
        assert first >= 0


def test_the_flop_count_of_cudnns_lstm_equals_onednns_for_the_same_layer():
    """benchmarks/common.py checks its formulas, and the counter on a real layer, when run."""
    assert "agree" in run_benchmark("common.py")


def test_graph_step_times_every_cell_eagerly_on_a_cpu_and_checks_bf16_against_fp32():
    from fairseq_hybrid_vae.modules import LSTM_CELLS

    cells = ",".join(LSTM_CELLS)
    out = run_benchmark("graph_step.py", "--device", "cpu", "--sample-size", "12", "--batch-size", "3",
                        "--repeats", "1", "--check-updates", "2", "--models", "window_lm_lstm,lstm_vae",
                        "--lstm-cell", cells)
    timings, checks = out.split("Loss check")
    rows = [line.split("|")[1:-1] for line in timings.splitlines() if line.startswith("| window_lm_lstm")
            or line.startswith("| lstm_vae")]
    assert len(rows) == 2 * len(LSTM_CELLS) and all(len(row) == 4 for row in rows)  # no graph modes on CPU
    assert all(float(cell.split()[0]) > 0 for row in rows for cell in row[2:])
    # Eager fp32 run again repeats itself; bf16 autocast really ran: the loss moves off fp32's, by
    # rounding, not more.
    differences = [[float(x) for x in line.split("|")[3:5]] for line in checks.splitlines()
                   if line.startswith("| ") and not line.startswith("| model")]
    assert len(differences) == 2 * len(LSTM_CELLS)
    assert all(rerun < 1e-6 and 0 < bf16 < 0.1 for rerun, bf16 in differences)
