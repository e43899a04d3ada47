"""One parallel pass for historyless decoders (`hybrid_vae_feedforward`): every position from z alone,
with SequenceGenerator's interface; step-by-step decoding would repeat the same argmax L times.
"""

import math
from typing import Dict, List, Optional

import torch
from torch import Tensor


class ParallelGenerator:
    def __init__(self, tgt_dict, sampling: bool = False, sampling_topk: int = -1,
                 temperature: float = 1.0, eos: Optional[int] = None, match_source_len: bool = False):
        self.tgt_dict = tgt_dict
        self.pad, self.bos, self.unk = tgt_dict.pad(), tgt_dict.bos(), tgt_dict.unk()
        self.eos = tgt_dict.eos() if eos is None else eos  # what ends a hypothesis, as in SequenceGenerator
        self.sampling = sampling
        self.sampling_topk = sampling_topk
        self.temperature = temperature
        self.match_source_len = match_source_len
        self.symbols_to_strip_from_output = {self.eos}

    @torch.no_grad()
    def generate(self, models, sample: Dict, **kwargs) -> List[List[Dict]]:
        model = models[0]
        net_input = sample["net_input"]
        encoder_out = model.encoder(**{k: v for k, v in net_input.items() if k != "prev_output_tokens"})
        # (B, L): a historyless decoder reads only its length (fairseq-interactive passes no such input)
        positions = net_input.get("prev_output_tokens", net_input["src_tokens"])
        logits, _ = model.decoder(positions, encoder_out=encoder_out)  # (B, L, V)
        lprobs = torch.log_softmax(logits.float() / self.temperature, dim=-1)
        lprobs[:, :, [self.pad, self.bos]] = -math.inf  # never emitted, as in SequenceGenerator
        lprobs[:, 0, self.eos] = -math.inf  # a sample has at least one unit (min_len 1)
        if self.match_source_len:  # as many units as the input's text, then the end (as fairseq's search)
            steps = torch.arange(lprobs.size(1), device=lprobs.device)  # (L,)
            lengths = net_input["src_lengths"].unsqueeze(1)  # (B, 1)
            lprobs[..., self.eos].masked_fill_(steps < lengths, -math.inf)  # (B, L)
            end_only = torch.full_like(lprobs[0, 0], -math.inf)  # (V,)
            end_only[self.eos] = 0
            lprobs[steps == lengths] = end_only  # the position after the text
        if self.sampling:
            tokens = self._sample(lprobs)  # (B, L)
        else:
            tokens = lprobs.argmax(-1)  # (B, L)
        scores = lprobs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, L)
        return [[self._hypothesis(t, s)] for t, s in zip(tokens, scores)]

    def _sample(self, lprobs: Tensor) -> Tensor:
        if self.sampling_topk > 0:
            top, _ = lprobs.topk(self.sampling_topk, dim=-1)  # (B, L, k)
            lprobs = lprobs.masked_fill(lprobs < top[..., -1:], -math.inf)
        probs = lprobs.exp().flatten(0, 1)  # (B·L, V)
        return torch.multinomial(probs, 1).view(lprobs.shape[:2])  # (B, L)

    def _hypothesis(self, tokens: Tensor, scores: Tensor) -> Dict:
        """Cut at the first end symbol, or append one after L units as SequenceGenerator forces it
        (unscored, as WindowSequenceGenerator leaves it)."""
        ends = (tokens == self.eos).nonzero()
        if len(ends) > 0:
            length = int(ends[0]) + 1
            tokens, scores = tokens[:length], scores[:length]
        else:
            tokens = torch.cat([tokens, tokens.new_tensor([self.eos])])
        return {"tokens": tokens, "score": scores.mean(), "positional_scores": scores,
                "attention": None, "alignment": None}
