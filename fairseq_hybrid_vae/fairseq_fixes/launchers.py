"""Multi-process launches that really distribute, or stop at start; and a lost rank named at the end.

fairseq 0.12 reads torchrun's or srun's environment only when --distributed-world-size (default: the
GPU count) is above 1, so on CPU or one-GPU nodes every process trained alone. `call_main` adopts the
launcher's world or refuses with the flag to add (docs/distributed.md). It and `generate_main`, where
fairseq's commands start, also run the checks at start and remove what a failed start left empty.
"""

import argparse
import datetime
import os
import re
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional

import torch
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.distributed import utils as distributed_utils
from fairseq_cli import generate
from omegaconf import OmegaConf, open_dict

from ..common.atomic import left_empty_removed_on_failure
from ..common.errors import MESSAGES_OF_OTHER_MODULES, InputError
from ..criterions.hybrid_vae_elbo import warn_if_kl_weight_stays_low
from .fairseq_options import (
    check_best_checkpoint_metric,
    check_combined_valid_subsets,
    check_fairseq_options,
    check_paths,
    check_training_precision,
)

# Keys the surviving ranks set in the rendezvous store after a collective failed (lost_rank_message).
ANSWER_KEY = "fairseq_hybrid_vae/alive_after_failure/{rank}"
# How long survivors wait for each other before naming the ranks that did not answer.
ANSWER_WAIT_S = 5.0
# What gloo and NCCL say when a peer process ends or its node becomes unreachable.
PEER_LOST_MARKERS = ("Connection reset by peer", "Connection closed by peer", "Broken pipe",
                     "NCCL communicator was aborted", "remote process exited", "Socket Timeout")


@dataclass(frozen=True)
class Launcher:
    """What a launcher's environment says about this process."""

    name: str  # "torchrun" or "srun"
    world_size: int
    rank: int
    local_rank: int
    tasks_per_node: int


def launcher_from_environment(environ: Mapping[str, str]) -> Optional[Launcher]:
    """torchrun (or torch.distributed.launch --use-env) and SLURM's srun, as fairseq recognises them."""
    if all(key in environ for key in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK")):
        local_world = int(environ.get("LOCAL_WORLD_SIZE", environ["WORLD_SIZE"]))
        return Launcher("torchrun", int(environ["WORLD_SIZE"]), int(environ["RANK"]),
                        int(environ.get("LOCAL_RANK", 0)), local_world)
    tasks = environ.get("SLURM_STEP_NUM_TASKS", environ.get("SLURM_NTASKS"))
    if tasks is not None and ("SLURM_STEP_NODELIST" in environ or "SLURM_JOB_NODELIST" in environ):
        nodes = int(environ.get("SLURM_STEP_NUM_NODES", environ.get("SLURM_NNODES", 1)))
        return Launcher("srun", int(tasks), int(environ.get("SLURM_PROCID", 0)),
                        int(environ.get("SLURM_LOCALID", 0)), max(int(tasks) // max(nodes, 1), 1))
    return None


def check_launch(cfg, environ: Mapping[str, str] = os.environ, gpus: Optional[int] = None) -> None:
    """Make cfg.distributed_training agree with the launcher that started this process, or raise
    InputError naming the flag to add. cfg: fairseq's full config (common and distributed_training)."""
    dist, gpus = cfg.distributed_training, torch.cuda.device_count() if gpus is None else gpus
    on_cpu = cfg.common.cpu or gpus == 0
    launcher = launcher_from_environment(environ)
    default_world = max(1, gpus)  # fairseq's default --distributed-world-size
    no_init_method = dist.distributed_init_method is None  # no explicit ranks: fairseq infers them
    if no_init_method and launcher is not None and launcher.world_size > 1:
        if dist.distributed_world_size not in (1, default_world, launcher.world_size):
            raise InputError(
                f"--distributed-world-size {dist.distributed_world_size} disagrees with {launcher.name}'s "
                f"{launcher.world_size} processes: drop --distributed-world-size")
        if launcher.name == "torchrun":
            adopt_torchrun(dist, launcher, gpus, on_cpu)
        else:
            adopt_srun(dist, launcher, gpus, on_cpu, environ)
    elif no_init_method and dist.distributed_world_size > 1 and on_cpu:
        raise InputError(
            f"--distributed-world-size {dist.distributed_world_size} on CPU: fairseq starts one process "
            "per GPU and none on a CPU; launch with torchrun --nproc-per-node "
            f"{dist.distributed_world_size}, or start one process per rank with --distributed-rank R "
            "--distributed-init-method tcp://HOST:PORT --distributed-no-spawn (docs/distributed.md)")
    elif no_init_method and launcher is None and dist.distributed_world_size > default_world:
        raise InputError(
            f"--distributed-world-size {dist.distributed_world_size} but this node has {gpus} GPUs: "
            f"fairseq starts one process per GPU here; pass --distributed-world-size {gpus}, or launch "
            "the other ranks on other nodes with torchrun or srun (docs/distributed.md)")
    if on_cpu and dist.distributed_world_size > 1:
        if dist.distributed_backend == "nccl":
            raise InputError("a distributed run on CPU with --distributed-backend nccl (GPUs only): add "
                             "--distributed-backend gloo")
        if dist.ddp_backend in ("pytorch_ddp", "c10d"):
            raise InputError(f"--ddp-backend {dist.ddp_backend} fails on CPU (fairseq passes it device "
                             "ids): add --ddp-backend legacy_ddp")


def adopt_torchrun(dist, launcher: Launcher, gpus: int, on_cpu: bool) -> None:
    """torchrun's WORLD_SIZE, RANK and LOCAL_RANK become fairseq's, whatever the GPU count."""
    if not on_cpu and launcher.local_rank >= gpus:
        raise InputError(
            f"torchrun started {launcher.tasks_per_node} processes on a node with {gpus} GPUs: pass "
            f"--nproc-per-node {gpus} (or --cpu to train on CPUs)")
    adopt(dist, launcher, "env://", on_cpu)


def adopt_srun(dist, launcher: Launcher, gpus: int, on_cpu: bool, environ: Mapping[str, str]) -> None:
    """srun: one rank per task, connected through --distributed-port on the first node; with one task
    per GPU node, fairseq's own SLURM support spawns a rank per GPU."""
    if dist.distributed_port <= 0:
        raise InputError("srun: add --distributed-port PORT (a free port on the first node), through which "
                         "the tasks connect")
    if launcher.tasks_per_node == 1 and not on_cpu and gpus > 1:
        dist.distributed_world_size = launcher.world_size * gpus  # fairseq's SLURM code does the rest
        return
    adopt(dist, launcher, f"tcp://{first_host(environ)}:{dist.distributed_port}", on_cpu)


def first_host(environ: Mapping[str, str]) -> str:
    """The first node of the SLURM step, as fairseq finds it (scontrol show hostnames)."""
    node_list = environ.get("SLURM_STEP_NODELIST", environ.get("SLURM_JOB_NODELIST"))
    try:
        return subprocess.check_output(["scontrol", "show", "hostnames", node_list], text=True).split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError) as error:
        raise InputError(f"srun: cannot list the step's hosts with scontrol ({error}); run inside a SLURM "
                         "allocation, or launch with torchrun") from None


def adopt(dist, launcher: Launcher, init_method: str, on_cpu: bool) -> None:
    dist.distributed_init_method = init_method
    dist.distributed_world_size = launcher.world_size
    dist.distributed_rank = launcher.rank
    dist.device_id = 0 if on_cpu else launcher.local_rank
    dist.distributed_no_spawn = True  # the launcher started the processes


_fairseq_call_main = distributed_utils.call_main


def call_main(cfg, main: Callable, **kwargs) -> None:
    """fairseq's call_main after the checks at start: the launcher's world, fairseq's options. A run
    that fails leaves no save dir it created and wrote nothing into: fairseq-train creates it before
    the task reads its data, so a wrong data path would leave an empty folder behind."""
    check_launch(cfg)
    check_fairseq_options(cfg)
    check_paths(cfg)
    if getattr(main, "__module__", None) == "fairseq_cli.train":  # fairseq-train and hydra-train
        check_training_precision(cfg)
        check_best_checkpoint_metric(cfg)
        check_combined_valid_subsets(cfg)
    if cfg.distributed_training.distributed_rank == 0 and getattr(cfg, "criterion", None) is not None:
        warn_if_kl_weight_stays_low(cfg.criterion, cfg.optimization.max_update)
    with left_empty_removed_on_failure([getattr(getattr(cfg, "checkpoint", None), "save_dir", None)]):
        _fairseq_call_main(cfg, main, **kwargs)


_fairseq_generate_main = generate.main


def generate_main(cfg) -> None:
    """fairseq-generate's main, unscored in --gen-mode interpolate unless --scoring says otherwise. A run
    that fails leaves no empty --results-path folder or file: fairseq opens generate-SPLIT.txt before it
    loads the model, so any refusal left an empty one behind."""
    if isinstance(cfg, argparse.Namespace):
        cfg = convert_namespace_to_omegaconf(cfg)
    interpolating = OmegaConf.select(cfg, "task.gen_mode") == "interpolate"
    if interpolating and OmegaConf.select(cfg, "scoring._name") == "bleu":
        with open_dict(cfg):  # fairseq's default would score each path's points against its far end
            cfg.scoring = OmegaConf.create({"_name": "unscored"})
    results = cfg.common_eval.results_path
    made = [os.path.join(results, f"generate-{cfg.dataset.gen_subset}.txt"), results] if results else []
    with left_empty_removed_on_failure(made):
        _fairseq_generate_main(cfg)


def is_peer_lost(error: BaseException) -> bool:
    """Whether a collective failed because another rank's process or node went away."""
    text = str(error)
    return isinstance(error, RuntimeError) and any(marker in text for marker in PEER_LOST_MARKERS)


def ranks_that_answer(wait_s: float = ANSWER_WAIT_S) -> Optional[List[int]]:
    """After a failed collective: each survivor marks itself alive in the rendezvous store and waits
    for the others. The ranks that answer, or None when the store itself is gone (its host, rank 0
    for tcp:// and srun, is lost)."""
    dist = torch.distributed
    if not dist.is_initialized():
        return None
    try:
        store = dist.distributed_c10d._get_default_store()  # private, present in torch 2.0-2.13
        store.set_timeout(datetime.timedelta(seconds=wait_s))
        store.set(ANSWER_KEY.format(rank=dist.get_rank()), "1")
        time.sleep(wait_s)
        return [rank for rank in range(dist.get_world_size())
                if store.check([ANSWER_KEY.format(rank=rank)])]
    except Exception:  # the store's host is gone: the store cannot tell more
        return None


def lost_rank_message(error: BaseException) -> str:
    """One line for a rank whose collective failed: which ranks are lost, and how to resume."""
    dist = torch.distributed
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else ("?", "?")
    alive = ranks_that_answer()
    if alive is None:
        lost = "rank 0, which hosts the rendezvous, is lost"
    else:
        missing = [r for r in range(world) if r not in alive]
        lost = f"lost rank{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing)) or '?'} of {world}"
    return (f"rank {rank}: training stopped: {lost} (its process ended or its node became unreachable: "
            f"{what_the_backend_said(error)}). The checkpoints written before are intact: rerun the same "
            "command on every node to resume from checkpoint_last.pt")


def what_the_backend_said(error: BaseException) -> str:
    """The backend's first sentence, without the source location gloo puts in front."""
    text = re.sub(r"^\[[^\]]*\.(cc|cpp|h):\d+\]\s*", "", " ".join(str(error).split()))
    return text.split(". ")[0].rstrip(".")


def peer_lost_message(error: BaseException) -> Optional[str]:
    """The one line for a collective that failed because a rank went away; None for anything else."""
    return lost_rank_message(error) if is_peer_lost(error) else None


MESSAGES_OF_OTHER_MODULES.append(peer_lost_message)
