"""hybrid-vae-eval: how the field measures a text VAE, on one split (docs/evaluation.md defines each number).

    hybrid-vae-eval DATA --path CKPT --split test [--iw-samples 500] [--json results.json]
"""

import argparse
import json
import logging
import math
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..common.atomic import atomic_open
from ..common.option_ranges import AT_LEAST_1, NON_NEGATIVE, Checked, OneLineArgumentParser, PathKind
from ..fairseq_fixes.patches import patch_for_the_command_line
from ..modules import gaussian_kl, log_normal, reparameterize
from .commands import configure_output

logger = logging.getLogger("fairseq_hybrid_vae.cli.evaluate")

PROGRESS_EVERY_S = 30.0  # a log line of progress at most this often: IW-NLL over a split takes minutes


@torch.no_grad()
def log_likelihood(model, z: Tensor, prev_output_tokens: Tensor, target: Tensor, pad: int) -> Tensor:
    """log p(x | z) per row: z (N, Z), tokens (N, L) -> (N,)."""
    encoder_out = model.encoder(None, z=z)
    logits, _ = model.decoder(prev_output_tokens, encoder_out=encoder_out)  # (N, L, V)
    nll = F.cross_entropy(logits.float().transpose(1, 2), target, ignore_index=pad, reduction="none")
    return -nll.sum(1)  # (N,)


@torch.no_grad()
def importance_weights(model, sample: Dict, mu: Tensor, logvar: Tensor, samples: int, chunk: int,
                       pad: int) -> Tensor:
    """log p(x, z_k) - log q(z_k | x) for K posterior samples per row: (B, K)."""
    B, Z = mu.shape
    prev, target = sample["net_input"]["prev_output_tokens"], sample["target"]
    weights = []
    for start in range(0, samples, chunk):
        k = min(chunk, samples - start)
        eps = torch.randn(B, k, Z, device=mu.device)
        z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps  # (B, k, Z)
        flat = z.reshape(B * k, Z)  # (B·k, Z)
        log_px = log_likelihood(model, flat, prev.repeat_interleave(k, 0),
                                target.repeat_interleave(k, 0), pad).view(B, k)
        log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))  # (B, k)
        log_qz = log_normal(z, mu.unsqueeze(1), logvar.unsqueeze(1))  # (B, k)
        weights.append(log_px + log_pz - log_qz)
    return torch.cat(weights, dim=1)  # (B, K)


def mutual_information(mu: Tensor, logvar: Tensor, chunk: int = 64) -> float:
    """I(x; z) = E_x E_q(z|x)[log q(z|x) - log q(z)], q(z) the mixture of all N posteriors.

    Both terms use the same z_i ~ q(z|x_i), one per x, so the estimate is at most log N (a mixture of
    N components carries at most log N nats) and the sampling noise of the two terms cancels.
    """
    N, Z = mu.shape
    if Z == 0:
        return 0.0
    z = reparameterize(mu, logvar)  # one z per x: (N, Z)
    log_q_own = log_normal(z, mu, logvar)  # (N,)
    log_qz = []
    for start in range(0, N, chunk):
        z_chunk = z[start : start + chunk].unsqueeze(1)  # (c, 1, Z)
        log_q = log_normal(z_chunk, mu.unsqueeze(0), logvar.unsqueeze(0))  # (c, N)
        log_qz.append(torch.logsumexp(log_q, dim=1) - math.log(N))
    return float((log_q_own - torch.cat(log_qz)).mean())


def positional_hits(decoded: List[Tensor], target: Tensor, pad: int) -> Tuple[int, int]:
    """(units of `target` that `decoded` repeats at the same position, units of `target`); target
    (B, L) with padding, decoded: B unit sequences (a line's stops at its EOS, a window's has L units)."""
    hits = units = 0
    for hypothesis, row in zip(decoded, target):
        expected = row[row.ne(pad)].cpu()
        shared = min(len(hypothesis), len(expected))
        hits += int((hypothesis[:shared].cpu() == expected[:shared]).sum())
        units += len(expected)
    return hits, units


def is_blank(tokens: Tensor, dictionary) -> bool:
    """No visible character among the units (EOS, padding and spaces only)."""
    shown = tokens[tokens.ne(dictionary.pad()) & tokens.ne(dictionary.eos())]
    return not dictionary.string(shown).replace(" ", "").replace("\u2581", "")


def active_units(mu: Tensor, threshold: float = 0.01) -> int:
    """Dimensions whose posterior mean varies across the split: Var_x E[z_d|x] >= threshold."""
    if mu.size(1) == 0 or mu.size(0) < 2:
        return 0
    return int((mu.var(dim=0, unbiased=False) >= threshold).sum())


@torch.no_grad()
def evaluate(model, task, cfg, split: str, iw_samples: int, iw_chunk: int, batch_size: int,
             max_samples: Optional[int], diversity_samples: int, beam: int = 1) -> Dict:
    from ..hub_interface import TextVAEHubInterface

    task.load_dataset(split)
    dataset = task.dataset(split)
    pad = task.target_dictionary.pad()
    device = next(model.parameters()).device
    count = len(dataset) if max_samples is None else min(max_samples, len(dataset))

    vae = TextVAEHubInterface(cfg, task, model)
    totals = {"rec": 0.0, "kl": 0.0, "iw_nll": 0.0, "elbo_same_samples": 0.0, "units": 0}
    accuracy = {"hits": 0, "prior_hits": 0, "units": 0, "blank": 0, "non_blank": 0}
    # filled in place, as TextVAEHubInterface.split_codes does (docs/benchmarks.md): (N, Z) each
    mus, logvars = (torch.empty(count, model.encoder.latent_dim) for _ in range(2))
    started = last_logged = time.monotonic()
    for start in range(0, count, batch_size):
        if start and time.monotonic() - last_logged >= PROGRESS_EVERY_S:
            last_logged = time.monotonic()
            spent = last_logged - started
            logger.info(f"{split}: {start} of {count} samples scored in {spent / 60:.1f} min, about "
                        f"{spent / start * (count - start) / 60:.1f} min left")
        rows = slice(start, min(start + batch_size, count))
        sample = _to(dataset.collater([dataset[i] for i in range(rows.start, rows.stop)]), device)
        mu, logvar = model.encoder.posterior(sample["net_input"]["src_tokens"])
        mu, logvar = mu.float(), logvar.float()
        mus[rows], logvars[rows] = mu.cpu(), logvar.cpu()
        z = reparameterize(mu, logvar)
        prev, target = sample["net_input"]["prev_output_tokens"], sample["target"]
        totals["rec"] += float(-log_likelihood(model, z, prev, target, pad).sum())
        totals["kl"] += float(gaussian_kl(mu, logvar).sum())
        weights = importance_weights(model, sample, mu, logvar, iw_samples, iw_chunk, pad)  # (B, K)
        totals["iw_nll"] += float(-(torch.logsumexp(weights, 1) - math.log(iw_samples)).sum())
        totals["elbo_same_samples"] += float(-weights.mean(1).sum())
        totals["units"] += int(target.ne(pad).sum())
        if model.encoder.latent_dim > 0:
            reconstructed = [hypos[0]["tokens"] for hypos in vae.generate(mu, beam)]
            prior = [hypos[0]["tokens"] for hypos in vae.generate(torch.randn_like(mu), beam)]
            hits, units = positional_hits(reconstructed, target, pad)
            accuracy["hits"] += hits
            accuracy["units"] += units
            accuracy["prior_hits"] += positional_hits(prior, target, pad)[0]
            for decoded, row in zip(reconstructed, target):
                if not is_blank(row, task.target_dictionary):
                    accuracy["non_blank"] += 1
                    accuracy["blank"] += is_blank(decoded, task.target_dictionary)
    texts = vae.sample(diversity_samples) if diversity_samples > 0 else []
    accuracy["beam"] = beam
    return summarize(totals, count, mus, logvars, texts, accuracy)


def summarize(totals: Dict, count: int, mu: Tensor, logvar: Tensor, texts: List[str],
              accuracy: Optional[Dict] = None) -> Dict:
    per_sample = {key: totals[key] / count for key in ["rec", "kl", "iw_nll", "elbo_same_samples"]}
    per_sample["elbo"] = per_sample["rec"] + per_sample["kl"]
    units_per_sample = totals["units"] / count
    bits = {key: value / units_per_sample / math.log(2) for key, value in per_sample.items()}
    return {
        "samples": count,
        "units": totals["units"],
        "nats_per_sample": per_sample,
        "bits_per_unit": bits,
        "mutual_information_nats": mutual_information(mu, logvar),
        "mi_variant": "aggregate posterior of the split; one z per x in both terms",
        "active_units": active_units(mu),
        "latent_dim": mu.size(1),
        "diversity": {"distinct": len(set(texts)), "of": len(texts)},
        "reconstruction": reconstruction_summary(accuracy),
    }


def reconstruction_summary(accuracy: Optional[Dict]) -> Optional[Dict]:
    if not accuracy or not accuracy["units"]:
        return None  # a model without z reconstructs nothing
    return {"accuracy": accuracy["hits"] / accuracy["units"],
            "prior_accuracy": accuracy["prior_hits"] / accuracy["units"],
            "blank": accuracy["blank"], "non_blank_samples": accuracy["non_blank"],
            "beam": accuracy.get("beam", 1)}


def _to(sample: Dict, device) -> Dict:
    from fairseq import utils

    return utils.move_to_cuda(sample, device=device) if device.type == "cuda" else sample


def format_table(result: Dict) -> str:
    nats, bits = result["nats_per_sample"], result["bits_per_unit"]
    rows = [("rec", "rec"), ("KL", "kl"), ("ELBO", "elbo"), ("IW-NLL", "iw_nll")]
    lines = [f"{result['samples']} samples, {result['units']} units",
             "| metric | nats per sample | bits per unit |", "|---|---|---|"]
    lines += [f"| {name} | {nats[key]:.3f} | {bits[key]:.4f} |" for name, key in rows]
    lines += [
        f"| MI I(x;z) | {result['mutual_information_nats']:.3f} | ({result['mi_variant']}) |",
        f"| active units | {result['active_units']} of {result['latent_dim']} | |",
        f"| diversity | {result['diversity']['distinct']} distinct of {result['diversity']['of']} "
        "greedy prior samples | |",
    ]
    rec = result.get("reconstruction")
    if rec:
        decoding = "greedy" if rec["beam"] == 1 else f"beam {rec['beam']}"
        lines += [
            f"| reconstruction accuracy | {rec['accuracy']:.1%} of units at their position | {decoding}, "
            "posterior mean |",
            f"| the same from the prior | {rec['prior_accuracy']:.1%} | z ~ N(0, I), same samples |",
            f"| blank reconstructions | {rec['blank']} of {rec['non_blank_samples']} non-blank samples | |",
        ]
    return "\n".join(lines)


def get_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="hybrid-vae-eval", description=__doc__.splitlines()[0])
    parser.add_argument("data", type=PathKind("folder"), help="the data directory the model was trained on")
    parser.add_argument("--path", type=PathKind("file"), required=True, help="checkpoint file")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--iw-samples", type=Checked(int, AT_LEAST_1), default=500,
                        help="K for IW-NLL (default 500)")
    parser.add_argument("--iw-chunk", type=Checked(int, AT_LEAST_1), default=50,
                        help="importance samples decoded at once per sample (memory)")
    parser.add_argument("--batch-size", type=Checked(int, AT_LEAST_1), default=16, help="samples per batch")
    parser.add_argument("--max-samples", type=Checked(int, AT_LEAST_1),
                        help="only the first N samples of the split")
    parser.add_argument("--diversity-samples", type=Checked(int, NON_NEGATIVE), default=100,
                        help="greedy prior samples for the diversity count (0: skip)")
    parser.add_argument("--beam", type=Checked(int, AT_LEAST_1), default=1,
                        help="beam size of the reconstructions (default 1: greedy, as the paper)")
    parser.add_argument("--json", type=PathKind("output file"), help="also write the results here (JSON)")
    parser.add_argument("--seed", type=Checked(int, NON_NEGATIVE), default=1)
    parser.add_argument("--cpu", action="store_true", help="do not use a GPU")
    parser.add_argument("--bf16-autocast", action="store_true",
                        help="evaluate under bf16 autocast (as training's --bf16-autocast)")
    return parser


def cli_main(argv: Optional[List[str]] = None) -> None:
    configure_output(sys.stderr)
    args = get_parser().parse_args(argv)
    from fairseq import checkpoint_utils

    torch.manual_seed(args.seed)
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [args.path], arg_overrides={"data": args.data}
    )
    task.use_bf16_autocast(args.bf16_autocast)
    model = models[0].eval()
    if torch.cuda.is_available() and not args.cpu:
        model.cuda()
    with task.autocast(model):
        result = evaluate(model, task, cfg, args.split, args.iw_samples, args.iw_chunk, args.batch_size,
                          args.max_samples, args.diversity_samples, args.beam)
    result.update({"checkpoint": args.path, "split": args.split, "iw_samples": args.iw_samples})
    print(format_table(result))
    if args.json:
        with atomic_open(args.json) as f:  # never a half-written report under the final name
            json.dump(result, f, indent=2)


def main() -> None:
    """hybrid-vae-eval: cli_main with the command-line patches (one-line errors)."""
    patch_for_the_command_line()
    cli_main()


if __name__ == "__main__":
    main()
