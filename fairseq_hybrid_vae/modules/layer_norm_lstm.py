"""The paper's layer-normalised LSTM: one LayerNorm over all four gate pre-activations together."""

from typing import Tuple

import torch
import torch.nn as nn
from torch import Tensor


class LayerNormLSTM(nn.Module):
    """The authors' LNLSTM: LN(W_x x_t + W_h h_{t-1} + b) -> i, f, o, g; c_t = f c + i g, h_t = o tanh(c_t).
    The steps read the input projection through one unbind: indexing `gates_x[:, t]` made backward add
    T full-size zero tensors (70% of a training step at L=128).
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_proj = nn.Linear(input_size, 4 * hidden_size)
        self.hidden_proj = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.norm = nn.LayerNorm(4 * hidden_size, eps=1e-4)

    def forward(
        self, x: Tensor, state: Tuple[Tensor, Tensor] | None = None
    ) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        """x: (B, T, input_size); state: (h, c), each (B, H), zeros when None."""
        if state is None:
            zeros = x.new_zeros(x.size(0), self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        gates_x = self.input_proj(x)  # (B, T, 4H)
        hidden_weight = self.hidden_proj.weight.t()  # (H, 4H), a view
        H, outputs = self.hidden_size, []
        for gates_x_t in gates_x.unbind(dim=1):  # T x (B, 4H)
            # 8 ops per step, was 13 (addmm, one sigmoid for i/f/o, addcmul): 5% faster training on CPU,
            # and a GPU step is bound by launches (docs/benchmarks.md, "What did profiling change?").
            gates = self.norm(torch.addmm(gates_x_t, h, hidden_weight))  # (B, 4H)
            i, f, o = torch.sigmoid(gates[:, : 3 * H]).chunk(3, dim=-1)  # 3 x (B, H)
            c = torch.addcmul(f * c, i, torch.tanh(gates[:, 3 * H :]))  # (B, H)
            h = o * torch.tanh(c)  # (B, H)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, c)  # (B, T, H)
