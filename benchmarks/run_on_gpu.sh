#!/usr/bin/env bash
# Every GPU measurement of docs/benchmarks.md in one command, for a GPU machine without network access
# whose Python (3.12) has torch with CUDA but no fairseq: the wheels in .whl/ (fairseq-fixed's cp312 wheel, hydra-core,
# omegaconf, antlr4, bitarray, tensorboardX; see docs/benchmarks.md) are installed into /tmp/site.
# Each table goes to $OUT/<name>.md (default benchmarks/results/), its log beside it.
#     bash benchmarks/run_on_gpu.sh wheels        # here, with network: fill .whl/ (ignored by git)
#     bash benchmarks/run_on_gpu.sh [graph|train|train-half|generate|generate-half|profile|profile-more ...]  (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = wheels ]; then  # cp312 manylinux wheels: the GPU image's Python is 3.12
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
    fairseq-fixed==0.12.3.1 hydra-core==1.3.2 omegaconf==2.3.0 bitarray tensorboardX
  python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3  # an sdist only; pure Python
  ls .whl; exit
fi
OUT=${OUT:-benchmarks/results}
CELLS=authors,layernorm,torch  # every --lstm-cell, timed in the same rounds, against the paper's cell
LSTM_MODELS=hybrid_vae_lstm,lstm_vae,window_lm_lstm
if ! python3 -c 'import fairseq' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv  # the card, for the docs

run() {  # run NAME ARGS...: the table to $OUT/NAME.md, stderr to $OUT/NAME.log
  local name=$1; shift
  echo "== $name: $*"
  local start=$SECONDS
  python3 "$@" > "$OUT/$name.md" 2> "$OUT/$name.log"; local rc=$?
  cat "$OUT/$name.md"; echo "== $name: exit $rc, $((SECONDS - start)) s"
  [ $rc = 0 ] || tail -20 "$OUT/$name.log"
}
parts=${*:-graph train train-half generate generate-half profile profile-more}
for part in $parts; do
  case $part in
    graph)  # eager and CUDA-graph updates, fp32 and bf16 autocast, outside fairseq's Trainer
      run graph_step_cuda benchmarks/graph_step.py --device cuda --lstm-cell "$CELLS" --models "$LSTM_MODELS" ;;
    train) run train_throughput_cuda_cells benchmarks/train_throughput.py --device cuda \
             --sample-sizes 128 --repeats 9 --lstm-cell "$CELLS" \
             --models "$LSTM_MODELS,hybrid_vae_bytenet,fairseq lstm_lm" ;;
    train-half)  # fairseq's two half-precision modes on a GPU (its --bf16 means a TPU), and the plugin's
      # --bf16-autocast: with `train`, each cell through fairseq's Trainer in fp32, fp16, amp and bf16
      for dtype in fp16 amp bf16; do
        run train_throughput_cuda_cells_$dtype benchmarks/train_throughput.py --device cuda --dtype $dtype \
          --sample-sizes 128 --repeats 7 --lstm-cell "$CELLS" --models "$LSTM_MODELS"
      done ;;
    generate) run generate_throughput_cuda benchmarks/generate_throughput.py --device cuda --repeats 3 ;;
    generate-half)  # sampling is the plugin's own loop, not fairseq's Trainer: bf16 works too
      for dtype in bf16 fp16; do
        run generate_throughput_cuda_$dtype benchmarks/generate_throughput.py --device cuda --dtype $dtype \
          --repeats 3
      done ;;
    profile)  # one update of the hybrid per cell
      mkdir -p "$OUT/profiles"
      for cell in ${CELLS//,/ }; do
        run profiles/profile_step_cuda_hybrid_vae_lstm_$cell benchmarks/profile_step.py --device cuda \
          --model hybrid_vae_lstm --lstm-cell $cell --rows 20
      done ;;
    profile-more)
      mkdir -p "$OUT/profiles"
      run profiles/profile_step_cuda_hybrid_vae_lstm_torch_adam benchmarks/profile_step.py --device cuda \
        --model "hybrid_vae_lstm (torch_adam)" --rows 12
      run profiles/profile_step_cuda_lstm_vae benchmarks/profile_step.py --device cuda --model lstm_vae --rows 12
      run profiles/profile_sampling_cuda_bytenet benchmarks/profile_step.py --device cuda --sampling bytenet \
        --rows 20 ;;
    *) echo "unknown part: $part" >&2; exit 2 ;;
  esac
done
