"""atomic_open: a file appears under its name complete, or the old one stays."""

import pytest

from fairseq_hybrid_vae.common.atomic import atomic_open


def test_a_write_that_fails_leaves_the_old_file_and_nothing_else(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(str(path)) as f:
            f.write("half of the new")
            raise RuntimeError("killed while writing")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_write_that_ends_replaces_the_file(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    with atomic_open(str(path)) as f:
        f.write("new")
        assert path.read_text() == "old"  # not visible before the block ends
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["report.json"]
