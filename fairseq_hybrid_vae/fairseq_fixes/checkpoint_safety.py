"""Checkpoints read with torch's safe loader and written whole (docs/reliability.md).

Reading: a refused or unreadable checkpoint is one error naming the file. Resuming on several ranks:
configs travel as plain containers, which the safe loader accepts. Writing: fairseq's copies to
checkpoint_last.pt / _best.pt go through a temporary file and a rename, so they are never partial.
"""

import argparse
import os
import pickle
import re
import shutil
import traceback
from typing import Any, Optional

import torch
from fairseq import checkpoint_utils
from fairseq.distributed import utils as distributed_utils
from fairseq.file_io import PathManager
from omegaconf import DictConfig, ListConfig, OmegaConf

from ..common.atomic import atomic_path
from ..common.errors import InputError, MissingInputError

# What fairseq checkpoints hold beyond containers, numbers and tensors: a legacy argparse config; and
# the placeholder (an int) that stands for each tensor when fairseq sends a loaded checkpoint to the
# other ranks on resume.
SAFE_CHECKPOINT_GLOBALS = [argparse.Namespace, distributed_utils._TensorPlaceholder]


def allowlist_checkpoint_types() -> None:
    """torch >= 2.6 unpickles checkpoints with an allowlist of types (weights_only=True), so loading
    one cannot run code; fairseq's checkpoints need exactly these types on it."""
    torch.serialization.add_safe_globals(SAFE_CHECKPOINT_GLOBALS)


class CheckpointError(InputError):
    """A checkpoint that cannot be loaded safely or at all."""


_fairseq_load_checkpoint_to_cpu = checkpoint_utils.load_checkpoint_to_cpu


def load_checkpoint_to_cpu(path, arg_overrides=None, load_on_all_ranks=False):
    if not os.path.exists(path) and not PathManager.path_requires_pathmanager(path):
        raise MissingInputError(f"no checkpoint at {path}: check --path / --restore-file")
    try:
        state = _fairseq_load_checkpoint_to_cpu(path, arg_overrides, load_on_all_ranks)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+)", str(err))
        if not found:  # not a refused type: the bytes themselves are broken
            raise corrupt_checkpoint(path, err) from None
        raise CheckpointError(
            f"refused to load {path}: it holds {found.group(1)}, which could run code when unpickled; "
            "fairseq checkpoints hold only tensors and plain data, so this file was not written "
            "by fairseq-train: use a checkpoint from a source you trust"
        ) from None
    except Exception as err:  # broken bytes fail in many ways (EOFError, UnicodeDecodeError, ...)
        if not raised_while_unpickling(err):
            raise
        raise corrupt_checkpoint(path, err) from None
    return state


TORCH_LOAD_FILES = {"serialization.py", "_weights_only_unpickler.py"}


def raised_while_unpickling(err: BaseException) -> bool:
    """Whether the error came from inside torch.load (zipfile's too: torch.load is on its stack), not
    from fairseq's use of what it returned."""
    return any(
        os.path.basename(frame.filename) in TORCH_LOAD_FILES and f"torch{os.sep}" in frame.filename
        for frame in traceback.extract_tb(err.__traceback__)
    )


def corrupt_checkpoint(path: str, err: Exception) -> CheckpointError:
    size = os.path.getsize(path) if os.path.exists(path) else 0
    reason = " ".join(str(err).split())[:100]
    return CheckpointError(
        f"{path} is truncated or corrupt ({size:,} bytes; torch says: {reason}): use an intact "
        "checkpoint (checkpoint_last.pt is replaced atomically; checkpoint_EPOCH_UPDATES.pt files too)"
    )


_fairseq_copy = PathManager.copy


def atomic_copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
    """PathManager.copy, but a local destination appears complete or not at all."""
    if PathManager.path_requires_pathmanager(dst_path) or (os.path.exists(dst_path) and not overwrite):
        return _fairseq_copy(src_path, dst_path, overwrite)
    with atomic_path(dst_path) as partial:
        shutil.copyfile(src_path, partial)
    return True


_fairseq_broadcast_object = distributed_utils.broadcast_object
# Marks a config sent as a plain container, to be rebuilt as an OmegaConf config on arrival.
CONFIG_TAG = "__fairseq_hybrid_vae_omegaconf__"


def broadcast_object(
    obj: Any, src_rank: int, group: object, dist_device: Optional[torch.device] = None
) -> Any:
    """fairseq's broadcast_object, with OmegaConf configs sent in a form the safe loader accepts."""
    if distributed_utils.get_rank(group) == src_rank:
        obj = configs_as_containers(obj)
    return configs_rebuilt(_fairseq_broadcast_object(obj, src_rank, group, dist_device))


def configs_as_containers(obj: Any) -> Any:
    if isinstance(obj, (DictConfig, ListConfig)):
        return {CONFIG_TAG: OmegaConf.to_container(obj, resolve=False)}
    if isinstance(obj, dict):
        return type(obj)((key, configs_as_containers(value)) for key, value in obj.items())
    if type(obj) in (list, tuple):
        return type(obj)(configs_as_containers(value) for value in obj)
    return obj


def configs_rebuilt(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {CONFIG_TAG}:
            return OmegaConf.create(obj[CONFIG_TAG])
        return type(obj)((key, configs_rebuilt(value)) for key, value in obj.items())
    if type(obj) in (list, tuple):
        return type(obj)(configs_rebuilt(value) for value in obj)
    return obj
