"""Where the time goes: torch.profiler's top operators for one training update of a train_throughput
model, or (--sampling HEAD) for greedy incremental sampling of one batch as generate_throughput does.

    python benchmarks/profile_step.py [--model "hybrid_vae_lstm (bare loop)"] [--lstm-cell layernorm]
                                      [--sample-size 128] [--batch-size 64] [--rows 15] [--device cpu|cuda]
                                      [--dtype fp32|bf16]
    python benchmarks/profile_step.py --sampling bytenet
"""

import argparse
import logging
import os
import tempfile
from types import SimpleNamespace

import torch
from common import dictionary_of
from generate_throughput import greedy
from torch.profiler import ProfilerActivity, profile
from train_throughput import DTYPE_FLAGS, MODELS, build, step_function, timed

from fairseq_hybrid_vae.models.hybrid_vae import HybridVAEConfig, HybridVAEModel
from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL, LSTM_CELLS

# record_function sections of fairseq's Trainer.train_step: its own work beside the model's.
TRAINER_SECTIONS = ["forward", "backward", "reduce-grads", "multiply-grads", "clip-grads", "optimizer"]


def sampling_run(head: str, args):
    dictionary = dictionary_of(53)
    cfg = HybridVAEConfig(sample_size=args.sample_size, decoder_head=head, head_layers=5)
    model = HybridVAEModel.build_model(cfg, SimpleNamespace(target_dictionary=dictionary)).eval()
    model = model.to(args.device)
    z = torch.randn(args.batch_size, cfg.latent_dim, device=args.device)
    return lambda: greedy(model, z, args.sample_size, dictionary.bos(), incremental=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="hybrid_vae_lstm (bare loop)", choices=list(MODELS))
    parser.add_argument("--lstm-cell", choices=list(LSTM_CELLS), default=DEFAULT_LSTM_CELL,
                        help="the model's --lstm-cell (training updates)")
    parser.add_argument("--sampling", choices=["lstm", "bytenet"], help="profile sampling with this head")
    parser.add_argument("--sample-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rows", type=int, default=15)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=list(DTYPE_FLAGS), default="fp32", help="the update's precision "
                        "(bf16: the plugin's --bf16-autocast), as train_throughput.py")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    import fairseq_hybrid_vae  # noqa: F401  (registers the plugin for fairseq's parsers)

    with tempfile.TemporaryDirectory() as data:
        dictionary_of(53).save(os.path.join(data, "dict.txt"))
        if args.sampling:
            what = f"greedy incremental sampling, {args.sampling} head"
            run = sampling_run(args.sampling, args)
        else:
            trainer, sample = build(args.model, data, args.sample_size, args.batch_size, args.device,
                                    args.dtype, args.lstm_cell)
            what = f"one {args.dtype} update of {args.model}, --lstm-cell {args.lstm_cell}"
            run = step_function(args.model, trainer, sample)
        run()  # warm-up
        seconds = timed(run, args.device)
        print(f"{what}, L={args.sample_size}, batch {args.batch_size}: {seconds:.3f} s unprofiled")
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with profile(activities=activities) as prof:
            run()
    events = prof.key_averages()
    sort_by = "self_cuda_time_total" if args.device == "cuda" else "self_cpu_time_total"
    print(events.table(sort_by=sort_by, row_limit=args.rows))
    sections = {e.key: e.cpu_time_total / 1e3 for e in events if e.key in TRAINER_SECTIONS}
    if sections:
        print("fairseq Trainer sections (ms, CPU total): "
              + ", ".join(f"{name} {sections[name]:.1f}" for name in TRAINER_SECTIONS if name in sections))


if __name__ == "__main__":
    main()
