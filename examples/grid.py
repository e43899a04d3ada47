"""A resumable grid of fairseq-train runs: one CSV of validation points per run, then the figures.

Shared by examples/ptb/reproduce.py and examples/tweets/reproduce.py. Each run is fairseq-train in
its own save dir, its console log appended to <save dir>/train.log; its train/valid statistics
(fairseq's JSON log lines) become rows of RESULTS/curves.csv (one file per grid, a `run` column),
added when the run ends. An interrupted grid resumes where it stopped: a finished run (its rows exist)
is skipped, an unfinished one continues from its checkpoint_last.pt, and the file is rewritten whole
(atomically), so no half-written one looks complete. A run with a `parent` starts from the weights of
that run's checkpoint_last.pt (a second stage of training; fairseq ignores the flag once the run has
a checkpoint of its own, so it resumes as any other).

With a `Convergence`, a run trains to `min_updates`, then `every` updates more at a time until its
valid ELBO improved by less than `min_gain` bits/char over the last `every` updates.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List

from fairseq_hybrid_vae.common.atomic import atomic_open

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = ["run", "split", "epoch", "num_updates", "elbo", "rec", "kl", "kl_nats", "aux", "loss",
          "kl_weight", "seconds"]


@dataclass
class Convergence:
    min_updates: int = 4000  # train at least this long
    every: int = 500  # validate, and extend the run, in steps of this many updates
    min_gain: float = 0.01  # bits/char over `every` updates: below this the run has converged
    max_updates: int = 30000  # stop here even if it still improves


@dataclass
class Run:
    name: str
    arch: str
    flags: List[str]
    labels: Dict[str, object] = field(default_factory=dict)  # what the figure groups by
    # a run of the same grid whose last checkpoint this one starts from (fairseq's
    # --finetune-from-model: weights only; optimizer, schedule and update count start afresh)
    parent: str | None = None


def train_command(run: Run, data: str, save_dir: str, common: List[str]) -> List[str]:
    return [os.path.join(REPO, ".venv", "bin", "fairseq-train"), data,
            "--user-dir", os.path.join(REPO, "fairseq_hybrid_vae"), "--task", "text_vae",
            "--criterion", "hybrid_vae_elbo", "--arch", run.arch, "--save-dir", save_dir,
            "--log-format", "json", "--log-interval", "100", "--no-epoch-checkpoints",
            "--best-checkpoint-metric", "elbo"] + common + run.flags + (
        ["--finetune-from-model", os.path.join(os.path.dirname(save_dir), run.parent, "checkpoint_last.pt")]
        if run.parent else [])


def parse_stats(log_lines: List[str], run: str, seconds: float) -> List[Dict]:
    """fairseq's end-of-epoch JSON lines of the train and valid loggers -> CSV rows."""
    rows = []
    for line in log_lines:
        for split in ["train", "valid"]:
            marker = f"| INFO | {split} | "
            if marker in line and "{" in line:
                stats = json.loads(line.split(marker, 1)[1])
                row = {"run": run, "split": split, "epoch": stats.get("epoch"), "seconds": seconds}
                for key in FIELDS[3:-1]:
                    row[key] = stats.get(f"{split}_{key}")
                rows.append(row)
    return rows


def dedupe(rows: List[Dict]) -> List[Dict]:
    """One row per (split, update): a run resumed from checkpoint_last.pt may repeat its last points."""
    latest = {(r["split"], r["num_updates"]): r for r in rows}
    return sorted(latest.values(), key=lambda r: (int(r["num_updates"] or 0), r["split"]))


def converged(rows: List[Dict], rule: Convergence) -> bool:
    valid = {int(r["num_updates"]): float(r["elbo"]) for r in rows if r["split"] == "valid"}
    last = max(valid, default=0)
    if last >= rule.max_updates:
        return True
    before = valid.get(last - rule.every)
    return last >= rule.min_updates and before is not None and before - valid[last] < rule.min_gain


def train(run: Run, data: str, save_dir: str, common: List[str], max_update: int | None) -> float:
    """One fairseq-train call (it resumes from checkpoint_last.pt); its console log is appended."""
    os.makedirs(save_dir, exist_ok=True)
    command = train_command(run, data, save_dir, common)
    command += ["--max-update", str(max_update)] if max_update else []  # the later flag wins
    start = time.time()
    with open(os.path.join(save_dir, "train.log"), "a") as log:
        returncode = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    if returncode != 0:
        with open(os.path.join(save_dir, "train.log")) as f:
            tail = f.readlines()[-20:]
        sys.exit(f"{run.name} failed (exit {returncode}):\n" + "".join(tail))
    return time.time() - start


CURVES = "curves.csv"  # in a grid's results folder


def write_rows(results_dir: str, rows: List[Dict]) -> None:
    """RESULTS/curves.csv with `rows` in it, replacing what the file held for their runs."""
    runs = {row["run"] for row in rows}
    kept = [row for row in read_results(results_dir) if row["run"] not in runs] + rows
    labels = sorted({key for row in kept for key in row} - set(FIELDS))
    with atomic_open(os.path.join(results_dir, CURVES), newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS + labels)
        writer.writeheader()
        writer.writerows(kept)


def run_grid(runs: List[Run], data: str, results_dir: str, work_dir: str, common: List[str],
             convergence: Convergence | None = None) -> None:
    os.makedirs(results_dir, exist_ok=True)
    for i, run in enumerate(runs):
        if read_results(results_dir, [run.name]):
            print(f"[{i + 1}/{len(runs)}] {run.name}: done before, skipped", flush=True)
            continue
        save_dir = os.path.join(work_dir, run.name)
        log_path = os.path.join(save_dir, "train.log")
        seconds, max_update = 0.0, convergence.min_updates if convergence else None
        if convergence:  # validate at every step the rule looks at
            run = Run(run.name, run.arch, run.flags + ["--validate-interval-updates", str(convergence.every)],
                      run.labels, run.parent)
        while True:
            print(f"[{i + 1}/{len(runs)}] {run.name}: training" + (f" to {max_update} updates"
                  if max_update else ""), flush=True)
            seconds += train(run, data, save_dir, common, max_update)
            with open(log_path) as f:
                rows = dedupe(parse_stats(f.read().splitlines(), run.name, round(seconds, 1)))
            if not convergence or converged(rows, convergence):
                break
            max_update = max(int(r["num_updates"]) for r in rows if r["split"] == "valid") + convergence.every
        write_rows(results_dir, [{**row, **run.labels} for row in rows])
        print(f"[{i + 1}/{len(runs)}] {run.name}: {len(rows)} rows in {seconds:.1f} s", flush=True)


EVALUATIONS = "evaluations.json"  # a grid's hybrid-vae-eval reports, by run


def kept(results_dir: str, file: str, name: str, compute: Callable[[], object] | None = None):
    """The result stored under `name` in RESULTS/<file> (a JSON object, one entry per run); if there is
    none and `compute` is given, compute() is stored there first. A rerun reuses what is stored."""
    path = os.path.join(results_dir, file)
    stored = json.load(open(path, encoding="utf-8")) if os.path.exists(path) else {}
    if name not in stored and compute is not None:
        stored[name] = compute()
        os.makedirs(results_dir, exist_ok=True)
        with atomic_open(path, encoding="utf-8") as f:
            json.dump(stored, f, indent=1, ensure_ascii=False)
    return stored.get(name)


def evaluate(data: str, save_dir: str, results_dir: str, name: str, flags: List[str],
             split: str = "valid") -> Dict:
    """hybrid-vae-eval on a run's last checkpoint, kept in RESULTS/evaluations.json under the run."""
    def report() -> Dict:
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "report.json")
            subprocess.run([os.path.join(REPO, ".venv", "bin", "hybrid-vae-eval"), data, "--path",
                            os.path.join(save_dir, "checkpoint_last.pt"), "--split", split, "--json", path]
                           + flags, check=True)
            with open(path) as f:
                return json.load(f)

    return kept(results_dir, EVALUATIONS, name, report)


def read_results(results_dir: str, names: List[str] | None = None) -> List[Dict]:
    """The rows of RESULTS/curves.csv, of the runs in `names` (all: None), in the file's order."""
    path = os.path.join(results_dir, CURVES)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if names is None or row["run"] in names]


def final_valid(rows: List[Dict]) -> Dict[str, Dict]:
    """The last validation point of each run."""
    last: Dict[str, Dict] = {}
    for row in rows:
        if row["split"] == "valid":
            last[row["run"]] = row
    return last
