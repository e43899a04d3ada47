"""A causal (masked) 1-d convolution that can also run one position at a time."""

from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.incremental_decoding_utils import with_incremental_state
from torch import Tensor


@with_incremental_state
class CausalConv1d(nn.Conv1d):
    """Conv1d whose output at t sees inputs t-(k-1)·d ... t only (left zero padding); kernel 2 is the
    authors' masked kernel-3 convolution. Incrementally a zero-initialised buffer of the last (k-1)·d
    inputs plays the padding, so both paths give the same numbers.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 2, dilation: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.history = (kernel_size - 1) * dilation

    def forward(
        self,
        x: Tensor,
        incremental_state: Dict[str, Dict[str, Tensor | None]] | None = None,
    ) -> Tensor:
        """x: (B, T, C_in) -> (B, T, C_out); with `incremental_state`, T is the newest positions only."""
        if incremental_state is None:
            window = F.pad(x, (0, 0, self.history, 0))  # (B, history + T, C_in)
        else:
            buffer = self.get_incremental_state(incremental_state, "input_buffer")
            if buffer is None:
                buffer = x.new_zeros(x.size(0), self.history, x.size(2))  # (B, history, C_in)
            window = torch.cat([buffer, x], dim=1)  # (B, history + T, C_in)
            self.set_incremental_state(incremental_state, "input_buffer", window[:, -self.history :])
        # One matmul over the k taps of every position, in the (B, T, C) layout the heads use: no
        # transposes around a conv1d (benchmarks/results/train_throughput_cpu_matmul_conv.md).
        T, d = x.size(1), self.dilation[0]
        taps = torch.stack([window[:, j * d : j * d + T] for j in range(self.kernel_size[0])], dim=-1)
        weight = self.weight.view(self.out_channels, -1)  # (C_out, C_in * k), no copy
        return F.linear(taps.flatten(2), weight, self.bias)  # (B, T, C_in, k) -> (B, T, C_out)

    def reorder_incremental_state(
        self, incremental_state: Dict[str, Dict[str, Tensor | None]], new_order: Tensor
    ) -> None:
        buffer = self.get_incremental_state(incremental_state, "input_buffer")
        if buffer is not None:
            self.set_incremental_state(
                incremental_state, "input_buffer", buffer.index_select(0, new_order)
            )
