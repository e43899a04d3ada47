"""No-latent language models on the same fixed-length samples: the heads with no z. Trained with the same
task and criterion, KL is 0 and the ELBO is their NLL, what a VAE's ELBO approaches.
"""

from dataclasses import dataclass, field

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.models import register_model, register_model_architecture
from omegaconf import II
from torch import Tensor

from .text_vae_model import (
    HEADS,
    TWEET_HEAD_SIZES,
    HeadConfig,
    LatentEncoder,
    TextVAEModel,
    initialize_,
    set_preset,
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


# Architectures: the hybrid presets' heads without z, one named function each; window_lm_{head} has
# the PTB sizes (the config's defaults), *_tweets the paper's Twitter sizes of the heads.
@register_model_architecture("window_lm", "window_lm_lstm")
def window_lm_lstm(args):
    args.decoder_head = "lstm"


@register_model_architecture("window_lm", "window_lm_lstm_tweets")
def window_lm_lstm_tweets(args):
    set_preset(args, TWEET_HEAD_SIZES)
    window_lm_lstm(args)


@register_model_architecture("window_lm", "window_lm_bytenet")
def window_lm_bytenet(args):
    args.decoder_head = "bytenet"


@register_model_architecture("window_lm", "window_lm_bytenet_tweets")
def window_lm_bytenet_tweets(args):
    set_preset(args, TWEET_HEAD_SIZES)
    window_lm_bytenet(args)
