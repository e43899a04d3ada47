"""fairseq's SequenceGenerator for windows, scored on their L units alone.

A window decodes to exactly L units, after which fairseq forces the end symbol (<s> in window mode).
SequenceGenerator adds that step's log-probability to the hypothesis: the model's guess at a symbol it
was never trained to predict, a few nats that differ from one hypothesis to the next and so reorder a
beam. Here it is left out of the score, the positional scores and the ranking.
"""

from typing import Dict, List

from fairseq.sequence_generator import SequenceGenerator


class WindowSequenceGenerator(SequenceGenerator):
    def _generate(self, sample: Dict, **kwargs) -> List[List[Dict]]:
        hypotheses = super()._generate(sample, **kwargs)
        for hypos in hypotheses:
            for hypo in hypos:
                units = hypo["positional_scores"][:-1]  # (L,): the forced end's score dropped
                hypo["positional_scores"] = units
                total = units.sum()
                hypo["score"] = total / len(units) ** self.len_penalty if self.normalize_scores else total
            hypos.sort(key=lambda hypo: float(hypo["score"]), reverse=True)
        return hypotheses
