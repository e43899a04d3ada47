"""What each launcher's environment makes of fairseq's distributed options: adopted, or refused."""

import os
from types import SimpleNamespace

import pytest
from fairseq.dataclass.configs import DistributedTrainingConfig

from fairseq_hybrid_vae.common.errors import InputError
from fairseq_hybrid_vae.fairseq_fixes.launchers import check_launch

TORCHRUN_NODE_1 = {"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500", "WORLD_SIZE": "2", "RANK": "1",
                   "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1"}
SRUN_TASK_3 = {"SLURM_STEP_NODELIST": "node[1-2]", "SLURM_STEP_NUM_TASKS": "4", "SLURM_STEP_NUM_NODES": "2",
               "SLURM_PROCID": "3", "SLURM_LOCALID": "1"}


def config(cpu: bool, **distributed) -> SimpleNamespace:
    dist = DistributedTrainingConfig()
    for name, value in {"distributed_world_size": 1, **distributed}.items():
        setattr(dist, name, value)
    return SimpleNamespace(common=SimpleNamespace(cpu=cpu), distributed_training=dist)


def resolved(cfg) -> dict:
    dist = cfg.distributed_training
    return {"init": dist.distributed_init_method, "world": dist.distributed_world_size,
            "rank": dist.distributed_rank, "device": dist.device_id, "no_spawn": dist.distributed_no_spawn}


@pytest.fixture
def fake_scontrol(tmp_path, monkeypatch):
    """scontrol show hostnames: the first host of the step is node1."""
    script = tmp_path / "scontrol"
    script.write_text("#!/bin/sh\necho node1\necho node2\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


# (environment, GPUs on the node, options) -> what fairseq is left to do
ADOPTED = [
    # torchrun on CPU nodes: fairseq's default world size (1) used to make each process train alone.
    (TORCHRUN_NODE_1, 0, {"cpu": True, "distributed_backend": "gloo", "ddp_backend": "legacy_ddp"},
     {"init": "env://", "world": 2, "rank": 1, "device": 0, "no_spawn": True}),
    # torchrun on one-GPU nodes: the same, with the local rank's GPU.
    (TORCHRUN_NODE_1, 1, {"cpu": False},
     {"init": "env://", "world": 2, "rank": 1, "device": 0, "no_spawn": True}),
    # srun, 2 tasks per node on CPU: one rank per task through --distributed-port on the first node.
    (SRUN_TASK_3, 0, {"cpu": True, "distributed_port": 12345, "distributed_backend": "gloo",
                      "ddp_backend": "legacy_ddp"},
     {"init": "tcp://node1:12345", "world": 4, "rank": 3, "device": 0, "no_spawn": True}),
    (SRUN_TASK_3, 2, {"cpu": False, "distributed_port": 12345, "distributed_world_size": 2},
     {"init": "tcp://node1:12345", "world": 4, "rank": 3, "device": 1, "no_spawn": True}),
    # Explicit ranks (the CPU recipe) and a single process: left as given.
    ({}, 0, {"cpu": True, "distributed_world_size": 2, "distributed_rank": 1, "distributed_backend": "gloo",
             "distributed_init_method": "tcp://127.0.0.1:29500", "ddp_backend": "legacy_ddp"},
     {"init": "tcp://127.0.0.1:29500", "world": 2, "rank": 1, "device": 0, "no_spawn": False}),
    ({}, 0, {"cpu": True}, {"init": None, "world": 1, "rank": 0, "device": 0, "no_spawn": False}),
]


@pytest.mark.parametrize("environ,gpus,options,expected", ADOPTED)
def test_a_launchers_world_is_adopted(environ, gpus, options, expected, fake_scontrol):
    cfg = config(**options)
    check_launch(cfg, environ, gpus)
    assert resolved(cfg) == expected


REFUSED = [
    (TORCHRUN_NODE_1, 0, {"cpu": True, "distributed_world_size": 4}, "drop --distributed-world-size"),
    (TORCHRUN_NODE_1, 0, {"cpu": True, "ddp_backend": "legacy_ddp"}, "add --distributed-backend gloo"),
    (TORCHRUN_NODE_1, 0, {"cpu": True, "distributed_backend": "gloo"}, "add --ddp-backend legacy_ddp"),
    ({**TORCHRUN_NODE_1, "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "3"}, 2, {"cpu": False},
     "--nproc-per-node 2"),
    (SRUN_TASK_3, 0, {"cpu": True}, "add --distributed-port"),
    ({}, 0, {"cpu": True, "distributed_world_size": 2}, "launch with torchrun"),
    ({}, 2, {"cpu": False, "distributed_world_size": 4}, "this node has 2 GPUs"),
]


@pytest.mark.parametrize("environ,gpus,options,fix", REFUSED)
def test_a_launch_that_would_not_distribute_is_refused(environ, gpus, options, fix, fake_scontrol):
    with pytest.raises(InputError, match=fix):
        check_launch(config(**options), environ, gpus)


def test_srun_without_scontrol_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="scontrol"):
        check_launch(config(cpu=True, distributed_port=1234), SRUN_TASK_3, 0)
