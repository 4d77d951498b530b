#!/usr/bin/env bash
# Recipe for the shipped `digits` model, an ensemble of four CTC networks: data, training,
# evaluation, install.
#   1. digits-run: FSDD, Speech Commands digit words, espeak-ng and connected strings.
#   2. voices-run: the same data plus every Speech Commands command word (extra tokens: more
#      real speakers for the encoder), no held-out speaker, plus Flite/Festival clips of five
#      training voices (scripts/data/digits_voices.py), with vocal tract length perturbation
#      (--frequency-warp 0.1), seed + 2; its last epoch is cut back to the digit tokens with
#      scripts/train/keep_tokens.py.
#   3. level-run: 1's data and seed, each utterance normalised by its level (--cmvn level: one
#      mean and deviation over all bands) instead of band by band, which keeps a single word's
#      spectral shape.
#   (Member 2 was reverb-run until 2026-11-27: the Speech Commands words as in 2 but no
#   Flite/Festival clips, 30% of the utterances in simulated rooms (--reverb 0.3), warp 0.1,
#   seed + 3, cut the same way. The members shipped before 2026-11-26 afternoon, words-run
#   and words-warp-run, were 2's data without the voices, seeds + 0 and + 1; docs/models.md
#   compares them.)
#   The three are combined with `earshot ensemble` (decoding keeps the pooled hypothesis with
#   the highest summed CTC log-likelihood).
#   4. Each member's CMVN statistics from its speech span (set on the trained networks).
#   5. Each member fine-tuned 4 epochs (peak lr 5e-4, seed SEED + 6, last epoch) with 2,688
#      clips of eight more training voices (Pico, RHVoice, MBROLA: women, men, two accents;
#      scripts/data/digits_voices.py --voice-set more), on its own data (member 1: digits only,
#      with the Flite/Festival clips and warp 0.1); the three are combined again.
#   6. pcen-run: member 0's recipe with PCEN bands (--features pcen: per-channel energy
#      normalisation of the magnitude mel bands, then per band) in place of the log, trained
#      from scratch on 1's data plus the more voices of step 5, 24 epochs, last epoch; then
#      twice trained 12 epochs more from the last epoch (pcen-more, pcen-more2: peak lr 1e-3,
#      seeds SEED + 1 and SEED + 2, last epochs; each run was still learning); added to the three
#      as member 3 (2026-11-29; docs/models.md, "A fourth network on PCEN bands" and "Member 3
#      trained longer").
#   7. Members 0-2 fine-tuned once more (4 epochs, peak lr 5e-4, seed SEED + 16, last epoch) on
#      their step-5 data plus 9,324 clips of string-heavy synthetic speech (every training voice
#      of the more, flite and accents voice sets, ten phone strings a session; 4,440 strings),
#      combined with member 3 (2026-11-29 night; docs/models.md, "Phone strings by many
#      voices"). The installed file stores its weights as F16 (scripts/train/store_f16.py:
#      half the size, the same transcripts).
#
#   scripts/train/digits.sh [WORK_DIR]        (default WORK_DIR: ../earshot-work)
#
# Needs ../shared/data (FSDD, Speech Commands), espeak-ng, flite, festival and sox (Debian), for
# step 5 also libttspico-utils, mbrola and its us1 us2 us3 en1 de3 de5 fr4 sw2 voices (contrib and
# non-free) and rhvoice, rhvoice-english, for step 7 also mbrola's af1 nl2 fr1 de1 de2 de6 gr2 ro1
# sw1 hu1 pl1 voices; and a Python venv with numpy, scipy, soundfile and soxr
# for the data steps (PYTHON, default python3).
# Everything it writes goes to WORK_DIR, outside the repository, except the final model,
# copied to Sources/Earshot/Models/digits.safetensors. Resumable: rerun after an interruption
# and training continues from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-../earshot-work}
PYTHON=${PYTHON:-python3}
EPOCHS=${EPOCHS:-30}
SEED=${SEED:-1}
unset INIT   # train_run's starting model, set per call below, never from the caller's environment
mkdir -p "$WORK"

if [ ! -f "$WORK/digits-data/train.jsonl" ]; then
  "$PYTHON" scripts/data/digits.py --data ../shared/data --out "$WORK/digits-data" --seed "$SEED"
fi

swift build -c release --product earshot
EARSHOT=.build/release/earshot
# train_run RUN MANIFEST [OPTION...]: trains WORK/RUN on WORK/digits-data/MANIFEST (from the
# weights of the model file INIT when set), or resumes it (earshot refuses --init with --resume).
train_run() {
  local run=$1 manifest=$2
  shift 2
  local start=()
  [ -n "${INIT:-}" ] && start=(--init "$INIT")
  [ -f "$WORK/$run/checkpoint.safetensors" ] && start=(--resume)
  "$EARSHOT" train --task ctc \
    --train "$WORK/digits-data/$manifest" --valid "$WORK/digits-data/valid.jsonl" \
    --output "$WORK/$run" --noise ../shared/data/speech-commands/_silence_ \
    --epochs "$EPOCHS" --seed "$SEED" "$@" "${start[@]}"
}

# 1. Member 0 (41 min on 2 shared cores).
train_run digits-run train.jsonl ${HIDDEN:+--hidden "$HIDDEN"} ${LAYERS:+--layers "$LAYERS"}

# 2. The command-words member (about 75 min on one thread).
"$PYTHON" scripts/data/sc_words.py --data ../shared/data --digits "$WORK/digits-data"
# Flite/Festival voices (Debian: flite, festival and its voices; see the script): training voices only.
if [ ! -f "$WORK/digits-voices/train.jsonl" ]; then
  "$PYTHON" scripts/data/digits_voices.py --out "$WORK/digits-voices" --seed "$SEED" --valid-sessions 8 --strings 3
fi
cat "$WORK/digits-data/train-scwords.jsonl" "$WORK/digits-voices/train.jsonl" > "$WORK/digits-data/train-scwords-voices.jsonl"
train_run voices-run train-scwords-voices.jsonl --threads 1 --seed $((SEED + 2)) --frequency-warp 0.1
# 3. The level member (38 min on 2 threads of the Xeon).
train_run level-run train.jsonl --cmvn level
for run in voices-run; do
  python3 scripts/train/keep_tokens.py "$WORK/$run/last.safetensors" "$WORK/$run-digits.safetensors" \
    eight,five,four,nine,one,seven,six,three,two,zero
done
"$EARSHOT" ensemble "$WORK/digits-run/best.safetensors" "$WORK/voices-run-digits.safetensors" \
  "$WORK/level-run/last.safetensors" --output "$WORK/digits-ensemble.safetensors" \
  --provenance "{\"recipe\": \"scripts/train/digits.sh\", \"members\": \"0 digits-run/best (seed $SEED), 1 voices-run (last epoch, cut to the digits), 2 level-run (last epoch)\"}"
# 4. Each member's CMVN statistics from the speech span (25 dB under the loudest frame, 20 frames
#    each side), not every frame: noise alone before or after a string no longer pulls them
#    (docs/models.md, "CMVN statistics from the speech span"). The networks are unchanged.
python3 scripts/train/set_speech_span.py "$WORK/digits-ensemble.safetensors" 25 20
# 5. More voices: every member fine-tuned with Pico, RHVoice and MBROLA clips (docs/models.md,
#    "More voices"; about 6 minutes a member on one thread).
if [ ! -f "$WORK/digits-more/train.jsonl" ]; then
  "$PYTHON" scripts/data/digits_voices.py --voice-set more --out "$WORK/digits-more" --seed "$SEED" \
    --train-sessions 24 --valid-sessions 8 --strings 3
fi
cat "$WORK/digits-data/train.jsonl" "$WORK/digits-more/train.jsonl" > "$WORK/digits-data/train-more.jsonl"
cat "$WORK/digits-data/train.jsonl" "$WORK/digits-voices/train.jsonl" "$WORK/digits-more/train.jsonl" \
  > "$WORK/digits-data/train-voices-more.jsonl"
# fine_tune K RUN SEED DATA INIT [MEMBER]: member K fine-tuned 4 epochs (peak lr 5e-4, one thread)
# from member MEMBER of the model file INIT (none given: INIT is a single network) on
# digits-data/train-moreDATA.jsonl, member 1 on train-voices-moreDATA.jsonl (its Flite/Festival
# clips) with --frequency-warp 0.1; or resumes RUN (earshot refuses --init with --resume).
fine_tune() {
  local k=$1 run=$2 seed=$3 data=$4
  local start=(--init "$5" ${6:+--init-member "$6"}) manifest=train-more$data.jsonl warp=()
  [ "$k" = 1 ] && manifest=train-voices-more$data.jsonl warp=(--frequency-warp 0.1)
  [ -f "$WORK/$run/checkpoint.safetensors" ] && start=(--resume)
  "$EARSHOT" train --task ctc --train "$WORK/digits-data/$manifest" --output "$WORK/$run" \
    --noise ../shared/data/speech-commands/_silence_ --epochs 4 --learning-rate 0.0005 \
    --seed "$seed" --threads 1 "${start[@]}" "${warp[@]}"
}
for k in 0 1 2; do
  fine_tune $k more-$k $((SEED + 6)) "" "$WORK/digits-ensemble.safetensors" $k
done
"$EARSHOT" ensemble "$WORK/more-0/last.safetensors" "$WORK/more-1/last.safetensors" \
  "$WORK/more-2/last.safetensors" --output "$WORK/digits-more.safetensors" \
  --provenance "{\"recipe\": \"scripts/train/digits.sh\", \"members\": \"steps 1-4, each fine-tuned with the more voices (step 5), last epochs\"}"
# 6. The PCEN member (about 30 min on 2 threads), added as member 3.
EPOCHS=24 train_run pcen-run train-more.jsonl --features pcen
# Twice 12 epochs more, each from the last epoch before it (warm-up and cosine decay anew).
previous=pcen-run
stage=0
for run in pcen-more pcen-more2; do
  stage=$((stage + 1))
  EPOCHS=12 SEED=$((SEED + stage)) INIT="$WORK/$previous/last.safetensors" \
    train_run "$run" train-more.jsonl --learning-rate 0.001 --threads 1
  previous=$run
done
"$EARSHOT" ensemble "$WORK/digits-more.safetensors" "$WORK/pcen-more2/last.safetensors" --output "$WORK/digits-four.safetensors" \
  --provenance "{\"recipe\": \"scripts/train/digits.sh\", \"members\": \"0-2 steps 1-5 (each fine-tuned with the more voices), 3 pcen-run, pcen-more, pcen-more2 (step 6, last epoch)\"}"
# 7. Members 0-2 fine-tuned once more (4 epochs, seed SEED + 16) with string-heavy synthetic
#    speech: every training voice of the three voice sets, ten phone strings a session, new
#    sessions (seed SEED + 1); the PCEN member is kept (docs/models.md, "Phone strings by
#    many voices"; about 10 minutes a member on one thread).
for set in more flite accents; do
  if [ ! -f "$WORK/strings-$set/train.jsonl" ]; then
    sessions=24
    [ $set = accents ] && sessions=12
    "$PYTHON" scripts/data/digits_voices.py --voice-set $set --out "$WORK/strings-$set" --seed $((SEED + 1)) \
      --train-sessions $sessions --valid-sessions 0 --strings 10
  fi
done
cat "$WORK/strings-more/train.jsonl" "$WORK/strings-flite/train.jsonl" "$WORK/strings-accents/train.jsonl" \
  > "$WORK/digits-data/strings.jsonl"
cat "$WORK/digits-data/train-more.jsonl" "$WORK/digits-data/strings.jsonl" > "$WORK/digits-data/train-more-strings.jsonl"
cat "$WORK/digits-data/train-more.jsonl" "$WORK/digits-voices/train.jsonl" "$WORK/digits-data/strings.jsonl" \
  > "$WORK/digits-data/train-voices-more-strings.jsonl"
for k in 0 1 2; do
  fine_tune $k strings-$k $((SEED + 16)) -strings "$WORK/more-$k/last.safetensors"
done
"$EARSHOT" ensemble "$WORK/strings-0/last.safetensors" "$WORK/strings-1/last.safetensors" \
  "$WORK/strings-2/last.safetensors" "$WORK/pcen-more2/last.safetensors" --output "$WORK/digits-strings.safetensors" \
  --provenance "{\"recipe\": \"scripts/train/digits.sh\", \"members\": \"0-2 steps 1-5 then step 7 (string-heavy voices), 3 pcen-run, pcen-more, pcen-more2 (step 6, last epoch)\"}"
for model in digits-run/best.safetensors voices-run-digits.safetensors level-run/last.safetensors \
  digits-ensemble.safetensors digits-more.safetensors pcen-run/last.safetensors pcen-more/last.safetensors \
  pcen-more2/last.safetensors digits-four.safetensors strings-0/last.safetensors strings-1/last.safetensors \
  strings-2/last.safetensors digits-strings.safetensors; do
  for set in digits-data/valid-fsdd digits-data/valid-sc digits-data/valid-espeak digits-data/valid-connected \
    digits-voices/valid-voices digits-voices/valid-voices-strings digits-more/valid-voices digits-more/valid-voices-strings; do
    echo "== $model $set"
    "$EARSHOT" evaluate --model "$WORK/$model" --beam 8 "$WORK/$set.jsonl" | head -4
  done
done
cp "$WORK/digits-strings.safetensors" Sources/Earshot/Models/digits.safetensors
python3 scripts/train/store_f16.py Sources/Earshot/Models/digits.safetensors
echo "installed Sources/Earshot/Models/digits.safetensors"
