#!/usr/bin/env bash
# Quickstart: prepare a corpus, train a small hybrid_vae_bytenet on CPU with hybrid-vae-train
# (fairseq-train with the plugin loaded), print
# validation bits/char, KL and reconstruction accuracy (hybrid-vae-eval) and seconds per update, then
# 5 prior samples and 3 reconstructions from hybrid-vae-generate. Default corpus: the Python Language
# Reference text that ships inside CPython (pydoc_data.topics), so nothing is downloaded.
# Usage: bash scripts/quickstart.sh [CORPUS]
# Environment: WORK (output folder, default runs/quickstart), MAX_UPDATE (default 3600), BF16=1 (train
# under bf16 autocast, --bf16-autocast: faster on a processor with AMX or AVX512-BF16; elsewhere one
# warning line and fp32; evaluation stays fp32).
# The model: the setting two rounds of measurement chose (docs/benchmarks.md, "Which quickstart
# settings use z best in 10 minutes?";
# benchmarks/results/quickstart_settings_round2.md, the row marked quickstart): a 3-layer
# ByteNet head of 128 channels reading 100 deconv features per position; alpha 1 (the historyless
# term pushes the window into z) falling to 0 over updates 1,000-2,000 (the head takes over); free
# bits 0.8 nats per latent dimension (z keeps about 40 nats; with less, windows of spaces and
# symbols tend to decode blank); Adam from 3e-3 falling linearly to 0 at the last update, with head
# dropout and weight decay against the small corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

WORK=${WORK:-runs/quickstart}
MAX_UPDATE=${MAX_UPDATE:-3600}
PRECISION_FLAGS=$([ "${BF16:-0}" = 1 ] && echo --bf16-autocast || true)
mkdir -p "$WORK"
CORPUS=${1:-}
if [ -z "$CORPUS" ]; then
  CORPUS="$WORK/python-reference.txt"
  python scripts/python_reference.py "$CORPUS"
fi

# 5% of the corpus held out for validation and 5% for test, each at most ~256,000 characters (4,000
# windows): validation reads about 90,000 characters a second on 2 cores, so text8's 5 million would
# take longer to validate 18 times than the training itself.
SPLIT=$(python -c 'import os, sys; r = round(min(0.05, 256000 / os.path.getsize(sys.argv[1])), 6)
print(f"{1 - 2 * r:.6f},{r},{r}")' "$CORPUS")
echo "== 1/4 prepare $CORPUS (characters, train/valid/test split $SPLIT)"
hybrid-vae-prepare --train "$CORPUS" --destdir "$WORK/data" --split-ratio "$SPLIT"

echo "== 2/4 train hybrid_vae_bytenet for $MAX_UPDATE updates (CPU)"
rm -rf "$WORK/checkpoints"
hybrid-vae-train "$WORK/data" \
  --task text_vae --sample-size 64 --windows-per-epoch 12800 \
  --arch hybrid_vae_bytenet --head-layers 3 --head-channels 128 --head-dropout 0.1 \
  --decoder-feature-dim 100 \
  --criterion hybrid_vae_elbo --kl-anneal-start 200 --kl-anneal-updates 800 --free-bits 0.8 \
  --alpha 1 --alpha-final 0 --alpha-anneal-start 1000 --alpha-anneal-updates 1000 \
  --optimizer adam --lr 3e-3 --weight-decay 0.1 --batch-size 64 --max-update "$MAX_UPDATE" \
  --lr-scheduler polynomial_decay --end-learning-rate 0 --power 1 --total-num-update "$MAX_UPDATE" \
  --best-checkpoint-metric elbo --save-dir "$WORK/checkpoints" --no-epoch-checkpoints \
  --tensorboard-logdir "$WORK/tensorboard" --log-format tqdm --log-interval 50 \
  --cpu --num-workers 0 --seed 1 $PRECISION_FLAGS 2>&1 | tee "$WORK/train.log"

echo "== 3/4 evaluate checkpoint_best.pt on the validation windows (hybrid-vae-eval)"
hybrid-vae-eval "$WORK/data" --path "$WORK/checkpoints/checkpoint_best.pt" --split valid \
  --iw-samples 10 --diversity-samples 0 --cpu --json "$WORK/valid.json" > /dev/null 2>&1
python - "$WORK/valid.json" "$WORK/train.log" "$MAX_UPDATE" <<'PY'
import json, re, sys
result = json.load(open(sys.argv[1]))
bits, nats, rec = result["bits_per_unit"], result["nats_per_sample"], result["reconstruction"]
seconds = float(re.findall(r"done training in ([0-9.]+) seconds", open(sys.argv[2]).read())[-1])
print(f"validation: {bits['elbo']:.3f} bits/char (ELBO; rec {bits['rec']:.3f} + KL {bits['kl']:.3f}); "
      f"KL {nats['kl']:.2f} nats per 64-character window")
print(f"greedy reconstructions repeat {rec['accuracy']:.1%} of the characters at their position; "
      f"decodings of the prior, {rec['prior_accuracy']:.1%}; blank: {rec['blank']} of "
      f"{rec['non_blank_samples']} windows")
print(f"training: {seconds / int(sys.argv[3]):.3f} s per update ({seconds:.0f} s in all)")
PY

echo "== 4/4 generate with hybrid-vae-generate (fairseq-generate; greedy, --beam 1)"
GENERATE=(hybrid-vae-generate "$WORK/data" --task text_vae --sample-size 64
          --path "$WORK/checkpoints/checkpoint_best.pt" --beam 1 --batch-size 64 --cpu)
echo "-- 5 samples of z ~ N(0, I) (D-: the decoded text):"
"${GENERATE[@]}" --gen-mode prior --gen-subset prior --num-samples 5 2>/dev/null \
  | grep "^D-" | sort -t- -k2 -n | cut -f3
echo "-- 3 reconstructions of validation windows (S-: input, D-: decoded posterior mean):"
"${GENERATE[@]}" --gen-mode reconstruct --gen-subset valid 2>/dev/null \
  | grep -E "^(S|D)-[012]\s" | sort -t- -k2 -n -s | sed -E 's/^(D-[0-9]+)\t[^\t]*\t/\1\t/'
echo "TensorBoard curves: tensorboard --logdir $WORK/tensorboard"
