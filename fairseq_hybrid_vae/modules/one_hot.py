"""Token inputs as one-hot vectors (the paper's choice) or as a learned embedding."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class OneHot(nn.Module):
    """A parameter-free embedding: token i -> the i-th unit vector of size `num_embeddings`."""

    def __init__(self, num_embeddings: int):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = num_embeddings
        # Follows model.half() / .to(bfloat16), so --fp16/--bf16 get one-hots of the weights' dtype.
        self.register_buffer("dtype_probe", torch.zeros(()), persistent=False)

    def forward(self, tokens: Tensor) -> Tensor:
        return F.one_hot(tokens, self.num_embeddings).to(self.dtype_probe.dtype)  # (B, T) -> (B, T, V)


def build_token_embedding(num_embeddings: int, embed_dim: int) -> nn.Module:
    """One-hot when `embed_dim` is 0 (as the authors' code), else a learned nn.Embedding."""
    return OneHot(num_embeddings) if embed_dim == 0 else nn.Embedding(num_embeddings, embed_dim)
