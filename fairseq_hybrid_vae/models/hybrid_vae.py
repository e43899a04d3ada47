"""The Hybrid Convolutional VAE (Semeniuta et al. 2017): conv encoder, deconv decoder, optional head.

    x --ConvEncoder--> mu, logvar --sample--> z --DeconvDecoder--> features (B, L, F)
    features --aux_head--> historyless prediction of x_t           (the auxiliary loss)
    [features_t ; embed(x_{t-1})] --head (none | lstm | bytenet)--> p(x_t | z, x_<t)

fairseq's encoder here is everything that runs once per sample (q(z|x), z and the deconv features),
so SequenceGenerator computes it once and the head decodes incrementally from it.
"""

from dataclasses import dataclass, field
from typing import List, Tuple

import torch.nn as nn
from fairseq.dataclass import ChoiceEnum
from fairseq.models import register_model, register_model_architecture
from omegaconf import II
from torch import Tensor

from ..common.errors import InputError
from ..common.option_ranges import AT_LEAST_1
from ..modules import ConvEncoder, DeconvDecoder
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
class HybridVAEConfig(HeadConfig):
    """The defaults are the paper's PTB preset; TWEET_SIZES holds what the tweet preset changes."""

    decoder_head: ChoiceEnum(list(HEADS)) = field(
        default="lstm",
        metadata={"help": "what reads the deconv features: none (historyless, Fig. 2a), "
                  "lstm (Fig. 2b) or bytenet (masked convolutions, Fig. 2c); set by --arch"},
    )
    latent_dim: int = field(default=50, metadata={"range": AT_LEAST_1, "help": "size of the latent code z"})
    encoder_channels: List[int] = field(
        default_factory=lambda: [128, 256],
        metadata={"range": AT_LEAST_1, "min_items": 1,
                  "help": "channels of the stride-2 conv layers (the deconv mirrors them); "
                  "--sample-size must be divisible by 2^len, e.g. 128,256,512"},
    )
    decoder_feature_dim: int = field(
        default=200,
        metadata={"range": AT_LEAST_1,
                  "help": "channels of the last deconv layer: the feature per position"}
    )
    sample_size: int = II("task.sample_size")


class ConvLatentEncoder(LatentEncoder):
    """q(z|x) by strided convolutions; features by the mirrored transposed convolutions."""

    def __init__(self, cfg: HybridVAEConfig, dictionary):
        super().__init__(dictionary, cfg.sample_size, cfg.latent_dim)
        channels = list(cfg.encoder_channels)
        self.conv_encoder = ConvEncoder(len(dictionary), channels, cfg.sample_size, cfg.latent_dim)
        self.deconv_decoder = DeconvDecoder(
            cfg.latent_dim, channels, cfg.sample_size, cfg.decoder_feature_dim
        )

    def posterior(self, src_tokens: Tensor) -> Tuple[Tensor, Tensor]:
        return self.conv_encoder(src_tokens)

    def features(self, z: Tensor) -> Tensor:
        return self.deconv_decoder(z)  # (B, L, F)


@register_model("hybrid_vae", dataclass=HybridVAEConfig)
class HybridVAEModel(TextVAEModel):
    @classmethod
    def build_model(cls, cfg: HybridVAEConfig, task):
        check_sample_size(cfg.sample_size, len(cfg.encoder_channels))
        dictionary = task.target_dictionary
        encoder = ConvLatentEncoder(cfg, dictionary)
        decoder = HEADS[cfg.decoder_head](cfg, dictionary, cfg.decoder_feature_dim)
        # Without a head the decoder's own output is the historyless prediction: no separate aux.
        aux_head = (
            None if cfg.decoder_head == "none" else nn.Linear(cfg.decoder_feature_dim, len(dictionary))
        )
        model = cls(encoder, decoder, aux_head)
        initialize_(model, cfg.init_scale, cfg.lstm_cell if cfg.decoder_head == "lstm" else None)
        return model


def check_sample_size(sample_size: int, num_layers: int) -> None:
    """L must halve exactly at each stride-2 layer; say which values would work if it does not."""
    factor = 2**num_layers
    if sample_size <= 0 or sample_size % factor != 0:
        lower = max(factor, sample_size // factor * factor)
        raise InputError(
            f"--sample-size {sample_size} is not divisible by 2^{num_layers} = {factor} "
            f"(the encoder has {num_layers} stride-2 layers): use a multiple of {factor}, "
            f"e.g. {lower} or {lower + factor}"
        )


# The paper's Twitter sizes: what the *_tweets presets change (the PTB preset is the config's defaults).
TWEET_SIZES = {**TWEET_HEAD_SIZES, "latent_dim": 100, "encoder_channels": [128, 256, 512, 512, 512]}


# Architectures, fairseq's way: one named function each. The PTB preset is the config's defaults
# (hybrid_vae_{head} and hybrid_vae_{head}_ptb alike); *_tweets sets the paper's Twitter sizes. The
# paper's LSTM cell is not the default one (--lstm-cell authors gives it; docs/lstm_cells.md says why).
@register_model_architecture("hybrid_vae", "hybrid_vae_feedforward")
def hybrid_vae_feedforward(args):
    args.decoder_head = "none"  # the deconvolutional decoder's logits, no history


@register_model_architecture("hybrid_vae", "hybrid_vae_feedforward_ptb")
def hybrid_vae_feedforward_ptb(args):
    hybrid_vae_feedforward(args)


@register_model_architecture("hybrid_vae", "hybrid_vae_feedforward_tweets")
def hybrid_vae_feedforward_tweets(args):
    set_preset(args, TWEET_SIZES)
    hybrid_vae_feedforward(args)


@register_model_architecture("hybrid_vae", "hybrid_vae_lstm")
def hybrid_vae_lstm(args):
    args.decoder_head = "lstm"


@register_model_architecture("hybrid_vae", "hybrid_vae_lstm_ptb")
def hybrid_vae_lstm_ptb(args):
    hybrid_vae_lstm(args)


@register_model_architecture("hybrid_vae", "hybrid_vae_lstm_tweets")
def hybrid_vae_lstm_tweets(args):
    set_preset(args, TWEET_SIZES)
    hybrid_vae_lstm(args)


@register_model_architecture("hybrid_vae", "hybrid_vae_bytenet")
def hybrid_vae_bytenet(args):
    args.decoder_head = "bytenet"


@register_model_architecture("hybrid_vae", "hybrid_vae_bytenet_ptb")
def hybrid_vae_bytenet_ptb(args):
    hybrid_vae_bytenet(args)


@register_model_architecture("hybrid_vae", "hybrid_vae_bytenet_tweets")
def hybrid_vae_bytenet_tweets(args):
    set_preset(args, TWEET_SIZES)
    hybrid_vae_bytenet(args)
