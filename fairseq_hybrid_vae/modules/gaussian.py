"""The diagonal Gaussian posterior q(z|x) = N(mu, exp(logvar)) and its KL to the prior N(0, I)."""

import torch
from torch import Tensor


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I): a sample that gradients flow through."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per latent dimension, in nats: (B, Z)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
