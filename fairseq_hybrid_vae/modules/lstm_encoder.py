"""The LSTM inference network of Bowman et al.'s VAE: the last state of an LSTM over x -> mu, logvar."""

from typing import Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .lstm_cells import DEFAULT_LSTM_CELL, TokenInput, build_lstm
from .one_hot import build_token_embedding


class LSTMPosteriorEncoder(nn.Module):
    """x (one-hot or embedded) -> LSTM (any cell of `LSTM_CELLS`) -> hidden state after the last non-pad unit
    -> Linear -> (mu, logvar)."""

    def __init__(self, vocab_size: int, hidden_size: int, latent_dim: int, pad: int,
                 cell: str = DEFAULT_LSTM_CELL, embed_dim: int = 0):
        super().__init__()
        self.pad = pad
        self.embed = build_token_embedding(vocab_size, embed_dim)
        self.lstm = build_lstm(cell, self.embed.embedding_dim, hidden_size)
        self.to_posterior = nn.Linear(hidden_size, 2 * latent_dim)

    def forward(self, tokens: Tensor) -> Tuple[Tensor, Tensor]:
        no_features = tokens.new_zeros(*tokens.shape, 0, dtype=torch.float)  # (B, L, 0)
        states, _ = self.lstm(TokenInput(no_features, tokens, self.embed))  # (B, L, H)
        last = tokens.ne(self.pad).sum(1).clamp(min=1) - 1  # (B,): padding comes after the text
        final = states[torch.arange(tokens.size(0), device=tokens.device), last]  # (B, H)
        mu, logvar = self.to_posterior(final).chunk(2, dim=-1)  # 2 x (B, Z)
        return mu, logvar

