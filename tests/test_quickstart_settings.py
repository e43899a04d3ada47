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
          "--kl-anneal-cycles", "--kl-anneal-ratio"]


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
    command = re.search(r"^fairseq-train .*?[^\\]$", script, re.S | re.M).group(0).replace("\\\n", " ")
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
