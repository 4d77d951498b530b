#!/usr/bin/env bash
# Recipe for the shipped `sounds` model (ESC-10): two networks that hear the clips differently,
# averaged: `pcen` (per-channel energy normalised mel bands, 40 ms windows every 20 ms) and
# `fine` (natural-log mel bands, 25 ms windows every 10 ms). Settings chosen on fold splits,
# then the shipped networks trained on every available fold.
#
#   scripts/train/sounds.sh [WORK_DIR]        (default WORK_DIR: ../earshot-work)
#
# Step 1 (STEP=valid) trains each network on folds 1-3 and validates on fold 4 (clips of one
# source recording share a fold, so nothing leaks), then scores each network and their
# ensemble (last epochs, hearing the test speeds). Step 2 (STEP=final) trains both on
# folds 1-4 with the same settings and schedule (EPOCHS, 40) and installs the ensemble of their
# last epochs as Sources/Earshot/Models/sounds.safetensors, stamped with test-time speeds
# 0.9,1,1.1 (each clip is also heard 10% slower and faster, the probabilities averaged).
# PARALLEL=1 trains the two networks side by side (THREADS threads each, default 1), each
# writing to WORK_DIR/sounds-STEP-NAME.log. MEMBERS="fine" trains one network only; step 2 then
# writes its model to WORK_DIR/sounds-final.safetensors instead of installing it.
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
PARALLEL=${PARALLEL:-0}
ALL_MEMBERS=(pcen fine)
read -ra MEMBERS <<< "${MEMBERS:-${ALL_MEMBERS[*]}}"
if [ "${#MEMBERS[@]}" = 0 ]; then echo "MEMBERS names no network (members: ${ALL_MEMBERS[*]})" >&2; exit 64; fi
if [ "$(printf '%s\n' "${MEMBERS[@]}" | sort -u | wc -l)" != "${#MEMBERS[@]}" ]; then
  echo "MEMBERS names a network twice: ${MEMBERS[*]}" >&2; exit 64
fi
mkdir -p "$WORK"

if [ -z "${EARSHOT:-}" ]; then   # EARSHOT=path/to/earshot skips the build
  swift build -c release --product earshot
  EARSHOT=.build/release/earshot
fi

COMMON=(--sample-rate 16000 --mel-bands 64
  --hidden 192 --layers 2 --dropout 0.1 --pooling mean-max --batch-size 16 --learning-rate 0.003
  --mixup 0.5 --time-shift 1.0 --label-smoothing 0.1 --balance weighted-loss --cmvn level
  --seed "$SEED" --threads "$THREADS")
member_settings() {
  case "$1" in
    pcen) echo "--features pcen --window-ms 40 --hop-ms 20" ;;
    fine) echo "--features logmel --window-ms 25 --hop-ms 10" ;;
    *) echo "MEMBERS: unknown member $1 (members: pcen fine)" >&2; exit 64 ;;
  esac
}
for m in "${MEMBERS[@]}"; do member_settings "$m" > /dev/null; done

# train STEP_DIR MEMBER [extra train arguments]: resumes a run that has a checkpoint.
train() {
  local out=$1 member=$2; shift 2
  local resume=() settings=()
  [ -f "$out/checkpoint.safetensors" ] && resume=(--resume)
  read -ra settings <<< "$(member_settings "$member")"
  "$EARSHOT" train --task classify --train "$DATA/esc10" "${COMMON[@]}" "${settings[@]}" "$@" \
    --output "$out" "${resume[@]}"
}
train_all() {
  local step=$1; shift
  if [ "$PARALLEL" = 1 ]; then
    local pids=() failed=() i
    for m in "${MEMBERS[@]}"; do
      train "$WORK/sounds-$step-$m" "$m" "$@" > "$WORK/sounds-$step-$m.log" 2>&1 & pids+=($!)
    done
    # Ctrl-C or a kill stops both trainings (background jobs of a script ignore SIGINT, and
    # would go on writing checkpoints beside a rerun): SIGTERM to each, which writes its
    # checkpoint for a rerun.
    trap 'for p in "${pids[@]}"; do pkill -TERM -P "$p"; done; wait; echo "stopped; rerun to resume" >&2; exit 130' INT TERM
    # Wait for every network, so that one failing does not leave the other running unseen.
    for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("${MEMBERS[$i]}"); done
    trap - INT TERM
    if [ "${#failed[@]}" -gt 0 ]; then
      for m in "${failed[@]}"; do
        echo "network $m failed; the end of $WORK/sounds-$step-$m.log:" >&2
        tail -n 5 "$WORK/sounds-$step-$m.log" >&2
      done
      exit 1
    fi
  else
    for m in "${MEMBERS[@]}"; do train "$WORK/sounds-$step-$m" "$m" "$@"; done
  fi
}
lasts() { for m in "${MEMBERS[@]}"; do printf '%s\n' "$WORK/sounds-$1-$m/last.safetensors"; done; }

if [ "$STEP" = all ] || [ "$STEP" = valid ]; then
  time train_all valid --valid-fold 4 --epochs "$VALID_EPOCHS"
  valid="$WORK/sounds-valid-${MEMBERS[0]}/validation.jsonl"
  for m in "${MEMBERS[@]}"; do
    echo "== $m alone, fold 4, last epoch, test speeds 0.9,1,1.1"
    "$EARSHOT" evaluate --model "$WORK/sounds-valid-$m/last.safetensors" --speeds 0.9,1,1.1 "$valid" | sed -n 1,2p
  done
  mapfile -t models < <(lasts valid)
  "$EARSHOT" ensemble "${models[@]}" --test-speeds 0.9,1,1.1 --output "$WORK/sounds-valid.safetensors"
  echo "== the ensemble, fold 4, as installed (test speeds 0.9,1,1.1)"
  "$EARSHOT" evaluate --model "$WORK/sounds-valid.safetensors" "$valid"
fi

if [ "$STEP" = all ] || [ "$STEP" = final ]; then
  time train_all final --epochs "$EPOCHS"
  mapfile -t models < <(lasts final)
  target=Sources/Earshot/Models/sounds.safetensors
  [ "$(printf '%s\n' "${MEMBERS[@]}" | sort | tr '\n' ' ')" = "$(printf '%s\n' "${ALL_MEMBERS[@]}" | sort | tr '\n' ' ')" ] \
    || target="$WORK/sounds-final.safetensors"   # not the shipped recipe
  "$EARSHOT" ensemble "${models[@]}" --test-speeds 0.9,1,1.1 \
    --provenance "scripts/train/sounds.sh: networks ${MEMBERS[*]} on ESC-10 folds 1-4, $EPOCHS epochs, seed $SEED, last epochs" \
    --output "$target"
  # Weights stored as F16: half the file, every label of the 320 clips unchanged (docs/models.md).
  python3 scripts/train/store_f16.py "$target"
  echo "installed $target"
fi
