#!/usr/bin/env bash
# Recipe for the shipped `digits` model, an ensemble of three CTC networks: data, training,
# evaluation, install.
#   1. digits-run: FSDD, Speech Commands digit words, espeak-ng and connected strings.
#   2. words-run: the same data plus every Speech Commands command word (extra tokens: more
#      real speakers for the encoder), no held-out speaker; its last epoch is cut back to the
#      digit tokens with scripts/train/keep_tokens.py.
#   3. words-warp-run: as 2 with the next seed and vocal tract length perturbation
#      (--frequency-warp 0.1).
#   The three are combined with `earshot ensemble` (decoding keeps the pooled hypothesis with
#   the highest summed CTC log-likelihood).
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
# train_run RUN MANIFEST [OPTION...]: trains WORK/RUN on WORK/digits-data/MANIFEST, or resumes it.
train_run() {
  local run=$1 manifest=$2
  shift 2
  local resume=()
  [ -f "$WORK/$run/checkpoint.safetensors" ] && resume=(--resume)
  "$EARSHOT" train --task ctc \
    --train "$WORK/digits-data/$manifest" --valid "$WORK/digits-data/valid.jsonl" \
    --output "$WORK/$run" --noise ../shared/data/speech-commands/_silence_ \
    --epochs "$EPOCHS" --seed "$SEED" "$@" "${resume[@]}"
}

# 1. Member 0 (41 min on 2 shared cores).
train_run digits-run train.jsonl ${HIDDEN:+--hidden "$HIDDEN"} ${LAYERS:+--layers "$LAYERS"}

# 2. The command-words member (about 75 min on one thread).
"$PYTHON" scripts/data/sc_words.py --data ../shared/data --digits "$WORK/digits-data"
train_run words-run train-scwords.jsonl --threads 1

# 3. The same with warp (about 90 min on one thread); a repeated option takes its last value.
train_run words-warp-run train-scwords.jsonl --threads 1 --seed $((SEED + 1)) --frequency-warp 0.1

for run in words-run words-warp-run; do
  python3 scripts/train/keep_tokens.py "$WORK/$run/last.safetensors" "$WORK/$run-digits.safetensors" \
    eight,five,four,nine,one,seven,six,three,two,zero
done
"$EARSHOT" ensemble "$WORK/digits-run/best.safetensors" "$WORK/words-run-digits.safetensors" \
  "$WORK/words-warp-run-digits.safetensors" --output "$WORK/digits-ensemble.safetensors" \
  --provenance "scripts/train/digits.sh: member 0 digits-run/best (seed $SEED), members 1 and 2 the last epochs of words-run and words-warp-run cut to the digits"

for model in digits-run/best.safetensors words-run-digits.safetensors words-warp-run-digits.safetensors \
  digits-ensemble.safetensors; do
  for set in valid-fsdd valid-sc valid-espeak valid-connected; do
    echo "== $model $set"
    "$EARSHOT" evaluate --model "$WORK/$model" --beam 8 "$WORK/digits-data/$set.jsonl" | head -4
  done
done
cp "$WORK/digits-ensemble.safetensors" Sources/Earshot/Models/digits.safetensors
echo "installed Sources/Earshot/Models/digits.safetensors"
