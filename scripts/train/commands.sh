#!/usr/bin/env bash
# Recipe for the shipped `commands` model, an ensemble of eleven classifiers: data, training,
# evaluation, install.
#
#   scripts/train/commands.sh [WORK_DIR]        (default WORK_DIR: ../earshot-work)
#
# Needs ../shared/data (Speech Commands, ESC-10 for background noise), sox, espeak-ng, flite,
# festival and the festvox voices, libttspico-utils, mbrola and its voices, rhvoice and
# rhvoice-english (Debian, contrib and non-free; see scripts/data/commands_espeak.py), and a Python
# with numpy, scipy, soundfile and soxr (PYTHON, default python3) for the synthetic clips.
# Everything it writes goes to WORK_DIR, outside the repository, except the final model,
# copied to Sources/Earshot/Models/commands.safetensors. Resumable: rerun after an
# interruption and each run continues from its last checkpoint.
#
# Data: the ten commands as they are, _unknown_ -> unknown, _silence_ (1 s background-noise
# clips) -> silence, plus 72 synthetic low-level noise clips (white/pink/brown, -60 to -30 dBFS)
# as more silence. Background noise for mixing comes from ESC-10's noise-like classes.
#
# Members (same network size and schedule, different views of the data); 40 mel bands and
# attention pooling unless the name starts with m64 (64 bands, max pooling):
#   band    per-band normalisation (each mel band on its own)
#   level   level normalisation (--cmvn level: one mean and deviation for all bands)
#   espeak  per band, plus 1,040 espeak-ng clips in training and --frequency-warp 0.1
#   voices  per band, plus 1,560 Flite/Festival clips in training and --frequency-warp 0.1
#   level-espeak, level-voices   the same two with level normalisation
#   m64-level-more   64 bands, max pooling, level, with 2,002 Pico/RHVoice/MBROLA clips (women,
#                    men, accents; scripts/data/commands_espeak.py --voices more) and warp 0.1
#   m64-level-espeak the same with the espeak-ng clips
#   m64-level-voices the same with the Flite/Festival clips: shipped until 2026-11-28, when
#                    m64-level-more took its place (two splits; docs/models.md); opt-in now
#   m64-pcen-more    m64-level-more with PCEN bands (--features pcen: per-channel energy
#                    normalisation, then per band) in place of the log and level; the ninth
#                    member since 2026-11-29 (two splits; docs/models.md)
#   m64-pcen-voices  m64-pcen-more with the Flite/Festival clips in place of the Pico/RHVoice/MBROLA
#                    ones; the tenth member since 2026-11-29 evening (two splits; docs/models.md)
#   m64-pcen-espeak  the same with the espeak-ng clips; the eleventh member since 2026-11-29
#                    evening (two splits; docs/models.md)
#   m64-band-more    m64-level-more with per-band normalisation (opt-in; a trial, docs/models.md)
# Step 1 (STEP=valid) trains them on 80% of the speakers (20% held out by a seeded hash of
# the speaker id, the part before _nohash_: --valid-speakers 0.2 --split-seed SEED) and scores
# the ensemble of their last epochs on the held-out clips. Step 2 (STEP=final) trains them on
# every speaker with the same settings and installs the ensemble of their last epochs. The
# ensemble hears each clip at speeds 0.9, 1 and 1.1 and averages (`--test-speeds`; step 1
# scores it both ways).
# JOBS=N (default 1) trains N members at a time, each on THREADS threads, each appending its
# output to WORK_DIR/commands-STEP-MEMBER.log instead of the terminal. MEMBERS="band level"
# limits a run to some members (and the ensemble to them).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-../earshot-work}
DATA=${DATA:-../shared/data}
SEED=${SEED:-1}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-1}
STEP=${STEP:-all}
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-1}
case "$JOBS" in ''|*[!0-9]*|0) echo "JOBS must be a positive whole number (got $JOBS)" >&2; exit 64 ;; esac
case "$STEP" in all|valid|final) ;; *) echo "STEP must be all, valid or final (got $STEP)" >&2; exit 64 ;; esac
ALL_MEMBERS=(band level espeak voices level-espeak level-voices m64-level-more m64-level-espeak m64-pcen-more m64-pcen-voices m64-pcen-espeak)
KNOWN_MEMBERS=("${ALL_MEMBERS[@]}" m64-level-voices m64-band-more)
if [ -n "${MEMBERS:-}" ]; then
  read -ra MEMBERS <<< "$MEMBERS"
  for m in "${MEMBERS[@]}"; do
    case " ${KNOWN_MEMBERS[*]} " in *" $m "*) ;; *) echo "MEMBERS: unknown member $m (members: ${KNOWN_MEMBERS[*]})" >&2; exit 64 ;; esac
  done
else
  MEMBERS=("${ALL_MEMBERS[@]}")
fi
SC="$(cd "$DATA/speech-commands" && pwd)"
ESC="$(cd "$DATA/esc10" && pwd)"
OUT="$WORK/commands-data"
mkdir -p "$OUT/lowlevel" "$OUT/noise"

if [ ! -f "$OUT/train.jsonl" ]; then
  # Low-level noise: 72 clips of 1 s at 16 kHz (sox -R: repeatable).
  for colour in whitenoise pinknoise brownnoise; do
    for level in 0.001 0.002 0.004 0.008 0.012 0.016 0.024 0.032; do
      for take in 1 2 3; do
        sox -R -n -r 16000 -b 16 -c 1 "$OUT/lowlevel/$colour-$level-$take.wav" synth 1 "$colour" vol "$level" \
          2>/dev/null || sox -n -r 16000 -b 16 -c 1 "$OUT/lowlevel/$colour-$level-$take.wav" synth 1 "$colour" vol "$level"
      done
    done
  done
  for f in "$ESC"/{rain,sea_waves,fire_crackling,helicopter,chainsaw,clock_tick}/*.ogg; do ln -sf "$f" "$OUT/noise/"; done
  tmp="$OUT/train.jsonl.tmp"
  : > "$tmp"
  for dir in "$SC"/*/; do
    name=$(basename "$dir")
    case "$name" in _unknown_) label=unknown ;; _silence_) label=silence ;; *) label=$name ;; esac
    for f in "$dir"*.wav; do
      base=$(basename "$f" .wav)
      if [ "$label" = silence ]; then speaker="noise-$base"; else speaker=${base%%_nohash_*}; speaker=${speaker##*_}; fi
      printf '{"audio": "%s", "label": "%s", "speaker": "%s"}\n' "$f" "$label" "$speaker" >> "$tmp"
    done
  done
  for f in "$OUT"/lowlevel/*.wav; do
    printf '{"audio": "%s", "label": "silence", "speaker": "synth-%s"}\n' "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$(basename "$f" .wav)" >> "$tmp"
  done
  mv "$tmp" "$OUT/train.jsonl"
fi

if [ -z "${EARSHOT:-}" ]; then   # EARSHOT=path/to/earshot skips the build
  swift build -c release --product earshot
  EARSHOT=.build/release/earshot
fi
[ -f "$WORK/commands-espeak/espeak.jsonl" ] || "$PYTHON" scripts/data/commands_espeak.py --out "$WORK/commands-espeak" --sessions 80 --seed 1
[ -f "$WORK/commands-voices/voices.jsonl" ] || "$PYTHON" scripts/data/commands_espeak.py --out "$WORK/commands-voices" --voices all --sessions 120 --seed 1
case " ${MEMBERS[*]} " in *" m64-level-more "*|*" m64-band-more "*|*" m64-pcen-more "*)
  [ -f "$WORK/commands-more/voices.jsonl" ] || "$PYTHON" scripts/data/commands_espeak.py --out "$WORK/commands-more" --voices more --sessions 154 --seed 1 ;;
esac
[ -n "${PREPARE_ONLY:-}" ] && exit 0

COMMON=(--task classify --train "$OUT/train.jsonl"
  --labels yes,no,up,down,left,right,on,off,stop,go,unknown,silence
  --sample-rate 16000 --window-ms 25 --hop-ms 10
  --hidden 128 --layers 2 --dropout 0.1 --batch-size 32 --learning-rate 0.003
  --balance weighted-loss --label-smoothing 0.05 --time-shift 0.1 --mixup 0.2 --noise "$OUT/noise"
  --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS")
train_member() {   # $1: run folder, $2: member, rest: split options
  local dir=$1 member=$2; shift 2
  local own=() resume=()
  local m40=(--mel-bands 40 --pooling attention) m64=(--mel-bands 64 --pooling max)
  local espeak=(--extra-train "$WORK/commands-espeak/espeak.jsonl" --frequency-warp 0.1)
  local voices=(--extra-train "$WORK/commands-voices/voices.jsonl" --frequency-warp 0.1)
  local more=(--extra-train "$WORK/commands-more/voices.jsonl" --frequency-warp 0.1)
  case "$member" in
    band) own=("${m40[@]}") ;;
    level) own=("${m40[@]}" --cmvn level) ;;
    espeak) own=("${m40[@]}" "${espeak[@]}") ;;
    voices) own=("${m40[@]}" "${voices[@]}") ;;
    level-espeak) own=("${m40[@]}" --cmvn level "${espeak[@]}") ;;
    level-voices) own=("${m40[@]}" --cmvn level "${voices[@]}") ;;
    m64-level-voices) own=("${m64[@]}" --cmvn level "${voices[@]}") ;;
    m64-level-espeak) own=("${m64[@]}" --cmvn level "${espeak[@]}") ;;
    m64-level-more) own=("${m64[@]}" --cmvn level "${more[@]}") ;;
    m64-band-more) own=("${m64[@]}" "${more[@]}") ;;
    m64-pcen-more) own=("${m64[@]}" --features pcen "${more[@]}") ;;
    m64-pcen-voices) own=("${m64[@]}" --features pcen "${voices[@]}") ;;
    m64-pcen-espeak) own=("${m64[@]}" --features pcen "${espeak[@]}") ;;
    *) echo "unknown member $member" >&2; exit 1 ;;
  esac
  [ -f "$dir/done" ] && return 0   # finished earlier (delete the folder to retrain)
  [ -f "$dir/checkpoint.safetensors" ] && resume=(--resume)
  time "$EARSHOT" train "${COMMON[@]}" "${own[@]}" "$@" --output "$dir" "${resume[@]}"
  touch "$dir/done"
}
train_all() {   # $1: valid or final, rest: split options; JOBS members at a time
  local step=$1; shift
  if [ "$JOBS" = 1 ]; then
    for m in "${MEMBERS[@]}"; do train_member "$WORK/commands-$step-$m" "$m" "$@"; done
    return
  fi
  local pids=() names=() m i failed=0
  for m in "${MEMBERS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    echo "training $m (log: $WORK/commands-$step-$m.log)"
    (train_member "$WORK/commands-$step-$m" "$m" "$@") >> "$WORK/commands-$step-$m.log" 2>&1 &
    pids+=($!); names+=("$m")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "member ${names[$i]} failed: see $WORK/commands-$step-${names[$i]}.log" >&2; failed=1; }
  done
  [ "$failed" = 0 ]
}
lasts() { for m in "${MEMBERS[@]}"; do printf '%s\n' "$WORK/commands-$1-$m/last.safetensors"; done; }

if [ "$STEP" = all ] || [ "$STEP" = valid ]; then
  train_all valid --valid-speakers 0.2 --split-seed "$SEED"
  mapfile -t models < <(lasts valid)
  valid="$WORK/commands-valid-${MEMBERS[0]}/validation.jsonl"   # the held-out clips (one split for all)
  "$EARSHOT" ensemble "${models[@]}" --test-speeds 0.9,1,1.1 --output "$WORK/commands-valid.safetensors"
  for m in "${MEMBERS[@]}"; do
    echo "== $m (last epoch)"
    "$EARSHOT" evaluate --model "$WORK/commands-valid-$m/last.safetensors" "$valid" | sed -n 1,2p
  done
  echo "== ensemble of the ${#MEMBERS[@]}, hearing clips only as recorded"
  "$EARSHOT" evaluate --model "$WORK/commands-valid.safetensors" --speeds 1 "$valid" | sed -n 1,2p
  echo "== ensemble of the ${#MEMBERS[@]} as installed: also at speeds 0.9 and 1.1"
  "$EARSHOT" evaluate --model "$WORK/commands-valid.safetensors" "$valid"
fi

if [ "$STEP" = all ] || [ "$STEP" = final ]; then
  train_all final
  mapfile -t models < <(lasts final)
  "$EARSHOT" ensemble "${models[@]}" --test-speeds 0.9,1,1.1 \
    --provenance "scripts/train/commands.sh: members ${MEMBERS[*]} on every speaker, $EPOCHS epochs, seed $SEED, last epochs" \
    --output Sources/Earshot/Models/commands.safetensors
  # Weights stored as F16: eleven networks in F32 would take 26 MB, over 20 MB (docs/models.md).
  python3 scripts/train/store_f16.py Sources/Earshot/Models/commands.safetensors
  echo "installed Sources/Earshot/Models/commands.safetensors"
fi
