"""The presets as documented: docs/benchmarks.md's parameter tables are what the registered archs
build, so changing a preset is one edit and a stale document fails here."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def rows_of(block: str) -> dict:
    """name -> (PTB parameters, tweets parameters) of a markdown table (header and rule skipped)."""
    rows = {}
    for line in block.splitlines()[2:]:
        name, ptb, tweets = (cell.strip() for cell in line.strip("|").split("|"))
        rows[name] = (int(ptb.replace(",", "")), int(tweets.replace(",", "")))
    return rows


def documented_table(cell: str) -> dict:
    """The rows under `<!-- model_table --lstm-cell CELL -->` in docs/benchmarks.md."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    return rows_of(text.split(f"<!-- model_table --lstm-cell {cell} -->\n", 1)[1].split("\n\n", 1)[0])


@pytest.mark.parametrize("cell", ["layernorm", "authors"])
def test_documented_parameter_counts_are_the_registered_presets(cell):
    script = str(ROOT / "benchmarks" / "model_table.py")
    printed = subprocess.run([sys.executable, script, "--lstm-cell", cell], capture_output=True, text=True,
                             check=True).stdout
    assert documented_table(cell) == rows_of(printed.split("\n\n", 1)[1])

