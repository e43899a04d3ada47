"""scripts/quickstart.sh trains what benchmarks/quickstart_settings.py measured as QUICKSTART."""

import os
import re
import shlex
import sys
from typing import Dict, List

from conftest import PACKAGE_DIR

REPO = os.path.dirname(PACKAGE_DIR)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import quickstart_settings  # noqa: E402

# The flags that decide what is learned (logging, paths and devices may differ).
SHARED = ["--task", "--sample-size", "--windows-per-epoch", "--criterion", "--kl-anneal-start",
          "--kl-anneal-updates", "--optimizer", "--lr", "--batch-size", "--seed", "--arch",
          "--head-layers", "--head-channels", "--alpha", "--alpha-final", "--alpha-anneal-start",
          "--alpha-anneal-updates", "--free-bits", "--input-dropout", "--head-dropout",
          "--kl-anneal-cycles", "--kl-anneal-ratio", "--head-dilations", "--lr-scheduler",
          "--end-learning-rate", "--power", "--warmup-updates", "--total-num-update", "--weight-decay",
          "--decoder-feature-dim", "--encoder-channels", "--latent-dim"]


def as_dict(tokens: List[str]) -> Dict[str, str]:
    """--flag value pairs; a later flag wins, as in argparse."""
    flags = {}
    for i, token in enumerate(tokens):
        if token.startswith("--"):
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            flags[token] = following if not following.startswith("--") else ""
    return flags


def quickstart_train_flags() -> Dict[str, str]:
    with open(os.path.join(REPO, "scripts", "quickstart.sh")) as f:
        script = f.read()
    command = re.search(r"^hybrid-vae-train .*?[^\\]$", script, re.S | re.M).group(0).replace("\\\n", " ")
    max_update = re.search(r"MAX_UPDATE=\$\{MAX_UPDATE:-(\d+)\}", script).group(1)
    return as_dict(shlex.split(command.split("2>&1")[0].replace('"$MAX_UPDATE"', max_update)))


def test_the_quickstart_trains_the_measured_candidate():
    chosen = quickstart_settings.QUICKSTART
    benchmark = as_dict(quickstart_settings.COMMON + quickstart_settings.CANDIDATES[chosen])
    benchmark["--max-update"] = str(quickstart_settings.updates_of(chosen))
    quickstart = quickstart_train_flags()
    differ = {flag: (quickstart.get(flag), benchmark.get(flag)) for flag in SHARED + ["--max-update"]
              if quickstart.get(flag) != benchmark.get(flag)}
    assert not differ, f"quickstart.sh vs the benchmark's {chosen!r}: {differ}"


def test_a_run_of_some_candidates_keeps_the_other_rows(tmp_path):
    first, second, third = list(quickstart_settings.CANDIDATES)[:3]
    quickstart = quickstart_settings.QUICKSTART
    row = {"train_seconds": 600.0, "max_update": 1200, "bound": 2.5, "train_bound": 2.0, "kl_nats": 30.0,
           "best_update": 1200, "accuracy": 0.5, "prior_accuracy": 0.1, "blank": 0, "non_blank_samples": 9}
    before = tmp_path / "table.md"
    # Written out of order, the quickstart's row with its mark, as an earlier run leaves them.
    before.write_text(f"| candidate | ... |\n|---|\n{quickstart_settings.table_row(third, row)}\n"
                      f"| {quickstart}{quickstart_settings.QUICKSTART_MARK} | 0.1 | old |\n"
                      f"{quickstart_settings.table_row(first, row)}\n\nfootnote\n")
    rows = quickstart_settings.earlier_rows(str(before))
    assert set(rows) == {first, third, quickstart}
    rows[first] = quickstart_settings.table_row(first, {**row, "bound": 2.25})  # run again
    rows[second] = quickstart_settings.table_row(second, row)  # run for the first time
    lines = quickstart_settings.table(rows, list(quickstart_settings.CANDIDATES)).splitlines()[2:]
    names = [line[2:].split(" | ")[0] for line in lines]
    expected = [name for name in quickstart_settings.CANDIDATES if name in {first, second, third, quickstart}]
    assert names == [name + (quickstart_settings.QUICKSTART_MARK if name == quickstart else "")
                     for name in expected]
    assert "| 2.250 |" in lines[names.index(first)] and "| 2.500 |" in lines[names.index(third)]
    assert lines[names.index(quickstart + quickstart_settings.QUICKSTART_MARK)].endswith("| 0.1 | old |")
