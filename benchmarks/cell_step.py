"""Each LSTM cell alone: seconds for the forward and the backward pass over one batch of sequences.

    python benchmarks/cell_step.py [--batch-size 64] [--length 128] [--hidden 500] [--repeats 7]
    python benchmarks/cell_step.py --matmuls    # the step's matmuls alone: plain and packed for oneDNN

The PTB preset's head at L = 128: hidden 500; input 64 (the default cell's embedding) or 53 (the
authors' one-hot characters). Rounds are interleaved (each round times every cell once); medians.
"""

import argparse
import time

import torch
from common import machine

from fairseq_hybrid_vae.models.text_vae_model import embed_dim_for
from fairseq_hybrid_vae.modules import LSTM_CELLS
from fairseq_hybrid_vae.modules.gate_norm_steps import packed_linear, reorder_for_onednn

PTB_TYPES = 53


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--matmuls", action="store_true",
                        help="time the default cell's two step matmuls alone instead (ms a call)")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.matmuls:
        return time_matmuls(args.batch_size, args.hidden)
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


def time_matmuls(batch_size: int, hidden: int, calls: int = 200) -> None:
    """h W_h^T forward and dL/dpre W_h backward, as the fused pass runs them: through torch's matmul
    (MKL for fp32 on a CPU) and through oneDNN with the weight packed (modules/gate_norm_steps.py)."""
    print(machine("cpu"))
    print(f"batch {batch_size}, hidden {hidden}; ms a call, mean of {calls}\n")
    print("| matmul | dtype | torch's matmul (ms) | oneDNN, packed weight (ms) |")
    print("|---|---|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        weight = torch.randn(4 * hidden, hidden, dtype=dtype)  # W_h (4H, H)
        for name, x, w in [("h W_h^T (forward)", torch.randn(batch_size, hidden, dtype=dtype), weight),
                           ("dpre W_h (backward)", torch.randn(batch_size, 4 * hidden, dtype=dtype),
                            weight.t().contiguous())]:
            plain = timed(calls, torch.nn.functional.linear, x, w)
            try:
                packed_weight = reorder_for_onednn(w, batch_size)
                packed = f"{timed(calls, packed_linear, x, packed_weight):.3f}"
            except RuntimeError:  # bf16 without AVX-512
                packed = "unavailable"
            print(f"| {name} | {str(dtype)[6:]} | {plain:.3f} | {packed} |")


def timed(calls: int, fn, *args) -> float:
    for _ in range(10):
        fn(*args)
    start = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - start) / calls * 1e3


if __name__ == "__main__":
    main()
