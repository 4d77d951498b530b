#!/usr/bin/env bash
# FSDD leave-one-speaker-out for the `digits` recipe: member 0's recipe (scripts/train/digits.sh
# step 1: FSDD, Speech Commands digit words, espeak-ng, connected strings; 30 epochs, seed 1)
# trained with one FSDD speaker held out, then scored on that speaker's 500 isolated digits
# and on the connected strings made from that speaker's clips (beam 8, the last epoch: no
# choice made on the held-out speaker).
#
#   scripts/train/digits-loso.sh SPEAKER [WORK_DIR]    (default WORK_DIR: ../earshot-work)
#
# SPEAKER: george, jackson, lucas, nicolas, theo or yweweler. About 60-75 min on one thread
# (THREADS, default 1), so two speakers can train side by side on two cores. Resumable.
# To try a change to the recipe: TRAIN_ARGS (more `earshot train` options, e.g. "--cmvn
# level") and VARIANT (a name for the run folder, loso-SPEAKER-VARIANT-run).
# Needs what scripts/train/digits.sh needs for its step 1 (PYTHON: a venv with numpy, scipy,
# soundfile and soxr). Everything goes to WORK_DIR, outside the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
SPEAKER=${1:?usage: scripts/train/digits-loso.sh SPEAKER [WORK_DIR]}
WORK=${2:-../earshot-work}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-1}
DATA="$WORK/loso-$SPEAKER-data"
TRAIN_ARGS=${TRAIN_ARGS:-}
VARIANT=${VARIANT:-}
RUN="$WORK/loso-$SPEAKER${VARIANT:+-$VARIANT}-run"
mkdir -p "$WORK"

if [ ! -f "$DATA/train.jsonl" ]; then
  "$PYTHON" scripts/data/digits.py --data ../shared/data --out "$DATA" --seed 1 --valid-fsdd-speaker "$SPEAKER"
fi
if [ -z "${EARSHOT:-}" ]; then   # EARSHOT=path/to/earshot skips the build
  swift build -c release --product earshot
  EARSHOT=.build/release/earshot
fi
if [ ! -f "$RUN/done" ]; then
  resume=()
  [ -f "$RUN/checkpoint.safetensors" ] && resume=(--resume)
  "$EARSHOT" train --task ctc --train "$DATA/train.jsonl" --valid "$DATA/valid.jsonl" \
    --output "$RUN" --noise ../shared/data/speech-commands/_silence_ \
    --epochs 30 --seed 1 --threads "$THREADS" $TRAIN_ARGS "${resume[@]}"
  touch "$RUN/done"
fi
grep "\"speaker\": \"$SPEAKER\"" "$DATA/valid-connected.jsonl" > "$DATA/valid-connected-$SPEAKER.jsonl"
echo "== $SPEAKER, isolated digits"
"$EARSHOT" evaluate --model "$RUN/last.safetensors" --beam 8 "$DATA/valid-fsdd.jsonl"
echo "== $SPEAKER, connected strings"
"$EARSHOT" evaluate --model "$RUN/last.safetensors" --beam 8 "$DATA/valid-connected-$SPEAKER.jsonl"
