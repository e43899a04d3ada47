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


def test_store_ema_averages_the_weights_and_copies_batchnorm_counters(tiny_data, tmp_path):
    """--store-ema with fairseq's EMA as the commands build it: BatchNorm's integer counters are copied
    (fairseq's own decayed them and failed at the first update); with decay 0 the average is the
    weights themselves, with 0.5 it lags behind them."""
    import torch
    from conftest import run_train

    for decay in ("0", "0.5"):
        save_dir = tmp_path / decay
        with command_line_patches(only=["build_ema"]):
            run_train(tiny_data, str(save_dir), "hybrid_vae_lstm",
                      ["--max-update", "6", "--store-ema", "--ema-decay", decay])
        state = torch.load(save_dir / "checkpoint_last.pt")
        ema, model = state["extra_state"]["ema"], state["model"]
        assert ema.keys() == model.keys()
        counters = [key for key in model if key.endswith("num_batches_tracked")]
        assert counters and all(int(model[key]) == 6 and int(ema[key]) == 6 for key in counters)
        weights = [key for key in model if torch.is_floating_point(model[key])]
        same = [torch.equal(ema[key], model[key]) for key in weights]
        assert all(same) if decay == "0" else not any(same[:3])  # the encoder's first tensors
