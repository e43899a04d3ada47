"""Task `text_vae`: fixed-length samples of L units for training and evaluating text VAEs."""

import logging
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from fairseq import utils
from fairseq.data import Dictionary, data_utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II

from ..data import LineDataset, WindowDataset

logger = logging.getLogger(__name__)


@dataclass
class TextVAEConfig(FairseqDataclass):
    data: Optional[str] = field(
        default=None,
        metadata={"help": "data directory written by hybrid-vae-prepare: "
                  "{train,valid,test}.{bin,idx}, dict.txt, spm.model"},
    )
    sample_size: int = field(
        default=60, metadata={"help": "units (characters or subwords) per sample: L"}
    )
    sample_mode: ChoiceEnum(["window", "line"]) = field(
        default="window",
        metadata={"help": "window: fixed-length windows of the corpus as one stream (PTB); "
                  "line: one line per sample, EOS then padding to L (tweets)"},
    )
    windows_per_epoch: int = field(
        default=64000,
        metadata={"help": "window mode: random training windows per epoch (the authors: 1000 "
                  "batches of 64); redrawn every epoch from --seed"},
    )
    long_lines: ChoiceEnum(["drop", "truncate"]) = field(
        default="drop",
        metadata={"help": "line mode: lines longer than L units (EOS included) are dropped or "
                  "truncated to L"},
    )
    seed: int = II("common.seed")


@register_task("text_vae", dataclass=TextVAEConfig)
class TextVAETask(FairseqTask):
    """Random windows (or lines) for training; every unit of valid/test scored exactly once."""

    def __init__(self, cfg: TextVAEConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary

    @classmethod
    def setup_task(cls, cfg: TextVAEConfig, **kwargs):
        paths = utils.split_paths(cfg.data or "")
        dict_path = os.path.join(paths[0], "dict.txt") if paths else "dict.txt"
        if not os.path.isfile(dict_path):
            raise FileNotFoundError(
                f"no dictionary at {dict_path}: pass the data directory written by "
                "hybrid-vae-prepare (it holds dict.txt, spm.model and the binarized splits)"
            )
        dictionary = Dictionary.load(dict_path)
        logger.info(f"dictionary: {len(dictionary)} types")
        return cls(cfg, dictionary)

    def load_dataset(self, split: str, epoch: int = 1, combine: bool = False, **kwargs):
        paths = utils.split_paths(self.cfg.data)  # several directories: one per epoch, in turn
        data_dir = paths[(epoch - 1) % len(paths)]
        prefix = os.path.join(data_dir, split)
        lines = data_utils.load_indexed_dataset(prefix, self.dictionary)
        if lines is None:
            raise FileNotFoundError(
                f"split '{split}' not found: no {prefix}.bin/.idx; prepare it with "
                "hybrid-vae-prepare or choose another split (--valid-subset / --gen-subset)"
            )
        L, pad, bos = self.cfg.sample_size, self.dictionary.pad(), self.dictionary.bos()
        training = split == "train"
        if self.cfg.sample_mode == "window":
            stream = np.concatenate([lines[i].numpy() for i in range(len(lines))])
            num_windows = self.cfg.windows_per_epoch if training else None
            dataset = WindowDataset(stream, L, pad, bos, num_windows, self.cfg.seed, epoch)
            logger.info(f"{split}: {len(stream)} units, {len(dataset)} windows of {L}")
        else:
            seed = self.cfg.seed if training else None
            dataset = LineDataset(lines, L, pad, bos, self.cfg.long_lines, shuffle_seed=seed)
            dataset.set_epoch(epoch)
            logger.info(
                f"{split}: {len(dataset)} lines of at most {L} units "
                f"({dataset.num_dropped} longer lines dropped, {dataset.num_truncated} truncated)"
            )
        if len(dataset) == 0:
            raise ValueError(
                f"split '{split}' yields no samples of {L} units: use a smaller --sample-size "
                "or --long-lines truncate"
            )
        self.datasets[split] = dataset

    def has_sharded_data(self, split: str) -> bool:
        # Makes fairseq reload the training set each epoch (fresh random windows, reshuffled lines)
        # even when its data-loader workers persist and hold an old copy of the dataset.
        return split == "train"

    def max_positions(self):
        return (self.cfg.sample_size, self.cfg.sample_size)

    @property
    def source_dictionary(self) -> Dictionary:
        return self.dictionary

    @property
    def target_dictionary(self) -> Dictionary:
        return self.dictionary
