"""The stack check at import: fairseq 0.12 and torch >= 2.6, or one line naming what is wrong."""

import os
import subprocess
import sys

import pytest

from fairseq_hybrid_vae.common import compat


@pytest.mark.parametrize("fairseq, torch, says", [
    (None, "2.13.0+cpu", "fairseq is not installed: pip install --no-deps fairseq-fixed==0.12.3.1"),
    ("0.10.2", "2.13.0+cpu", "fairseq 0.10.2 is installed; the plugin runs with fairseq 0.12 only"),
    ("1.0.0a0", "2.13.0+cpu", "fairseq 1.0.0a0 is installed"),
    ("0.12.3.1", "2.5.1", "torch 2.5.1 is installed; the plugin needs torch >= 2.6"),
    ("0.12.2", None, "torch is not installed"),
])
def test_what_is_wrong_is_named(monkeypatch, fairseq, torch, says):
    versions = {"fairseq": fairseq, "torch": torch}
    monkeypatch.setattr(compat, "installed_version", lambda package, distributions: versions[package])
    assert says in compat.stack_problem()


@pytest.mark.parametrize("fairseq, torch", [("0.12.2", "2.6.0"), ("0.12.3.1", "2.13.0+cpu"),
                                            ("0.12.3", "2.10.0")])
def test_supported_stacks_pass(monkeypatch, fairseq, torch):
    versions = {"fairseq": fairseq, "torch": torch}
    monkeypatch.setattr(compat, "installed_version", lambda package, distributions: versions[package])
    assert compat.stack_problem() is None


def test_this_stack_is_read_without_importing_fairseq():
    import fairseq
    import torch

    assert compat.installed_version("fairseq", ("fairseq", "fairseq-fixed")) == fairseq.__version__
    assert compat.installed_version("torch", ("torch",)) == torch.__version__


def test_an_unsupported_fairseq_ends_a_command_in_one_line(tmp_path):
    """A fairseq 0.10 first on the path: the command stops before importing it."""
    (tmp_path / "fairseq").mkdir()
    unsupported = "raise SystemExit('imported the unsupported fairseq')\n"
    (tmp_path / "fairseq" / "__init__.py").write_text(unsupported)
    (tmp_path / "fairseq" / "version.txt").write_text("0.10.2\n")
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "hybrid-vae-user-dir")],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "fairseq-hybrid-vae: error: fairseq 0.10.2 is installed; the plugin runs with fairseq 0.12 only: "
        + compat.INSTALL_FAIRSEQ]
