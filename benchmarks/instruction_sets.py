"""Which of the model's float32 operations compute other bits when each library's instruction set is
capped: the variables scripts/test.sh sets for its second pass of the float-sensitive tests.

    python benchmarks/instruction_sets.py      # prints a markdown table (docs/install.md)

Each row runs the operations in a fresh process under its variables and compares the bits of every
result with the first row's (nothing capped). "same" means equal bits.
"""

import hashlib
import json
import os
import platform
import subprocess
import sys

import torch

# Each setting: the environment variables that cap one library (or all three, as test.sh does).
SETTINGS = {
    "nothing capped": {},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "MKL_ENABLE_INSTRUCTIONS=AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "ONEDNN_MAX_CPU_ISA=AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "all three at AVX2 (test.sh on AVX-512)": {
        "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}


def fingerprints() -> dict:
    """A hash of the bits of each operation's result on fixed inputs: the operations every model runs."""
    torch.manual_seed(0)
    a, b = torch.randn(64, 500), torch.randn(500, 2000)  # one LSTM step's matmul
    x, w = torch.randn(8, 64, 128), torch.randn(128, 64, 3)  # a conv layer of the encoder
    results = {
        "matmul": a @ b,
        "conv1d": torch.nn.functional.conv1d(x, w, padding=1),
        "layer_norm": torch.nn.functional.layer_norm(b, (2000,)),
        "sigmoid, tanh": torch.tanh(b) * torch.sigmoid(b),
        "sum": b.sum(0),
        "log_softmax": torch.log_softmax(b, -1),
    }
    found = {name: hashlib.sha1(t.numpy().tobytes()).hexdigest() for name, t in results.items()}
    return {"capability": torch.backends.cpu.get_cpu_capability(), **found}


def processor() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    rows = {}
    for name, variables in SETTINGS.items():
        out = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True,
                             check=True, env={**os.environ, **variables}).stdout
        rows[name] = json.loads(out)
    base = rows["nothing capped"]
    ops = [key for key in base if key != "capability"]
    print(f"{processor()}, torch {torch.__version__}\n")
    print("| setting | ATen capability | " + " | ".join(ops) + " |")
    print("|---|---|" + "---|" * len(ops))
    for name, row in rows.items():
        cells = ["same" if row[op] == base[op] else "**other bits**" for op in ops]
        print(f"| {name} | {row['capability']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(fingerprints()))
    else:
        main()
