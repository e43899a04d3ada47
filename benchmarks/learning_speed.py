"""Learning speed: valid bits/char after N updates and seconds per update, for every LSTM cell.

Each plugin run is `fairseq-train` exactly as a user runs it (PTB preset sizes, batch 64, Adam 1e-3,
--sample-size L, validation on every consecutive window of the valid split); each yardstick run is
benchmarks/bare_yardstick.py, a bare PyTorch loop with torch.nn.LSTM, the same sizes, data and
schedule. The VAEs: hybrid_vae_lstm with alpha 0.2 and lstm_vae with input dropout 0.2, the KL weight
rising linearly from 0.001 at update 200 to 1 at update 1,200. Seconds per update count training
steps only, not validation (fairseq's logged updates per second; the yardstick's own clock).

    python benchmarks/learning_speed.py DATA_BIN [--updates 250,500,750,1500] [--sample-size 128]
        [--models window_lm_lstm,hybrid_vae_lstm,lstm_vae] [--cells torch,layernorm,authors]
        [--out runs/learning_speed] [--no-yardstick]

DATA_BIN: PTB prepared by `hybrid-vae-prepare` (docs/lstm_cells.md). Runs go one after another (two
at once on a 2-core machine would halve each other's speed); each run's log lines are kept under
--out, and a run whose log is complete is not repeated, so an interrupted benchmark resumes.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from typing import Dict, List

from fairseq_hybrid_vae.models.text_vae_model import EMBED_DIM  # the default cells' input embedding

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(BENCHMARKS), "fairseq_hybrid_vae")
KL_ANNEAL = {"start": 200, "updates": 1000}  # KL weight 0.001 -> 1 over updates 200-1,200
MODELS = {  # name: (fairseq-train flags, the yardstick's --model)
    "window_lm_lstm": (["--arch", "window_lm_lstm"], "lm"),
    "hybrid_vae_lstm": (["--arch", "hybrid_vae_lstm_ptb", "--alpha", "0.2"], "hybrid"),
    "lstm_vae": (["--arch", "lstm_vae_ptb", "--input-dropout", "0.2"], "lstm_vae"),
    "hybrid_vae_bytenet": (["--arch", "hybrid_vae_bytenet_ptb", "--alpha", "0.2"], None),  # no yardstick
}
YARDSTICK = "bare nn.LSTM"


# --dtypes: the precision of a plugin run, as fairseq-train flags (bf16: the plugin's autocast).
DTYPE_FLAGS = {"fp32": [], "bf16": ["--bf16-autocast"]}


def train_flags(data: str, model: str, cell: str, args, dtype: str = "fp32") -> List[str]:
    last = max(args.checkpoints)
    return [
        data, "--user-dir", PACKAGE, "--task", "text_vae", "--sample-size", str(args.sample_size),
        *MODELS[model][0], "--lstm-cell", cell, "--criterion", "hybrid_vae_elbo",
        "--kl-anneal-start", str(KL_ANNEAL["start"]), "--kl-anneal-updates", str(KL_ANNEAL["updates"]),
        "--optimizer", "adam", "--lr", "1e-3", "--batch-size", str(args.batch_size),
        "--batch-size-valid", "256", "--max-update", str(last), "--seed", "1",
        "--validate-interval-updates", str(min(args.checkpoints)), "--validate-interval", "1000000",
        # --no-save still resumes from <save-dir>/checkpoint_last.pt: a folder nothing is saved in
        # keeps a checkpoint in ./checkpoints from being loaded into the run.
        "--no-save", "--save-dir", os.path.join(args.out, "nothing-saved"),
        "--log-format", "json", "--log-interval", "50", "--num-workers", "0", "--cpu",
        *DTYPE_FLAGS[dtype], *shlex.split(args.extra),
    ]


def plugin_points(lines: List[str], checkpoints: List[int]) -> Dict:
    """{update: valid bits/char}, and seconds per update: the median over fairseq's train_inner logs of
    1 / ups (an interval that held a validation is slower; the median leaves it out)."""
    points, seconds = {}, []
    for line in lines:
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if "valid_elbo" in record and int(record.get("valid_num_updates", 0)) in checkpoints:
            points[int(record["valid_num_updates"])] = float(record["valid_elbo"])
        if float(record.get("ups", 0)) > 0 and "valid_elbo" not in record:  # fairseq rounds tiny ones to 0
            seconds.append(1 / float(record["ups"]))
    return {"valid_bpc": points, "sec_per_update": statistics.median(seconds) if seconds else None}


def yardstick_points(lines: List[str]) -> Dict:
    records = [json.loads(line) for line in lines if line.startswith('{"update"')]
    return {"valid_bpc": {r["update"]: r["valid_bpc"] for r in records},
            "sec_per_update": records[-1]["sec_per_update"] if records else None}


def run(name: str, command: List[str], out: str) -> List[str]:
    """Run once; the log is kept under --out and reused when it finished."""
    log = os.path.join(out, name.replace(" ", "_").replace("/", "-") + ".log")
    if os.path.exists(log + ".done"):
        with open(log) as f:
            return f.read().splitlines()
    print(f"running {name} ...", file=sys.stderr, flush=True)
    with open(log, "w") as f:
        subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, check=True)
    open(log + ".done", "w").close()
    with open(log) as f:
        return f.read().splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--updates", default="250,500,750,1500", help="validation points")
    parser.add_argument("--sample-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--cells", default="torch,layernorm,authors")
    parser.add_argument("--extra", default="", help="more fairseq-train flags for every plugin run")
    parser.add_argument("--tag", default="", help="suffix of the plugin runs' names (with --extra)")
    parser.add_argument("--dtypes", default="fp32",
                        help="fp32, bf16 (--bf16-autocast) or fp32,bf16: each plugin run in each, "
                        "side by side")
    parser.add_argument("--no-yardstick", action="store_true")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(BENCHMARKS), "runs", "learning_speed"),
                        help="run logs, reused by a rerun (not committed)")
    args = parser.parse_args()
    args.checkpoints = sorted(int(u) for u in args.updates.split(","))
    os.makedirs(args.out, exist_ok=True)
    fairseq_train = os.path.join(os.path.dirname(sys.executable), "fairseq-train")
    rows = []
    for model in args.models.split(","):
        for cell in args.cells.split(","):
            for dtype in args.dtypes.split(","):
                tag = args.tag + ("" if dtype == "fp32" else f" {dtype}")
                name = f"{model} {cell}{tag} {max(args.checkpoints)}"
                command = [fairseq_train, *train_flags(args.data, model, cell, args, dtype)]
                lines = run(name, command, args.out)
                rows.append((model, cell + tag, plugin_points(lines, args.checkpoints)))
        if not args.no_yardstick and MODELS[model][1]:
            command = [sys.executable, os.path.join(BENCHMARKS, "bare_yardstick.py"), args.data,
                       "--model", MODELS[model][1], "--sample-size", str(args.sample_size),
                       "--batch-size", str(args.batch_size), "--updates", str(max(args.checkpoints)),
                       "--valid-at", args.updates, "--embed-dim", str(EMBED_DIM),
                       "--kl-anneal", f"{KL_ANNEAL['start']},{KL_ANNEAL['updates']}"]
            name = f"{model} {YARDSTICK} {max(args.checkpoints)}"
            rows.append((model, YARDSTICK, yardstick_points(run(name, command, args.out))))
    report(rows, args)


def report(rows, args) -> None:
    """One row per run; the last column compares the plugin's cells at equal training time: each
    row's bits/char, interpolated between its validation points, after as many seconds as the
    model's fastest plugin row needed for all its updates."""
    last = max(args.checkpoints)
    header = "| model | cell | " + " | ".join(f"bits/char at {u}" for u in args.checkpoints)
    header += f" | s/update | bits/char at {last} vs yardstick | bits/char after equal time |"
    print(f"L = {args.sample_size}, batch {args.batch_size}, PTB valid (every consecutive window); "
          f"{machine()}\n\n{header}\n|" + "---|" * (header.count("|") - 1))
    yardstick = {model: result for model, cell, result in rows if cell == YARDSTICK}
    budget = {}  # model -> seconds of its fastest plugin row's run
    for model, cell, result in rows:
        if cell != YARDSTICK and result["sec_per_update"]:
            budget[model] = min(budget.get(model, float("inf")), last * result["sec_per_update"])
    for model, cell, result in rows:
        bpc, seconds = result["valid_bpc"], result["sec_per_update"]
        points = [f"{bpc[u]:.3f}" if u in bpc else "-" for u in args.checkpoints]
        row = f"| {model} | {cell} | " + " | ".join(points)
        row += f" | {seconds:.3f} |" if seconds else " | - |"
        ref = yardstick.get(model, {}).get("valid_bpc", {}).get(last)
        row += f" {bpc[last] / ref - 1:+.1%} |" if ref and last in bpc and cell != YARDSTICK else " |"
        at = at_update(bpc, budget[model] / seconds) if seconds and model in budget else None
        row += f" {at:.3f} ({budget[model]:.0f} s) |" if at is not None and cell != YARDSTICK else " |"
        print(row)


def at_update(bpc: Dict[int, float], update: float):
    """bits/char at a fractional update, linear between validation points; None outside them."""
    points = sorted(bpc.items())
    for (u0, b0), (u1, b1) in zip(points, points[1:]):
        if u0 <= update <= u1:
            return b0 + (b1 - b0) * (update - u0) / (u1 - u0)
    return bpc[points[-1][0]] if points and abs(update - points[-1][0]) < 1e-6 else None


def machine() -> str:
    sys.path.insert(0, BENCHMARKS)
    from common import machine as describe

    return describe("cpu")


if __name__ == "__main__":
    main()
