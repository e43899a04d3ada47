"""The presets as documented: docs/benchmarks.md's parameter tables are what the registered archs
build, so changing a preset is one edit and a stale document fails here."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from model_table import parameter_table  # noqa: E402


def documented_table(cell: str) -> dict:
    """The rows under `<!-- model_table --lstm-cell CELL -->` in docs/benchmarks.md."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = text.split(f"<!-- model_table --lstm-cell {cell} -->\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in block.splitlines()[2:]:
        name, ptb, tweets = (cell.strip() for cell in line.strip("|").split("|"))
        rows[name] = (int(ptb.replace(",", "")), int(tweets.replace(",", "")))
    return rows


@pytest.mark.parametrize("cell", ["layernorm", "authors"])
def test_documented_parameter_counts_are_the_registered_presets(cell):
    assert documented_table(cell) == parameter_table(cell)

