"""fairseq's commands with the plugin loaded from wherever it is installed, so they run from any folder.

fairseq finds a plugin by --user-dir, relative to the current folder or beside fairseq's package;
neither works from a user's own folder or with an editable install. So each command is fairseq's own
with the package's absolute folder as --user-dir (hydra-train: as common.user_dir, with the plugin's
configs as the default --config-dir); hybrid-vae-user-dir prints that folder.
"""

import importlib
import importlib.util
import logging
import os
import sys
import warnings
from functools import partial
from typing import List, Optional, Tuple

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the package folder
CONFIG_DIR = os.path.join(PLUGIN_DIR, "config")  # the hydra configs that ship with the plugin

# hybrid-vae-<name> -> the fairseq_cli module whose cli_main it runs (each reads sys.argv).
FAIRSEQ_COMMANDS = {
    "train": "fairseq_cli.train",
    "generate": "fairseq_cli.generate",
    "validate": "fairseq_cli.validate",
    "interactive": "fairseq_cli.interactive",
    "hydra-train": "fairseq_cli.hydra_train",
}


def option_value(argv: List[str], flags: Tuple[str, ...], prefixes: Tuple[str, ...] = ()) -> Optional[str]:
    """The value of the first of `flags` in argv (`--flag VALUE` or `--flag=VALUE`, or a hydra override
    `prefix VALUE` of `prefixes`), if any."""
    for i, arg in enumerate(argv):
        if arg in flags and i + 1 < len(argv):
            return argv[i + 1]
        for prefix in (*(flag + "=" for flag in flags), *prefixes):
            if arg.startswith(prefix):
                return arg[len(prefix):]
    return None


def given_user_dir(argv: List[str]) -> Optional[str]:
    """The value of --user-dir (or hydra's common.user_dir=) in argv, if any."""
    return option_value(argv, ("--user-dir",), ("common.user_dir=",))


def check_config_name(argv: List[str]) -> None:
    """hydra-train's --config-name, found in the config folder or fairseq's own: with neither, fairseq's
    hydra_main failed on the empty config with an AttributeError."""
    name = option_value(argv, ("--config-name", "-cn"))
    if name is None:
        return
    folder = option_value(argv, ("--config-dir", "-cd")) or CONFIG_DIR
    fairseq_configs = os.path.join(os.path.dirname(importlib.util.find_spec("fairseq").origin), "config")
    file = name if name.endswith(".yaml") else name + ".yaml"
    if not any(os.path.isfile(os.path.join(f, file)) for f in (folder, fairseq_configs)):
        shipped = sorted(f[: -len(".yaml")] for f in os.listdir(CONFIG_DIR) if f.endswith(".yaml"))
        raise SystemExit(f"hybrid-vae-hydra-train: error: no config {name!r} in {folder}: choose one of "
                         f"{', '.join(shipped)}, or give --config-dir FOLDER that holds {file}")


def with_plugin(name: str, argv: List[str]) -> List[str]:
    """argv with this plugin as the user dir, its task and (for training) criterion as the defaults (for
    hydra, its configs as the default config dir). A user dir naming another folder is refused: these
    commands load this plugin, from one place."""
    given = given_user_dir(argv)
    if given is not None and os.path.realpath(given) != os.path.realpath(PLUGIN_DIR):
        raise SystemExit(
            f"hybrid-vae-{name}: error: this command loads the plugin itself, from {PLUGIN_DIR}; "
            f"drop the user dir {given!r} (or run fairseq's own command with "
            f"--user-dir \"$(hybrid-vae-user-dir)\")")
    if name == "hydra-train":
        has_config_dir = option_value(argv, ("--config-dir", "-cd")) is not None
        return ([] if has_config_dir else ["--config-dir", CONFIG_DIR]) + argv + (
            [f"common.user_dir={PLUGIN_DIR}"] if given is None else [])
    # fairseq's defaults: the translation task fails on this data ("Could not infer language pair"), and
    # training with cross_entropy would leave the KL and historyless terms out without a word
    task = option_value(argv, ("--task",))
    defaults = [] if task else ["--task", "text_vae"]
    if name == "train" and task in (None, "text_vae") and option_value(argv, ("--criterion",)) is None:
        defaults += ["--criterion", "hybrid_vae_elbo"]
    return ([] if given is not None else ["--user-dir", PLUGIN_DIR]) + defaults + argv


LOG_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"  # fairseq_cli's
# Warnings that fairseq 0.12 raises through its dependencies at every run, which a user can do nothing
# about: its use of hydra 1.1's deprecated APIs (at start), torch's autocast under its old name and a
# DataLoader's pin_memory=True on a machine without a GPU (at the first update). The messages' starts,
# as warnings.filterwarnings matches them.
UPSTREAM_WARNINGS = [
    (UserWarning, r"hydra\.experimental\.(initialize|compose)\(\) is no longer experimental"),
    (UserWarning, r"\s*The version_base parameter is not specified"),
    # fairseq-hydra-train stores its schema under the name of the config it is given (fairseq's own
    # 'config', or the plugin's shipped one): hydra 1.3 warns of that and of 0.12's package headers
    (UserWarning, r"In '[^']+': Usage of deprecated keyword in package header"),
    (UserWarning, r"\s*'[^']+' is validated against ConfigStore schema"),
    (UserWarning, r"Future Hydra versions will no longer change working directory"),
    (UserWarning, r"\s*The strict flag in the compose API is deprecated"),
    (UserWarning, r"'pin_memory' argument is set as true but no accelerator is found"),
    (FutureWarning, r"`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated"),
]


# fairseq-interactive: the task's four INFO lines about reusing batches, printed again for every line typed.
QUIET_LOGGERS = {"interactive": ["fairseq.tasks.fairseq_task"]}


def configure_output(stream=sys.stdout) -> None:
    """fairseq_cli's logging (INFO, or $LOGLEVEL) set again, forcibly: importing fairseq's wav2vec models runs
    a logging.basicConfig(level=DEBUG) that lets hydra's and matplotlib's DEBUG lines through. Filters
    UPSTREAM_WARNINGS.
    """
    logging.basicConfig(format=LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S", stream=stream, force=True,
                        level=os.environ.get("LOGLEVEL", "INFO").upper())
    for category, message in UPSTREAM_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


def run(name: str) -> None:
    """Run fairseq's command `name` on sys.argv with this plugin and its command-line patches."""
    configure_output()
    for quiet in QUIET_LOGGERS.get(name, []):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    # fairseq says "--user-dir=... has already been imported" when the plugin was imported before it
    # read --user-dir, as it always is here (the command is in the package): a first line about nothing.
    logging.getLogger("fairseq.utils").addFilter(lambda r: "has already been imported" not in r.getMessage())
    argv = with_plugin(name, sys.argv[1:])
    if name == "hydra-train":  # hydra raises instead of printing a traceback: one line for what is fixable
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")
        check_config_name(argv)
    from ..fairseq_fixes import (
        patches,  # the package itself was imported (stack checked, plugin registered) before
    )

    patches.patch_for_the_command_line(hydra=name == "hydra-train")
    sys.argv = [sys.argv[0], *argv]
    importlib.import_module(FAIRSEQ_COMMANDS[name]).cli_main()


# The console scripts of pyproject.toml.
train = partial(run, "train")
generate = partial(run, "generate")
validate = partial(run, "validate")
interactive = partial(run, "interactive")
hydra_train = partial(run, "hydra-train")


def user_dir() -> None:
    """hybrid-vae-user-dir: the folder to pass to fairseq's commands as --user-dir."""
    print(PLUGIN_DIR)
