"""Criterion `hybrid_vae_elbo`: rec + w·KL + alpha·aux, the KL weight w (and alpha) scheduled by update."""

import logging
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from torch import Tensor

from ..common.option_ranges import AT_LEAST_1, NON_NEGATIVE, PROBABILITY, Range, check_options
from ..modules import gaussian_kl

logger = logging.getLogger(__name__)


@dataclass
class HybridVAEElboConfig(FairseqDataclass):
    alpha: float = field(
        default=0.2,
        metadata={"range": NON_NEGATIVE,
                  "help": "weight of the auxiliary (historyless) reconstruction loss; the paper "
                  "uses 0.2 (0 turns it off)"},
    )
    alpha_final: Optional[float] = field(
        default=None,
        metadata={"range": NON_NEGATIVE,
                  "help": "alpha after --alpha-anneal-updates from --alpha-anneal-start, reached "
                  "linearly from --alpha (e.g. 1 -> 0.2: push information into z early, then let "
                  "the head model what z need not hold); default: --alpha throughout"},
    )
    alpha_anneal_start: int = field(
        default=0, metadata={"range": NON_NEGATIVE, "help": "update at which alpha starts to move"}
    )
    alpha_anneal_updates: int = field(
        default=0,
        metadata={"range": NON_NEGATIVE, "help": "updates over which alpha moves to --alpha-final"},
    )
    kl_weight_floor: float = field(
        default=0.001,
        metadata={"range": PROBABILITY,
                  "help": "KL weight before and at --kl-anneal-start (the authors: 0.001)"}
    )
    kl_anneal_start: int = field(
        default=1000,
        metadata={"range": NON_NEGATIVE,
                  "help": "update at which the KL weight starts to rise linearly"}
    )
    kl_anneal_updates: int = field(
        default=7000,
        metadata={"range": NON_NEGATIVE, "help": "updates over which the KL weight rises from the floor to 1 "
                  "(0: weight 1 from the start, no annealing)"},
    )
    kl_anneal_cycles: int = field(
        default=1,
        metadata={"range": AT_LEAST_1,
                  "help": "cyclical annealing (Fu et al. 2019): the KL weight rises from the floor "
                  "this many times, in equal cycles over --kl-anneal-updates; 1 = one rise"},
    )
    kl_anneal_ratio: float = field(
        default=1.0,
        metadata={"range": Range(low=0, low_open=True, high=1),
                  "help": "share of each cycle over which the KL weight rises; it is 1 for the rest "
                  "(Fu et al.: 0.5; 1 = it rises the whole cycle)"},
    )
    kl_weight: Optional[float] = field(
        default=None,
        metadata={"range": NON_NEGATIVE,
                  "help": "a fixed KL weight instead of the annealing; 0 switches the KL term off: "
                  "a plain stochastic autoencoder, as the paper's historyless models (Fig. 3)"},
    )
    free_bits: float = field(
        default=0.0,
        metadata={"range": NON_NEGATIVE,
                  "help": "free bits (Kingma et al. 2016): nats per latent dimension below which "
                  "the batch-mean KL of that dimension is not penalised; 0 = off"},
    )


def linear_ramp(update: int, begin: float, end: float, start: int, updates: int) -> float:
    """`begin` up to `start`, then linearly to `end` over `updates` updates, `end` after them."""
    if updates <= 0 or update >= start + updates:
        return end
    if update <= start:
        return begin
    return begin + (end - begin) * (update - start) / updates


def kl_weight_at(update: int, floor: float, start: int, updates: int, cycles: int = 1,
                 ratio: float = 1.0) -> float:
    """From `start` to `start + updates`, `cycles` equal cycles, in each a linear ramp from `floor` to
    1 over its first `ratio` share and 1 for the rest; `floor` before them, 1 after."""
    if updates <= 0 or update >= start + updates:
        return 1.0
    if update <= start:
        return floor
    cycle = updates / cycles
    # Within its cycle, the update is on a ramp from `floor` to 1 over the cycle's first `ratio` share.
    return linear_ramp((update - start) % cycle, floor, 1.0, 0, cycle * ratio)


def warn_if_kl_weight_stays_low(cfg, max_update: int) -> Optional[str]:
    """Log (and return) a warning where --max-update stops training before the KL weight first reaches 1:
    the model is then mostly an autoencoder, its posteriors far from N(0, I), and its prior samples
    gibberish. cfg: the criterion's config."""
    if getattr(cfg, "_name", None) != "hybrid_vae_elbo" or cfg.kl_weight is not None or max_update <= 0:
        return None
    start, updates = cfg.kl_anneal_start, cfg.kl_anneal_updates
    first_at_1 = start + math.ceil(updates / cfg.kl_anneal_cycles * cfg.kl_anneal_ratio)  # as kl_weight_at
    if updates <= 0 or max_update >= first_at_1:
        return None
    warning = (f"--max-update {max_update:,} stops before the KL weight reaches 1 (at update {first_at_1:,}; "
               f"{cfg.kl_weight_floor:g} up to update {start:,}): the model trains mostly as an autoencoder "
               "and its prior samples will be gibberish; fit --kl-anneal-start and --kl-anneal-updates "
               "to the run, as scripts/quickstart.sh does")
    logger.warning(warning)
    return warning


def token_nll(logits: Tensor, target: Tensor, pad: int) -> Tensor:
    """Summed cross-entropy in nats over all non-pad positions; logits (B, T, V), target (B, T)."""
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),  # (B·T, V)
        target.reshape(-1),  # (B·T,)
        ignore_index=pad,
        reduction="sum",
    )


@register_criterion("hybrid_vae_elbo", dataclass=HybridVAEElboConfig)
class HybridVAEElboCriterion(FairseqCriterion):
    """Per sample: sum_t -log p(x_t|z, x_<t) + w·KL(q(z|x) || N(0, I)) + alpha·sum_t -log p_aux(x_t|z).

    The loss is summed over the batch and `sample_size` is the number of units, so fairseq reports it
    in bits per unit; every logged term is too, except `kl_nats` (nats per sample) and `kl_weight`.
    """

    # What reduce_metrics logs, each a possible --best-checkpoint-metric (aux and alpha: with an aux head).
    VALIDATION_METRICS = ("loss", "elbo", "rec", "kl", "aux", "alpha", "kl_nats", "kl_weight")

    @classmethod
    def build_criterion(cls, cfg: HybridVAEElboConfig, task):
        check_options(cfg, HybridVAEElboConfig)
        return super().build_criterion(cfg, task)

    def __init__(self, task, alpha, kl_weight_floor, kl_anneal_start, kl_anneal_updates, free_bits,
                 kl_weight=None, kl_anneal_cycles=1, kl_anneal_ratio=1.0, alpha_final=None,
                 alpha_anneal_start=0, alpha_anneal_updates=0):
        super().__init__(task)
        self.fixed_kl_weight = kl_weight
        if kl_weight == 0:
            logger.info("--kl-weight 0: the KL term is off; this trains a stochastic autoencoder, "
                        "not a VAE (KL is still measured and logged)")
        elif kl_weight is not None:
            logger.info(f"--kl-weight {kl_weight}: fixed KL weight, no annealing")
        self.alpha = alpha
        self.alpha_final = alpha if alpha_final is None else alpha_final
        self.alpha_anneal_start, self.alpha_anneal_updates = alpha_anneal_start, alpha_anneal_updates
        self.kl_weight_floor = kl_weight_floor
        self.kl_anneal_start = kl_anneal_start
        self.kl_anneal_updates = kl_anneal_updates
        self.kl_anneal_cycles, self.kl_anneal_ratio = kl_anneal_cycles, kl_anneal_ratio
        self.free_bits = free_bits
        self.pad = task.target_dictionary.pad()

    def kl_weight(self, update: int) -> float:
        if self.fixed_kl_weight is not None:
            return self.fixed_kl_weight
        return kl_weight_at(update, self.kl_weight_floor, self.kl_anneal_start, self.kl_anneal_updates,
                            self.kl_anneal_cycles, self.kl_anneal_ratio)

    def alpha_at(self, update: int) -> float:
        return linear_ramp(update, self.alpha, self.alpha_final, self.alpha_anneal_start,
                           self.alpha_anneal_updates)

    def forward(self, model, sample, reduce=True):
        logits, extra = model(**sample["net_input"])
        target = sample["target"]
        rec = token_nll(logits, target, self.pad)
        kl_per_dim = gaussian_kl(extra["mu"].float(), extra["logvar"].float())  # (B, Z)
        kl = kl_per_dim.sum()
        kl_penalty = kl
        if self.free_bits > 0:
            batch_size = kl_per_dim.size(0)
            kl_penalty = batch_size * kl_per_dim.mean(0).clamp(min=self.free_bits).sum()
        update = getattr(model, "num_updates", 0)
        kl_weight = self.kl_weight(update)
        loss = rec + kl_weight * kl_penalty
        aux = None
        if extra.get("aux_logits") is not None:
            aux = token_nll(extra["aux_logits"], target, self.pad)
            alpha = self.alpha_at(update)
            loss = loss + alpha * aux

        nsentences = target.size(0)
        logging_output = {
            "loss": loss.data,
            "rec": rec.data,
            "kl": kl.data,
            "kl_weight": kl_weight * nsentences,  # summed over workers; divided by nsentences
            "ntokens": sample["ntokens"],
            "nsentences": nsentences,
            "sample_size": sample["ntokens"],
        }
        if aux is not None:
            logging_output["aux"] = aux.data
            logging_output["alpha"] = alpha * nsentences  # as kl_weight
        return loss, sample["ntokens"], logging_output

    @staticmethod
    def reduce_metrics(logging_outputs: List[Dict]) -> None:
        def total(key):
            return sum(float(log.get(key, 0)) for log in logging_outputs)

        ntokens, nsentences = total("ntokens"), total("nsentences")
        if ntokens == 0:
            return
        bits = ntokens * math.log(2)
        rec, kl = total("rec"), total("kl")
        metrics.log_scalar("loss", total("loss") / bits, ntokens, round=3)
        metrics.log_scalar("elbo", (rec + kl) / bits, ntokens, round=3)
        metrics.log_scalar("rec", rec / bits, ntokens, round=3)
        metrics.log_scalar("kl", kl / bits, ntokens, round=3)
        if any("aux" in log for log in logging_outputs):
            metrics.log_scalar("aux", total("aux") / bits, ntokens, round=3)
            metrics.log_scalar("alpha", total("alpha") / nsentences, 0, round=4)
        metrics.log_scalar("kl_nats", kl / nsentences, nsentences, round=2)
        metrics.log_scalar("kl_weight", total("kl_weight") / nsentences, 0, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


