"""Greedy prior sampling speed of the heads: incremental decoding vs recomputing the prefix each step.

Table 1, at --sample-size (128): units per second (batch x L / seconds) for the PTB-sized LSTM and
ByteNet heads, each with incremental decoding (fairseq's incremental_state, as fairseq-generate uses)
and by recomputing the whole prefix at every step, and for the historyless model's one-pass decoder.
Table 2, over --scaling-sizes (64..512): how the cost grows with L. With incremental decoding each
step costs the same, so seconds per batch grow linearly in L (seconds per unit stay flat); recomputing
the prefix grows quadratically. Weights are random: speed does not depend on them. z ~ N(0, I).

    python benchmarks/generate_throughput.py [--sample-size 128] [--scaling-sizes 64,128,256,512]
        [--batch-size 64] [--repeats 3] [--device cpu|cuda] [--dtype fp32|bf16|fp16]
"""

import argparse
from types import SimpleNamespace
from typing import Callable, Dict, List, Tuple

import torch
from common import dictionary_of, machine, median_seconds

from fairseq_hybrid_vae.models.hybrid_vae import HybridVAEConfig, HybridVAEModel
from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL, LSTM_CELLS

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@torch.no_grad()
def greedy(model, z: torch.Tensor, length: int, bos: int, incremental: bool) -> torch.Tensor:
    encoder_out = model.encoder(None, z=z)
    tokens = torch.full((z.size(0), 1), bos, dtype=torch.long, device=z.device)  # (B, 1)
    state = {} if incremental else None
    for _ in range(length):
        logits, _ = model.decoder(tokens, encoder_out=encoder_out, incremental_state=state)  # (B, T or 1, V)
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)  # (B, T + 1)
    return tokens[:, 1:]


@torch.no_grad()
def one_pass(model, z: torch.Tensor, length: int, bos: int) -> torch.Tensor:
    encoder_out = model.encoder(None, z=z)
    prev = torch.full((z.size(0), length), bos, dtype=torch.long, device=z.device)  # (B, L), unread
    logits, _ = model.decoder(prev, encoder_out=encoder_out)  # (B, L, V)
    return logits.argmax(-1)


def decoders(L: int, args, dictionary) -> Dict[Tuple[str, str], Callable[[], torch.Tensor]]:
    """(head, decoding) -> a function that samples one batch of L units from the prior."""
    task = SimpleNamespace(target_dictionary=dictionary)
    bos, runs = dictionary.bos(), {}
    for head in ["lstm", "bytenet", "none"]:
        cfg = HybridVAEConfig(sample_size=L, decoder_head=head, head_layers=args.head_layers,
                              lstm_cell=args.lstm_cell)
        model = HybridVAEModel.build_model(cfg, task).eval().to(args.device, DTYPES[args.dtype])
        z = torch.randn(args.batch_size, cfg.latent_dim, device=args.device, dtype=DTYPES[args.dtype])
        if head == "none":
            runs[head, "one parallel pass"] = lambda m=model, z=z: one_pass(m, z, L, bos)
            continue
        for mode in ["incremental", "recompute prefix"]:
            runs[head, mode] = lambda m=model, z=z, i=(mode == "incremental"): greedy(m, z, L, bos, i)
    return runs


def timer(args) -> Callable[[Callable[[], object]], float]:
    def synchronized(fn: Callable[[], object]) -> Callable[[], None]:
        return lambda: (fn(), torch.cuda.synchronize() if args.device == "cuda" else None)

    return lambda fn: median_seconds(synchronized(fn), args.repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-size", type=int, default=128)
    parser.add_argument("--lstm-cell", choices=list(LSTM_CELLS), default=DEFAULT_LSTM_CELL,
                        help="the LSTM head's cell (the committed tables: authors)")
    parser.add_argument("--scaling-sizes", default="64,128,256,512", help="L values of the scaling table")
    parser.add_argument("--recompute-up-to", type=int, default=256,
                        help="largest L at which the scaling table times recomputing the prefix (quadratic: "
                        "at L=512 one batch takes minutes on CPU)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--head-layers", type=int, default=5, help="ByteNet head layers")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=list(DTYPES), default="fp32")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dictionary, time_of, B = dictionary_of(53), timer(args), args.batch_size
    torch.manual_seed(1)
    print(f"greedy prior sampling, batch {B}, {args.dtype}, median of {args.repeats}; {machine(args.device)}")

    measured: Dict[int, Dict[Tuple[str, str], float]] = {}  # L -> timings, each L timed once

    def seconds_at(size: int, recompute: bool) -> Dict[Tuple[str, str], float]:
        if size not in measured:  # nan: not timed
            measured[size] = {key: time_of(run) if recompute or key[1] != "recompute prefix" else float("nan")
                              for key, run in decoders(size, args, dictionary).items()}
        return measured[size]

    L = args.sample_size
    seconds = seconds_at(L, recompute=True)
    print(f"\nL = {L}\n| head | decoding | seconds per batch | units/s |\n|---|---|---|---|")
    for (head, mode), s in seconds.items():
        print(f"| {head} | {mode} | {s:.4f} | {B * L / s:,.0f} |")
    for head in ["lstm", "bytenet"]:
        speedup = seconds[head, "recompute prefix"] / seconds[head, "incremental"]
        print(f"{head}: incremental is {speedup:.1f}x faster than recomputing the prefix")

    sizes = [int(x) for x in args.scaling_sizes.split(",")]
    scaling: Dict[Tuple[str, str], List[float]] = {}
    for size in sizes:
        for key, s in seconds_at(size, recompute=size <= args.recompute_up_to).items():
            scaling.setdefault(key, []).append(s)
    print(f"\nseconds per batch by L (in brackets: the growth over L={sizes[0]}; linear in L = "
          + ", ".join(f"{size / sizes[0]:g}x" for size in sizes) + ")")
    print("| head | decoding | " + " | ".join(f"L={size}" for size in sizes) + " | ms per unit at each L |")
    print("|---|---|" + "---|" * (len(sizes) + 1))
    for (head, mode), times in scaling.items():
        cells = [f"{t:.4f} ({t / times[0]:.1f}x)" if t == t else "-" for t in times]
        per_unit = ", ".join(f"{1e3 * t / (B * size):.3f}" for t, size in zip(times, sizes) if t == t)
        print(f"| {head} | {mode} | " + " | ".join(cells) + f" | {per_unit} |")


if __name__ == "__main__":
    main()
