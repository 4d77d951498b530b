#!/bin/bash
# The `digits` validation sets that docs/models.md scores every candidate on, built afresh:
#
#   bash scripts/eval/digits_sets.sh WORK      # then scripts/eval/score_digits.py --sets WORK ...
#
# WORK (outside the repository) gets digits/ (scripts/data/digits.py, seed 1: valid-fsdd = FSDD
# theo, valid-espeak, valid-connected, ...), digits-voices/ and digits-more/ (digits_voices.py,
# seed 1: the held-out Flite/Festival and Pico/RHVoice/MBROLA voices, isolated and strings),
# deg/ (degrade.py: theo and the strings through GSM and reverb) and np/ (noise_probe.py: 120
# clips each of theo and the strings under white noise, rain and helicopter at 20 and 10 dB,
# and the strings padded with 2 s of the noise at 30 and 20 dB). The same seeds as the figures
# in docs/models.md since 2026-11-27, so the sets come out the same given the synthesizers'
# versions. A step whose last file exists is skipped (delete a half-made folder to redo it).
# About 12 minutes on 2 cores. Needs the venv of scripts/data/README.md (PYTHON,
# default /work/venv/bin/python: numpy, scipy, soundfile, soxr), sox, espeak-ng, flite,
# festival, festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts, libttspico-utils,
# rhvoice, rhvoice-english, mbrola and its us1 us2 us3 en1 de3 de5 fr4 sw2 voices (Debian
# main, contrib and non-free).
set -euo pipefail
mkdir -p "${1:?usage: digits_sets.sh WORK}"
WORK=$(cd "$1" && pwd)   # absolute: the manifests name their audio by absolute paths
PYTHON=${PYTHON:-/work/venv/bin/python}
cd "$(dirname "$0")/../.."
DATA=$(cd ../shared/data && pwd)
[ -f "$WORK/digits/valid-fsdd.jsonl" ] || "$PYTHON" scripts/data/digits.py --data "$DATA" --out "$WORK/digits" --seed 1
[ -f "$WORK/digits-voices/valid-voices.jsonl" ] || "$PYTHON" scripts/data/digits_voices.py --out "$WORK/digits-voices" \
  --seed 1 --valid-sessions 8 --strings 3
[ -f "$WORK/digits-more/valid-voices.jsonl" ] || "$PYTHON" scripts/data/digits_voices.py --voice-set more \
  --out "$WORK/digits-more" --seed 1 --train-sessions 24 --valid-sessions 8 --strings 3
for set in valid-fsdd valid-connected; do
  [ -f "$WORK/deg/$set-reverb.jsonl" ] || "$PYTHON" scripts/data/degrade.py --manifest "$WORK/digits/$set.jsonl" \
    --out "$WORK/deg" --kinds gsm,reverb
done
probe() { # NAME MANIFEST [options]
  local name=$1 manifest=$2; shift 2
  "$PYTHON" scripts/data/noise_probe.py --manifest "$manifest" --out "$WORK/np" --name "$name" --count 120 --seed 1 \
    --esc "$DATA/esc10" --kinds white,rain,helicopter "$@"
}
[ -f "$WORK/np/nheli10-theo.jsonl" ] || probe theo "$WORK/digits/valid-fsdd.jsonl"
[ -f "$WORK/np/nheli10-con.jsonl" ] || probe con "$WORK/digits/valid-connected.jsonl"
[ -f "$WORK/np/pheli20-conpad.jsonl" ] || probe conpad "$WORK/digits/valid-connected.jsonl" --snr 30,20 --pad 2
echo "digits validation sets in $WORK"
