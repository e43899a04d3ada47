"""Registered models; fairseq's --user-dir also imports every file here."""

import argparse
from types import SimpleNamespace

import torch.nn as nn
from fairseq.data import Dictionary
from fairseq.dataclass import FairseqDataclass
from fairseq.models import (
    ARCH_CONFIG_REGISTRY,
    ARCH_MODEL_NAME_REGISTRY,
    ARCH_MODEL_REGISTRY,
    MODEL_DATACLASS_REGISTRY,
)

from . import hybrid_vae, lstm_vae, window_lm  # noqa: F401


def arch_config(arch: str, **options) -> FairseqDataclass:
    """The model config that `--arch ARCH` gives, with `options` as if given on the command line
    (sample_size among them): what tests and benchmarks build presets from."""
    args = argparse.Namespace(**options)
    ARCH_CONFIG_REGISTRY[arch](args)
    return MODEL_DATACLASS_REGISTRY[ARCH_MODEL_NAME_REGISTRY[arch]].from_namespace(args)


def build_arch(arch: str, dictionary: Dictionary, **options) -> nn.Module:
    """The model `--arch ARCH` builds for this dictionary, outside a training run."""
    task = SimpleNamespace(target_dictionary=dictionary)
    return ARCH_MODEL_REGISTRY[arch].build_model(arch_config(arch, **options), task)
