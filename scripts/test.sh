#!/usr/bin/env bash
# The test command: set up .venv if needed, lint, then the pytest suite (CPU, tiny synthetic data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check fairseq_hybrid_vae tests scripts examples benchmarks
exec .venv/bin/python -m pytest -q "$@"
