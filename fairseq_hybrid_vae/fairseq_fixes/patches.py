"""Every change the hybrid-vae-* commands make to fairseq, torch and Python, each with its reason.

Applied where a command starts (`patch_for_the_command_line`); importing the package applies none, so
fairseq's own commands with --user-dir behave as fairseq does. Checked against fairseq 0.12.3.1.
"""

import os
import sys
from contextlib import contextmanager
from typing import Iterator, List, Sequence, Tuple

from fairseq import checkpoint_utils, options, trainer
from fairseq.distributed import utils as distributed_utils
from fairseq.file_io import PathManager
from fairseq_cli import generate

from ..common import errors
from . import checkpoint_safety, ema, full_help, hydra_job, launchers


def command_line_replacements() -> List[Tuple[object, str, object]]:
    """(owner, attribute, replacement), each with the upstream behaviour it changes (docs/reliability.md)."""
    return [
        # An error the user can fix is one line and exit status 1, not a traceback.
        (sys, "excepthook", errors.one_line_excepthook),
        # A refused, missing, truncated or corrupt checkpoint is one line naming the file.
        (checkpoint_utils, "load_checkpoint_to_cpu", checkpoint_safety.load_checkpoint_to_cpu),
        # fairseq copies checkpoint_last.pt with a plain copy: a kill mid-copy truncated it.
        (PathManager, "copy", staticmethod(checkpoint_safety.atomic_copy)),
        # --help lists the task's, model's and criterion's options; misleading fairseq values refused.
        (options, "parse_args_and_arch", full_help.parse_args_and_arch),
        # A multi-rank resume sent an OmegaConf config that the safe loader refused on every other rank.
        (distributed_utils, "broadcast_object", checkpoint_safety.broadcast_object),
        # Under torchrun or srun fairseq 0.12 trained each process alone: the launcher's world adopted.
        (distributed_utils, "call_main", launchers.call_main),
        # fairseq-generate opens its --results-path file before loading the model: a refusal left it empty.
        (generate, "main", launchers.generate_main),
        # --store-ema failed at the first update on BatchNorm's integer counters.
        (trainer, "build_ema", ema.build_ema),
    ]


def patch_for_the_command_line(hydra: bool = False) -> None:
    """Apply command_line_replacements() for the rest of the process (idempotent); with `hydra`, also
    wrap hydra-train's job (once, where that command starts)."""
    for owner, name, replacement in command_line_replacements():
        setattr(owner, name, replacement)
    if hydra:  # imported here alone: hydra warns of fairseq_cli.hydra_train's decorator at its import
        from fairseq_cli import hydra_train

        # A refused job printed hydra's "Error executing job" line and left .hydra/ and its log behind.
        hydra_train._hydra_main = hydra_job.refused_in_one_line(hydra_train._hydra_main, os.listdir())


@contextmanager
def command_line_patches(only: Sequence[str] = ()) -> Iterator[None]:
    """command_line_replacements() (those named in `only`, or all) for the length of a block: the
    Python API's checkpoint loads, and tests that run a command in-process."""
    chosen = [r for r in command_line_replacements() if not only or r[1] in only]
    originals = [(owner, name, vars(owner)[name]) for owner, name, _ in chosen]
    try:
        for owner, name, replacement in chosen:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
