"""The feed-forward half of the decoder: z -> one feature vector per position (paper Fig. 1)."""

from typing import List

import torch.nn as nn
from torch import Tensor


class DeconvDecoder(nn.Module):
    """Linear + ReLU to the encoder's last feature map, then ConvTranspose1d(k3, s2, p1, op1) + BatchNorm
    + ReLU per layer, mirroring the encoder and doubling the length each time up to L.

    `encoder_channels` are the encoder's (e.g. [128, 256]); the decoder runs them in reverse and its
    last layer outputs `feature_dim` channels (200 in the paper), read by the aux head and the head.
    """

    def __init__(
        self, latent_dim: int, encoder_channels: List[int], sample_size: int, feature_dim: int
    ):
        super().__init__()
        self.reduced_length = sample_size // 2 ** len(encoder_channels)
        self.in_channels = encoder_channels[-1]
        self.from_latent = nn.Sequential(
            nn.Linear(latent_dim, self.in_channels * self.reduced_length), nn.ReLU()
        )
        layers, in_channels = [], self.in_channels
        for out_channels in list(reversed(encoder_channels[:-1])) + [feature_dim]:
            layers += [
                nn.ConvTranspose1d(
                    in_channels, out_channels, kernel_size=3, stride=2, padding=1, output_padding=1
                ),
                nn.BatchNorm1d(out_channels, eps=1e-4),
                nn.ReLU(),
            ]
            in_channels = out_channels
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.from_latent(z)  # (B, C·L/2^k)
        h = h.view(z.size(0), self.in_channels, self.reduced_length)  # (B, C, L/2^k)
        h = self.deconvs(h)  # (B, feature_dim, L)
        return h.transpose(1, 2)  # (B, L, feature_dim)
