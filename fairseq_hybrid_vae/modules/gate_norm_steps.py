"""The default cell's step (`gate_norm_step`) and its training pass in compiled kernels.

Under autograd a step is about ten small ops each way, which cost more than its matmul on a CPU; here
8 steps forward, with their matmuls, are one `torch.compile`d call, 8 steps of a hand-derived backward
another, and the input projection and the weights' gradients a few matmuls per 8 steps
(docs/lstm_cells.md). Where
compiling is unavailable (`HYBRID_VAE_COMPILE=0`, `TORCHDYNAMO_DISABLE=1`, no C++ compiler) the step
runs under autograd.
"""

import logging
from typing import Callable, NamedTuple, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..common.compat import cpu_info
from .compiled import compile_wanted, compiled

logger = logging.getLogger(__name__)

GATE_NORM_EPS = 1e-5  # nn.LayerNorm's default, the per-gate LayerNorm's epsilon


def gate_norm_step(
    pre: Tensor, c: Tensor, gain: Tensor, bias: Tensor, cell_gain: Tensor, cell_bias: Tensor, cell_eps: float
) -> Tuple[Tensor, Tensor]:
    """One step of the default cell from its pre-activations pre = x_t W_x^T + h_{t-1} W_h^T.

    pre: (B, 4H), rows i, f, o, g; c: (B, H); gain, bias: (4, H), g's doubled (see GateNormLSTM);
    cell_gain, cell_bias: (H,). Returns h_t and c_t, each (B, H)."""
    h, c, _ = gate_norm_step_and_stats(pre, c, gain, bias, cell_gain, cell_bias, cell_eps)
    return h, c


class NormStats(NamedTuple):
    """A step's LayerNorm statistics, what its backward reads instead of recomputing them (as
    nn.LayerNorm's own backward does): the gates' mean and 1/std (B, 4, 1), the cell's (B, 1)."""

    gate_mean: Tensor
    gate_rstd: Tensor
    cell_mean: Tensor
    cell_rstd: Tensor


def gate_norm_step_and_stats(
    pre: Tensor, c: Tensor, gain: Tensor, bias: Tensor, cell_gain: Tensor, cell_bias: Tensor, cell_eps: float
) -> Tuple[Tensor, Tensor, NormStats]:
    """`gate_norm_step`, and its LayerNorms' statistics."""
    grouped = pre.to(c.dtype).view(pre.size(0), 4, -1)  # (B, 4, H); the state's fp32 under autocast
    normalised, gate_mean, gate_rstd = torch.native_layer_norm(grouped, grouped.shape[-1:], None, None,
                                                               GATE_NORM_EPS)  # (B, 4, H), (B, 4, 1) x 2
    i, f, o, s = torch.sigmoid(torch.addcmul(bias, normalised, gain)).unbind(dim=1)  # 4 x (B, H); g = 2s - 1
    c = torch.addcmul(f * c, i, s, value=2) - i  # f c + i g, (B, H)
    cell_normed, cell_mean, cell_rstd = torch.native_layer_norm(c, c.shape[-1:], cell_gain, cell_bias,
                                                                cell_eps)  # (B, H), (B, 1) x 2
    h = o * torch.tanh(cell_normed)  # (B, H)
    return h, c, NormStats(gate_mean, gate_rstd, cell_mean, cell_rstd)


def state_dtype_of(tensor: Tensor) -> torch.dtype:
    """The dtype of h, c and the step's elementwise work: fp32 under autocast (its matmuls alone run in
    bf16), else the model's (a weight's, or a tensor computed from them)."""
    return torch.float32 if torch.is_autocast_enabled(tensor.device.type) else tensor.dtype


def _layer_norm_backward(grad: Tensor, normalised: Tensor, rstd: Tensor) -> Tensor:
    """The gradient through y = (x - mean) / std, given dL/dy, over the last dim."""
    projection = (grad * normalised).mean(-1, keepdim=True)  # (..., 1)
    return rstd * (grad - grad.mean(-1, keepdim=True) - normalised * projection)


def gate_norm_step_backward(
    grad_h: Tensor, grad_output: Tensor, grad_c: Tensor, pre: Tensor, c_prev: Tensor, stats: NormStats,
    gain: Tensor, bias: Tensor, cell_gain: Tensor, cell_bias: Tensor,
    grad_gain: Tensor, grad_bias: Tensor, grad_cell_gain: Tensor, grad_cell_bias: Tensor,
) -> Tuple[Tensor, Tensor]:
    """`gate_norm_step`'s backward, by hand. It recomputes the step from (pre, c_prev) and the forward's
    LayerNorm statistics, which cost less than saving its intermediates, adds the step's share to the
    four parameter gradients in place, and returns dL/dpre (B, 4H) in pre's dtype and dL/dc_{t-1} (B, H).
    dL/dh_t comes in two parts, through the next step's matmul and through the output, added here in
    c's dtype."""
    grad_h = grad_h.to(c_prev.dtype) + grad_output.to(c_prev.dtype)  # (B, H)
    grouped = pre.to(c_prev.dtype).view(pre.size(0), 4, -1)  # (B, 4, H)
    rstd = stats.gate_rstd  # (B, 4, 1)
    normalised = (grouped - stats.gate_mean) * rstd  # (B, 4, H)
    sigmoids = torch.sigmoid(torch.addcmul(bias, normalised, gain))  # (B, 4, H)
    i, f, o, s = sigmoids.unbind(dim=1)  # 4 x (B, H)
    c = torch.addcmul(f * c_prev, i, s, value=2) - i  # (B, H)
    cell_rstd = stats.cell_rstd  # (B, 1)
    cell_normalised = (c - stats.cell_mean) * cell_rstd  # (B, H)
    tanh_c = torch.tanh(torch.addcmul(cell_bias, cell_normalised, cell_gain))  # (B, H)

    grad_o = grad_h * tanh_c
    grad_cell_pre = grad_h * o * (1 - tanh_c * tanh_c)  # through tanh, (B, H)
    grad_c = grad_c + _layer_norm_backward(grad_cell_pre * cell_gain, cell_normalised, cell_rstd)  # (B, H)
    grad_sigmoids = torch.stack(  # (B, 4, H)
        [grad_c * (2 * s - 1), grad_c * c_prev, grad_o, grad_c * 2 * i], dim=1)
    grad_gates = grad_sigmoids * sigmoids * (1 - sigmoids)  # (B, 4, H)
    grad_pre = _layer_norm_backward(grad_gates * gain, normalised, rstd)  # (B, 4, H)
    grad_gain.add_((grad_gates * normalised).sum(0))  # (4, H)
    grad_bias.add_(grad_gates.sum(0))
    grad_cell_gain.add_((grad_cell_pre * cell_normalised).sum(0))  # (H,)
    grad_cell_bias.add_(grad_cell_pre.sum(0))
    return grad_pre.flatten(1).to(pre.dtype), grad_c * f  # (B, 4H), (B, H)


STEPS_PER_KERNEL = 8  # steps per compiled call: fewer calls cost less overhead, more compile longer


def _packed_linear(x: Tensor, packed_weight: Tensor) -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed_weight, None, "none", [], "")


def _packed_linear_shape(x: Tensor, packed_weight: Tensor) -> Tensor:
    return x.new_empty(x.size(0), packed_weight.size(0))  # (B, O)


# x (B, I) W^T with W (O, I) packed by `MatmulWeight.of`: oneDNN's op under a name of the plugin's, which
# inductor calls as it is (it lowers oneDNN's own only for weights that are graph constants). Defined
# with torch.library's low-level API: under torch.library.custom_op the op's own time per call was
# 68 us, here 30 us (`benchmarks/profile_step.py --model hybrid_vae_lstm --dtype bf16`).
_LIBRARY = torch.library.Library("fairseq_hybrid_vae", "DEF")
_LIBRARY.define("packed_linear(Tensor x, Tensor packed_weight) -> Tensor")
for _key in ("CPU", "MkldnnCPU"):
    _LIBRARY.impl("packed_linear", _packed_linear, _key)
torch.library.register_fake("fairseq_hybrid_vae::packed_linear", _packed_linear_shape, lib=_LIBRARY)
packed_linear = torch.ops.fairseq_hybrid_vae.packed_linear


def packed_dtypes(vendor: str) -> Tuple[torch.dtype, ...]:
    """The dtypes whose step matmuls run in oneDNN with the weight packed once per pass: bf16, and
    fp32 where torch's fp32 matmul (MKL) is not tuned for the processor, one known not to be Intel's."""
    generic_mkl = torch.backends.mkl.is_available() and vendor not in ("", "GenuineIntel")
    return (torch.bfloat16, torch.float32) if generic_mkl else (torch.bfloat16,)


PACKED_DTYPES = packed_dtypes(cpu_info("vendor_id")) if torch.backends.mkldnn.is_available() else ()
_UNPACKABLE = set()  # the dtypes whose packing failed: plain matmuls for them for the rest of the process


def reorder_for_onednn(weight: Tensor, batch_size: int) -> Tensor:
    """W (O, I) in oneDNN's blocked layout for matmuls of batch_size rows."""
    return torch.ops.mkldnn._reorder_linear_weight(weight, batch_size)


class MatmulWeight(NamedTuple):
    """W (O, I) for the T matmuls x W^T of a pass: on a CPU in bf16 packed once into oneDNN's blocked
    layout, which its AMX kernels otherwise rebuild at each call, and so in fp32 on processors where
    oneDNN's fp32 matmul beats MKL's (docs/lstm_cells.md); else W itself."""

    weight: Tensor
    packed: bool

    @classmethod
    def of(cls, weight: Tensor, batch_size: int) -> "MatmulWeight":
        if weight.device.type != "cpu" or weight.dtype not in PACKED_DTYPES or weight.dtype in _UNPACKABLE:
            return cls(weight, False)  # a view (W^T) stays a view: F.linear reads it as it is
        try:  # a private op of torch's CPU build (inductor's): absent or failing (bf16 without
            # AVX-512), plain matmuls
            return cls(reorder_for_onednn(weight.contiguous(), batch_size), True)
        except (AttributeError, RuntimeError) as error:
            logger.info(f"oneDNN {weight.dtype} weight packing unavailable ({type(error).__name__}): "
                        "plain matmuls")
            _UNPACKABLE.add(weight.dtype)
            return cls(weight, False)

    def times_t(self, x: Tensor) -> Tensor:
        """x (B, I) W^T -> (B, O)."""
        return packed_linear(x, self.weight) if self.packed else F.linear(x, self.weight)


def steps_forward(
    gates_x: Tensor, h: Tensor, c: Tensor, weight: MatmulWeight, gain: Tensor, bias: Tensor,
    cell_gain: Tensor, cell_bias: Tensor, cell_eps: float,
) -> Tuple[Tuple[Tensor, ...], Tuple[Tensor, ...], Tuple[Tensor, ...], Tuple[NormStats, ...]]:
    """K consecutive steps (one compiled call): gates_x (K, B, 4H), x_t's part; weight: W_h (4H, H).
    Returns the K pre-activations, h_t (in the matmuls' dtype), c_t and the LayerNorms' statistics."""
    pres, states, cells, stats = [], [], [], []
    for gates_x_t in gates_x:
        pres.append(gates_x_t + weight.times_t(h))  # (B, 4H)
        h, c, stats_t = gate_norm_step_and_stats(pres[-1], c, gain, bias, cell_gain, cell_bias, cell_eps)
        h = h.to(pres[-1].dtype)  # what the next step's matmul, W's gradient and the output read
        states.append(h)
        cells.append(c)
        stats.append(stats_t)
    return tuple(pres), tuple(states), tuple(cells), tuple(stats)


def steps_backward(
    grad_h: Tensor, grad_outputs: Tuple[Tensor, ...], grad_c: Tensor, pres: Tuple[Tensor, ...],
    cells_before: Tuple[Tensor, ...], stats: Tuple[NormStats, ...], weight_t: MatmulWeight, gain: Tensor,
    bias: Tensor, cell_gain: Tensor, cell_bias: Tensor, *grad_params: Tensor,
) -> Tuple[Tensor, Tensor, Tensor]:
    """`steps_forward`'s backward over its K steps, last first; weight_t: W_h^T (H, 4H).
    Returns dL/dpre of the K steps (K, B, 4H), dL/dh and dL/dc before them."""
    grad_pres = []
    for t in reversed(range(len(pres))):
        grad_pre, grad_c = gate_norm_step_backward(grad_h, grad_outputs[t], grad_c, pres[t], cells_before[t],
                                                   stats[t], gain, bias, cell_gain, cell_bias, *grad_params)
        grad_pres.append(grad_pre)
        grad_h = weight_t.times_t(grad_pre)  # (B, 4H) W_h = (B, H)
    return torch.stack(grad_pres[::-1]), grad_h, grad_c  # (K, B, 4H)


class InputProjection(NamedTuple):
    """x's part of the pre-activations, x W_x^T, in two parts, either may be None: dense (N, M, I) @
    dense_weight (4H, I)^T, plus the rows of table (V, 4H), every token type's embedding projected
    once, gathered for tokens (N, M) (GateNormLSTM.input_projection). (N, M) is (B, T), or (K, B)
    for a chunk of K steps of the fused pass."""

    dense: Tensor | None
    dense_weight: Tensor | None
    tokens: Tensor | None
    table: Tensor | None

    def size(self, dim: int) -> int:
        """N (dim 0) or M (dim 1)."""
        return (self.dense if self.dense is not None else self.tokens).size(dim)

    def gates(self) -> Tensor:
        """The sum, (N, M, 4H)."""
        if self.tokens is None:
            return F.linear(self.dense, self.dense_weight)  # (N, M, I) -> (N, M, 4H)
        rows = F.embedding(self.tokens, self.table)  # (N, M) -> (N, M, 4H)
        if self.dense is None:
            return rows
        # rows += dense W^T in one matmul, in place: addmm would first copy the rows into a new tensor
        rows.view(-1, rows.size(-1)).addmm_(self.dense.flatten(0, 1), self.dense_weight.t())  # (N·M, 4H)
        return rows

    def steps(self, chunk: slice) -> "InputProjection":
        """The steps `chunk` of a time-first projection (T, B, ...)."""
        return self._replace(dense=None if self.dense is None else self.dense[chunk],
                             tokens=None if self.tokens is None else self.tokens[chunk])


class GateNormLSTMSequence(torch.autograd.Function):
    """The default cell's recurrence over a whole sequence, for training, its input projection included.

    forward(dense, dense_weight, tokens, table (an InputProjection), h0, c0 (B, H), hidden_weight (4H, H),
    gain, bias (4, H), cell_gain, cell_bias (H,), cell_eps, steps) -> outputs (B, T, H), h_T, c_T.
    x's part of the pre-activations is made 8 steps at a time, and its gradient used the same way, so
    that no (B, T, 4H) tensor is ever whole: on a CPU a buffer of tens of MB is fresh memory at every
    update, whose page faults cost more than the kernels that fill it; each step's tensors are kept
    apart for the same reason. Under autocast the matmuls run in its dtype and the steps' elementwise
    work in fp32, as autocast runs the step under autograd; the outputs come in the matmuls' dtype, as
    a Linear's would.
    """

    @staticmethod
    def forward(ctx, dense, dense_weight, tokens, table, h0, c0, hidden_weight, gain, bias, cell_gain,
                cell_bias, cell_eps, steps):
        forward_kernel, _ = steps
        device_type = hidden_weight.device.type
        matmul_dtype = (torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type)
                        else hidden_weight.dtype)

        def in_matmul_dtype(tensor):
            return None if tensor is None else tensor.to(matmul_dtype)

        # Time first, so that a chunk of steps is contiguous: one copy of the (small) dense input, cast
        # on the way (`.to` would keep the transposed strides, and `.contiguous()` copy a second time).
        dense_t = None if dense is None else dense.new_empty(
            dense.size(1), dense.size(0), dense.size(2), dtype=matmul_dtype).copy_(dense.transpose(0, 1))
        time_first = InputProjection(dense_t, in_matmul_dtype(dense_weight),  # (T, B, I), (4H, I)
                                     None if tokens is None else tokens.t(), in_matmul_dtype(table))
        weight = hidden_weight.to(matmul_dtype)  # (4H, H)
        # h_t in the matmuls' dtype: what the next step, the weight's gradient and the consumer of the
        # outputs (a Linear, under autocast) read; c_t in the state's dtype.
        pres, states, cells, stats = [], [h0.to(matmul_dtype)], [c0.to(state_dtype_of(hidden_weight))], []
        with torch.autocast(device_type, enabled=False):
            recurrent = MatmulWeight.of(weight, h0.size(0))  # W_h (4H, H)
            for start in range(0, time_first.size(0), STEPS_PER_KERNEL):
                gates_x = time_first.steps(slice(start, start + STEPS_PER_KERNEL)).gates()  # (K, B, 4H)
                pres_k, states_k, cells_k, stats_k = forward_kernel(
                    gates_x, states[-1], cells[-1], recurrent, gain, bias, cell_gain, cell_bias, cell_eps)
                pres += pres_k
                states += states_k
                cells += cells_k
                stats += stats_k
        ctx.save_for_backward(*time_first, weight, gain, bias, cell_gain, cell_bias)
        ctx.pres, ctx.states, ctx.cells, ctx.stats, ctx.steps = pres, states, cells, stats, steps
        ctx.input_dtypes = [None if t is None else t.dtype
                            for t in (dense, dense_weight, table, h0, c0, hidden_weight)]
        h_last = states[-1].to(cells[-1].dtype)  # the state leaves in c's dtype, as it came
        return torch.stack(states[1:], dim=1), h_last, cells[-1].clone()  # (B, T, H), (B, H) x 2

    @staticmethod
    def backward(ctx, grad_outputs, grad_h_last, grad_c_last):
        dense_t, dense_weight, tokens_t, table, weight, gain, bias, cell_gain, cell_bias = ctx.saved_tensors
        pres, states, cells, stats = ctx.pres, ctx.states, ctx.cells, ctx.stats
        _, backward_kernel = ctx.steps
        zeros = torch.zeros_like(cells[0])  # (B, H)
        grad_h = grad_h_last if grad_h_last is not None else zeros  # through the next step's matmul
        grad_c = grad_c_last.to(zeros.dtype) if grad_c_last is not None else zeros
        grad_params = [torch.zeros_like(p) for p in (gain, bias, cell_gain, cell_bias)]
        outputs = grad_outputs.unbind(dim=1) if grad_outputs is not None else (zeros,) * len(pres)
        recurrent_t = MatmulWeight.of(weight.t(), zeros.size(0))  # W_h^T (H, 4H)
        # The weights' gradients are summed over chunks in fp32 at least (bf16 matmuls under autocast).
        sum_dtype = torch.promote_types(weight.dtype, torch.float32)
        wanted = ctx.needs_input_grad

        def summed(tensor, index):
            return torch.zeros(tensor.shape, dtype=sum_dtype, device=tensor.device) if wanted[index] else None

        grad_weight = torch.zeros(weight.shape, dtype=sum_dtype, device=weight.device)  # (4H, H)
        grad_dense_weight, grad_table = summed(dense_weight, 1), summed(table, 3)  # (4H, I), (V, 4H)
        grad_dense_t = torch.empty_like(dense_t) if wanted[0] else None  # (T, B, I)
        # Each chunk's share of the weights' gradients is added as it comes; under autocast, where each
        # share is a bf16 product converted before it is added, once per 4 chunks (docs/lstm_cells.md).
        gradient_steps = STEPS_PER_KERNEL * (1 if weight.dtype == sum_dtype else 4)
        group = []  # dL/dpre of the chunks not yet in the weights' gradients, (K, B, 4H) each
        for start in reversed(range(0, len(pres), STEPS_PER_KERNEL)):
            chunk = slice(start, min(start + STEPS_PER_KERNEL, len(pres)))  # states holds one more
            grad_pres, grad_h, grad_c = backward_kernel(
                grad_h, outputs[chunk], grad_c, tuple(pres[chunk]), tuple(cells[chunk]), tuple(stats[chunk]),
                recurrent_t, gain, bias, cell_gain, cell_bias, *grad_params)  # (K, B, 4H)
            group.insert(0, grad_pres)
            if start % gradient_steps:
                continue
            span = slice(start, start + sum(len(g) for g in group))  # the N steps of the group
            grad_pres = (torch.cat(group) if len(group) > 1 else grad_pres).flatten(0, 1)  # (N·B, 4H)
            group = []
            entering = torch.stack(states[span]).flatten(0, 1)  # h_{t-1} of the N steps, (N·B, H)
            add_product(grad_weight, grad_pres.t(), entering)  # (4H, N·B) @ (N·B, H)
            if grad_table is not None:
                add_rows(grad_table, tokens_t[span].flatten(), grad_pres)  # (V, 4H)
            if grad_dense_t is not None:
                torch.mm(grad_pres, dense_weight, out=grad_dense_t[span].flatten(0, 1))  # (N·B, I)
            if grad_dense_weight is not None:
                add_product(grad_dense_weight, grad_pres.t(), dense_t[span].flatten(0, 1))  # (4H, I)
        del ctx.pres, ctx.states, ctx.cells, ctx.stats
        grads = [None if g is None else g.to(dtype) for g, dtype in zip(
            (grad_dense_t, grad_dense_weight, grad_table, grad_h, grad_c, grad_weight), ctx.input_dtypes)]
        grad_dense = None if grads[0] is None else grads[0].transpose(0, 1)  # (B, T, I)
        return (grad_dense, grads[1], None, *grads[2:], *grad_params, None, None)


def add_product(total: Tensor, a: Tensor, b: Tensor) -> None:
    """total += a @ b, in total's dtype whatever a's and b's (bf16 under autocast)."""
    if a.dtype == total.dtype:
        total.addmm_(a, b)  # no temporary
    else:
        total.add_(a @ b)


def add_rows(total: Tensor, index: Tensor, rows: Tensor) -> None:
    """total[index[n]] += rows[n] for every n, in total's dtype. Rows of another dtype (bf16 under
    autocast) go in as a one-hot matmul, whose (V, 4H) product is all that is converted, not the rows."""
    if rows.dtype == total.dtype:
        total.index_add_(0, index, rows)
    else:
        add_product(total, F.one_hot(index, total.size(0)).to(rows.dtype).t(), rows)  # (V, N) @ (N, 4H)


StepKernels = Tuple[Callable, Callable]


def compiled_steps(device_type: str) -> StepKernels | None:
    """The two step kernels compiled for this device type, or None where compiling is off or failed."""
    if not compile_wanted(device_type):
        return None
    return compiled(steps_forward, device_type), compiled(steps_backward, device_type)
