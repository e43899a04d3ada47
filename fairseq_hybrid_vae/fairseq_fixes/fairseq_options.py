"""The few values of fairseq's own options that fairseq accepts and then misleads or loses work with:
`--lr 0` (nothing learned, the whole run), `--clip-norm` below 0 (clipping silently off), a
`--save-dir` that is a file (fails at the first checkpoint), a missing `--restore-file` (trains from
scratch over the save dir), a `--best-checkpoint-metric` the criterion does not log and
`--combine-valid-subsets` beside other subsets (each fails at the first validation, before any
checkpoint), training precisions the machine does not have (a traceback about CUDA or torch_xla), and
`--post-process` (text without its spaces). docs/reliability.md says why only these.
"""

import importlib.util
import os
from typing import Any, Iterator, Tuple

import torch
from fairseq.criterions import CRITERION_REGISTRY
from omegaconf import DictConfig, OmegaConf

from ..common.errors import InputError
from ..common.option_ranges import NON_NEGATIVE, POSITIVE, option_name, out_of_range, wrong_kind

FAIRSEQ_RANGES = {"lr": POSITIVE, "clip_norm": NON_NEGATIVE}  # fairseq's names (its command line is flat)
FAIRSEQ_GROUPS = ("optimization",)  # where they live in a config
FAIRSEQ_PATHS = [("checkpoint", "save_dir", "output folder")]  # (config group, option, kind)


def fairseq_values(cfg: Any) -> Iterator[Tuple[str, Any]]:
    """(name, value) of fairseq's options: an argparse Namespace is flat; a config has groups."""
    if not isinstance(cfg, DictConfig):
        yield from vars(cfg).items()
        return
    for group in FAIRSEQ_GROUPS:
        if cfg.get(group) is not None:  # an interpolation (e.g. `lr: ${optimization.lr}`) stays text
            yield from OmegaConf.to_container(cfg[group], resolve=False).items()


def check_fairseq_options(cfg: Any) -> None:
    """Raise InputError for the first of FAIRSEQ_RANGES out of range (a parsed command line or a config),
    or a --post-process: fairseq applies it to the units before the task's sentencepiece decoder, which
    then reads words as units ("sentencepiece" printed every S-/D- line without its spaces)."""
    for name, value in fairseq_values(cfg):
        if name == "post_process" and value:
            raise InputError(f"--post-process {value.strip()} (or --remove-bpe): the task already turns "
                             "units into text with the data's sentencepiece model, and fairseq's "
                             "post-processing before it garbles that text (sentencepiece: every space lost): "
                             "drop the option")
        if name not in FAIRSEQ_RANGES or isinstance(value, str):  # str: an interpolation
            continue
        complaint = out_of_range(name, value, FAIRSEQ_RANGES[name])  # --lr is a list: item by item
        if complaint:
            raise InputError(complaint)


RESUME_FROM_SAVE_DIR = "checkpoint_last.pt"  # --restore-file's default: SAVE_DIR/checkpoint_last.pt, if any


def check_paths(cfg: DictConfig) -> None:
    """fairseq's path options of the right kind (at the start of training or validation), and a
    --restore-file that exists: fairseq trained from scratch after one INFO line where it did not, and
    wrote the untrained model over --save-dir's checkpoint_best.pt at its first validation."""
    for group, name, kind in FAIRSEQ_PATHS:
        value = getattr(getattr(cfg, group, None), name, None)
        complaint = wrong_kind(value, kind) if value else None
        if complaint:
            raise InputError(f"{option_name(name)} {complaint}")
    restore = getattr(getattr(cfg, "checkpoint", None), "restore_file", RESUME_FROM_SAVE_DIR)
    if restore != RESUME_FROM_SAVE_DIR and not os.path.isfile(restore):
        what = "a folder" if os.path.isdir(restore) else "missing"
        raise InputError(f"--restore-file {restore} is {what}: fairseq would train from scratch over "
                         "--save-dir's checkpoints; give the checkpoint file (without the option a run "
                         "resumes from SAVE_DIR/checkpoint_last.pt)")


def check_best_checkpoint_metric(cfg: DictConfig) -> None:
    """A --best-checkpoint-metric that the criterion logs (its VALIDATION_METRICS): fairseq reads it
    only after the first validation, where another name ended the run in a KeyError with nothing saved."""
    metric, criterion = cfg.checkpoint.best_checkpoint_metric, cfg.criterion.get("_name")
    logged = getattr(CRITERION_REGISTRY.get(criterion), "VALIDATION_METRICS", None)
    if logged and metric not in logged and not cfg.dataset.disable_validation:
        raise InputError(f"--best-checkpoint-metric {metric} is not a validation metric of {criterion}: "
                         f"choose one of {', '.join(logged)} (for IW-NLL, run hybrid-vae-eval on the "
                         "checkpoints)")


def check_combined_valid_subsets(cfg: DictConfig) -> None:
    """--combine-valid-subsets with --valid-subset other than valid: fairseq then loads 'valid' alone and
    validates each listed subset, a KeyError at the first validation, with nothing saved."""
    subsets = cfg.dataset.valid_subset
    if cfg.dataset.combine_valid_subsets and subsets != "valid" and not cfg.dataset.disable_validation:
        raise InputError(f"--combine-valid-subsets loads the split 'valid' alone, not --valid-subset "
                         f"{subsets}: drop --combine-valid-subsets (each subset is then validated alone)")


# fairseq's training precisions for a CUDA GPU only (the memory-efficient flag first: it sets --fp16 too):
# on a CPU, --fp16 ends in "Torch not compiled with CUDA enabled" (a CPU build), --amp trains in fp32
# after a warning.
GPU_PRECISIONS = ("memory_efficient_fp16", "fp16", "amp")
# fairseq's bf16 training, which sets --tpu: without torch_xla its trainer fails on `xm.xla_device`.
TPU_PRECISIONS = ("memory_efficient_bf16", "bf16", "tpu")
BF16_HERE = "add --bf16-autocast (the task's bf16 autocast, fp32 weights) where the device has bf16 units"


def check_training_precision(cfg: DictConfig) -> None:
    """fairseq's precision flags that cannot train on this machine, refused before the model is built."""
    common = cfg.common
    on_tpu = next((name for name in TPU_PRECISIONS if common.get(name)), None)
    if on_tpu and importlib.util.find_spec("torch_xla") is None:
        raise InputError(f"{option_name(on_tpu)} is fairseq's training on a TPU, which needs torch_xla: "
                         f"for bf16 here, drop it and {BF16_HERE}")
    on_gpu = next((name for name in GPU_PRECISIONS if common.get(name)), None)
    if on_gpu and (common.cpu or not torch.cuda.is_available()):
        raise InputError(f"{option_name(on_gpu)} trains in fp16 on a CUDA GPU and this run is on a CPU: "
                         f"drop it, or {BF16_HERE}")
