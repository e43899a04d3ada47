"""Helpers the benchmarks share: a vocabulary of a given size, a median wall-clock time, the machine."""

import os
import platform
import statistics
import time
from typing import Callable

import fairseq
import torch
from fairseq.data import Dictionary
from torch.utils.flop_counter import FlopCounterMode

from fairseq_hybrid_vae.modules.gate_norm_steps import MatmulWeight  # registers packed_linear

aten = torch.ops.aten


def _lstm_layer_flop(input_shape, w_ih_shape, w_hh_shape, *args, out_shape=None, **kwargs) -> int:
    """oneDNN's fused LSTM layer (what torch.nn.LSTM runs on a CPU): the input and recurrent matmuls
    of every step. Its input is time-major, (T, B, I); the weights are (4H, I) and (4H, H)."""
    steps, batch = input_shape[0], input_shape[1]
    gates, inputs = w_ih_shape
    return 2 * steps * batch * gates * (inputs + w_hh_shape[1])


def _lstm_layer_backward_flop(input_shape, w_ih_shape, w_hh_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * _lstm_layer_flop(input_shape, w_ih_shape, w_hh_shape)  # input and weight gradients


def _cudnn_lstm_flop(input_shape, weight_shapes, *args, out_shape=None, **kwargs) -> int:
    """cuDNN's fused LSTM (what torch.nn.LSTM runs on a GPU): every step of every 2-d weight, input
    and recurrent, of every layer. Time-major or batch-first, its input's first two sizes are T and B."""
    positions = input_shape[0] * input_shape[1]
    return 2 * positions * sum(rows * cols for rows, cols in (s for s in weight_shapes if len(s) == 2))


def _cudnn_lstm_backward_flop(input_shape, weight_shapes, *args, out_shape=None, **kwargs) -> int:
    return 2 * _cudnn_lstm_flop(input_shape, weight_shapes)  # input and weight gradients


def _addmm_flop(total_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """total += a @ b, in place (the default cell's weight gradients, summed over chunks of steps)."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def _packed_linear_flop(x_shape, weight_shape, *args, out_shape=None, **kwargs) -> int:
    """The plugin's x (B, I) W^T with W (O, I) packed for oneDNN (the default cell's steps in bf16)."""
    return 2 * x_shape[0] * weight_shape[1] * weight_shape[0]


def flop_counter() -> FlopCounterMode:
    """torch's FLOP counter, taught the fused LSTM layers (oneDNN's, cuDNN's), the plugin's packed
    matmul and the in-place addmm_ (the default cell's weight gradients), which it does not count."""
    return FlopCounterMode(display=False, custom_mapping={
        torch.ops.fairseq_hybrid_vae.packed_linear: _packed_linear_flop,
        aten.addmm_: _addmm_flop,
        aten.mkldnn_rnn_layer: _lstm_layer_flop,
        aten.mkldnn_rnn_layer_backward: _lstm_layer_backward_flop,
        aten._cudnn_rnn: _cudnn_lstm_flop,
        aten._cudnn_rnn_backward: _cudnn_lstm_backward_flop,
    })


def dictionary_of(size: int) -> Dictionary:
    """fairseq's 4 special symbols plus made-up units: PTB has 53 types, the authors' tweets 259."""
    dictionary = Dictionary()
    for i in range(size - len(dictionary)):
        dictionary.add_symbol(chr(0x4E00 + i))
    return dictionary


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median of `repeats` timed calls, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine(device: str) -> str:
    """What the numbers were measured on: the processor or GPU, and the versions that matter."""
    if device == "cuda":
        where = f"{torch.cuda.get_device_name()}, CUDA {torch.version.cuda}"
    else:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
        where = f"{model or platform.processor()} ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    return (f"{where}; Python {platform.python_version()}, torch {torch.__version__}, "
            f"fairseq {fairseq.__version__}")


def check_lstm_flop_formulas() -> None:
    """The counts for torch.nn.LSTM's fused kernels, against 2·T·B·4H·(E+H) per pass: oneDNN's (CPU)
    and cuDNN's (GPU, counted here from the shapes alone) agree, time-major or batch-first."""
    T, B, E, H = 7, 3, 5, 11  # steps, batch, input size, hidden size
    expected = 2 * T * B * 4 * H * (E + H)
    cudnn_weights = [(4 * H, E), (4 * H, H), (4 * H,), (4 * H,)]  # w_ih, w_hh, b_ih, b_hh
    assert _lstm_layer_flop((T, B, E), (4 * H, E), (4 * H, H)) == expected
    for input_shape in [(T, B, E), (B, T, E)]:
        assert _cudnn_lstm_flop(input_shape, cudnn_weights) == expected
        assert _cudnn_lstm_backward_flop(input_shape, cudnn_weights) == 2 * expected
    with flop_counter() as counter:  # what the counter records for a real layer on this CPU
        torch.nn.LSTM(E, H)(torch.randn(T, B, E))
    assert counter.get_total_flops() == expected, counter.get_total_flops()
    weight = torch.randn(4 * H, H, dtype=torch.bfloat16)
    packed = MatmulWeight.of(weight, B)
    with flop_counter() as counter:  # the packed matmul (where this CPU packs), as the plain one counts
        packed.times_t(torch.randn(B, H, dtype=torch.bfloat16))
    assert counter.get_total_flops() == 2 * B * H * 4 * H, (packed.packed, counter.get_total_flops())


if __name__ == "__main__":
    check_lstm_flop_formulas()
    print("LSTM FLOP formulas: oneDNN's and cuDNN's counts agree, and the packed matmul's")
