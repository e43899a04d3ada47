"""How large the first update's gradients are, by window length L, at the paper's initialisation.

For each model and L: one forward + backward of the ELBO (summed over the batch, as fairseq-train's
criterion returns it) on random windows, PTB preset sizes, U(-0.1, 0.1) initialisation; printed are
the largest per-parameter gradient norm (which parameter), and that norm after fairseq's
normalisation by the number of units (the gradient Adam sees). A gradient norm whose square exceeds
float32's range (~3.4e38) makes fairseq's global norm inf ("gradients are Nan/Inf"); one over fp16's
range (65,504 times the loss scale) makes --fp16/--amp skip every update until the scale bottoms out.

    python benchmarks/gradient_growth.py [--sample-sizes 32,64,128,256] [--models lstm_vae,hybrid_vae_lstm]
"""

import argparse
import logging
import os
import tempfile

import torch
from common import dictionary_of
from train_throughput import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-sizes", default="32,64,128,256")
    parser.add_argument("--models", default="lstm_vae,hybrid_vae_lstm,window_lm_lstm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3, help="batches (input dropout draws) per model and L")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    import fairseq_hybrid_vae  # noqa: F401  (registers the plugin for fairseq's parsers)

    print("| model | L | largest gradient norm (summed loss) | of | after fairseq divides by sample_size |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as data:
        dictionary_of(53).save(os.path.join(data, "dict.txt"))
        for name in args.models.split(","):
            for L in [int(x) for x in args.sample_sizes.split(",")]:
                trainer, sample = build(name, data, L, args.batch_size, "cpu", "fp32")
                model, criterion = trainer.model, trainer.criterion
                largest, which = 0.0, ""
                for seed in range(args.seeds):
                    torch.manual_seed(seed)
                    model.zero_grad()
                    loss, sample_size, _ = criterion(model, sample)
                    loss.backward()
                    for param_name, param in model.named_parameters():
                        if param.grad is not None:
                            norm = float(param.grad.double().norm())  # float64: no overflow here
                            largest, which = max((largest, which), (norm, param_name))
                print(f"| {name} | {L} | {largest:.3g} | {which} | {largest / sample_size:.3g} |")


if __name__ == "__main__":
    main()
