"""What the plugin's commands print: fairseq's log lines, and no warning or DEBUG line from the stack."""

import os
import re
import subprocess
import sys

from conftest import tiny_model_flags

BIN = os.path.dirname(sys.executable)
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| (INFO|WARNING|ERROR) \| ")


def command(name: str, *args: str, cwd: str, status: int = 0) -> str:
    """The command's stdout and stderr, after checking its exit status."""
    result = subprocess.run([os.path.join(BIN, name), *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == status, (name, result.returncode, result.stderr[-2000:])
    return result.stdout + result.stderr


def noise(output: str) -> list:
    return [line for line in output.splitlines() if re.search(r"Warning|DEBUG", line)]


def test_a_refused_start_prints_its_error_and_fairseqs_log_lines_only(tiny_data, tmp_path):
    output = command("hybrid-vae-validate", tiny_data, "--task", "text_vae", "--batch-size", "2", "--path",
                     str(tmp_path / "missing.pt"), cwd=str(tmp_path), status=1)
    lines = output.splitlines()
    missing = tmp_path / "missing.pt"
    assert lines[-1] == (f"hybrid-vae-validate: error: Model file not found: {missing}: check --path (a "
                         "checkpoint file, e.g. checkpoints/checkpoint_best.pt)")
    assert all(LOG_LINE.match(line) for line in lines[:-1]), lines


def test_training_and_its_tools_print_no_warnings_or_debug_lines(tiny_data, tmp_path):
    train = command("hybrid-vae-train", tiny_data, "--task", "text_vae", "--arch", "hybrid_vae_lstm",
                    "--criterion", "hybrid_vae_elbo", "--optimizer", "adam", "--lr", "1e-3", "--cpu",
                    "--max-update", "2", "--batch-size", "4", "--sample-size", "16",
                    "--windows-per-epoch", "8", "--save-dir", str(tmp_path / "checkpoints"),
                    *tiny_model_flags("hybrid_vae_lstm"), cwd=str(tmp_path))
    assert "done training" in train and noise(train) == [], noise(train) or train[-2000:]
    assert "has already been imported" not in train  # fairseq's line about the --user-dir the command adds
    checkpoint = str(tmp_path / "checkpoints" / "checkpoint_last.pt")
    for name, args in [("hybrid-vae-generate", ["--task", "text_vae", "--sample-size", "16", "--gen-mode",
                                                "reconstruct", "--gen-subset", "valid", "--max-sentences",
                                                "2", "--beam", "1", "--cpu"]),
                       ("hybrid-vae-eval", ["--split", "valid", "--max-samples", "4", "--iw-samples", "2",
                                            "--diversity-samples", "2", "--cpu"]),
                       ("hybrid-vae-latent", ["neighbours", "--split", "valid", "--k", "2", " the "])]:
        if name == "hybrid-vae-latent":
            output = command(name, args[0], tiny_data, "--path", checkpoint, *args[1:], "--cpu",
                             cwd=str(tmp_path))
        else:
            output = command(name, tiny_data, "--path", checkpoint, *args, cwd=str(tmp_path))
        assert noise(output) == [], (name, noise(output), output[-2000:])


def test_the_shipped_hydra_config_trains_without_warnings(tiny_data, tmp_path):
    """fairseq-hydra-train stores its schema under the config's name and hydra warns of that, of the
    config's package header and of its working directory, whichever config is given: filtered for the
    shipped one too, not only for fairseq's own 'config'."""
    output = command("hybrid-vae-hydra-train", "--config-name", "hybrid_vae_lstm_ptb",
                     f"task.data={tiny_data}", "task.sample_size=16", "common.cpu=true",
                     "optimization.max_update=1", "dataset.batch_size=4", "dataset.num_workers=0",
                     f"checkpoint.save_dir={tmp_path / 'checkpoints'}", cwd=str(tmp_path))
    assert "done training" in output and noise(output) == [], noise(output) or output[-2000:]


def test_importing_the_plugin_leaves_a_scripts_logging_as_it_was():
    """fairseq's import configures the root logger at DEBUG; a script or notebook that imports the plugin
    (the Python API) keeps its own logging, or none: another library's DEBUG line stays silent."""
    probe = ("import logging; {setup}import fairseq_hybrid_vae; library = logging.getLogger('some.library'); "
             "library.debug('probe-debug'); library.info('probe-info'); library.warning('probe-warning')")
    for setup, shown in [("", ["probe-warning"]),
                         ("logging.basicConfig(level=logging.INFO); ", ["probe-info", "probe-warning"])]:
        result = subprocess.run([sys.executable, "-c", probe.format(setup=setup)], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        printed = [word for word in ("probe-debug", "probe-info", "probe-warning") if word in result.stderr]
        assert printed == shown, (setup, result.stderr[-2000:])
