"""A resumable grid of fairseq-train runs: one CSV of validation points per run, then the figures.

Shared by examples/ptb/reproduce.py and examples/tweets/reproduce.py. Each run is one fairseq-train
command; its train/valid statistics (fairseq's JSON log lines) become rows of RESULTS/<run>.csv,
written when the run ends, so an interrupted grid resumes where it stopped and never leaves a
half-written CSV that looks complete.
"""

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = ["run", "split", "epoch", "num_updates", "elbo", "rec", "kl", "kl_nats", "aux", "loss",
          "kl_weight", "seconds"]  # fmt: skip


@dataclass
class Run:
    name: str
    arch: str
    flags: List[str]
    labels: Dict[str, object] = field(default_factory=dict)  # what the figure groups by


def train_command(run: Run, data: str, save_dir: str, common: List[str]) -> List[str]:
    return [os.path.join(REPO, ".venv", "bin", "fairseq-train"), data,
            "--user-dir", os.path.join(REPO, "fairseq_hybrid_vae"), "--task", "text_vae",
            "--criterion", "hybrid_vae_elbo", "--arch", run.arch, "--save-dir", save_dir,
            "--log-format", "json", "--log-interval", "100", "--no-epoch-checkpoints",
            "--best-checkpoint-metric", "elbo"] + common + run.flags  # fmt: skip


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


def run_grid(runs: List[Run], data: str, results_dir: str, work_dir: str, common: List[str]) -> None:
    os.makedirs(results_dir, exist_ok=True)
    for i, run in enumerate(runs):
        out = os.path.join(results_dir, f"{run.name}.csv")
        if os.path.exists(out):
            print(f"[{i + 1}/{len(runs)}] {run.name}: done before, skipped", flush=True)
            continue
        save_dir = os.path.join(work_dir, run.name)
        print(f"[{i + 1}/{len(runs)}] {run.name}: training", flush=True)
        start = time.time()
        result = subprocess.run(train_command(run, data, save_dir, common), capture_output=True,
                                text=True)  # fmt: skip
        seconds = round(time.time() - start, 1)
        log = result.stdout.splitlines() + result.stderr.splitlines()
        if result.returncode != 0:
            sys.exit(f"{run.name} failed (exit {result.returncode}):\n" + "\n".join(log[-20:]))
        rows = parse_stats(log, run.name, seconds)
        partial = out + ".partial"
        with open(partial, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS + sorted(run.labels))
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, **run.labels})
        os.replace(partial, out)
        print(f"[{i + 1}/{len(runs)}] {run.name}: {len(rows)} rows in {seconds} s", flush=True)


def evaluate(data: str, save_dir: str, report: str, flags: List[str], split: str = "valid") -> Dict:
    """hybrid-vae-eval on a run's last checkpoint; the JSON report is kept, so a rerun skips it."""
    if not os.path.exists(report):
        subprocess.run([os.path.join(REPO, ".venv", "bin", "hybrid-vae-eval"), data, "--path",
                        os.path.join(save_dir, "checkpoint_last.pt"), "--split", split, "--json", report]
                       + flags, check=True)  # fmt: skip
    with open(report) as f:
        return json.load(f)


def read_results(results_dir: str, names: List[str]) -> List[Dict]:
    rows = []
    for name in names:
        path = os.path.join(results_dir, f"{name}.csv")
        if os.path.exists(path):
            with open(path) as f:
                rows += list(csv.DictReader(f))
    return rows


def final_valid(rows: List[Dict]) -> Dict[str, Dict]:
    """The last validation point of each run."""
    last: Dict[str, Dict] = {}
    for row in rows:
        if row["split"] == "valid":
            last[row["run"]] = row
    return last
