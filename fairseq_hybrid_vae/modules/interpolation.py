"""Points on the path between two latent codes: straight (lerp) or along the sphere (slerp)."""

import torch
from torch import Tensor

from ..common.errors import InputError


def interpolate_latents(a: Tensor, b: Tensor, weight: Tensor, method: str = "lerp") -> Tensor:
    """a, b: (B, Z); weight: (B,) in [0, 1], 0 giving a and 1 giving b. Returns (B, Z)."""
    w = weight.to(a.dtype).unsqueeze(1)  # (B, 1)
    if method == "lerp":
        return (1 - w) * a + w * b
    if method != "slerp":
        raise InputError(f"unknown interpolation {method!r}: use lerp or slerp")
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1).clamp(-1 + 1e-7, 1 - 1e-7)
    angle = torch.acos(cos).unsqueeze(1)  # (B, 1)
    sin = torch.sin(angle)
    spherical = (torch.sin((1 - w) * angle) * a + torch.sin(w * angle) * b) / sin
    # Nearly parallel codes: the spherical formula divides by ~0, and lerp is the same path.
    return torch.where(sin > 1e-4, spherical, (1 - w) * a + w * b)
