"""hybrid-vae-hydra-train: an error a user can fix ends the job in its one line, and a job refused at
its start leaves no hydra record.

hydra 1.3 catches a job's error, writes "Error executing job with overrides: [...]" to stderr and raises
it again; before the job it has written .hydra/ and hydra_train.log into the run folder (fairseq's
configs and the plugin's: the current folder). The error leaves instead as SystemExit, which hydra lets
through; where the job saved nothing, what hydra wrote for it alone is removed first.
"""

import os
import shutil
from contextlib import suppress
from typing import Callable, Collection

from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from ..common.errors import one_line


def refused_in_one_line(fairseq_hydra_main: Callable, entries_at_start: Collection[str]) -> Callable:
    """fairseq's hydra job (fairseq_cli.hydra_train._hydra_main); `entries_at_start`: the current
    folder's entries before hydra ran."""
    start = os.getcwd()

    def hydra_main(cfg, **kwargs):
        try:
            return fairseq_hydra_main(cfg, **kwargs)
        except Exception as error:
            line = one_line(error)
            if line is None:  # a bug: hydra's line and the traceback
                raise
            save_dir = OmegaConf.select(cfg, "checkpoint.save_dir")  # holds any work: checkpoints, crash.pt
            if save_dir and not (os.path.isdir(save_dir) and os.listdir(save_dir)):
                remove_new_record(start, entries_at_start)
            raise SystemExit(line) from None

    return hydra_main


def remove_new_record(folder: str, entries_at_start: Collection[str]) -> None:
    """hydra's output subfolder and job log in `folder`, where the job is run and they are new."""
    hydra = HydraConfig.get()
    if os.path.realpath(hydra.runtime.output_dir) != os.path.realpath(folder):
        return
    for made in {hydra.output_subdir, f"{hydra.job.name}.log"} - {None, *entries_at_start}:
        path = os.path.join(folder, made)
        if os.sep in made:  # an output subfolder deeper down: left alone
            continue
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)  # each rank of a launch removes it: one finds it gone
        else:
            with suppress(FileNotFoundError):
                os.remove(path)
