"""The reproduction grids' log parsing (examples/grid.py): fairseq's JSON stats become CSV rows."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from grid import (  # noqa: E402
    Convergence,
    Run,
    converged,
    dedupe,
    final_valid,
    kept,
    parse_stats,
    read_results,
    train_command,
    write_rows,
)

LOG = [
    '2026-11-25 00:37:01 | INFO | train_inner | {"epoch": 1, "update": 0.5, "loss": "5.1"}',
    '2026-11-25 00:37:02 | INFO | valid | {"epoch": 1, "valid_loss": "4.9", "valid_elbo": "4.8", '
    '"valid_rec": "4.7", "valid_kl": "0.1", "valid_kl_nats": "1.2", "valid_num_updates": "20"}',
    '2026-11-25 00:37:02 | INFO | train | {"epoch": 1, "train_loss": "5.0", "train_elbo": "4.9", '
    '"train_num_updates": "20"}',
    '2026-11-25 00:37:03 | INFO | valid | {"epoch": 2, "valid_elbo": "4.5", "valid_num_updates": "40"}',
]


def test_parse_stats_keeps_epoch_summaries_of_train_and_valid():
    rows = parse_stats(LOG, "r1", 3.0)
    assert [(r["split"], r["epoch"]) for r in rows] == [("valid", 1), ("train", 1), ("valid", 2)]
    assert rows[0]["elbo"] == "4.8" and rows[0]["kl_nats"] == "1.2" and rows[0]["num_updates"] == "20"
    assert rows[1]["aux"] is None  # absent statistics stay empty
    assert final_valid(rows)["r1"]["elbo"] == "4.5"


def valid_rows(points):
    return [{"split": "valid", "num_updates": str(n), "elbo": str(e)} for n, e in points]


def test_converged_needs_the_minimum_and_a_small_gain_over_the_last_step():
    rule = Convergence(min_updates=1000, every=500, min_gain=0.01, max_updates=3000)
    assert not converged(valid_rows([(250, 2.0), (750, 1.999)]), rule)  # small gain, below the minimum
    assert converged(valid_rows([(500, 2.0), (1000, 1.995)]), rule)  # gain 0.005
    assert not converged(valid_rows([(500, 2.0), (1000, 1.98)]), rule)  # gain 0.02: keep going
    assert converged(valid_rows([(2500, 2.0), (3000, 1.9)]), rule)  # the cap
    assert not converged(valid_rows([(1000, 1.99)]), rule)  # no point one step before: not measurable


def test_dedupe_keeps_the_last_row_of_a_repeated_point():
    rows = valid_rows([(500, 2.0), (1000, 1.9), (1000, 1.8)]) + [{"split": "train", "num_updates": "500"}]
    assert [(r["split"], r["num_updates"], r.get("elbo")) for r in dedupe(rows)] == [
        ("train", "500", None), ("valid", "500", "2.0"), ("valid", "1000", "1.8")]


def test_one_curves_file_per_grid_keeps_other_runs_and_replaces_a_rerun(tmp_path):
    row = {"split": "valid", "epoch": "1", "num_updates": "20", "seconds": "3.0"}
    write_rows(str(tmp_path), [{**row, "run": "a", "elbo": "2.0", "L": "12"}])
    write_rows(str(tmp_path), [{**row, "run": "b", "elbo": "1.5"}])
    write_rows(str(tmp_path), [{**row, "run": "a", "elbo": "1.9", "L": "12"}])  # a rerun of a
    rows = read_results(str(tmp_path))
    assert sorted((r["run"], r["elbo"], r["L"]) for r in rows) == [("a", "1.9", "12"), ("b", "1.5", "")]
    assert [r["run"] for r in read_results(str(tmp_path), ["b"])] == ["b"]
    assert read_results(str(tmp_path / "missing"), ["a"]) == []


def test_kept_computes_a_result_once_and_keeps_the_others(tmp_path):
    calls = []
    first = kept(str(tmp_path), "evaluations.json", "a", lambda: calls.append("a") or {"elbo": 1.5})
    again = kept(str(tmp_path), "evaluations.json", "a", lambda: calls.append("a again") or {"elbo": 9})
    kept(str(tmp_path), "evaluations.json", "b", lambda: {"elbo": 2.0})
    assert first == again == {"elbo": 1.5} and calls == ["a"]
    assert kept(str(tmp_path), "evaluations.json", "b") == {"elbo": 2.0}
    assert kept(str(tmp_path), "evaluations.json", "missing") is None


def test_a_second_stage_starts_from_its_parents_last_checkpoint_and_a_first_from_nothing(tmp_path):
    first = Run("first", "hybrid_vae_lstm", ["--free-bits", "1"])
    second = Run("second", "hybrid_vae_lstm", ["--free-bits", "0"], parent="first")
    assert "--finetune-from-model" not in train_command(first, "data", str(tmp_path / "first"), [])
    command = train_command(second, "data", str(tmp_path / "second"), ["--lr", "1e-3"])
    at = command.index("--finetune-from-model")
    assert Path(command[at + 1]) == tmp_path / "first" / "checkpoint_last.pt"
    assert command[command.index("--save-dir") + 1] == str(tmp_path / "second")
