"""The Hybrid Convolutional VAE (Semeniuta et al. 2017): conv encoder, deconv decoder, optional head.

    x --ConvEncoder--> mu, logvar --sample--> z --DeconvDecoder--> features (B, L, F)
    features --aux_head--> historyless prediction of x_t           (the auxiliary loss)
    [features_t ; embed(x_{t-1})] --head (none | lstm | bytenet)--> p(x_t | z, x_<t)

fairseq's encoder here is everything that runs once per sample (q(z|x), z and the deconv features),
so SequenceGenerator computes it once and the head decodes incrementally from it.
"""

import logging
from dataclasses import dataclass, field
from typing import List, Tuple

import torch.nn as nn
from fairseq.dataclass import ChoiceEnum
from fairseq.models import register_model, register_model_architecture
from fairseq.utils import safe_getattr
from omegaconf import II
from torch import Tensor

from ..errors import InputError
from ..modules import (
    ByteNetHead,
    ConvEncoder,
    DeconvDecoder,
    HistorylessHead,
    LSTMHead,
)
from .text_vae_model import LatentEncoder, RecurrentModelConfig, TextVAEModel, embed_dim_for, initialize_

logger = logging.getLogger(__name__)

# Decoder heads by name: each builder takes the model config, the dictionary and the width of the
# per-position features it reads (0 for a language model with no z).
HEADS = {
    "none": lambda cfg, dictionary, feature_dim: HistorylessHead(dictionary, feature_dim),
    "lstm": lambda cfg, dictionary, feature_dim: LSTMHead(
        dictionary, feature_dim, embed_dim_for(cfg.decoder_embed_dim, cfg.lstm_cell),
        cfg.lstm_hidden_size, cfg.lstm_layers, cell=cfg.lstm_cell,
    ),
    "bytenet": lambda cfg, dictionary, feature_dim: ByteNetHead(
        dictionary, feature_dim, embed_dim_for(cfg.decoder_embed_dim, None), cfg.head_channels,
        list(cfg.head_dilations) or [1] * cfg.head_layers,
    ),
}


@dataclass
class HybridVAEConfig(RecurrentModelConfig):
    decoder_head: ChoiceEnum(list(HEADS)) = field(
        default="lstm",
        metadata={"help": "what reads the deconv features: none (historyless, Fig. 2a), "
                  "lstm (Fig. 2b) or bytenet (masked convolutions, Fig. 2c); set by --arch"},
    )
    latent_dim: int = field(default=50, metadata={"help": "size of the latent code z"})
    encoder_channels: List[int] = field(
        default_factory=lambda: [128, 256],
        metadata={"help": "channels of the stride-2 conv layers (the deconv mirrors them); "
                  "--sample-size must be divisible by 2^len, e.g. 128,256,512"},
    )
    decoder_feature_dim: int = field(
        default=200, metadata={"help": "channels of the last deconv layer: the feature per position"}
    )
    lstm_hidden_size: int = field(default=500, metadata={"help": "LSTM head: hidden units"})
    lstm_layers: int = field(default=1, metadata={"help": "LSTM head: layers"})
    head_channels: int = field(default=256, metadata={"help": "ByteNet head: channels"})
    head_layers: int = field(
        default=1,
        metadata={"help": "ByteNet head: causal kernel-2 layers N (receptive field N+1 units)"},
    )
    head_dilations: List[int] = field(
        default_factory=list,
        metadata={"help": "ByteNet head: one dilation per layer (e.g. 1,2,4,8,16), overriding "
                  "--head-layers; receptive field 1 + sum"},
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


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# Architectures: the three heads, each with the paper's PTB and tweet sizes. The paper's LSTM cell is
# not the default one (--lstm-cell authors gives it; docs/lstm_cells.md says why).
def _base(args, head: str) -> None:
    args.decoder_head = head
    args.latent_dim = safe_getattr(args, "latent_dim", 50)
    args.encoder_channels = safe_getattr(args, "encoder_channels", [128, 256])
    args.decoder_feature_dim = safe_getattr(args, "decoder_feature_dim", 200)
    args.lstm_hidden_size = safe_getattr(args, "lstm_hidden_size", 500)
    args.head_channels = safe_getattr(args, "head_channels", 256)


def _tweets(args) -> None:
    args.latent_dim = safe_getattr(args, "latent_dim", 100)
    args.encoder_channels = safe_getattr(args, "encoder_channels", [128, 256, 512, 512, 512])
    args.lstm_hidden_size = safe_getattr(args, "lstm_hidden_size", 1000)
    args.head_channels = safe_getattr(args, "head_channels", 512)


# hybrid_vae_{feedforward,lstm,bytenet} use the PTB sizes; *_ptb names them explicitly.
for _head, _name in [("none", "feedforward"), ("lstm", "lstm"), ("bytenet", "bytenet")]:

    def _ptb_sizes(args, head=_head):
        _base(args, head)

    def _tweet_sizes(args, head=_head):
        _tweets(args)
        _base(args, head)

    register_model_architecture("hybrid_vae", f"hybrid_vae_{_name}")(_ptb_sizes)
    register_model_architecture("hybrid_vae", f"hybrid_vae_{_name}_ptb")(_ptb_sizes)
    register_model_architecture("hybrid_vae", f"hybrid_vae_{_name}_tweets")(_tweet_sizes)

