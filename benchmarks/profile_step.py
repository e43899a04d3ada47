"""Where one training update's time goes: torch.profiler's top operators for one model of train_throughput.

    python benchmarks/profile_step.py [--model "hybrid_vae_lstm (bare loop)"] [--sample-size 128]
                                      [--batch-size 64] [--rows 15] [--device cpu|cuda]
"""

import argparse
import logging
import os
import tempfile

from common import dictionary_of
from torch.profiler import ProfilerActivity, profile
from train_throughput import MODELS, build, step_function, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="hybrid_vae_lstm (bare loop)", choices=list(MODELS))
    parser.add_argument("--sample-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rows", type=int, default=15)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    import fairseq_hybrid_vae  # noqa: F401  (registers the plugin for fairseq's parsers)

    with tempfile.TemporaryDirectory() as data:
        dictionary_of(53).save(os.path.join(data, "dict.txt"))
        trainer, sample = build(args.model, data, args.sample_size, args.batch_size, args.device, "fp32")
        step = step_function(args.model, trainer, sample)
        step()  # warm-up
        print(f"{args.model}, L={args.sample_size}, batch {args.batch_size}: "
              f"{timed(step, args.device):.3f} s/update unprofiled")
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with profile(activities=activities) as prof:
            step()
        sort_by = "self_cuda_time_total" if args.device == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=sort_by, row_limit=args.rows))


if __name__ == "__main__":
    main()
