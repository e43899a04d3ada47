"""What importing the plugin changes: nothing global but the checkpoint allowlist, whether Python or
fairseq's own command (--user-dir) imports it; the hybrid-vae-* commands apply the patches where they
start."""

import subprocess
import sys

from conftest import PACKAGE_DIR

from fairseq_hybrid_vae.fairseq_fixes.patches import command_line_patches, command_line_replacements

# Prints, for each replaced attribute, whether it is the plugin's replacement.
REPORT = """
import argparse, sys, torch
from fairseq import checkpoint_utils, options
from fairseq.file_io import PathManager
{setup}
from fairseq_hybrid_vae.fairseq_fixes.patches import command_line_replacements
for owner, name, replacement in command_line_replacements():
    current = vars(owner)[name]
    same = current is replacement or getattr(current, "__func__", None) is replacement.__func__ \\
        if isinstance(replacement, staticmethod) else current is replacement
    print(name, same)
print("allowlisted", argparse.Namespace in torch.serialization.get_safe_globals())
"""


def report(setup: str) -> dict:
    result = subprocess.run([sys.executable, "-c", REPORT.format(setup=setup)], capture_output=True,
                            text=True, check=True)  # fmt: skip
    return {line.split()[0]: line.split()[1] == "True" for line in result.stdout.splitlines()}


def test_importing_for_the_python_api_only_allowlists_checkpoint_types():
    seen = report("import fairseq_hybrid_vae")
    assert seen.pop("allowlisted") is True
    assert seen == {name: False for _, name, _ in command_line_replacements()}


def test_fairseq_own_command_loading_the_plugin_gets_no_patch():
    # What fairseq-train does first: its parser imports --user-dir.
    seen = report(f"sys.argv = ['fairseq-train', '--user-dir', {PACKAGE_DIR!r}]; "
                  "options.get_training_parser()")  # fmt: skip
    assert seen.pop("allowlisted") is True
    assert seen == {name: False for _, name, _ in command_line_replacements()}


def test_a_hybrid_vae_command_applies_the_patches_where_it_starts():
    # cli.commands.run up to fairseq's cli_main, which is replaced by nothing here.
    seen = report("import fairseq_hybrid_vae.cli.commands as c, importlib; importlib.import_module = "
                  "lambda name: type('M', (), {'cli_main': staticmethod(lambda: 0)}); "
                  "sys.argv = ['hybrid-vae-train']; c.run('train')")  # fmt: skip
    assert seen.pop("allowlisted") is True
    assert seen == {name: True for name in seen}


def test_command_line_patches_are_undone_after_the_block():
    before = {name: vars(owner)[name] for owner, name, _ in command_line_replacements()}
    with command_line_patches():
        assert sys.excepthook is not before["excepthook"]
    assert {name: vars(owner)[name] for owner, name, _ in command_line_replacements()} == before
