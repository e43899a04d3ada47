"""torch.compile for the elementwise chains that cost more than their matmuls on a CPU, with a fallback:
where compiling is off (`HYBRID_VAE_COMPILE=0`, `TORCHDYNAMO_DISABLE=1`) or fails (no C++ compiler, a
platform inductor lacks), the function runs as it is.
"""

import logging
import os
from typing import Callable, Dict, Tuple

import torch

logger = logging.getLogger(__name__)


class CompiledOrEager:
    """`fn` compiled by torch.compile; where its first call fails to compile, `fn` itself from then on."""

    def __init__(self, fn: Callable, device_type: str):
        self.fn, self.device_type = fn, device_type
        self.compiled: Callable | None = torch.compile(fn, dynamic=None)
        self.proven = False  # one call ran compiled

    def __call__(self, *args):
        if self.compiled is None:
            return self.fn(*args)
        if self.proven:
            return self.compiled(*args)
        try:
            result = self.compiled(*args)
        except Exception as error:  # compiling failed: no C++ compiler, a platform inductor lacks ...
            self.compiled = None
            compile_failed(self.device_type, error)
            return self.fn(*args)  # a fault of the function itself raises here again
        self.proven = True
        return result


_COMPILED: Dict[Tuple[Callable, str], CompiledOrEager] = {}  # per function and device type
_FAILED: set = set()  # device types where compiling failed


def compile_wanted(device_type: str) -> bool:
    """Off with HYBRID_VAE_COMPILE=0, where torch's TORCHDYNAMO_DISABLE=1 turns compiling off, or after
    compiling failed once on this device type."""
    return (os.environ.get("HYBRID_VAE_COMPILE", "1") != "0" and not torch._dynamo.config.disable
            and device_type not in _FAILED)


def compiled(fn: Callable, device_type: str) -> Callable:
    """`fn` compiled for this device type (once per process), or `fn` where compiling is not wanted."""
    if not compile_wanted(device_type):
        return fn
    if (fn, device_type) not in _COMPILED:
        _COMPILED[fn, device_type] = CompiledOrEager(fn, device_type)
    return _COMPILED[fn, device_type]


def compile_failed(device_type: str, error: Exception) -> None:
    """Run eagerly on this device type for the rest of the process, saying so once."""
    if device_type not in _FAILED:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        logger.warning(f"torch.compile failed on {device_type} ({type(error).__name__}: {first_line}); the "
                       "LSTM cell and the ByteNet blocks train without it (slower; HYBRID_VAE_COMPILE=0 "
                       "skips the try)")
    _FAILED.add(device_type)
