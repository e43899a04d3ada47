"""Checkpoints load with torch's weights_only unpickler: one holding a callable is refused."""

import os
import re
from pathlib import Path

import pytest
import torch
from conftest import PACKAGE_DIR, run_generate

from fairseq_hybrid_vae.fairseq_fixes.checkpoint_safety import CheckpointError, load_checkpoint_to_cpu


class Payload:
    """Unpickling this calls os.system: what a malicious checkpoint would do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_holding_a_callable_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    checkpoint = tmp_path / "checkpoint_evil.pt"
    torch.save({"model": {}, "cfg": {"payload": Payload(str(marker))}}, checkpoint)
    with pytest.raises(CheckpointError, match=r"refused to load .*checkpoint_evil.pt: it holds "
                       r"posix.system"):
        load_checkpoint_to_cpu(str(checkpoint))
    assert not marker.exists()


def test_fairseq_generate_refuses_it_too(tiny_data, tmp_path):
    marker = tmp_path / "payload-ran"
    checkpoint = tmp_path / "checkpoint_evil.pt"
    torch.save({"model": {}, "cfg": {"payload": Payload(str(marker))}}, checkpoint)
    with pytest.raises(CheckpointError):
        run_generate(tiny_data, str(checkpoint), ["--sample-size", "16", "--gen-subset", "valid"])
    assert not marker.exists()


def test_project_never_disables_the_safe_loader():
    """No file outside tests/ turns torch's safe loader off. Read with Python, not `git grep`, so
    that a missing git or a copy that is not a checkout cannot pass it unread."""
    root = Path(PACKAGE_DIR).parent
    forbidden = re.compile("TORCH_FORCE_NO_WEIGHTS_ONLY" + "_LOAD|weights_only" + r"\s*=\s*False")
    read, found = 0, []
    for folder in ["fairseq_hybrid_vae", "scripts", "examples", "benchmarks", "docs", ".ci"]:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in {".py", ".sh", ".md", ".yaml", ".toml", ""} and path.is_file():
                read += 1
                text = path.read_text(errors="replace")
                found += [f"{path.relative_to(root)}: {m.group(0)}" for m in forbidden.finditer(text)]
    assert read > 50, f"only {read} files read under {root}"
    assert found == [], found
