"""Each LSTM cell alone: seconds for the forward and the backward pass over one batch of sequences.

    python benchmarks/cell_step.py [--batch-size 64] [--length 128] [--hidden 500] [--repeats 7]

The PTB preset's head at L = 128: hidden 500; input 64 (the default cell's embedding) or 53 (the
authors' one-hot characters). Rounds are interleaved (each round times every cell once); medians.
"""

import argparse
import time

import torch
from common import machine

from fairseq_hybrid_vae.models.text_vae_model import embed_dim_for
from fairseq_hybrid_vae.modules import LSTM_CELLS

PTB_TYPES = 53


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    cells = {}
    for name in LSTM_CELLS:
        input_size = embed_dim_for(None, name) or PTB_TYPES  # 0: one-hot inputs
        # requires grad, as a model's LSTM input (an embedding, the deconv's features) does
        x = torch.randn(args.batch_size, args.length, input_size, requires_grad=True)
        cells[name] = (LSTM_CELLS[name](input_size, args.hidden), x)
    times = {name: ([], []) for name in cells}
    for _ in range(args.repeats + 1):  # the first round warms up
        for name, (cell, x) in cells.items():
            start = time.perf_counter()
            outputs, _ = cell(x)
            middle = time.perf_counter()
            outputs.sum().backward()
            end = time.perf_counter()
            times[name][0].append(middle - start)
            times[name][1].append(end - middle)
    print(machine("cpu"))
    print(f"batch {args.batch_size}, length {args.length}, hidden {args.hidden}; median of {args.repeats}\n")
    # The first round includes what runs once per process: the default cell compiles its fused
    # training kernels there (from inductor's cache when it holds them).
    print("| cell | input | forward (s) | backward (s) | total (s) | first round (s) |")
    print("|---|---|---|---|---|---|")
    for name, (forward, backward) in times.items():
        f, b = (sorted(t[1:])[len(t[1:]) // 2] for t in (forward, backward))
        print(f"| {name} | {cells[name][1].size(-1)} | {f:.3f} | {b:.3f} | {f + b:.3f} "
              f"| {forward[0] + backward[0]:.1f} |")


if __name__ == "__main__":
    main()
