"""What every model of the plugin shares: an encoder to (mu, logvar, z, features), a decoder head over
the features, an optional historyless aux head, and the update count the criterion anneals with."""

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import FairseqEncoder, FairseqEncoderDecoderModel
from fairseq.utils import safe_getattr
from omegaconf import open_dict
from torch import Tensor

from ..common.errors import InputError
from ..common.option_ranges import AT_LEAST_1, NON_NEGATIVE, POSITIVE, PROBABILITY
from ..modules import DEFAULT_LSTM_CELL, LSTM_CELLS, ByteNetHead, HistorylessHead, LSTMHead, reparameterize
from ..modules.lstm_cells import CELL_OF_OLD_CHECKPOINTS, PerGateLayerNorm

AUTHORS_INIT_SCALE = 0.1  # the authors' U(-0.1, 0.1) for every weight and bias
AUTHORS_EMBED_DIM = 0  # the authors feed one-hot tokens to their LSTMs
EMBED_DIM = 64  # the other cells read a learned 64-d embedding: one-hot inputs learn slowly with them


def follows_the_authors(lstm_cell: Optional[str]) -> bool:
    """Whether the model's defaults are the authors' (their cell, or no LSTM at all)."""
    return lstm_cell is None or LSTM_CELLS[lstm_cell].uses_authors_init


def embed_dim_for(embed_dim: Optional[int], lstm_cell: Optional[str]) -> int:
    """--decoder-embed-dim / --encoder-embed-dim as given, else the cell's default."""
    if embed_dim is not None:
        return embed_dim
    return AUTHORS_EMBED_DIM if follows_the_authors(lstm_cell) else EMBED_DIM


def lstm_cell_field():
    """--lstm-cell, shared by every model config with an LSTM."""
    return field(
        default=DEFAULT_LSTM_CELL,
        metadata={"help": "the recurrent cell of every LSTM in the model: layernorm (per-gate "
                  "LayerNorm, forget bias 1; learns most per second on a CPU), torch (torch.nn.LSTM's "
                  "fused kernels; fastest per update on a CPU) or authors (the paper's cell: "
                  "one LayerNorm over all gates, U(-0.1, 0.1), one-hot inputs); docs/lstm_cells.md"},
    )


def embed_dim_field(what: str):
    """--decoder-embed-dim / --encoder-embed-dim: how an LSTM reads tokens."""
    return field(
        default=None,
        metadata={"range": NON_NEGATIVE,
                  "help": f"embedding size of {what}; 0 = one-hot; default: {AUTHORS_EMBED_DIM} "
                  f"(one-hot, the authors') with --lstm-cell authors or without an LSTM, {EMBED_DIM} "
                  "with the other cells"},
    )


def init_scale_field():
    """--init-scale, shared by every model config."""
    return field(
        default=None,
        metadata={"range": POSITIVE,
                  "help": "every weight and bias ~ U(-s, s), norms keep gain 1 and bias 0; default: "
                  f"{AUTHORS_INIT_SCALE} (the authors') with --lstm-cell authors or a model without "
                  "an LSTM, PyTorch's per-layer initialisation with the other cells"},
    )


def input_dropout_field():
    """--input-dropout: the decoder's history dropout, shared by every model with a decoder head."""
    return field(
        default=0.0,
        metadata={"range": PROBABILITY,
                  "help": "probability that a decoder input x_{t-1} is replaced by the dropped symbol "
                  "in training (Bowman et al.'s word dropout), so the decoder leans on z; the paper: "
                  "0.2 or 0.5 for the LSTM VAE, 0 for the hybrid; 1.0 = historyless"},
    )


LSTMCellChoice = ChoiceEnum(list(LSTM_CELLS))


@dataclass
class RecurrentModelConfig(FairseqDataclass):
    """What every model config with an LSTM shares: its cell, how x_{t-1} enters it, the init."""

    lstm_cell: LSTMCellChoice = lstm_cell_field()
    decoder_embed_dim: Optional[int] = embed_dim_field("x_{t-1} in the decoder")
    init_scale: Optional[float] = init_scale_field()


@dataclass
class HeadConfig(RecurrentModelConfig):
    """The sizes of the decoder heads (the hybrid's and the no-latent LM's); the defaults are the
    paper's PTB preset."""

    lstm_hidden_size: int = field(default=500, metadata={"range": AT_LEAST_1, "help": "LSTM head: units"})
    lstm_layers: int = field(default=1, metadata={"range": AT_LEAST_1, "help": "LSTM head: layers"})
    head_channels: int = field(default=256, metadata={"range": AT_LEAST_1, "help": "ByteNet head: channels"})
    head_layers: int = field(
        default=1,
        metadata={"range": AT_LEAST_1,
                  "help": "ByteNet head: causal kernel-2 layers N (receptive field N+1 units)"},
    )
    head_dilations: List[int] = field(
        default_factory=list,
        metadata={"range": AT_LEAST_1,
                  "help": "ByteNet head: one dilation per layer (e.g. 1,2,4,8,16), overriding "
                  "--head-layers; receptive field 1 + sum"},
    )
    head_dropout: float = field(
        default=0.0,
        metadata={"range": PROBABILITY,
                  "help": "ByteNet head: dropout on each block's candidate tanh(g), in training (the "
                  "authors' highway convolution has it, at 0 in their scripts)"},
    )
    input_dropout: float = input_dropout_field()


# What the *_tweets presets change in the heads: the paper's Twitter sizes.
TWEET_HEAD_SIZES = {"lstm_hidden_size": 1000, "head_channels": 512}


def set_preset(args, sizes: Dict) -> None:
    """What an arch function does: every size not given on the command line takes the preset's."""
    for name, value in sizes.items():
        setattr(args, name, safe_getattr(args, name, copy.copy(value)))


# What a checkpoint saved before an option existed was trained with, where today's default differs
# or the option is read before fairseq fills in the defaults.
OPTIONS_OF_OLD_CHECKPOINTS = {
    "lstm_cell": CELL_OF_OLD_CHECKPOINTS,  # today's default cell would not fit the saved weights
    "input_dropout": 0.0,  # the hybrid and the window LM had no history dropout
    "head_dropout": 0.0,  # nor dropout in the ByteNet head
}


def fill_in_old_options(model_cfg, config_class: Optional[type]) -> None:
    """Write OPTIONS_OF_OLD_CHECKPOINTS that the model's `config_class` declares into a checkpoint's
    model config where it lacks them."""
    if model_cfg is None or config_class is None:
        return
    declared = {f.name for f in dataclasses.fields(config_class)}
    with open_dict(model_cfg):
        for name, value in OPTIONS_OF_OLD_CHECKPOINTS.items():
            if name in declared and name not in model_cfg:
                setattr(model_cfg, name, value)


def initialize_(model: nn.Module, init_scale: Optional[float], lstm_cell: Optional[str]) -> None:
    """The initialisation belongs to the cell: U(-s, s) everywhere for the authors' cell (and for
    models without an LSTM), PyTorch's per-layer defaults for the others unless --init-scale is set."""
    if init_scale is None:
        if not follows_the_authors(lstm_cell):
            return
        init_scale = AUTHORS_INIT_SCALE
    norms = (nn.BatchNorm1d, nn.LayerNorm, PerGateLayerNorm)  # the layernorm cell's forget bias stays 1
    for module in model.modules():
        if isinstance(module, norms):
            continue
        for param in module.parameters(recurse=False):
            nn.init.uniform_(param, -init_scale, init_scale)


# Decoder heads by name: each builder takes the model config, the dictionary and the width of the
# per-position features it reads (0 for a language model with no z).
HEADS = {
    "none": lambda cfg, dictionary, feature_dim: HistorylessHead(dictionary, feature_dim),
    "lstm": lambda cfg, dictionary, feature_dim: LSTMHead(
        dictionary, feature_dim, embed_dim_for(cfg.decoder_embed_dim, cfg.lstm_cell),
        cfg.lstm_hidden_size, cfg.lstm_layers, input_dropout=cfg.input_dropout, cell=cfg.lstm_cell,
    ),
    "bytenet": lambda cfg, dictionary, feature_dim: ByteNetHead(
        dictionary, feature_dim, embed_dim_for(cfg.decoder_embed_dim, None), cfg.head_channels,
        list(cfg.head_dilations) or [1] * cfg.head_layers, input_dropout=cfg.input_dropout,
        dropout=cfg.head_dropout,
    ),
}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class LatentEncoder(FairseqEncoder):
    """x -> q(z|x) -> z -> per-position features: what the decoder conditions on, computed once.

    A model says how: `posterior` (mu, logvar) and `features` (B, L, F) of z. With `z` passed in, as
    at generation, q(z|x) is skipped and that z is decoded.
    """

    def __init__(self, dictionary, sample_size: int, latent_dim: int):
        super().__init__(dictionary)
        self.sample_size = sample_size
        self.latent_dim = latent_dim

    def posterior(self, src_tokens: Tensor) -> Tuple[Tensor, Tensor]:
        """q(z|x) as (mu, logvar), each (B, Z)."""
        raise NotImplementedError

    def features(self, z: Tensor) -> Tensor:
        """(B, Z) -> (B, L, F): what each position of the decoder reads."""
        raise NotImplementedError

    def forward(self, src_tokens: Tensor, src_lengths: Optional[Tensor] = None,
                z: Optional[Tensor] = None, **kwargs) -> Dict[str, Tensor]:
        if z is not None:
            return {"z": z, "features": self.features(z)}
        mu, logvar = self.posterior(src_tokens)  # 2 x (B, Z)
        # One posterior sample in training and validation alike: the ELBO is an expectation under q.
        z = reparameterize(mu, logvar)
        return {"mu": mu, "logvar": logvar, "z": z, "features": self.features(z)}

    def reorder_encoder_out(self, encoder_out: Dict[str, Tensor], new_order: Tensor):
        return {key: value.index_select(0, new_order) for key, value in encoder_out.items()}

    def max_positions(self) -> int:
        return self.sample_size


class TextVAEModel(FairseqEncoderDecoderModel):
    """Returns (logits, extra) with extra = {mu, logvar, aux_logits, attn} for the ELBO criterion.

    The encoder computes once per sample everything the decoder conditions on: q(z|x), z and the
    per-position `features`; with `z` passed in (generation) it decodes that z instead.
    """

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """Refused: fairseq's would return its GeneratorHubInterface, which splits text on spaces and
        never detokenizes, so it neither encodes nor decodes this plugin's units."""
        raise InputError(f"{cls.__name__}.from_pretrained would return fairseq's GeneratorHubInterface, "
                         "which cannot encode or decode this model's units: use fairseq_hybrid_vae."
                         "TextVAEHubInterface.from_pretrained(model_dir, checkpoint_file, data_name_or_path)")

    def __init__(self, encoder, decoder, aux_head: Optional[nn.Module] = None):
        super().__init__(encoder, decoder)
        self.aux_head = aux_head
        self.num_updates = 0

    def forward(self, src_tokens, src_lengths, prev_output_tokens, **kwargs):
        encoder_out: Dict = self.encoder(src_tokens, src_lengths)
        logits, extra = self.decoder(prev_output_tokens, encoder_out=encoder_out)  # (B, T, V)
        aux_logits = None if self.aux_head is None else self.aux_head(encoder_out["features"])
        return logits, {**extra, "mu": encoder_out["mu"], "logvar": encoder_out["logvar"],
                        "aux_logits": aux_logits}

    def max_decoder_positions(self) -> int:
        """L units and the end symbol that fairseq's SequenceGenerator forces after them."""
        return self.encoder.sample_size + 1

    def set_num_updates(self, num_updates):
        """The criterion reads `num_updates` to anneal the KL weight."""
        super().set_num_updates(num_updates)
        self.num_updates = num_updates
