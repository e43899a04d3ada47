"""Why the authors' LSTM setting learns slowly: the no-latent LM (L = 128, batch 64, hidden 500, Adam
1e-3) in the bare PyTorch loop of bare_yardstick.py, changing one thing at a time.

Every row is one bare_yardstick.py run; the table gives valid bits/char (every consecutive window of
the valid split) at each validation point. Rows share the seed, so they see the same batches. (Speed
is learning_speed.py's business: these runs may share the machine.)

    python benchmarks/learning_diagnosis.py DATA_BIN [--out runs/learning_diagnosis]

Runs go one after another; a finished run's log under --out is reused (the command is its name).
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from bare_yardstick import build_model, make_parser, token_stream
from fairseq.data import Dictionary
from learning_speed import BENCHMARKS, run

COMMON = ["--model", "lm", "--sample-size", "128", "--batch-size", "64"]
SHORT = ["--updates", "375", "--valid-at", "125,250,375"]
VARIANTS = [  # (what changes, bare_yardstick.py flags)
    ("nn.LSTM, 64-d embedding, PyTorch init (the yardstick)", ["--updates", "750", "--valid-at", "375,750",
                                                              "--embed-dim", "64"]),
    ("nn.LSTM, one-hot inputs", ["--updates", "750", "--valid-at", "375,750", "--embed-dim", "0"]),
    ("authors' cell, one-hot inputs, U(-0.1, 0.1) (the paper's setting)",
     SHORT + ["--cell", "authors", "--init-scale", "0.1"]),
    ("authors' cell, 64-d embedding, PyTorch init", SHORT + ["--cell", "authors", "--embed-dim", "64"]),
    ("per-gate LayerNorm cell, 64-d embedding, PyTorch init",
     SHORT + ["--cell", "layernorm", "--embed-dim", "64"]),
    ("nn.LSTM, 64-d embedding, loss per unit (as fairseq)",
     SHORT + ["--cell", "torch", "--embed-dim", "64", "--loss-per", "unit"]),
    ("nn.LSTM, 64-d embedding, U(-0.1, 0.1)",
     SHORT + ["--cell", "torch", "--embed-dim", "64", "--init-scale", "0.1"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(BENCHMARKS), "runs",
                                                      "learning_diagnosis"),
                        help="run logs, reused by a rerun (not committed)")
    parser.add_argument("--gradients-only", action="store_true", help="only the first table (seconds)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.gradients_only:
        return print_gradient_norms(args.data)
    print_gradient_norms(args.data)
    results = []
    for label, flags in VARIANTS:
        command = [sys.executable, os.path.join(BENCHMARKS, "bare_yardstick.py"), args.data, *COMMON, *flags]
        name = "lm " + " ".join(flags).replace("--", "").replace(",", "_")
        points = [json.loads(line) for line in run(name, command, args.out) if line.startswith('{"update"')]
        results.append((label, {p["update"]: p["valid_bpc"] for p in points}))
    updates = sorted({u for _, bpc in results for u in bpc})
    header = "| setting | " + " | ".join(f"bits/char at {u}" for u in updates) + " |"
    print(header + "\n|" + "---|" * (header.count("|") - 1))
    for label, bpc in results:
        print(f"| {label} | " + " | ".join(f"{bpc[u]:.3f}" if u in bpc else "" for u in updates) + " |")


def print_gradient_norms(data: str) -> None:
    """The gradient norm of each setting's first update (loss per unit, as fairseq's gnorm): where a
    large one comes from, and what Adam's second-moment estimate then remembers for ~1/(1-beta2)
    = 1,000 updates."""
    dictionary = Dictionary.load(os.path.join(data, "dict.txt"))
    train = token_stream(data, "train", dictionary)
    print("| setting | gradient norm at the first update | largest parameter gradient |\n|---|---|---|")
    for label, flags in VARIANTS:
        a = make_parser().parse_args([data, *COMMON, *flags])
        torch.manual_seed(a.seed)  # the same model and first batch as the run's
        model = build_model(a, len(dictionary))
        offsets = torch.randint(0, len(train) - a.sample_size + 1, (a.batch_size,))
        x = train[offsets[:, None] + torch.arange(a.sample_size)]  # (B, L)
        prev = torch.cat([torch.full_like(x[:, :1], dictionary.bos()), x[:, :-1]], 1)  # (B, L)
        logits = model(x, prev)[0]  # (B, L, V)
        F.cross_entropy(logits.reshape(-1, logits.size(-1)), x.reshape(-1)).backward()
        norms = {name: p.grad.norm().item() for name, p in model.named_parameters()}
        total = sum(n**2 for n in norms.values()) ** 0.5
        largest = max(norms, key=norms.get)
        print(f"| {label} | {total:.3g} | {largest} ({norms[largest]:.3g}) |")
    print()


if __name__ == "__main__":
    main()
