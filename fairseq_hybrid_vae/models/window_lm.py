"""No-latent language models on the same fixed-length samples: the heads with no encoder and no z.

Their NLL is what a VAE's ELBO approaches on the same samples; trained with the same task and
criterion, KL is 0 and the ELBO is their NLL.
"""

from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.models import register_model
from omegaconf import II
from torch import Tensor

from .text_vae_model import (
    HEADS,
    TWEET_HEAD_SIZES,
    HeadConfig,
    LatentEncoder,
    TextVAEModel,
    initialize_,
    register_head_presets,
)


@dataclass
class WindowLMConfig(HeadConfig):
    decoder_head: ChoiceEnum(["lstm", "bytenet"]) = field(
        default="lstm", metadata={"help": "the language model: lstm or bytenet; set by --arch"}
    )
    sample_size: int = II("task.sample_size")


class NoLatentEncoder(LatentEncoder):
    """No z: a zero-dimensional latent and no features, so the heads see only x_<t."""

    def __init__(self, dictionary, sample_size: int):
        super().__init__(dictionary, sample_size, latent_dim=0)

    def posterior(self, src_tokens: Tensor):
        empty = torch.zeros(src_tokens.size(0), 0, device=src_tokens.device)  # (B, 0)
        return empty, empty

    def features(self, z: Tensor) -> Tensor:
        return z.new_zeros(z.size(0), self.sample_size, 0)  # (B, L, 0)


@register_model("window_lm", dataclass=WindowLMConfig)
class WindowLMModel(TextVAEModel):
    @classmethod
    def build_model(cls, cfg: WindowLMConfig, task):
        dictionary = task.target_dictionary
        encoder = NoLatentEncoder(dictionary, cfg.sample_size)
        model = cls(encoder, HEADS[cfg.decoder_head](cfg, dictionary, 0))
        initialize_(model, cfg.init_scale, cfg.lstm_cell if cfg.decoder_head == "lstm" else None)
        return model


# The heads of the hybrid presets, without z: window_lm_{head} has the PTB sizes, *_tweets the tweet ones.
for _head in ["lstm", "bytenet"]:
    register_head_presets("window_lm", _head, [f"window_lm_{_head}"], f"window_lm_{_head}_tweets",
                          TWEET_HEAD_SIZES)
