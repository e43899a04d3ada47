"""`--scoring unscored`: fairseq-generate's closing line says the outputs were not scored. The default
of hybrid-vae-generate in --gen-mode interpolate, where the T- lines are each path's far end, no
reference that a point of the path should match (fairseq's default, BLEU, scored them against it)."""

from dataclasses import dataclass

from fairseq.dataclass import FairseqDataclass
from fairseq.scoring import BaseScorer, register_scorer


@dataclass
class UnscoredConfig(FairseqDataclass):
    pass


@register_scorer("unscored", dataclass=UnscoredConfig)
class Unscored(BaseScorer):
    def add_string(self, ref: str, pred: str) -> None:
        pass  # nothing to keep

    def score(self) -> float:
        return float("nan")

    def result_string(self) -> str:
        return "not scored (--scoring unscored: the T- lines are no reference for the D- lines)"
