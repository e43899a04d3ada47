"""The inference network q(z|x): strided convolutions, then one linear layer to mu and log-variance."""

from typing import List, Tuple

import torch.nn as nn
from torch import Tensor

from .one_hot import OneHot


class ConvEncoder(nn.Module):
    """Conv1d(k3, s2, p1) + BatchNorm + ReLU per layer, halving the length each time (paper Fig. 1).

    The last feature map is flattened channel-major and mapped by a single Linear layer to 2·z.
    """

    def __init__(self, vocab_size: int, channels: List[int], sample_size: int, latent_dim: int):
        super().__init__()
        self.embed = OneHot(vocab_size)
        layers, in_channels = [], vocab_size
        for out_channels in channels:
            layers += [
                nn.Conv1d(in_channels, out_channels, kernel_size=3, stride=2, padding=1),
                nn.BatchNorm1d(out_channels, eps=1e-4),
                nn.ReLU(),
            ]
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        self.reduced_length = sample_size // 2 ** len(channels)
        self.to_posterior = nn.Linear(in_channels * self.reduced_length, 2 * latent_dim)

    def forward(self, tokens: Tensor) -> Tuple[Tensor, Tensor]:
        x = self.embed(tokens).transpose(1, 2)  # (B, L, V) -> (B, V, L)
        h = self.convs(x)  # (B, C, L/2^k)
        mu, logvar = self.to_posterior(h.flatten(1)).chunk(2, dim=-1)  # (B, C·L/2^k) -> 2 x (B, Z)
        return mu, logvar
