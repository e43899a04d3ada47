#!/usr/bin/env bash
# Create .venv (Python 3.11) with the verified stack (the exact versions of scripts/constraints.txt),
# then install this project in editable mode.
# Idempotent: a stamp records what was installed; a second run only checks it (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
  echo "setup.sh: Python 3.11 is required (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
}

# The stamp changes whenever this script or the project's metadata changes.
stamp_value=$(cat scripts/setup.sh scripts/constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
stamp_file=.venv/.setup-stamp
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_value" ] && .venv/bin/python -c 'import fairseq, fairseq_hybrid_vae' 2>/dev/null; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip_install() {
  # Quiet, minus the "Location ... is ignored" lines some pip configurations print per package, and
  # pip's note that fairseq-fixed lists torchaudio: it is imported only lazily, never here, and no
  # CPU build of it exists.
  .venv/bin/python -m pip --disable-pip-version-check -q install -c scripts/constraints.txt "$@" 2>&1 \
    | { grep -v -e "is ignored: it is neither a file nor a directory" \
          -e "pip's dependency resolver does not currently take into account" \
          -e "requires torchaudio" || true; }
  return "${PIPESTATUS[0]}"
}

# 1. torch first, from the CPU wheel; then the build tools fairseq's sdist needs.
#    numpy<2: fairseq still uses np.compat / np.float on some paths.
pip_install torch cython setuptools wheel numpy
# 2. fairseq (the Python 3.11 fork) without build isolation and without deps, so pip cannot pull a
#    CUDA torch or torchaudio. The first build compiles its C extensions (~3 min); pip caches the wheel.
if ! .venv/bin/python -c 'import fairseq' 2>/dev/null; then
  echo "setup.sh: building fairseq-fixed 0.12.3.1 (first time only, ~3 minutes)" >&2
  pip_install --no-build-isolation --no-deps fairseq-fixed
fi
# 3. fairseq's real runtime dependencies, then ours.
pip_install hydra-core omegaconf bitarray sacrebleu regex tqdm cffi packaging scikit-learn \
  sentencepiece protobuf tensorboardX pytest ruff matplotlib
# 4. This project, editable, with its console scripts.
pip_install --no-build-isolation --no-deps -e .

echo "$stamp_value" > "$stamp_file"
echo "setup.sh: .venv ready ($(.venv/bin/python -c 'import torch, fairseq; print("torch", torch.__version__, "fairseq", fairseq.__version__)'))" >&2
