"""Keep torch's safe checkpoint loader (weights_only=True) working for fairseq checkpoints.

torch >= 2.6 unpickles checkpoints with an allowlist of types, so a checkpoint cannot run code when
it is loaded. fairseq checkpoints hold containers, numbers and tensors, and (when written from a
legacy argparse config) an argparse.Namespace: exactly that is allowlisted here. fairseq-train
(resume), fairseq-generate, fairseq-validate and the Python API all load through
`checkpoint_utils.load_checkpoint_to_cpu`; it is wrapped so a refused or unreadable checkpoint is one
clear error naming the file, instead of torch's long unpickling message.
"""

import argparse
import pickle
import re

import torch
from fairseq import checkpoint_utils

SAFE_CHECKPOINT_GLOBALS = [argparse.Namespace]

torch.serialization.add_safe_globals(SAFE_CHECKPOINT_GLOBALS)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded safely or at all."""


_fairseq_load_checkpoint_to_cpu = checkpoint_utils.load_checkpoint_to_cpu


def load_checkpoint_to_cpu(path, arg_overrides=None, load_on_all_ranks=False):
    try:
        return _fairseq_load_checkpoint_to_cpu(path, arg_overrides, load_on_all_ranks)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+)", str(err))
        what = found.group(1) if found else "an object that is not plain data"
        raise CheckpointError(
            f"refused to load {path}: it holds {what}, which could run code when unpickled; "
            "fairseq checkpoints hold only tensors and plain data, so this file was not written "
            "by fairseq-train: use a checkpoint from a source you trust"
        ) from None


checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu
