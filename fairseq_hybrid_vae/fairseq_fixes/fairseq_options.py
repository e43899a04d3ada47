"""The few values of fairseq's own options that fairseq accepts and then misleads or loses work with:
`--lr 0` (nothing learned, the whole run), `--clip-norm` below 0 (clipping silently off), and a
`--save-dir` that is a file (fails at the first checkpoint). docs/reliability.md says why only these.
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
