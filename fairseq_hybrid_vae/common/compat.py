"""Which fairseq and torch the plugin runs with, checked before anything imports them; bf16 support;
glibc's malloc kept from returning what CPU training frees.

The plugin asks for the import package `fairseq`, not a distribution: fairseq 0.12 comes as `fairseq`,
`fairseq-fixed` (Python 3.11/3.12) or a source checkout (docs/install.md).
"""

import ctypes
import importlib.util
import logging
import os
import platform
import sys
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

# fairseq: 0.12.x (the plugin subclasses its 0.12 task, model, criterion and checkpoint code).
FAIRSEQ_SUPPORTED = ((0, 12), (0, 13))  # [lowest, first unsupported)
# torch: 2.6 is the first whose torch.load defaults to the safe unpickler the plugin's loads rely on.
TORCH_LOWEST = (2, 6)
# Without --no-deps, fairseq-fixed's torchaudio requirement would replace the user's torch.
INSTALL_FAIRSEQ = ("pip install --no-deps fairseq-fixed==0.12.3.1 (fairseq 0.12 for Python 3.11 and "
                   "3.12) && pip install bitarray sacrebleu regex scikit-learn cffi; or fairseq 0.12 "
                   "from its source")


# The processor flags (Linux /proc/cpuinfo) of bf16 matrix instructions: without one, bf16 autocast
# on a CPU runs converted fp32 kernels, slower than fp32 itself.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")

# glibc's malloc, kept from handing back what a training update frees (keep_freed_memory): mallopt's
# parameter numbers (malloc.h) and the values set.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEPT_MMAP_THRESHOLD = 32 * 2 ** 20  # blocks under 32 MiB from the heap (as high as glibc's own goes)
KEPT_TRIM_THRESHOLD = 2 ** 30  # free memory at the top of the heap kept up to 1 GiB, not returned
# Set by the user (glibc's own variables, or another allocator preloaded): left as they are.
MALLOC_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")


class UnsupportedStack(ImportError):
    """fairseq or torch missing, or a version the plugin does not run with."""


def major_minor(version: str) -> Tuple[int, int]:
    """'0.12.3.1' -> (0, 12); '2.13.0+cpu' -> (2, 13)."""
    parts = version.split("+")[0].split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


def installed_version(package: str, distributions: Tuple[str, ...]) -> Optional[str]:
    """The version of an import package, read without importing it (fairseq's import takes seconds
    and fails on some stacks): its version.txt, or the first of `distributions` installed; None when
    the package is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    folder = (spec.submodule_search_locations or [os.path.dirname(spec.origin or "")])[0]
    version_file = os.path.join(folder, "version.txt")  # fairseq's own record of its version
    if os.path.isfile(version_file):
        with open(version_file) as f:
            return f.read().strip()
    from importlib import metadata

    for distribution in distributions:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def stack_problem() -> Optional[str]:
    """One line naming what is missing or unsupported, with the fix; None when the stack is fine."""
    fairseq = installed_version("fairseq", ("fairseq", "fairseq-fixed"))
    if fairseq is None:
        return f"fairseq is not installed: {INSTALL_FAIRSEQ}"
    lowest, too_new = FAIRSEQ_SUPPORTED
    if fairseq != "unknown" and not lowest <= major_minor(fairseq) < too_new:
        return (f"fairseq {fairseq} is installed; the plugin runs with fairseq 0.12 only: "
                f"{INSTALL_FAIRSEQ}")
    torch = installed_version("torch", ("torch",))
    if torch is None or (torch != "unknown" and major_minor(torch) < TORCH_LOWEST):
        found = "torch is not installed" if torch is None else f"torch {torch} is installed"
        return (f"{found}; the plugin needs torch >= {'.'.join(map(str, TORCH_LOWEST))}: "
                "pip install 'torch>=2.6'")
    return None


def check_stack() -> None:
    """Raise UnsupportedStack when stack_problem() finds one. Uncaught (a command), it ends the
    process with the line alone, exit status 1: no traceback through the plugin's imports."""
    problem = stack_problem()
    if problem is None:
        return
    previous = sys.excepthook

    def one_line(kind, error, traceback):
        if isinstance(error, UnsupportedStack):
            print(f"fairseq-hybrid-vae: error: {error}", file=sys.stderr)  # exit status 1 follows
            return
        previous(kind, error, traceback)

    sys.excepthook = one_line
    raise UnsupportedStack(problem)


@contextmanager
def logging_left_alone() -> Iterator[None]:
    """The root logger as it was before the block: importing fairseq 0.12 runs
    logging.basicConfig(level=DEBUG) (models/wav2vec/wav2vec2_classification.py), after which every
    library's DEBUG lines print in a user's script or notebook. A user's own configuration (basicConfig
    before the import) is kept: fairseq's call then adds nothing. The commands set fairseq's logging
    themselves (cli/commands.py)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


def cpu_info(field: str) -> str:
    """A field of the first processor in /proc/cpuinfo ("" where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line for line in f if line.split(":", 1)[0].strip() == field).split(":", 1)[1].strip()
    except (OSError, StopIteration):
        return ""


def cpu_flags() -> set:
    """The processor's feature flags."""
    return set(cpu_info("flags").split())


def why_not_bf16(device_type: str) -> Optional[str]:
    """Why bf16 autocast would not speed up this device, or None when it has bf16 matrix units."""
    if device_type == "cuda":
        import torch

        if not torch.cuda.is_bf16_supported():
            return f"{torch.cuda.get_device_name()} has no bf16 support"
        return None
    if device_type == "cpu" and not set(CPU_BF16_FLAGS) & cpu_flags():
        return f"this processor has no bf16 matrix instructions ({' or '.join(CPU_BF16_FLAGS)})"
    return None


def keep_freed_memory() -> Optional[str]:
    """Where malloc is glibc's, keep the memory a training update (or a batch encoded) frees for the
    next one instead of returning it to the system: on a CPU each frees and takes back tensors of a few
    MB, and by default glibc returns part of them and faults them in again, page by page
    (docs/benchmarks.md).
    Returns a line for the log, or None where nothing was changed: HYBRID_VAE_KEEP_MEMORY=0, the user's
    own malloc settings or allocator, another C library."""
    preloaded = os.environ.get("LD_PRELOAD", "")
    if (os.environ.get("HYBRID_VAE_KEEP_MEMORY", "1") == "0" or any(v in os.environ for v in MALLOC_SETTINGS)
            or "malloc" in preloaded or platform.libc_ver()[0] != "glibc"):
        return None
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    kept = [mallopt(M_MMAP_THRESHOLD, KEPT_MMAP_THRESHOLD), mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD)]
    if not all(kept):  # mallopt returns 1 where it took the value
        return None
    return ("on a CPU: glibc's malloc keeps freed memory for reuse (blocks under 32 MiB from "
            "its heap, up to 1 GiB of it kept); HYBRID_VAE_KEEP_MEMORY=0 leaves it as it was")
