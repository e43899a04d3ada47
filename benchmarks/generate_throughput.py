"""Greedy generation speed of the heads: incremental decoding vs recomputing the prefix each step.

Prints a table of units per second (batch x L / seconds) for the PTB-sized LSTM and ByteNet heads
and for the historyless model's one-pass decoder. Weights are random: speed does not depend on them.

    python benchmarks/generate_throughput.py [--sample-size 128] [--batch-size 64] [--repeats 3]
"""

import argparse
from types import SimpleNamespace

import torch
from common import dictionary_of, median_seconds

from fairseq_hybrid_vae.models.hybrid_vae import HybridVAEConfig, HybridVAEModel


@torch.no_grad()
def greedy(model, z: torch.Tensor, length: int, bos: int, incremental: bool) -> torch.Tensor:
    encoder_out = model.encoder(None, z=z)
    tokens = torch.full((z.size(0), 1), bos, dtype=torch.long)
    state = {} if incremental else None
    for _ in range(length):
        logits, _ = model.decoder(tokens, encoder_out=encoder_out, incremental_state=state)
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return tokens[:, 1:]


@torch.no_grad()
def one_pass(model, z: torch.Tensor, length: int, bos: int) -> torch.Tensor:
    encoder_out = model.encoder(None, z=z)
    prev = torch.full((z.size(0), length), bos, dtype=torch.long)
    logits, _ = model.decoder(prev, encoder_out=encoder_out)
    return logits.argmax(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--head-layers", type=int, default=5, help="ByteNet head layers")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dictionary = dictionary_of(53)
    task = SimpleNamespace(target_dictionary=dictionary)
    L, B, bos = args.sample_size, args.batch_size, dictionary.bos()
    rows = []
    for head in ["lstm", "bytenet", "none"]:
        cfg = HybridVAEConfig(sample_size=L, decoder_head=head, head_layers=args.head_layers)
        model = HybridVAEModel.build_model(cfg, task).eval()
        z = torch.randn(B, cfg.latent_dim)
        if head == "none":
            seconds = median_seconds(lambda m=model, z=z: one_pass(m, z, L, bos), args.repeats)
            rows.append((head, "one parallel pass", seconds))
            continue
        for incremental in [True, False]:
            run = lambda m=model, z=z, i=incremental: greedy(m, z, L, bos, i)  # noqa: E731
            seconds = median_seconds(run, args.repeats)
            rows.append((head, "incremental" if incremental else "recompute prefix", seconds))
    print(f"greedy generation, L={L}, batch {B}, {args.threads} threads, torch {torch.__version__}")
    print("| head | decoding | seconds per batch | units/s |\n|---|---|---|---|")
    for head, mode, seconds in rows:
        print(f"| {head} | {mode} | {seconds:.3f} | {B * L / seconds:,.0f} |")
    for head in ["lstm", "bytenet"]:
        inc, full = [s for h, m, s in rows if h == head]
        print(f"{head}: incremental is {full / inc:.1f}x faster than recomputing the prefix")


if __name__ == "__main__":
    main()
