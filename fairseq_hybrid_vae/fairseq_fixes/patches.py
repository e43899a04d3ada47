"""Every change the hybrid-vae-* commands make to fairseq, torch and Python, in one place, each with its
reason. A command applies them where it starts (`patch_for_the_command_line`, cli/commands.py and the
plugin's own commands); importing the package applies none of them, so fairseq's own commands with
--user-dir behave as fairseq does. The Python API uses the checkpoint errors for the length of a load
only (`command_line_patches`). Checked against torch 2.13.0 and fairseq 0.12.3.1 (fairseq-fixed, the
0.12.2 code for Python 3.11).
"""

import sys
from contextlib import contextmanager
from typing import Iterator, List, Sequence, Tuple

from fairseq import checkpoint_utils, options
from fairseq.distributed import utils as distributed_utils
from fairseq.file_io import PathManager

from ..common import errors
from . import checkpoint_safety, full_help, launchers


def command_line_replacements() -> List[Tuple[object, str, object]]:
    """(owner, attribute, replacement): what a user of the commands sees.

    - sys.excepthook: an error the user can fix (bad data, options or checkpoint) ends the command
      with one line and exit status 1, not a traceback (errors.py);
    - checkpoint_utils.load_checkpoint_to_cpu: a checkpoint refused by the safe loader, missing,
      truncated or corrupt is one line naming the file (checkpoint_safety.py);
    - PathManager.copy: fairseq copies the update's checkpoint to checkpoint_last.pt / _best.pt with a
      plain copy, so a job killed mid-copy left a truncated checkpoint_last.pt; the copy now appears
      complete or not at all (checkpoint_safety.atomic_copy);
    - options.parse_args_and_arch: `--help` lists the task, model and criterion options, which
      fairseq's first parsing pass never adds, and fairseq's own numeric options out of range are one
      line before anything starts (full_help.py, fairseq_options.py);
    - distributed_utils.broadcast_object: a resume on several ranks sends rank 0's checkpoint state to
      the others through torch.load, whose safe loader refused its OmegaConf config on every other rank
      (checkpoint_safety.broadcast_object);
    - distributed_utils.call_main: under torchrun or srun, fairseq 0.12 trained every process alone when
      --distributed-world-size was 1 (its default on CPUs and one-GPU nodes) and crashed on CPU with
      more; the launcher's world is now adopted, or the run refused with the flag to add (launchers.py).
    """
    return [
        (sys, "excepthook", errors.one_line_excepthook),
        (checkpoint_utils, "load_checkpoint_to_cpu", checkpoint_safety.load_checkpoint_to_cpu),
        (PathManager, "copy", staticmethod(checkpoint_safety.atomic_copy)),
        (options, "parse_args_and_arch", full_help.parse_args_and_arch),
        (distributed_utils, "broadcast_object", checkpoint_safety.broadcast_object),
        (distributed_utils, "call_main", launchers.call_main),
    ]


def patch_for_the_command_line() -> None:
    """Apply command_line_replacements() for the rest of the process (idempotent)."""
    for owner, name, replacement in command_line_replacements():
        setattr(owner, name, replacement)


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
