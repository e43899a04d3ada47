"""Errors a user can fix end a command with one line, `PROG: error: MESSAGE`, and exit status 1
(`one_line_excepthook`, installed by the commands); HYBRID_VAE_TRACEBACK=1 shows the traceback.
"""

import os
import sys
from typing import Callable, List, Optional

from hydra.errors import HydraException
from omegaconf.errors import ConfigKeyError, ValidationError


class InputError(ValueError):
    """Bad input: the message names the problem and what to do."""


class MissingInputError(InputError, FileNotFoundError):
    """A file or split that should exist does not."""


# The one-line messages that other modules give for errors of their own, registered by them (a lost
# rank: launchers.py), so that this module imports none of them.
MESSAGES_OF_OTHER_MODULES: List[Callable[[BaseException], Optional[str]]] = []


def one_line_message(error: BaseException) -> Optional[str]:
    """The line to show for an error a user can fix, or None for a bug (keep the traceback)."""
    text = " ".join(str(error).split())
    if isinstance(error, InputError):
        return text
    if isinstance(error, OSError) and (error.filename or text.startswith("Model file not found")):
        return wrong_path(error, text)
    if isinstance(error, AssertionError) and "--" in text:
        return text  # fairseq's own checks of its options, e.g. "--sampling requires --nbest ..."
    # hybrid-vae-hydra-train's config: a bad value or key (a ConfigAttributeError, code reading a key
    # that is not there, is a bug: its traceback is kept)
    if isinstance(error, (ValidationError, ConfigKeyError, HydraException)):
        return config_error(error)
    if isinstance(error, FloatingPointError):
        return (f"training stopped: the loss or its gradients became NaN or inf ({text}); the "
                "checkpoints written before are intact (resume from checkpoint_last.pt), crash.pt holds "
                "the state at the failure; lower --lr, add --clip-norm, or train in fp32")
    for message_of in MESSAGES_OF_OTHER_MODULES:
        message = message_of(error)
        if message is not None:
            return message
    if text.startswith("Cannot load model parameters from checkpoint"):
        return (f"{text} The checkpoint was written by another --arch, --lstm-cell or model sizes: train "
                "into a new --save-dir, or pass the options the checkpoint was trained with")
    return None


def config_error(error: Exception) -> str:
    """A config value or override that omegaconf or hydra refused, in one line: omegaconf's message and
    key; hydra's message with its cause (e.g. a key not in the config) before its advice."""
    if isinstance(error, (ValidationError, ConfigKeyError)):
        key = getattr(error, "full_key", None)
        return str(error).strip().splitlines()[0] + (f" (config key {key})" if key else "")
    first, *advice = str(error).strip().splitlines()
    cause = str(error.__cause__).strip().splitlines()[0] if error.__cause__ else ""
    return " ".join([first.rstrip(".") + (f" ({cause})." if cause else ""), *advice])


# What an OS error about a path means for the user, by its kind.
PATH_ERRORS = {
    IsADirectoryError: "is a folder: give a file",
    NotADirectoryError: "runs through a file where a folder is needed: give another path",
    FileExistsError: "exists and is not a folder: give a folder to write into, or move the file away",
    PermissionError: "is not readable or writable by you: choose another path or fix its permissions",
    FileNotFoundError: "does not exist: check the path",
}


def wrong_path(error: OSError, text: str) -> str:
    """A path of the wrong kind (a folder for a file, a file for a folder, missing, not writable)."""
    if error.filename is None:  # fairseq's "Model file not found: PATH"
        return f"{text}: check --path (a checkpoint file, e.g. checkpoints/checkpoint_best.pt)"
    what = next((why for kind, why in PATH_ERRORS.items() if isinstance(error, kind)), error.strerror)
    return f"{error.filename} {what}"


def one_line(error: BaseException) -> Optional[str]:
    """`PROG: error: MESSAGE` for an error a user can fix; None for a bug, or with HYBRID_VAE_TRACEBACK."""
    message = one_line_message(error)
    if message is None or os.environ.get("HYBRID_VAE_TRACEBACK"):
        return None
    return f"{os.path.basename(sys.argv[0]) or 'python'}: error: {message}"


def one_line_excepthook(kind, error, traceback) -> None:
    line = one_line(error)
    if line is None:
        sys.__excepthook__(kind, error, traceback)
    else:
        print(line, file=sys.stderr)
