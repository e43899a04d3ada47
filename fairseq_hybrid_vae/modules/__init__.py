"""Reusable layers; the models in `fairseq_hybrid_vae.models` assemble them."""

from .causal_conv import CausalConv1d
from .conv_encoder import ConvEncoder
from .deconv_decoder import DeconvDecoder
from .gaussian import gaussian_kl, log_normal, reparameterize
from .heads import ByteNetHead, GatedResidualBlock, HistorylessHead, LSTMHead
from .interpolation import interpolate_latents
from .layer_norm_lstm import LayerNormLSTM
from .lstm_cells import DEFAULT_LSTM_CELL, LSTM_CELLS, build_lstm
from .lstm_encoder import LSTMPosteriorEncoder
from .one_hot import OneHot, build_token_embedding

__all__ = [
    "DEFAULT_LSTM_CELL",
    "LSTM_CELLS",
    "ByteNetHead",
    "CausalConv1d",
    "ConvEncoder",
    "DeconvDecoder",
    "GatedResidualBlock",
    "HistorylessHead",
    "LSTMHead",
    "LSTMPosteriorEncoder",
    "LayerNormLSTM",
    "OneHot",
    "build_lstm",
    "build_token_embedding",
    "gaussian_kl",
    "interpolate_latents",
    "log_normal",
    "reparameterize",
]
