"""The authors' LSTM cell as version 0.1 of the plugin computed it, frozen here (never edit it).

tests/test_lstm_cells.py runs it on this machine beside today's AuthorsLSTM, with the same weights and
inputs, and asks for equal bits: both sides run on the same processor and kernels, so any difference
is a change in the computation. (Outputs stored on another processor can only be compared with a
tolerance: its kernels may sum in another order.)
"""

import torch


def authors_cell_v0_1(cell, x, state=None):
    """cell: a module with input_proj, hidden_proj (no bias), norm (LayerNorm over 4H) and
    hidden_size; x: (B, T, I); state: (h, c), each (B, H). Returns (B, T, H) and the last (h, c)."""
    H = cell.hidden_size
    if state is None:
        zeros = x.new_zeros(x.size(0), H)
        state = (zeros, zeros)
    h, c = state
    gates_x = cell.input_proj(x)  # (B, T, 4H)
    hidden_weight = cell.hidden_proj.weight.t()  # (H, 4H)
    outputs = []
    for gates_x_t in gates_x.unbind(dim=1):  # T x (B, 4H)
        gates = cell.norm(torch.addmm(gates_x_t, h, hidden_weight))  # (B, 4H)
        i, f, o = torch.sigmoid(gates[:, : 3 * H]).chunk(3, dim=-1)  # 3 x (B, H)
        c = torch.addcmul(f * c, i, torch.tanh(gates[:, 3 * H :]))  # (B, H)
        h = o * torch.tanh(c)  # (B, H)
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h, c)  # (B, T, H)
