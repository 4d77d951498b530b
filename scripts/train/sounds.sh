#!/usr/bin/env bash
# Recipe for the shipped `sounds` model (ESC-10): settings chosen on a fold split, then the
# shipped model trained on every available fold.
#
#   scripts/train/sounds.sh [WORK_DIR]        (default WORK_DIR: ../earshot-work)
#
# Step 1 trains on folds 1-3 and validates on fold 4 (clips of one source recording share a
# fold, so nothing leaks) and prints the per-class report. Step 2 trains on folds 1-4 with the
# same settings and schedule (EPOCHS, 40: step 1 held 75-86% over epochs 31-40) and installs
# the last epoch as Sources/Earshot/Models/sounds.safetensors, stamped with test-time speeds
# 0.9,1,1.1 (each clip is also heard 10% slower and faster, the probabilities averaged; step 1
# scores the last epoch both ways). STEP=valid or STEP=final runs one step only.
# Needs ../shared/data/esc10. Everything else goes to WORK_DIR, outside the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-../earshot-work}
DATA=${DATA:-../shared/data}
SEED=${SEED:-1}
VALID_EPOCHS=${VALID_EPOCHS:-40}   # step 1: settings
EPOCHS=${EPOCHS:-40}               # step 2: the shipped model
THREADS=${THREADS:-1}
STEP=${STEP:-all}
mkdir -p "$WORK"

if [ -z "${EARSHOT:-}" ]; then   # EARSHOT=path/to/earshot skips the build
  swift build -c release --product earshot
  EARSHOT=.build/release/earshot
fi

SETTINGS=(--sample-rate 16000 --mel-bands 64 --window-ms 40 --hop-ms 20
  --hidden 192 --layers 2 --dropout 0.1 --pooling mean-max --batch-size 16 --learning-rate 0.003
  --mixup 0.5 --time-shift 1.0 --label-smoothing 0.1 --balance weighted-loss --cmvn level
  --seed "$SEED" --threads "$THREADS")

if [ "$STEP" = all ] || [ "$STEP" = valid ]; then
  RESUME=()
  [ -f "$WORK/sounds-valid/checkpoint.safetensors" ] && RESUME=(--resume)
  time "$EARSHOT" train --task classify --train "$DATA/esc10" --valid-fold 4 \
    "${SETTINGS[@]}" --epochs "$VALID_EPOCHS" --output "$WORK/sounds-valid" "${RESUME[@]}"
  for speeds in 1 0.9,1,1.1; do
    echo "== fold 4, last epoch, test speeds $speeds"
    "$EARSHOT" evaluate --model "$WORK/sounds-valid/last.safetensors" --speeds "$speeds" "$WORK/sounds-valid/validation.jsonl" | sed -n 1,2p
  done
fi

if [ "$STEP" = all ] || [ "$STEP" = final ]; then
  RESUME=()
  [ -f "$WORK/sounds-final/checkpoint.safetensors" ] && RESUME=(--resume)
  time "$EARSHOT" train --task classify --train "$DATA/esc10" \
    "${SETTINGS[@]}" --epochs "$EPOCHS" --output "$WORK/sounds-final" "${RESUME[@]}"
  "$EARSHOT" ensemble "$WORK/sounds-final/best.safetensors" --test-speeds 0.9,1,1.1 \
    --output Sources/Earshot/Models/sounds.safetensors
  echo "installed Sources/Earshot/Models/sounds.safetensors"
fi
