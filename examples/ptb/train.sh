#!/usr/bin/env bash
# Prepare PTB (once) and train one arch on it with the paper's PTB settings; then score valid and test.
# Usage: bash examples/ptb/train.sh PTB_DIR [ARCH] -- [extra fairseq-train flags]
#   PTB_DIR holds ptb.{train,valid,test}.txt (see README.md). ARCH: hybrid_vae_lstm_ptb (default).
# The paper's setting is read from fairseq_hybrid_vae/config/hybrid_vae_lstm_ptb.yaml (paper_setting.py); the environment
# overrides: MAX_UPDATE (100000), ANNEAL_START (1000), ANNEAL_UPDATES (7000), WORK (runs/ptb),
#   LSTM_CELL (authors: the paper's; torch or layernorm, see docs/lstm_cells.md),
#   DEVICE_FLAGS (default --cpu when no GPU is visible).
set -euo pipefail
cd "$(dirname "$0")/../.."
PTB_DIR=${1:?usage: bash examples/ptb/train.sh PTB_DIR [ARCH] -- [fairseq-train flags]}
shift
ARCH=hybrid_vae_lstm_ptb
if [ $# -gt 0 ] && [ "$1" != "--" ]; then ARCH=$1; shift; fi
if [ "${1:-}" = "--" ]; then shift; fi
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
WORK=${WORK:-runs/ptb}
DATA=$WORK/data-bin
RUN=$WORK/$ARCH
if [ -z "${DEVICE_FLAGS+x}" ]; then
  DEVICE_FLAGS=$(python -c 'import torch; print("" if torch.cuda.is_available() else "--cpu")')
fi
[ -f "$DATA/dict.txt" ] || hybrid-vae-prepare --train "$PTB_DIR/ptb.train.txt" \
  --valid "$PTB_DIR/ptb.valid.txt" --test "$PTB_DIR/ptb.test.txt" --destdir "$DATA"
mkdir -p "$RUN"
mapfile -t PAPER < <(python examples/ptb/paper_setting.py)  # the plugin's hydra config as flags
hybrid-vae-train "$DATA" "${PAPER[@]}" --arch "$ARCH" \
  --lstm-cell "${LSTM_CELL:-authors}" ${MAX_UPDATE:+--max-update "$MAX_UPDATE"} \
  ${ANNEAL_START:+--kl-anneal-start "$ANNEAL_START"} ${ANNEAL_UPDATES:+--kl-anneal-updates "$ANNEAL_UPDATES"} \
  --save-dir "$RUN/checkpoints" --no-epoch-checkpoints --best-checkpoint-metric elbo \
  --tensorboard-logdir "$RUN/tensorboard" --log-format simple --log-interval 100 \
  $DEVICE_FLAGS "$@" 2>&1 | tee "$RUN/train.log"
for split in valid test; do
  hybrid-vae-validate "$DATA" --task text_vae --sample-size 60 \
    --path "$RUN/checkpoints/checkpoint_best.pt" --valid-subset "$split" --batch-size 64 \
    $DEVICE_FLAGS 2>&1 | grep "| $split | valid on '$split' subset" | tee -a "$RUN/scores.txt"
done
