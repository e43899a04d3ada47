"""The LSTM VAE of Bowman et al. (2016) as the paper trains it: the baseline the hybrid is compared to.

    x --LSTM--> last state --Linear--> mu, logvar --sample--> z
    z --tanh(Linear)--> the decoder LSTM's initial state; optionally z at every step (--z-every-step)
    embed(x_{t-1}), with input dropout in training --LSTM--> p(x_t | z, x_<t)

With --input-dropout 1.0 every decoder input is the dropped symbol: a historyless LSTM decoder (Fig. 3).
"""

from dataclasses import dataclass, field
from typing import Optional

from fairseq.models import register_model, register_model_architecture
from omegaconf import II
from torch import Tensor

from ..common.option_ranges import AT_LEAST_1
from ..modules import LSTMHead, LSTMPosteriorEncoder
from .text_vae_model import (
    TWEET_HEAD_SIZES,
    LatentEncoder,
    RecurrentModelConfig,
    TextVAEModel,
    embed_dim_field,
    embed_dim_for,
    initialize_,
    input_dropout_field,
    set_preset,
)


@dataclass
class LSTMVAEConfig(RecurrentModelConfig):
    latent_dim: int = field(default=100, metadata={"range": AT_LEAST_1, "help": "size of the latent code z"})
    lstm_hidden_size: int = field(
        default=500,
        metadata={"range": AT_LEAST_1,
                  "help": "hidden units of the encoder and of the decoder LSTM"}
    )
    encoder_embed_dim: Optional[int] = embed_dim_field("x_t in the encoder")
    input_dropout: float = input_dropout_field()
    z_every_step: bool = field(
        default=False,
        metadata={"help": "also feed z to the decoder at every step, not only as its initial state"},
    )
    sample_size: int = II("task.sample_size")


class LSTMLatentEncoder(LatentEncoder):
    """q(z|x) from the last state of an LSTM; the features are z at every step, or nothing."""

    def __init__(self, cfg: LSTMVAEConfig, dictionary):
        super().__init__(dictionary, cfg.sample_size, cfg.latent_dim)
        self.z_every_step = cfg.z_every_step
        self.lstm_encoder = LSTMPosteriorEncoder(
            len(dictionary), cfg.lstm_hidden_size, cfg.latent_dim, dictionary.pad(), cfg.lstm_cell,
            embed_dim=embed_dim_for(cfg.encoder_embed_dim, cfg.lstm_cell),
        )

    def posterior(self, src_tokens: Tensor):
        return self.lstm_encoder(src_tokens)

    def features(self, z: Tensor) -> Tensor:
        width = z.size(1) if self.z_every_step else 0
        return z.unsqueeze(1)[..., :width].expand(-1, self.sample_size, -1)  # (B, L, Z or 0)


@register_model("lstm_vae", dataclass=LSTMVAEConfig)
class LSTMVAEModel(TextVAEModel):
    @classmethod
    def build_model(cls, cfg: LSTMVAEConfig, task):
        dictionary = task.target_dictionary
        encoder = LSTMLatentEncoder(cfg, dictionary)
        decoder = LSTMHead(
            dictionary,
            feature_dim=cfg.latent_dim if cfg.z_every_step else 0,
            embed_dim=embed_dim_for(cfg.decoder_embed_dim, cfg.lstm_cell),
            hidden_size=cfg.lstm_hidden_size,
            num_layers=1,
            latent_dim=cfg.latent_dim,
            input_dropout=cfg.input_dropout,
            cell=cfg.lstm_cell,
        )
        model = cls(encoder, decoder)
        initialize_(model, cfg.init_scale, cfg.lstm_cell)
        return model


# Sizes whose parameter counts match the hybrid presets' within 5% with the paper's cell
# (tests/test_baselines.py): the config's defaults for PTB, and what the tweet preset changes (the
# hybrid tweet head's LSTM width, for encoder and decoder alike).
TWEET_SIZES = {"lstm_hidden_size": TWEET_HEAD_SIZES["lstm_hidden_size"]}


@register_model_architecture("lstm_vae", "lstm_vae_ptb")
def lstm_vae_ptb(args):
    pass  # the config's defaults


@register_model_architecture("lstm_vae", "lstm_vae_tweets")
def lstm_vae_tweets(args):
    set_preset(args, TWEET_SIZES)
