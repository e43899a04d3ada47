"""The few values of fairseq's own options that fairseq accepts and then misleads or loses work with.

fairseq checks its own options; most bad values end its commands with a traceback before any work
(`--update-freq 0`, `--seed -1`, `--batch-size` of text). These are the exceptions, checked before a
command starts (full_help.parse_args_and_arch, launchers.call_main); docs/reliability.md lists them:
- `--lr 0`: every update is computed and nothing is learned, for the whole run;
- `--clip-norm` below 0: fairseq clips only above 0, so a negative norm turns clipping off silently;
- `--save-dir` naming a file: fairseq fails at its first checkpoint, after the training before it.
"""

from typing import Any, Iterator, Tuple

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
    """Raise InputError for the first of FAIRSEQ_RANGES out of range (a parsed command line or a config)."""
    for name, value in fairseq_values(cfg):
        if name not in FAIRSEQ_RANGES or isinstance(value, str):  # str: an interpolation
            continue
        complaint = out_of_range(name, value, FAIRSEQ_RANGES[name])  # --lr is a list: item by item
        if complaint:
            raise InputError(complaint)


def check_paths(cfg: DictConfig) -> None:
    """fairseq's path options of the right kind (at the start of training or validation)."""
    for group, name, kind in FAIRSEQ_PATHS:
        value = getattr(getattr(cfg, group, None), name, None)
        complaint = wrong_kind(value, kind) if value else None
        if complaint:
            raise InputError(f"{option_name(name)} {complaint}")
