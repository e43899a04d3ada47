#!/usr/bin/env bash
# Quickstart: prepare a corpus, train a small hybrid_vae_bytenet on CPU with fairseq-train, print
# validation bits/char and KL, then 5 prior samples and 3 reconstructions from fairseq-generate. Default corpus: the Python Language Reference text that ships inside
# CPython (pydoc_data.topics), so nothing is downloaded. Usage: bash scripts/quickstart.sh [CORPUS]
# Environment: WORK (output folder, default runs/quickstart), MAX_UPDATE (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

WORK=${WORK:-runs/quickstart}
MAX_UPDATE=${MAX_UPDATE:-2000}
mkdir -p "$WORK"
CORPUS=${1:-}
if [ -z "$CORPUS" ]; then
  CORPUS="$WORK/python-reference.txt"
  python - "$CORPUS" <<'PY'
import sys
from pydoc_data.topics import topics
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("\n".join(topics[name] for name in sorted(topics)) + "\n")
PY
fi

echo "== 1/4 prepare $CORPUS (characters, 90/5/5 split)"
hybrid-vae-prepare --train "$CORPUS" --destdir "$WORK/data"

echo "== 2/4 train hybrid_vae_bytenet for $MAX_UPDATE updates (CPU)"
rm -rf "$WORK/checkpoints"
fairseq-train "$WORK/data" --user-dir fairseq_hybrid_vae \
  --task text_vae --sample-size 64 --windows-per-epoch 12800 \
  --arch hybrid_vae_bytenet --head-layers 3 \
  --criterion hybrid_vae_elbo --alpha 0.2 --kl-anneal-start 200 --kl-anneal-updates 1000 \
  --optimizer adam --lr 1e-3 --batch-size 64 --max-update "$MAX_UPDATE" \
  --best-checkpoint-metric elbo --save-dir "$WORK/checkpoints" --no-epoch-checkpoints \
  --tensorboard-logdir "$WORK/tensorboard" --log-format tqdm --log-interval 50 \
  --cpu --num-workers 0 --seed 1

echo "== 3/4 validate checkpoint_best.pt"
fairseq-validate "$WORK/data" --user-dir fairseq_hybrid_vae --task text_vae --sample-size 64 \
  --path "$WORK/checkpoints/checkpoint_best.pt" --valid-subset valid --batch-size 64 --cpu \
  2>&1 | tee "$WORK/validate.log" | grep "valid on 'valid' subset"
python - "$WORK/validate.log" <<'PY'
import re, sys
line = [l for l in open(sys.argv[1]) if "valid on 'valid' subset" in l][-1]
value = lambda key: float(re.search(rf"\| {key} ([0-9.]+)", line).group(1))
print(f"\nvalidation: {value('elbo'):.3f} bits/char (ELBO: rec {value('rec'):.3f} + KL {value('kl'):.3f}); "
      f"KL {value('kl_nats'):.2f} nats per 64-character sample")
PY

echo "== 4/4 generate with fairseq-generate (greedy, --beam 1)"
GENERATE=(fairseq-generate "$WORK/data" --user-dir fairseq_hybrid_vae --task text_vae --sample-size 64
          --path "$WORK/checkpoints/checkpoint_best.pt" --beam 1 --batch-size 64 --cpu)
echo "-- 5 samples of z ~ N(0, I) (D-: the decoded text):"
"${GENERATE[@]}" --gen-mode prior --gen-subset prior --num-samples 5 2>/dev/null \
  | grep "^D-" | sort -t- -k2 -n | cut -f3
echo "-- 3 reconstructions of validation windows (S-: input, D-: decoded posterior mean):"
"${GENERATE[@]}" --gen-mode reconstruct --gen-subset valid 2>/dev/null \
  | grep -E "^(S|D)-[012]\s" | sort -t- -k2 -n -s | sed -E 's/^(D-[0-9]+)\t[^\t]*\t/\1\t/'
echo "TensorBoard curves: tensorboard --logdir $WORK/tensorboard"
