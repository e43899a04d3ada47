"""Shared helpers: tiny synthetic corpora and fairseq-train run in-process (fairseq's test pattern)."""

import contextlib
import io
import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from fairseq.data import Dictionary

# Compiling the default LSTM cell's fused training kernels costs 5-15 s in every process that trains,
# far more than these tests' tiny runs; the tests of the fused pass switch it on for themselves
# (test_modules.py, test_train.py). Set here so that the commands the tests start inherit it.
os.environ.setdefault("HYBRID_VAE_COMPILE", "0")

import fairseq_hybrid_vae  # noqa: E402,F401  (here, so no test's fairseq parsing is the first import)
from fairseq_hybrid_vae.fairseq_fixes.patches import command_line_patches

# What a fairseq command gets from the plugin, for commands run in this process (not the excepthook:
# pytest reports the exceptions).
IN_PROCESS_PATCHES = ["load_checkpoint_to_cpu", "copy", "parse_args_and_arch", "call_main", "main"]

PACKAGE_DIR = str(Path(__file__).resolve().parents[1] / "fairseq_hybrid_vae")

# Small sizes so every arch trains for a few dozen updates in seconds on 2 CPU cores.
TINY_MODELS = {
    "hybrid_vae": ["--latent-dim", "8", "--encoder-channels", "16,32", "--decoder-feature-dim", "16",
                   "--lstm-hidden-size", "32", "--head-channels", "32"],
    "lstm_vae": ["--latent-dim", "8", "--lstm-hidden-size", "32"],
    "window_lm": ["--lstm-hidden-size", "32", "--head-channels", "32"],
}


def dictionary_of(size: int) -> Dictionary:
    """fairseq's 4 special symbols plus made-up units, `size` types in all (PTB has 53)."""
    dictionary = Dictionary()
    for i in range(size - len(dictionary)):
        dictionary.add_symbol(chr(0x4E00 + i))
    return dictionary


def tiny_model_flags(arch: str) -> List[str]:
    return next(flags for family, flags in TINY_MODELS.items() if arch.startswith(family))


def synthetic_lines(num_lines: int, seed: int = 0) -> List[str]:
    """Sentences from a tiny grammar: learnable structure, so a training loss must fall."""
    rng = np.random.default_rng(seed)
    subjects, verbs, objects = ["the cat", "a dog", "my bird"], ["sees", "eats", "likes"], [
        "the fish", "some milk", "a mouse"]
    return [
        f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}."
        for _ in range(num_lines)
    ]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> str:
    """A prepared character corpus: train/valid/test splits of synthetic sentences."""
    from fairseq_hybrid_vae.cli.prepare import cli_main

    root = tmp_path_factory.mktemp("tiny")
    for split, n, seed in [("train", 600, 0), ("valid", 60, 1), ("test", 60, 2)]:
        (root / f"{split}.txt").write_text("\n".join(synthetic_lines(n, seed)) + "\n")
    data = str(root / "data")
    cli_main(["--train", str(root / "train.txt"), "--valid", str(root / "valid.txt"),
              "--test", str(root / "test.txt"), "--destdir", data])
    return data


def unescaped(record_field: str) -> str:
    """A record's text as it was before one_line escaped its line breaks, tabs and backslashes."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), record_field)


def train_flags(data_dir: str, save_dir: str, arch: str, extra: List[str]) -> List[str]:
    return [
        data_dir, "--user-dir", PACKAGE_DIR, "--task", "text_vae", "--arch", arch,
        "--criterion", "hybrid_vae_elbo", "--optimizer", "adam", "--lr", "3e-3",
        "--batch-size", "16", "--sample-size", "16", "--windows-per-epoch", "160",
        "--save-dir", save_dir, "--cpu", "--num-workers", "0", "--no-progress-bar",
        "--log-format", "json", "--log-interval", "1", "--seed", "1",
        "--best-checkpoint-metric", "elbo", "--distributed-world-size", "1",
    ] + tiny_model_flags(arch) + extra


def logged_updates(lines: List[str]) -> List[Dict]:
    """fairseq's per-update JSON stats (the train_inner logger) from the text of a fairseq-train run."""
    found = (re.search(r"train_inner\W*(\{.*\})", line) for line in lines)
    return [json.loads(match.group(1)) for match in found if match]


def run_train(data_dir: str, save_dir: str, arch: str, extra: List[str], caplog=None) -> List[Dict]:
    """fairseq-train in this process; returns the per-update stats fairseq logged (train_inner)."""
    from fairseq import checkpoint_utils, distributed_utils, options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import train

    # fairseq keeps the best score on a function attribute; a new process would start without it.
    if hasattr(checkpoint_utils.save_checkpoint, "best"):
        del checkpoint_utils.save_checkpoint.best

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, train_flags(data_dir, save_dir, arch, extra))
    cfg = convert_namespace_to_omegaconf(args)
    if caplog is None:
        with command_line_patches(IN_PROCESS_PATCHES), contextlib.redirect_stdout(io.StringIO()):
            distributed_utils.call_main(cfg, train.main)
        return []
    caplog.clear()
    with command_line_patches(IN_PROCESS_PATCHES), caplog.at_level(logging.INFO), contextlib.redirect_stdout(
        io.StringIO()
    ):
        distributed_utils.call_main(cfg, train.main)
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "train_inner"]


def run_generate(data_dir: str, checkpoint: str, flags: List[str]) -> List[str]:
    """fairseq-generate in this process; returns the lines it printed."""
    from fairseq import options
    from fairseq_cli import generate

    parser = options.get_generation_parser()
    args = options.parse_args_and_arch(parser, [
        data_dir, "--user-dir", PACKAGE_DIR, "--task", "text_vae", "--path", checkpoint,
        "--cpu", "--num-workers", "0", "--batch-size", "8"] + flags)
    out = io.StringIO()
    with command_line_patches(IN_PROCESS_PATCHES), contextlib.redirect_stdout(out):
        generate.main(args)
    return out.getvalue().splitlines()


def run_interactive(data_dir: str, checkpoint: str, flags: List[str], texts: List[str]) -> List[str]:
    """fairseq-interactive in this process on `texts`, one per line; returns the lines it printed."""
    from fairseq import options
    from fairseq_cli import interactive

    with tempfile.NamedTemporaryFile("w", suffix=".txt") as typed:
        typed.write("".join(text + "\n" for text in texts))
        typed.flush()
        parser = options.get_interactive_generation_parser()
        args = options.parse_args_and_arch(parser, [
            data_dir, "--user-dir", PACKAGE_DIR, "--task", "text_vae", "--path", checkpoint, "--cpu",
            "--input", typed.name] + flags)
        out = io.StringIO()
        with command_line_patches(IN_PROCESS_PATCHES), contextlib.redirect_stdout(out):
            interactive.main(args)
    return out.getvalue().splitlines()


def checkpoint_files(save_dir: str) -> List[str]:
    return sorted(os.listdir(save_dir))
