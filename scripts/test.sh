#!/usr/bin/env bash
# The test command: set up .venv if needed, lint, then the pytest suite (CPU, tiny synthetic data).
# Without arguments it then runs the float-sensitive tests (pytest -m float_sensitive) again under
# another instruction set of this processor: another machine's kernels sum in another order, and a
# test that compares floating-point results too tightly fails here, not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check fairseq_hybrid_vae tests scripts examples benchmarks
.venv/bin/python -m pytest -q "$@"
[ $# -eq 0 ] || exit 0

# ATen's own kernels (ATEN_CPU_CAPABILITY), MKL's matmuls and vector maths (MKL_ENABLE_INSTRUCTIONS) and
# oneDNN's convolutions (ONEDNN_MAX_CPU_ISA) each choose their code by the processor; capped one level
# down, all three compute other bits, as an AVX2 machine's (or an older one's) would.
capability=$(.venv/bin/python -c 'import torch; print(torch.backends.cpu.get_cpu_capability())')
case "$capability" in
  AVX512) lower=(ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2) ;;
  *) lower=(ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41) ;;
esac
# torch.compile's kernels get a cache of their own: one compiled under the full instruction set and
# reloaded from inductor's cache under the capped ATen capability gave NaN gradients (torch 2.13.0).
lower+=(TORCHINDUCTOR_CACHE_DIR="${TMPDIR:-/tmp}/torchinductor_${USER:-user}_$(echo "${lower[0]}" | tr -dc a-z0-9)")
echo "test.sh: float-sensitive tests again, as on a processor without $capability: ${lower[*]}" >&2
env "${lower[@]}" .venv/bin/python -m pytest -q -m float_sensitive
