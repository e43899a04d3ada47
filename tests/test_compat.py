"""The stack check at import: fairseq 0.12 and torch >= 2.6, or one line naming what is wrong; glibc's
malloc kept from returning what CPU training frees."""

import json
import os
import subprocess
import sys

import pytest
from conftest import run_train

from fairseq_hybrid_vae.common import compat
from fairseq_hybrid_vae.tasks import text_vae


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


# Rounds of 20 tensors of 2 MB (a little larger each round: glibc's own threshold follows the largest
# block freed, so by default every round is fresh memory), each freed before the next: the minor page
# faults of each round.
FREED_AND_TAKEN_BACK = """
import json, resource, sys, torch
from fairseq_hybrid_vae.common.compat import keep_freed_memory
kept = keep_freed_memory()
faults = []
for r in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [torch.ones(512 * 1024 + r * 16384) for _ in range(20)]
    del blocks
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"kept": kept, "faults": faults}))
"""


@pytest.mark.skipif(compat.platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_kept_freed_memory_is_taken_back_without_page_faults():
    """Each round's 10,000 pages fault in again by default; once kept, only the first round's do."""
    results = {}
    for keep in ("1", "0"):
        env = {k: v for k, v in os.environ.items() if k not in compat.MALLOC_SETTINGS}
        out = subprocess.run([sys.executable, "-c", FREED_AND_TAKEN_BACK], capture_output=True, text=True,
                             env={**env, "HYBRID_VAE_KEEP_MEMORY": keep}, check=True).stdout
        results[keep] = json.loads(out.splitlines()[-1])
    first, *later = results["1"]["faults"]
    assert results["1"]["kept"] and "HYBRID_VAE_KEEP_MEMORY=0" in results["1"]["kept"]
    assert first > 10_000 and sum(later) < first / 4, results
    default_first, *default_later = results["0"]["faults"]
    assert results["0"]["kept"] is None and min(default_later) > default_first / 2, results


def test_the_first_cpu_update_keeps_freed_memory_once(tiny_data, tmp_path, caplog, monkeypatch):
    calls = []
    monkeypatch.setattr(text_vae.TextVAETask, "memory_kept", False)
    monkeypatch.setattr(text_vae, "keep_freed_memory", lambda: calls.append(1) or "kept: a line")
    run_train(tiny_data, str(tmp_path), "hybrid_vae_bytenet", ["--max-update", "3", "--no-epoch-checkpoints"],
              caplog)
    assert calls == [1]
    assert [r.getMessage() for r in caplog.records].count("kept: a line") == 1
