#!/usr/bin/env bash
# Install the plugin as a user would, into a fresh virtual environment with another Python and another
# torch, then run the test suite there (docs/install.md records each run).
# Usage: bash scripts/test_other_stack.sh PYTHON TORCH_VERSION [VENV]
#   e.g. bash scripts/test_other_stack.sh ~/.pyenv/versions/3.12.1/bin/python 2.6.0
# torch from PyPI is a CUDA build for most versions: about 3 GB to download the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=$1
TORCH=$2
VENV=${3:-/tmp/hybrid-vae-stack-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-torch$TORCH}
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "is ignored" || true; }; }

echo "== 1. torch $TORCH, as the user's environment already has it"
pip install "torch==$TORCH" wheel setuptools

echo "== 2. the plugin's wheel with the dependencies it declares: torch must stay as it was"
pip wheel --no-deps --no-build-isolation -w "$VENV/dist" .
pip install "$VENV"/dist/fairseq_hybrid_vae-*.whl
after=$("$VENV/bin/python" -m pip show torch | sed -n 's/^Version: //p')
case "$after" in
  "$TORCH"|"$TORCH"+*) echo "torch $after kept" ;;
  *) echo "test_other_stack.sh: the wheel replaced torch $TORCH with $after" >&2; exit 1 ;;
esac

echo "== 3. fairseq 0.12 without its dependencies (fairseq-fixed's torchaudio would replace torch)"
pip install --no-deps fairseq-fixed==0.12.3.1
pip install bitarray sacrebleu regex scikit-learn cffi pytest ruff matplotlib "numpy>=1.26,<2"

echo "== 4. the suite, on an editable install of this checkout (the tests pass its folder as --user-dir)"
pip install --no-deps --no-build-isolation --force-reinstall -e .
"$VENV/bin/python" - <<'PY'
import platform, sys
from importlib import metadata
names = ["torch", "fairseq-fixed", "hydra-core", "omegaconf", "numpy", "sentencepiece", "protobuf", "tensorboardX"]
print("stack: Python", platform.python_version(), ", ".join(f"{n} {metadata.version(n)}" for n in names))
PY
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "${@:4}"
