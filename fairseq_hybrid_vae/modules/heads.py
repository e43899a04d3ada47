"""Decoder heads: fairseq decoders from the deconv features (B, L, F) and x_<t to p(x_t | z, x_<t).

The input at position t is [feature_t ; embed(x_{t-1})] (paper Fig. 2); incrementally, only the newest.
"""

from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.models import FairseqDecoder, FairseqIncrementalDecoder
from torch import Tensor

from .causal_conv import CausalConv1d
from .compiled import compiled
from .lstm_cells import DEFAULT_LSTM_CELL, TokenInput, build_lstm
from .one_hot import build_token_embedding

IncrementalState = Dict[str, Dict[str, Tensor | None]]


def _features_for(prev_output_tokens: Tensor, encoder_out: Dict, incremental: bool) -> Tensor:
    """The deconv features aligned with `prev_output_tokens`: all positions, or the newest one."""
    features = encoder_out["features"]  # (B, L, F)
    length = prev_output_tokens.size(1)
    if incremental:
        if length > features.size(1):  # the step after the last unit, where fairseq forces EOS
            return features.new_zeros(features.size(0), 1, features.size(2))  # (B, 1, F)
        return features[:, length - 1 : length]  # (B, 1, F)
    return features[:, :length]  # (B, T, F)


def drop_history(prev_output_tokens: Tensor, p: float, dropped_index: int) -> Tensor:
    """Replace each decoder input but the start symbol by `dropped_index` with probability p (the
    authors' Dropword: no rescaling), so the head must take from z what it can no longer read."""
    dropped = torch.rand(prev_output_tokens.shape, device=prev_output_tokens.device) < p  # (B, T)
    dropped[:, 0] = False  # the start symbol is never dropped, as the authors'
    return prev_output_tokens.masked_fill(dropped, dropped_index)


def history_embedding(dictionary, embed_dim: int, input_dropout: float) -> nn.Module:
    """The embedding of x_{t-1}: with history dropout, one more symbol (the dropped one) at index
    len(dictionary)."""
    return build_token_embedding(len(dictionary) + (1 if input_dropout > 0 else 0), embed_dim)


class HistorylessHead(FairseqDecoder):
    """No head (paper Fig. 2a): x_t is predicted from feature_t alone, in one parallel pass."""

    historyless = True

    def __init__(self, dictionary, feature_dim: int):
        super().__init__(dictionary)
        self.output_projection = nn.Linear(feature_dim, len(dictionary))

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        features = _features_for(prev_output_tokens, encoder_out, incremental_state is not None)
        return self.output_projection(features), {"attn": None}  # (B, T, V)

    def max_positions(self):
        return 1_000_000


class LSTMHead(FairseqIncrementalDecoder):
    """An LSTM over [feature_t ; embed(x_{t-1})] (paper Fig. 2b), on any cell of `LSTM_CELLS`.

    The initial state is zero (the hybrid), or tanh(Linear(z)) when `latent_dim` > 0 (Bowman et al.'s
    LSTM VAE). `input_dropout` p: `drop_history` in training, into a dedicated "dropped" symbol.
    """

    def __init__(self, dictionary, feature_dim: int, embed_dim: int, hidden_size: int,
                 num_layers: int, latent_dim: int = 0, input_dropout: float = 0.0,
                 cell: str = DEFAULT_LSTM_CELL):
        super().__init__(dictionary)
        self.input_dropout = input_dropout
        self.dropped_index = len(dictionary)
        self.embed_tokens = history_embedding(dictionary, embed_dim, input_dropout)
        input_size = feature_dim + self.embed_tokens.embedding_dim
        self.layers = nn.ModuleList(
            build_lstm(cell, input_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)
        )
        self.initial_state = nn.Linear(latent_dim, 2 * hidden_size) if latent_dim > 0 else None
        self.output_projection = nn.Linear(hidden_size, len(dictionary))

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        incremental = incremental_state is not None
        features = _features_for(prev_output_tokens, encoder_out, incremental)
        if incremental:
            prev_output_tokens = prev_output_tokens[:, -1:]
        elif self.training and self.input_dropout > 0:
            prev_output_tokens = drop_history(prev_output_tokens, self.input_dropout, self.dropped_index)
        x = TokenInput(features, prev_output_tokens, self.embed_tokens)  # [feature_t ; embed(x_{t-1})]
        states = self.get_incremental_state(incremental_state, "lstm_state") if incremental else None
        if states is None:
            states = [self._initial_state(encoder_out)] + [None] * (len(self.layers) - 1)
        new_states = []
        for layer, state in zip(self.layers, states):
            x, state = layer(x, state)  # (B, T, H)
            new_states.append(state)
        if incremental:
            self.set_incremental_state(incremental_state, "lstm_state", new_states)
        return self.output_projection(x), {"attn": None}  # (B, T, V)

    def _initial_state(self, encoder_out) -> Optional[Tuple[Tensor, Tensor]]:
        if self.initial_state is None:
            return None  # zeros
        h, c = torch.tanh(self.initial_state(encoder_out["z"])).chunk(2, dim=-1)  # 2 x (B, H)
        return h.contiguous(), c.contiguous()

    def reorder_incremental_state(self, incremental_state: IncrementalState, new_order: Tensor):
        states = self.get_incremental_state(incremental_state, "lstm_state")
        if states is not None:
            reordered = [tuple(s.index_select(0, new_order) for s in state) for state in states]
            self.set_incremental_state(incremental_state, "lstm_state", reordered)

    def max_positions(self):
        return 1_000_000


def highway_gating(gates: Tensor, x: Tensor, norm_weight: Tensor, norm_bias: Tensor, eps: float,
                   dropout: float) -> Tensor:
    """y = sigmoid(f) * x + sigmoid(i) * dropout(tanh(g)), [i, f, g] the LayerNorm of the gates (B, T, 3C)
    a block's convolution gave; x (B, T, C)."""
    gates = F.layer_norm(gates, gates.shape[-1:], norm_weight, norm_bias, eps)  # (B, T, 3C)
    # split, not two slices: a slice's backward fills a zero (B, T, 3C) tensor and adds into it
    input_forget, g = gates.split([2 * x.size(-1), x.size(-1)], dim=-1)  # (B, T, 2C), (B, T, C)
    i, f = torch.sigmoid(input_forget).chunk(2, dim=-1)  # 2 x (B, T, C)
    candidate = F.dropout(torch.tanh(g), dropout) if dropout > 0 else torch.tanh(g)
    return torch.addcmul(f * x, i, candidate)  # (B, T, C)


def gated_projection(projected: Tensor, norm_weight: Tensor, norm_bias: Tensor, eps: float) -> Tensor:
    """tanh(content) * sigmoid(gate), [content, gate] the LayerNorm of the input projection (B, T, 2C)."""
    normalised = F.layer_norm(projected, projected.shape[-1:], norm_weight, norm_bias, eps)  # (B, T, 2C)
    content, gate = normalised.chunk(2, dim=-1)  # 2 x (B, T, C)
    return torch.tanh(content) * torch.sigmoid(gate)  # (B, T, C)


def in_training(fn: Callable, x: Tensor, incremental_state: IncrementalState | None) -> Callable:
    """`fn` compiled where gradients flow through a full pass (training): its elementwise chain is then
    one kernel each way instead of about ten (modules/compiled.py); as it is for inference."""
    full_pass = torch.is_grad_enabled() and incremental_state is None
    return compiled(fn, x.device.type) if full_pass else fn


class GatedResidualBlock(nn.Module):
    """The authors' highway convolution: y = sigmoid(f) * x + sigmoid(i) * dropout(tanh(g)), with
    [i, f, g] from a causal kernel-2 convolution of x (the authors' dropout p is 0 in every script).

    LayerNorm replaces the authors' BatchNorm here: BatchNorm's statistics over time would let a
    position see the future and would make incremental decoding differ from the full pass.
    """

    def __init__(self, channels: int, dilation: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout
        self.conv = CausalConv1d(channels, 3 * channels, kernel_size=2, dilation=dilation)
        self.norm = nn.LayerNorm(3 * channels, eps=1e-4)

    def forward(self, x: Tensor, incremental_state: IncrementalState | None = None) -> Tensor:
        gates = self.conv(x, incremental_state)  # (B, T, 3C)
        gating = in_training(highway_gating, x, incremental_state)
        return gating(gates, x, self.norm.weight, self.norm.bias, self.norm.eps,
                      self.dropout if self.training else 0.0)  # (B, T, C)


class ByteNetHead(FairseqIncrementalDecoder):
    """Masked causal convolutions over [feature_t ; embed(x_{t-1})] (paper Fig. 2c).

    A per-position gated projection to `channels`, then one GatedResidualBlock per dilation. With all
    dilations 1 and N layers, position t sees decoder inputs t-N ... t: a receptive field of N+1 units.
    `input_dropout` as in LSTMHead; `dropout` in every block, where the authors' highway layer has it.
    """

    def __init__(
        self, dictionary, feature_dim: int, embed_dim: int, channels: int, dilations: List[int],
        input_dropout: float = 0.0, dropout: float = 0.0,
    ):
        super().__init__(dictionary)
        self.input_dropout = input_dropout
        self.dropped_index = len(dictionary)
        self.embed_tokens = history_embedding(dictionary, embed_dim, input_dropout)
        input_size = feature_dim + self.embed_tokens.embedding_dim
        self.input_proj = nn.Linear(input_size, 2 * channels)
        self.input_norm = nn.LayerNorm(2 * channels, eps=1e-4)
        self.blocks = nn.ModuleList(GatedResidualBlock(channels, d, dropout) for d in dilations)
        self.output_projection = nn.Linear(channels, len(dictionary))
        self.receptive_field = 1 + sum(dilations)

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None, **kwargs):
        features = _features_for(prev_output_tokens, encoder_out, incremental_state is not None)
        if incremental_state is not None:
            prev_output_tokens = prev_output_tokens[:, -1:]
        elif self.training and self.input_dropout > 0:
            prev_output_tokens = drop_history(prev_output_tokens, self.input_dropout, self.dropped_index)
        x = TokenInput(features, prev_output_tokens, self.embed_tokens).joined()  # (B, T, F+E)
        gating = in_training(gated_projection, x, incremental_state)
        x = gating(self.input_proj(x), self.input_norm.weight, self.input_norm.bias, self.input_norm.eps)
        for block in self.blocks:
            x = block(x, incremental_state)  # (B, T, C)
        return self.output_projection(x), {"attn": None}  # (B, T, V)

    def max_positions(self):
        return 1_000_000
