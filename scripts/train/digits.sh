#!/usr/bin/env bash
# Recipe for the shipped `digits` model: data, training, evaluation, install.
#
#   scripts/train/digits.sh [WORK_DIR]        (default WORK_DIR: ../earshot-work)
#
# Needs ../shared/data (FSDD, Speech Commands), espeak-ng and sox (Debian), and a Python
# venv with numpy, scipy, soundfile and soxr for the data step (PYTHON, default python3).
# Everything it writes goes to WORK_DIR, outside the repository, except the final model,
# copied to Sources/Earshot/Models/digits.safetensors. Resumable: rerun after an interruption
# and training continues from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-../earshot-work}
PYTHON=${PYTHON:-python3}
EPOCHS=${EPOCHS:-30}
SEED=${SEED:-1}
mkdir -p "$WORK"

if [ ! -f "$WORK/digits-data/train.jsonl" ]; then
  "$PYTHON" scripts/data/digits.py --data ../shared/data --out "$WORK/digits-data" --seed "$SEED"
fi

swift build -c release --product earshot
EARSHOT=.build/release/earshot
RESUME=()
[ -f "$WORK/digits-run/checkpoint.safetensors" ] && RESUME=(--resume)
"$EARSHOT" train --task ctc \
  --train "$WORK/digits-data/train.jsonl" --valid "$WORK/digits-data/valid.jsonl" \
  --output "$WORK/digits-run" --noise ../shared/data/speech-commands/_silence_ \
  --epochs "$EPOCHS" --seed "$SEED" ${HIDDEN:+--hidden "$HIDDEN"} ${LAYERS:+--layers "$LAYERS"} "${RESUME[@]}"

for set in valid-fsdd valid-sc valid-espeak valid-connected; do
  echo "== $set"
  "$EARSHOT" evaluate --model "$WORK/digits-run/best.safetensors" --beam 8 "$WORK/digits-data/$set.jsonl" | head -12
done
cp "$WORK/digits-run/best.safetensors" Sources/Earshot/Models/digits.safetensors
echo "installed Sources/Earshot/Models/digits.safetensors"
