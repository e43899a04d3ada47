"""No-latent language models on the same fixed-length samples: the heads with no encoder and no z.

Their NLL is what a VAE's ELBO approaches on the same samples; trained with the same task and
criterion, KL is 0 and the ELBO is their NLL.
"""

from dataclasses import dataclass, field
from typing import List

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.models import register_model, register_model_architecture
from omegaconf import II
from torch import Tensor

from .hybrid_vae import HEADS
from .text_vae_model import LatentEncoder, RecurrentModelConfig, TextVAEModel, initialize_


@dataclass
class WindowLMConfig(RecurrentModelConfig):
    decoder_head: ChoiceEnum(["lstm", "bytenet"]) = field(
        default="lstm", metadata={"help": "the language model: lstm or bytenet; set by --arch"}
    )
    lstm_hidden_size: int = field(default=500, metadata={"help": "LSTM: hidden units"})
    lstm_layers: int = field(default=1, metadata={"help": "LSTM: layers"})
    head_channels: int = field(default=256, metadata={"help": "ByteNet: channels"})
    head_layers: int = field(
        default=1, metadata={"help": "ByteNet: causal kernel-2 layers N (receptive field N+1 units)"}
    )
    head_dilations: List[int] = field(
        default_factory=list,
        metadata={"help": "ByteNet: one dilation per layer, overriding --head-layers"},
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


@register_model_architecture("window_lm", "window_lm_lstm")
def window_lm_lstm(args):
    args.decoder_head = "lstm"


@register_model_architecture("window_lm", "window_lm_bytenet")
def window_lm_bytenet(args):
    args.decoder_head = "bytenet"
