"""The valid values of fairseq's own options, checked before a command starts.

fairseq 0.12 takes `--batch-size 0`, `--lr -1` or `--update-freq 0` and fails later with a traceback,
or trains on without a word (a negative --clip-norm clips nothing). Every numeric option of fairseq's
config groups, optimizers and learning-rate schedulers has its range here, keyed by its name (the
command line is flat); tests/test_option_ranges.py walks fairseq's dataclasses, so an option fairseq
adds fails a test until it gets one. `check_fairseq_options` runs when a command has parsed its
arguments (full_help.parse_args_and_arch) and when fairseq-train, fairseq-hydra-train and
fairseq-validate start (launchers.call_main, which also checks the path options).
"""

from typing import Any, Dict, Iterable, Iterator, Tuple

from omegaconf import DictConfig, OmegaConf

from .errors import InputError
from .option_ranges import (
    AT_LEAST_1,
    FINITE,
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY,
    Range,
    option_name,
    out_of_range,
    wrong_kind,
)

SEED = Range(low=0, high=2**32 - 1)  # numpy's seeds
PORT = Range(low=1, high=65535, off=-1)
FRACTION = Range(low=0, high=1, low_open=True)  # shrink factors: 0 would stop learning
COUNT_OR_OFF = Range(low=0, off=-1)  # fairseq's "keep N" and patience: -1 (and 0) keep or wait for all
AT_LEAST_1_OR_OFF = Range(low=1, off=-1)
LR_OR_OFF = Range(low=0, off=-1)  # warmup_init_lr: -1 starts the warmup at 0 or at --lr

# The config groups a command line reaches, besides the task, model and criterion (the plugin's own,
# checked from their dataclasses' metadata).
FAIRSEQ_GROUPS = ("common", "common_eval", "distributed_training", "dataset", "optimization",
                  "checkpoint", "bmuf", "generation", "eval_lm", "interactive", "ema",
                  "optimizer", "lr_scheduler")

FAIRSEQ_RANGES: Dict[str, Range] = {
    # common
    "log_interval": AT_LEAST_1,
    "seed": SEED,
    "fp16_init_scale": POSITIVE,
    "fp16_scale_window": AT_LEAST_1,
    "fp16_scale_tolerance": PROBABILITY,
    "min_loss_scale": POSITIVE,
    "threshold_loss_scale": POSITIVE,
    "amp_batch_retries": NON_NEGATIVE,
    "amp_init_scale": POSITIVE,
    "amp_scale_window": AT_LEAST_1,
    "empty_cache_freq": NON_NEGATIVE,
    "all_gather_list_size": AT_LEAST_1,
    "model_parallel_size": AT_LEAST_1,
    # distributed_training
    "distributed_world_size": AT_LEAST_1,
    "distributed_num_procs": AT_LEAST_1,
    "distributed_rank": NON_NEGATIVE,
    "distributed_port": PORT,
    "device_id": NON_NEGATIVE,
    "bucket_cap_mb": POSITIVE,
    "heartbeat_timeout": Range(low=0, low_open=True, off=-1),
    "slowmo_momentum": PROBABILITY,
    "localsgd_frequency": AT_LEAST_1,
    "nprocs_per_node": AT_LEAST_1,
    "pipeline_chunks": NON_NEGATIVE,
    # dataset
    "num_workers": NON_NEGATIVE,
    "max_tokens": AT_LEAST_1,
    "batch_size": AT_LEAST_1,
    "required_batch_size_multiple": AT_LEAST_1,
    "required_seq_len_multiple": AT_LEAST_1,
    "data_buffer_size": NON_NEGATIVE,
    "validate_interval": AT_LEAST_1,
    "validate_interval_updates": NON_NEGATIVE,
    "validate_after_updates": NON_NEGATIVE,
    "fixed_validation_seed": SEED,
    "max_tokens_valid": AT_LEAST_1,
    "batch_size_valid": AT_LEAST_1,
    "max_valid_steps": AT_LEAST_1,
    "curriculum": NON_NEGATIVE,
    "num_shards": AT_LEAST_1,
    "shard_id": NON_NEGATIVE,
    # optimization
    "max_epoch": NON_NEGATIVE,  # 0: no limit
    "max_update": NON_NEGATIVE,
    "stop_time_hours": NON_NEGATIVE,
    "clip_norm": NON_NEGATIVE,  # 0: no clipping
    "update_freq": AT_LEAST_1,
    "lr": POSITIVE,
    "stop_min_lr": FINITE,  # -1: off
    # checkpoint
    "save_interval": AT_LEAST_1,
    "save_interval_updates": NON_NEGATIVE,
    "keep_interval_updates": COUNT_OR_OFF,
    "keep_interval_updates_pattern": AT_LEAST_1_OR_OFF,
    "keep_last_epochs": COUNT_OR_OFF,
    "keep_best_checkpoints": COUNT_OR_OFF,
    "patience": COUNT_OR_OFF,
    "checkpoint_shard_count": AT_LEAST_1,
    # bmuf
    "block_lr": POSITIVE,
    "block_momentum": PROBABILITY,
    "global_sync_iter": AT_LEAST_1,
    "warmup_iterations": NON_NEGATIVE,
    # generation
    "beam": AT_LEAST_1,
    "beam_mt": NON_NEGATIVE,
    "nbest": AT_LEAST_1,
    "max_len_a": NON_NEGATIVE,
    "max_len_b": NON_NEGATIVE,
    "max_len_a_mt": NON_NEGATIVE,
    "max_len_b_mt": NON_NEGATIVE,
    "min_len": NON_NEGATIVE,
    "lenpen": FINITE,
    "lenpen_mt": FINITE,
    "unkpen": FINITE,
    "prefix_size": NON_NEGATIVE,
    "no_repeat_ngram_size": NON_NEGATIVE,
    "sampling_topk": AT_LEAST_1_OR_OFF,
    "sampling_topp": Range(low=0, high=1, low_open=True, off=-1),
    "temperature": POSITIVE,  # divides the logits
    "diverse_beam_groups": AT_LEAST_1_OR_OFF,
    "diverse_beam_strength": FINITE,
    "diversity_rate": FINITE,  # -1: off
    "lm_weight": FINITE,
    "iter_decode_eos_penalty": NON_NEGATIVE,
    "iter_decode_max_iter": AT_LEAST_1,
    "iter_decode_with_beam": AT_LEAST_1,
    # eval_lm, interactive
    "context_window": NON_NEGATIVE,
    "softmax_batch": AT_LEAST_1,
    "buffer_size": NON_NEGATIVE,
    # ema
    "ema_decay": PROBABILITY,
    "ema_start_update": NON_NEGATIVE,
    "ema_update_freq": AT_LEAST_1,
    # optimizers with a dataclass (adam, cpu_adam, nag; the plugin's torch_adam declares its own)
    "adam_betas": Range(low=0, high=1, high_open=True),
    "adam_eps": POSITIVE,
    "weight_decay": NON_NEGATIVE,
    "momentum": Range(low=0, high=1, high_open=True),
    # learning-rate schedulers with a dataclass
    "warmup_updates": NON_NEGATIVE,
    "warmup_init_lr": LR_OR_OFF,
    "min_lr": NON_NEGATIVE,
    "max_lr": POSITIVE,
    "end_learning_rate": NON_NEGATIVE,
    "power": POSITIVE,
    "total_num_update": AT_LEAST_1,
    "force_anneal": AT_LEAST_1,
    "lr_shrink": FRACTION,
    "lr_threshold": NON_NEGATIVE,
    "lr_patience": NON_NEGATIVE,
    "lr_deacy_period": AT_LEAST_1,  # sic: fairseq's spelling
    "lr_decay": FRACTION,
    "lr_period_updates": Range(low=1, off=-1),
    "t_mult": POSITIVE,
    "warmup_steps": NON_NEGATIVE,
    "hold_steps": NON_NEGATIVE,
    "decay_steps": NON_NEGATIVE,
    "phase_ratio": PROBABILITY,
    "init_lr_scale": POSITIVE,
    "final_lr_scale": POSITIVE,
}

# The generation options the plugin's generators and the Python API read.
GENERATION_OPTIONS = ("beam", "nbest", "temperature", "sampling_topk", "sampling_topp")

# fairseq's own path options, as (config group, option, kind): checked before a command starts, so a
# folder given for a file (or the reverse) is one line, not a traceback after setup.
FAIRSEQ_PATHS = [
    ("checkpoint", "save_dir", "output folder"),
    ("common", "tensorboard_logdir", "output folder"),
    ("common_eval", "results_path", "output folder"),
    ("common_eval", "path", "file"),
]


def fairseq_values(cfg: Any) -> Iterator[Tuple[str, Any]]:
    """(name, value) of fairseq's options: an argparse Namespace is flat; a config has groups."""
    if not isinstance(cfg, DictConfig):
        yield from vars(cfg).items()
        return
    for group in FAIRSEQ_GROUPS:
        if cfg.get(group) is not None:  # an interpolation (e.g. `lr: ${optimization.lr}`) stays text
            yield from OmegaConf.to_container(cfg[group], resolve=False).items()


def as_number(name: str, value: Any) -> Any:
    """fairseq gives some options as text: those whose default is another option's (`--batch-size-valid`
    is `${dataset.batch_size}` until given) and `--adam-betas`. None for an interpolation and for a
    mandatory value not given (`???`, which fairseq reports itself)."""
    if not isinstance(value, str):
        return value
    if value.startswith("${") or value == "???":
        return None
    try:
        items = [float(item) for item in value.strip("()[] ").split(",")]
    except ValueError:
        example = " such as '(0.9, 0.999)'" if name == "adam_betas" else ""
        raise InputError(f"{option_name(name)} {value}: give a number{example}") from None
    return items if name == "adam_betas" or len(items) > 1 else items[0]


def check_values(values: Iterable[Tuple[str, Any]]) -> None:
    """Raise InputError for the first option whose value is out of range."""
    for name, value in values:
        range_ = FAIRSEQ_RANGES.get(name)
        value = as_number(name, value) if range_ is not None else None
        complaint = None if value is None else out_of_range(name, value, range_)
        if complaint:
            raise InputError(complaint)


def check_fairseq_options(cfg: Any) -> None:
    """Every numeric option of fairseq's in its range: a parsed command line or a config."""
    check_values(fairseq_values(cfg))


def check_generation_options(args: Any) -> None:
    """The options the generators read (fairseq-generate's, or the Python API's keyword arguments)."""
    check_values((name, getattr(args, name, None)) for name in GENERATION_OPTIONS)
    if getattr(args, "nbest", 1) > getattr(args, "beam", 1):
        raise InputError(f"--nbest {args.nbest} is more than --beam {args.beam}: the beam keeps "
                         f"{args.beam} hypotheses; raise --beam or lower --nbest")


def check_paths(cfg: DictConfig) -> None:
    """fairseq's path options of the right kind (at the start of training or validation)."""
    for group, name, kind in FAIRSEQ_PATHS:
        value = getattr(getattr(cfg, group, None), name, None)
        for path in (value.split(":") if name == "path" and value else [value] if value else []):
            complaint = wrong_kind(path, kind)
            if complaint:
                raise InputError(f"{option_name(name)} {complaint}")
