"""The recurrent cells every LSTM of the plugin can run on (`--lstm-cell`), by name: each maps x (B, T, I)
and an optional state (h, c) to outputs (B, T, H) and the last state, and brings its own init
(`uses_authors_init`). docs/lstm_cells.md measures what each learns per update and per second.
"""

from typing import Dict, List, NamedTuple, Sequence, Tuple, Type

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .gate_norm_steps import (
    GateNormLSTMSequence,
    InputProjection,
    compiled_steps,
    gate_norm_step,
    state_dtype_of,
)
from .layer_norm_lstm import LayerNormLSTM

State = Tuple[Tensor, Tensor]


class TokenInput(NamedTuple):
    """An LSTM's input [feature_t ; embed(token_t)] before the two are joined, so that a cell can
    project the embedding of every type once, a (V, 4H) table, and gather rows of it per position
    instead of multiplying every position's embedding (docs/lstm_cells.md, "The default")."""

    features: Tensor  # (B, T, F); F is 0 without z
    tokens: Tensor  # (B, T)
    embed: nn.Module  # nn.Embedding or OneHot: tokens (B, T) -> (B, T, E)

    def joined(self) -> Tensor:
        embedded = self.embed(self.tokens)  # (B, T, E)
        if self.features.size(-1) == 0:
            return embedded  # no copy
        return torch.cat([self.features.to(embedded.dtype), embedded], dim=-1)  # (B, T, F+E)


def joined(x: Tensor | TokenInput) -> Tensor:
    """The input as one tensor, (B, T, I), for the cells that project it whole."""
    return x.joined() if isinstance(x, TokenInput) else x


class TorchLSTM(nn.Module):
    """torch.nn.LSTM, one layer: its fused kernels (oneDNN on CPU, cuDNN on GPU) run the sequence."""

    uses_authors_init = False

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)

    def forward(self, x: Tensor | TokenInput, state: State | None = None) -> Tuple[Tensor, State]:
        """x: (B, T, input_size); state: (h, c), each (B, H), zeros when None."""
        x = joined(x)
        if state is not None:
            state = (state[0].unsqueeze(0).contiguous(), state[1].unsqueeze(0).contiguous())  # (1, B, H)
        outputs, (h, c) = self.lstm(x, state)  # (B, T, H); h, c: (1, B, H)
        return outputs, (h.squeeze(0), c.squeeze(0))  # (B, H) each


class PerGateLayerNorm(nn.Module):
    """The gain and bias of a LayerNorm of each gate's H pre-activations on its own (one per unit),
    with a fixed factor per gate on both (`gate_scale`, one per gate: not learned, not saved).
    `gate_norm_step` normalises; the scaled gain and bias are computed once per sequence (`affine`)."""

    def __init__(self, gate_scale: Sequence[float], hidden_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(len(gate_scale), hidden_size))
        self.bias = nn.Parameter(torch.zeros(len(gate_scale), hidden_size))
        self.register_buffer("gate_scale", torch.tensor(gate_scale).unsqueeze(1), persistent=False)  # (G, 1)

    def affine(self) -> Tuple[Tensor, Tensor]:
        """The gain and the bias, each (G, H), times the gate's factor."""
        return self.weight * self.gate_scale, self.bias * self.gate_scale


class RecurrentWeightGradient(torch.autograd.Function):
    """Identity on the input projections whose backward adds the recurrent weight's gradient for all T
    steps as one (4H, T·B) x (T·B, H) matmul, instead of T small ones summed (docs/lstm_cells.md). The
    steps run with W detached; the cell fills `entering_states` with every step's h_{t-1}.
    """

    @staticmethod
    def forward(ctx, gates_x: Tensor, weight: Tensor, entering_states: List[Tensor]) -> Tensor:
        ctx.entering_states, ctx.weight_dtype = entering_states, weight.dtype
        return gates_x.view_as(gates_x)  # (B, T, 4H)

    @staticmethod
    def backward(ctx, grad: Tensor):
        """grad: (B, T, 4H) -> the same, and the weight's (4H, H)."""
        states = torch.stack(ctx.entering_states, dim=1).to(grad.dtype)  # (B, T, H)
        grad_weight = grad.flatten(0, 1).t() @ states.flatten(0, 1)  # (4H, B·T) @ (B·T, H) = (4H, H)
        return grad, grad_weight.to(ctx.weight_dtype), None


class GateNormLSTM(nn.Module):
    """A layer-normalised LSTM (Ba et al. 2016, section 3.1): each gate normalised on its own, c_t before the
    output tanh, forget bias 1. The authors' cell normalises all four gates together.
    """

    uses_authors_init = False

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_proj = nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.hidden_proj = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        # Rows i, f, o, g. One sigmoid serves all four gates: tanh(a) = 2 sigmoid(2a) - 1, so g's
        # normalised pre-activation is doubled (gain and bias alike) and its sigmoid s gives
        # i * tanh(a) = 2 i s - i. Two activations on slices of the gates would cost more, forward
        # and backward (docs/lstm_cells.md).
        self.gate_norm = PerGateLayerNorm([1.0, 1.0, 1.0, 2.0], hidden_size)
        self.cell_norm = nn.LayerNorm(hidden_size)
        with torch.no_grad():
            self.gate_norm.bias[1].fill_(1.0)  # the forget gate starts open: memory lasts

    def input_projection(self, x: Tensor | TokenInput, fused: bool) -> InputProjection:
        """x's part of every step's pre-activations, in parts (InputProjection). A token's embedding is
        projected once per type, a (V, 4H) table whose rows are gathered per position, where there are
        fewer types than positions: the same sums without the (B·T, E) x (E, 4H) matmuls. With features
        beside the tokens only in the fused pass, which adds the rows in its features' matmul 8 steps at
        a time; for a whole sequence under autograd that split was slower (docs/lstm_cells.md)."""
        weight = self.input_proj.weight  # (4H, F+E)
        if (not isinstance(x, TokenInput) or x.embed.num_embeddings >= x.tokens.numel()
                or (x.features.size(-1) > 0 and not fused)):
            return InputProjection(joined(x), weight, None, None)  # (B, T, I), (4H, I)
        num_features = x.features.size(-1)
        types = torch.arange(x.embed.num_embeddings, device=x.tokens.device)  # (V,)
        table = F.linear(x.embed(types), weight[:, num_features:])  # (V, E) -> (V, 4H)
        if num_features == 0:
            return InputProjection(None, None, x.tokens, table)
        return InputProjection(x.features, weight[:, :num_features], x.tokens, table)  # (B, T, F), (4H, F)

    def forward(self, x: Tensor | TokenInput, state: State | None = None) -> Tuple[Tensor, State]:
        """x: (B, T, input_size) or its TokenInput; state: (h, c), each (B, H), zeros when None."""
        steps = compiled_steps(self.input_proj.weight.device.type) if torch.is_grad_enabled() else None
        projection = self.input_projection(x, fused=steps is not None)
        if state is None:
            B, dtype = projection.size(0), state_dtype_of(self.input_proj.weight)
            zeros = self.input_proj.weight.new_zeros(B, self.hidden_size, dtype=dtype)  # (B, H)
            state = (zeros, zeros)
        gain, bias = self.gate_norm.affine()  # (4, H) each
        cell_norm = (self.cell_norm.weight, self.cell_norm.bias, self.cell_norm.eps)
        if steps is not None:  # training: the fused pass, with the input projection (gate_norm_steps.py)
            outputs, h, c = GateNormLSTMSequence.apply(
                *projection, *state, self.hidden_proj.weight, gain, bias, *cell_norm, steps)
            return outputs, (h, c)
        gates_x = projection.gates()  # (B, T, 4H)
        return self.recurrence(gates_x, state, gain, bias, cell_norm)

    def recurrence(self, gates_x: Tensor, state: State, gain: Tensor, bias: Tensor,
                   cell_norm: Tuple[Tensor, Tensor, float]) -> Tuple[Tensor, State]:
        """The steps under autograd: inference, and training where compiling is unavailable."""
        h, c = state
        hidden_weight, entering_states = self.hidden_proj.weight, []
        if torch.is_grad_enabled() and hidden_weight.requires_grad:
            gates_x = RecurrentWeightGradient.apply(gates_x, hidden_weight, entering_states)  # (B, T, 4H)
            hidden_weight = hidden_weight.detach()  # its gradient comes from the line above
        hidden_weight = hidden_weight.t()  # (H, 4H), a view
        outputs = []
        for gates_x_t in gates_x.unbind(dim=1):  # T x (B, 4H)
            h, c = gate_norm_step(torch.addmm(gates_x_t, h, hidden_weight), c, gain, bias, *cell_norm)
            outputs.append(h)
        # h_{t-1} of every step, for the recurrent weight's gradient; detached, so that the Function's
        # context holds no graph of its own.
        entering_states.extend(h_t.detach() for h_t in [state[0], *outputs[:-1]])
        return torch.stack(outputs, dim=1), (h, c)  # (B, T, H)


class AuthorsLSTM(LayerNormLSTM):
    """The authors' cell, unchanged (one LayerNorm over all four gates), with their U(-0.1, 0.1)."""

    uses_authors_init = True

    def forward(self, x: Tensor | TokenInput, state: State | None = None) -> Tuple[Tensor, State]:
        return super().forward(joined(x), state)


# --lstm-cell choices. "authors" is what the paper trained; the default is the one that reaches the
# lowest validation bound per second on a 2-core CPU (docs/lstm_cells.md).
LSTM_CELLS: Dict[str, Type[nn.Module]] = {
    "authors": AuthorsLSTM,
    "layernorm": GateNormLSTM,
    "torch": TorchLSTM,
}
DEFAULT_LSTM_CELL = "layernorm"
# A checkpoint saved before --lstm-cell existed was trained with the authors' cell.
CELL_OF_OLD_CHECKPOINTS = "authors"


def build_lstm(cell: str, input_size: int, hidden_size: int) -> nn.Module:
    return LSTM_CELLS[cell](input_size, hidden_size)
