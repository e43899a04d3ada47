"""Every option of every entry point is checked: a value out of range, a path of the wrong kind or an
argument the API cannot use is one InputError (one line on the command line) naming the option.

The tables are built by walking the options themselves (the plugin's config dataclasses, the argparse
parsers), so an option added without a range fails `test_every_*_option_declares_*`.
"""

import argparse
import dataclasses
import importlib.util
import itertools
import logging
import os
import typing
from collections import Counter

import pytest
import torch
from conftest import PACKAGE_DIR, run_train, train_flags
from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.models import MODEL_DATACLASS_REGISTRY
from fairseq.optim import OPTIMIZER_DATACLASS_REGISTRY
from omegaconf import OmegaConf

from fairseq_hybrid_vae import TextVAEHubInterface
from fairseq_hybrid_vae.cli import evaluate, prepare
from fairseq_hybrid_vae.cli import latent as latent_cli
from fairseq_hybrid_vae.common.errors import InputError
from fairseq_hybrid_vae.common.option_ranges import (
    Checked,
    PathKind,
    Range,
    Validated,
    option_name,
)
from fairseq_hybrid_vae.criterions.hybrid_vae_elbo import HybridVAEElboConfig
from fairseq_hybrid_vae.fairseq_fixes.fairseq_options import (
    FAIRSEQ_RANGES,
    check_best_checkpoint_metric,
    check_fairseq_options,
    check_training_precision,
)
from fairseq_hybrid_vae.fairseq_fixes.patches import command_line_patches
from fairseq_hybrid_vae.tasks.text_vae import (
    GENERATION_RANGES,
    TextVAEConfig,
    TextVAETask,
    check_generation_options,
)

PLUGIN = "fairseq_hybrid_vae"
# (config class, the arch or optimizer whose command line reaches it)
CONFIGS = [(TextVAEConfig, "hybrid_vae_lstm"), (HybridVAEElboConfig, "hybrid_vae_lstm")] + [
    (config, {"hybrid_vae": "hybrid_vae_lstm"}.get(name, name))
    for name, config in MODEL_DATACLASS_REGISTRY.items() if config.__module__.startswith(PLUGIN)
] + [(config, "hybrid_vae_lstm") for config in OPTIMIZER_DATACLASS_REGISTRY.values()
     if config.__module__.startswith(PLUGIN)]
NUMBERS = (int, float)


def just_outside(range_: Range) -> float:
    """A value just out of `range_` (and not its `off` value)."""
    if range_.low is None and range_.high is None:
        return float("nan")
    value = range_.low - (0 if range_.low_open else 1) if range_.low is not None else range_.high + 1
    return value - 1 if value == range_.off else value


def checked_actions(parser: argparse.ArgumentParser):
    """The options of an argparse command, --help aside."""
    return [action for action in parser._actions if not isinstance(action, argparse._HelpAction)]


def subcommand_parsers(parser: argparse.ArgumentParser) -> dict:
    """name -> parser of each subcommand of `parser`."""
    return dict(next(a for a in parser._actions if a.dest == "command").choices)


def is_numeric(field: dataclasses.Field) -> bool:
    kinds = typing.get_args(field.type) or (field.type,)
    inner = [arg for kind in kinds for arg in (typing.get_args(kind) or (kind,))]
    return any(kind in NUMBERS for kind in inner) or field.name == "adam_betas"


def declared_fields():
    """(config, arch, field) for every numeric option the plugin declares; interpolated fields (e.g. a
    model's sample_size, `${task.sample_size}`) are the task's option, checked there."""
    for config, arch in CONFIGS:
        for field in dataclasses.fields(config):
            interpolated = isinstance(field.default, str) and field.default.startswith("${")
            if is_numeric(field) and not interpolated and not field.name.startswith("_"):
                yield config, arch, field


def test_every_numeric_option_declares_its_range():
    missing = [f"{config.__name__}.{field.name}" for config, _, field in declared_fields()
               if not isinstance(field.metadata.get("range"), Range)]
    assert not missing, f"options without a range: {missing}"
    assert len(list(declared_fields())) >= 30  # the walk found the options


def value_text(field: dataclasses.Field, value) -> str:
    if field.name == "adam_betas":
        return f"(0.9,{value})"
    return f"1,{value:g}" if "List" in str(field.type) else f"{value:g}"


@pytest.mark.parametrize("config,arch,field", list(declared_fields()),
                         ids=[f"{config.__name__}.{field.name}" for config, _, field in declared_fields()])
def test_a_value_out_of_range_is_refused_by_name(tiny_data, tmp_path, config, arch, field):
    """Through the objects fairseq-train builds (task, model, criterion, optimizer) from the parsed
    command line, in this process."""
    bad = just_outside(field.metadata["range"])
    optimizer = "torch_adam" if config in OPTIMIZER_DATACLASS_REGISTRY.values() else "adam"
    flags = train_flags(tiny_data, str(tmp_path), arch, ["--optimizer", optimizer])
    flags += [option_name(field.name), value_text(field, bad)]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), flags))
    with pytest.raises(InputError, match=f"{option_name(field.name)} .*out of range"):
        task = TextVAETask.setup_task(cfg.task)
        model = task.build_model(cfg.model)
        task.build_criterion(cfg.criterion)
        from fairseq.optim import build_optimizer

        build_optimizer(cfg.optimizer, list(model.parameters()))


@pytest.mark.parametrize("name", sorted(FAIRSEQ_RANGES))
def test_a_misleading_fairseq_value_is_refused_when_parsed_and_in_a_config(tmp_path, name):
    """The fairseq options whose bad values fairseq accepts and then misleads with (fairseq_options.py):
    refused as fairseq-train parses them (full_help.parse_args_and_arch) and in a hydra config."""
    flag, bad = option_name(name), just_outside(FAIRSEQ_RANGES[name])
    argv = [str(tmp_path), "--user-dir", PACKAGE_DIR, "--task", "text_vae", "--criterion", "hybrid_vae_elbo",
            "--arch", "hybrid_vae_lstm", flag, str(bad)]
    with command_line_patches(["parse_args_and_arch"]), pytest.raises(
            InputError, match=f"^{flag} .*out of range: it must"):
        options.parse_args_and_arch(options.get_training_parser(), argv)
    with pytest.raises(InputError, match=f"^{flag} .*out of range"):
        check_fairseq_options(OmegaConf.create({"optimization": {name: [bad] if name == "lr" else bad}}))
    check_fairseq_options(OmegaConf.create({"optimization": {"lr": [1e-3], "clip_norm": 0.0}}))  # defaults


def test_the_criterion_logs_exactly_its_validation_metrics():
    """VALIDATION_METRICS, which --best-checkpoint-metric is checked against, is what reduce_metrics logs
    (for a model with an aux head: every term)."""
    from fairseq.logging import metrics

    from fairseq_hybrid_vae.criterions.hybrid_vae_elbo import HybridVAEElboCriterion

    log = {key: 1.0 for key in ["loss", "rec", "kl", "kl_weight", "aux", "alpha", "ntokens", "nsentences"]}
    with metrics.aggregate(new_root=True) as logged:
        HybridVAEElboCriterion.reduce_metrics([log])
    assert sorted(logged.get_smoothed_values()) == sorted(HybridVAEElboCriterion.VALIDATION_METRICS)


@pytest.mark.parametrize("metric,disable_validation,refused", [
    ("iw_nll", False, True), ("iw_nll", True, False), ("elbo", False, False), ("kl_nats", False, False)])
def test_a_best_checkpoint_metric_the_criterion_never_logs_is_refused(metric, disable_validation, refused):
    """fairseq reads --best-checkpoint-metric after the first validation: a name the criterion does not
    log ended the run there (KeyError), with no checkpoint saved."""
    cfg = OmegaConf.create({"checkpoint": {"best_checkpoint_metric": metric},
                            "criterion": {"_name": "hybrid_vae_elbo"},
                            "dataset": {"disable_validation": disable_validation}})
    if refused:
        with pytest.raises(InputError, match=f"^--best-checkpoint-metric {metric} is not a validation"):
            check_best_checkpoint_metric(cfg)
    else:
        check_best_checkpoint_metric(cfg)
    cfg.criterion._name = "cross_entropy"  # another criterion: fairseq's own behaviour
    check_best_checkpoint_metric(cfg)


@pytest.mark.parametrize("flag,on_cpu,cuda,xla,refused", [
    ("fp16", True, True, False, True), ("fp16", False, False, False, True),
    ("fp16", False, True, False, False), ("amp", False, False, False, True),
    ("memory_efficient_fp16", True, False, False, True), ("bf16", False, True, False, True),
    ("bf16", False, True, True, False), (None, True, False, False, False)])
def test_a_training_precision_the_machine_lacks_is_refused(monkeypatch, flag, on_cpu, cuda, xla, refused):
    """fp16 and amp need a CUDA GPU used (not --cpu); fairseq's bf16 a TPU through torch_xla."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "torch_xla" and xla else find_spec(name, *a))
    common = {"cpu": on_cpu, "fp16": False, "memory_efficient_fp16": False, "amp": False, "bf16": False,
              "memory_efficient_bf16": False, "tpu": flag == "bf16"}
    if flag:
        common[flag] = True
    cfg = OmegaConf.create({"common": common})
    if refused:
        with pytest.raises(InputError, match=f"^{option_name(flag)} "):
            check_training_precision(cfg)
    else:
        check_training_precision(cfg)


@pytest.mark.parametrize("name", sorted(GENERATION_RANGES))
def test_generation_options_out_of_range_are_refused(name):
    """The generators' own check (fairseq-generate and the Python API's keyword arguments)."""
    args = argparse.Namespace(beam=1, nbest=1, temperature=1.0, sampling_topk=-1, sampling_topp=-1.0)
    setattr(args, name, just_outside(GENERATION_RANGES[name]))
    with pytest.raises(InputError, match=f"{option_name(name)} .*out of range"):
        check_generation_options(args)


PARSERS = {"hybrid-vae-prepare": prepare.get_parser, "hybrid-vae-eval": evaluate.get_parser}
PARSERS.update({f"hybrid-vae-latent {name}": lambda sub=sub: sub
                for name, sub in subcommand_parsers(latent_cli.get_parser()).items()})
# Options of the argparse commands that take free text, each checked where it is used.
FREE_TEXT = {"--split": "a split name: a missing split is one line from the task (test_bad_input)",
             "a": "texts", "b": "texts", "c": "texts", "texts": "texts"}


def actions(command: str):
    return [(command, action) for action in checked_actions(PARSERS[command]())]


ALL_ACTIONS = [item for command in PARSERS for item in actions(command)]


@pytest.mark.parametrize("command,action", ALL_ACTIONS, ids=lambda x: getattr(x, "dest", x))
def test_every_command_option_is_checked(command, action):
    kind = "flag" if action.nargs == 0 else "choice" if action.choices else type(action.type).__name__
    checked = kind in ("flag", "choice", "Checked", "PathKind", "Validated")
    assert checked or (action.option_strings or [action.dest])[0] in FREE_TEXT, (
        f"{command} {action.option_strings or action.dest}: give it a type that checks its value")


# A valid command line of each command, which the test below spoils one option at a time.
BASE_ARGV = {
    "hybrid-vae-prepare": ["--train", "{tmp}/text.txt", "--destdir", "{tmp}/out"],
    "hybrid-vae-eval": ["{tmp}", "--path", "{tmp}/text.txt"],
}


def wrong_value(action, tmp_path) -> str:
    """A value the option's type refuses."""
    (tmp_path / "a_file").write_text("x\n")
    if isinstance(action.type, Checked):
        return f"{just_outside(action.type.range):g}"
    if isinstance(action.type, Validated):
        return action.type.bad
    return str(tmp_path if action.type.kind in ("file", "output file") else tmp_path / "a_file")


@pytest.mark.parametrize("command,action", [(c, a) for c, a in ALL_ACTIONS if c in BASE_ARGV
                                            and isinstance(a.type, (Checked, PathKind, Validated))],
                         ids=lambda x: getattr(x, "dest", x))
def test_a_bad_command_option_is_one_line_and_exit_status_1(command, action, tmp_path, capsys):
    parser = PARSERS[command]()
    (tmp_path / "text.txt").write_text("some text\n")
    base = [arg.format(tmp=tmp_path) for arg in BASE_ARGV[command]]
    flag = action.option_strings[0] if action.option_strings else None
    bad = wrong_value(action, tmp_path)
    argv = base + [flag, bad] if flag else [bad] + base[1:]  # the positional DATA replaced
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(argv)
    message = str(exit_info.value.code)  # sys.exit(text): exit status 1, text on stderr
    assert message.startswith(f"{command}: error: argument {flag or action.dest}") and "\n" not in message
    assert not os.path.exists(tmp_path / "out")


@pytest.fixture(scope="module")
def vae(tiny_data, tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("hub")
    run_train(tiny_data, str(save_dir), "hybrid_vae_lstm", ["--max-update", "2"])
    return TextVAEHubInterface.from_pretrained(str(save_dir), "checkpoint_last.pt",
                                               data_name_or_path=tiny_data)


API_CASES = [
    (lambda vae: vae.sample(0), "n=0 is out of range"),
    (lambda vae: vae.sample(2, temperature=-1), "temperature=-1 is out of range"),
    (lambda vae: vae.sample(2, beam=0), "--beam 0 is out of range"),
    (lambda vae: vae.interpolate("a", "b", steps=1), "steps=1 is out of range"),
    (lambda vae: vae.interpolate("a", "b", method="cubic"), "unknown interpolation 'cubic'"),
    (lambda vae: vae.encode("a text, not a list"), "a non-empty list of strings"),
    (lambda vae: vae.encode([]), "a non-empty list of strings"),
    (lambda vae: vae.decode(torch.zeros(2, 3)), r"z has shape \(2, 3\): give \(B, 8\)"),
]


@pytest.mark.parametrize("call,message", API_CASES)
def test_python_api_arguments_are_checked(vae, call, message):
    with pytest.raises(InputError, match=message):
        call(vae)


def test_python_api_warns_when_a_text_is_cut_to_l_units(vae, caplog):
    # A window model (the fixture's) reads "the cat " * 5 as 40 units: no EOS ends a window.
    vae.encode(["short", "the cat " * 5])
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["text 1 ('the cat the cat the cat ...') has 40 units, more than the model's L = 16: "
                      "only its first 16 are encoded"]
    caplog.clear()  # encoded 2 at a time, a text is still named by its place in the list
    vae.mean_posterior(["short"] * 3 + ["the cat " * 3], batch_size=2)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["text 3 ('the cat the cat the cat ') has 24 units, more than the model's L = 16: "
                      "only its first 16 are encoded"]


def test_python_api_warns_of_units_the_dictionary_lacks(vae, caplog):
    """Characters the training text never had (here capitals, a Q, an emoji: the tiny corpus is
    lowercase) are read as <unk>, a run of them as one (sentencepiece's unknown piece): one warning
    per call lists them by frequency."""
    known = set(vae.task.dictionary.symbols) | {" "}
    texts = ["the cat", "The Cat sees Q", "a dog \U0001F600", "QQ"]
    expected = Counter("".join(run) for text in texts
                       for is_known, run in itertools.groupby(text, key=lambda c: c in known) if not is_known)
    assert list(expected) == ["T", "C", "Q", "\U0001F600", "QQ"]  # the premise: these are not units
    tokens = vae.task.encode_texts(texts)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    listed = ", ".join(f"{c!r} x{n}" for c, n in expected.most_common())
    assert warned == [f"3 of 4 texts hold units the model's dictionary lacks, each read as <unk>: {listed} "
                      "(first in text 1, 'The Cat sees Q')"]
    assert int((tokens == vae.task.dictionary.unk()).sum()) == sum(expected.values())
    caplog.clear()
    vae.task.encode_texts(["the cat", "a dog"])
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    # a decoded <unk> (what to_text writes for one) is read back as that <unk>, with nothing to warn of
    dictionary = vae.task.dictionary
    unk_text = vae.to_text(torch.tensor([dictionary.index(c) for c in "cat"] + [dictionary.unk()]))
    assert "\u2047" in unk_text
    tokens = vae.task.encode_texts([unk_text])
    assert int((tokens == vae.task.dictionary.unk()).sum()) == 1
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("arguments,message", [
    (lambda d, t: (str(t / "nowhere"), "checkpoint_last.pt", d), r"model_dir=...\): .* is missing"),
    (lambda d, t: (str(t), "checkpoint_last.pt", d), r"checkpoint_file=...\): .* is missing"),
    (lambda d, t: (str(t), "checkpoint_last.pt", str(t / "nodata")),
     r"data_name_or_path=...\): .* is missing"),
])
def test_from_pretrained_paths_are_checked(tiny_data, tmp_path, arguments, message):
    with pytest.raises(InputError, match=message):
        TextVAEHubInterface.from_pretrained(*arguments(tiny_data, tmp_path))


def test_the_walk_covers_each_entry_points_options():
    """The options the tables above walk, by entry point: each has its check."""
    assert {a.dest for c, a in ALL_ACTIONS if c == "hybrid-vae-prepare"} >= {
        "train", "valid", "test", "split_ratio", "destdir", "vocab_size", "character_coverage"}
    assert {a.dest for c, a in ALL_ACTIONS if c == "hybrid-vae-eval"} >= {
        "data", "path", "iw_samples", "iw_chunk", "batch_size", "max_samples", "diversity_samples", "json"}
    assert PACKAGE_DIR


def test_paths_of_the_right_kind_pass(tmp_path):
    """An existing output file may be overwritten, a new one may be made in a new folder."""
    from fairseq_hybrid_vae.common.option_ranges import wrong_kind

    (tmp_path / "old.json").write_text("{}")
    assert wrong_kind(str(tmp_path / "old.json"), "output file") is None
    assert wrong_kind(str(tmp_path / "new" / "out.json"), "output file") is None
    assert wrong_kind(str(tmp_path / "new" / "dir"), "output folder") is None
    assert wrong_kind(str(tmp_path), "output folder") is None
    assert wrong_kind(str(tmp_path / "old.json"), "file") is None
    assert wrong_kind(str(tmp_path), "folder") is None
    assert "is a file" in wrong_kind(str(tmp_path / "old.json" / "x.json"), "output file")
