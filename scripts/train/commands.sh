#!/usr/bin/env bash
# Recipe for the shipped `commands` model: data, training, evaluation, install.
#
#   scripts/train/commands.sh [WORK_DIR]        (default WORK_DIR: ../earshot-work)
#
# Needs ../shared/data (Speech Commands, ESC-10 for background noise) and sox (Debian).
# Everything it writes goes to WORK_DIR, outside the repository, except the final model,
# copied to Sources/Earshot/Models/commands.safetensors. Resumable: rerun after an
# interruption and training continues from its last checkpoint.
#
# Data: the ten commands as they are, _unknown_ -> unknown, _silence_ (1 s background-noise
# clips) -> silence, plus 72 synthetic low-level noise clips (white/pink/brown, -60 to -30 dBFS)
# as more silence. Validation: 20% of the speakers, chosen by a seeded hash of the speaker id
# (the part before _nohash_), so no validation speaker is trained on. Background noise for
# mixing comes from ESC-10's noise-like classes, never from the validation clips.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-../earshot-work}
DATA=${DATA:-../shared/data}
SEED=${SEED:-1}
EPOCHS=${EPOCHS:-20}
THREADS=${THREADS:-1}
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
[ -n "${PREPARE_ONLY:-}" ] && exit 0
RESUME=()
[ -f "$WORK/commands-run/checkpoint.safetensors" ] && RESUME=(--resume)
time "$EARSHOT" train --task classify --train "$OUT/train.jsonl" --valid-speakers 0.2 \
  --labels yes,no,up,down,left,right,on,off,stop,go,unknown,silence \
  --sample-rate 16000 --mel-bands 40 --window-ms 25 --hop-ms 10 \
  --hidden 128 --layers 2 --dropout 0.1 --batch-size 32 --learning-rate 0.003 --pooling attention --balance weighted-loss --label-smoothing 0.05 \
  --time-shift 0.1 --mixup 0.2 --noise "$OUT/noise" \
  --epochs "$EPOCHS" --seed "$SEED" --threads "$THREADS" \
  --output "$WORK/commands-run" "${RESUME[@]}"

cp "$WORK/commands-run/best.safetensors" Sources/Earshot/Models/commands.safetensors
echo "installed Sources/Earshot/Models/commands.safetensors"
