#!/usr/bin/env python3
"""Synthetic speech for the `commands` classifier: espeak-ng saying the ten commands and some
other words, as one-second 16 kHz clips in Speech Commands' shape.

    python3 scripts/data/commands_espeak.py --out WORK/commands-data/espeak [--sessions 80] [--seed 1]
    python3 scripts/data/commands_espeak.py --out WORK/commands-data/voices --voices all [--sessions 80]
    python3 scripts/data/commands_espeak.py --out WORK/commands-data/more --voices more [--sessions 80]
    ... [--unknown-words other|all] [--unknown-per-session 3]

With --voices (a comma-separated list of digits_voices.py's "ENGINE:NAME" voices, `all` for
its Flite and Festival voices, or `more` for its licence-clean Pico, MBROLA and RHVoice
voices, train and valid alike, since commands are validated on real speakers), voices made
from recorded speakers say the words instead, each session at a random duration stretch (0.8-1.3) and pitch shift
(-300..+500 cents); the manifest is then `voices.jsonl` and speaker ids `voices-<n>`. Needs
the synthesizers listed in digits_voices.py.

Writes WAVs and `espeak.jsonl` (lines {"audio", "label", "speaker"}) in --out, outside the
repository (refused inside it). A "session" is one espeak-ng voice (accent + variant) at one
speed and pitch; its speaker id is `espeak-<n>`. Each session says all ten commands and
--unknown-per-session (3) other words, label `unknown`, drawn from --unknown-words: `other`
(the fifteen non-digit words of Speech Commands' `_unknown_` vocabulary) or `all` (those and
the ten digits, which are more than half of its `_unknown_` clips). Every clip is placed at a random offset in one second,
scaled to a random level (-30..-3 dBFS peak) with faint coloured noise (25-45 dB SNR), as a
phone or laptop microphone would record it. These clips are for training only: validation
stays on real held-out speakers. Deterministic given --seed and the espeak-ng version.
Needs espeak-ng (Debian) and numpy, scipy, soundfile, soxr.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf
import soxr

RATE = 16000
COMMANDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
# Words of Speech Commands' `_unknown_` class: OTHER, and DIGITS with --unknown-words all.
OTHER = ["bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
         "learn", "follow", "forward", "backward", "visual"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
BASES = ["en-gb", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan",
         "en-gb-x-gbcwmd", "en-us-nyc"]
VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Alicia", "Andrea", "Andy", "Annie",
            "adam", "anika", "aunty", "belinda", "benjamin", "caleb", "david", "ed", "edward",
            "grandma", "grandpa", "iven", "john", "linda", "max", "michel", "norbert", "paul",
            "quincy", "rob", "robert", "steph", "travis", "victor", "zac", "whisper", "croak"]


def espeak(voice: str, speed: int, pitch: int, word: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "x.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", "60",
                        "-w", wav, word], check=True, capture_output=True)
        x, sr = sf.read(wav, dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    return soxr.resample(x, sr, RATE, quality="HQ").astype(np.float32)


def trim(x: np.ndarray, threshold_db: float = 40.0) -> np.ndarray:
    hop = RATE // 100
    n = len(x) // hop
    if n < 2:
        return x
    db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    active = np.flatnonzero(db > db.max() - threshold_db)
    return x[max(0, active[0] * hop - hop): min(len(x), (active[-1] + 2) * hop)]


def one_second(rng: np.random.Generator, word: np.ndarray) -> np.ndarray:
    word = word[:RATE]
    start = int(rng.integers(0, RATE - len(word) + 1))
    y = np.zeros(RATE, np.float32)
    y[start:start + len(word)] = word
    y *= 10 ** (rng.uniform(-30, -3) / 20) / (np.max(np.abs(y)) + 1e-12)
    loud = y[start:start + len(word)]
    rms = float(np.sqrt(np.mean(loud * loud))) + 1e-12
    white = rng.standard_normal(RATE + 800)
    noise = scipy.signal.lfilter([1.0], [1.0, -rng.uniform(0, 0.97)], white)[800:]
    noise /= np.sqrt(np.mean(noise * noise)) + 1e-12
    y += (noise * rms * 10 ** (-rng.uniform(25, 45) / 20)).astype(np.float32)
    return np.clip(y, -0.97, 0.97)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--sessions", type=int, default=80)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--voices", help="recorded-speaker voices instead of espeak-ng: a comma list, `all` or `more`")
    ap.add_argument("--unknown-words", choices=["other", "all"], default="other",
                    help="`unknown` words: the fifteen non-digit words, or `all` (digits too)")
    ap.add_argument("--unknown-per-session", type=int, default=3, help="unknown words per session")
    args = ap.parse_args()
    pool = OTHER + DIGITS if args.unknown_words == "all" else OTHER
    if not 0 <= args.unknown_per_session <= len(pool):
        sys.exit(f"--unknown-per-session must be 0...{len(pool)} (got {args.unknown_per_session})")
    if args.sessions < 1:
        sys.exit(f"--sessions must be at least 1 (got {args.sessions})")
    voices = None
    if args.voices:
        import digits_voices
        more = [v for v in digits_voices.MORE_TRAIN_VOICES + digits_voices.MORE_VALID_VOICES
                if v not in digits_voices.NONCOMMERCIAL_VOICES]   # training data: licence-clean only
        known = digits_voices.ALL_VOICES + more
        voices = {"all": digits_voices.ALL_VOICES, "more": more}.get(args.voices) or args.voices.split(",")
        unknown = set(voices) - set(known)
        if unknown:
            sys.exit(f"--voices: unknown {sorted(unknown)}; choose from {known}, `all` or `more`")
    repo = Path(__file__).resolve().parents[2]
    out = args.out.resolve()
    if out == repo or repo in out.parents:
        sys.exit(f"--out {out} is inside the repository; write data elsewhere")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    prefix = "voices" if voices else "espeak"
    lines = []
    for s in range(args.sessions):
        if voices:
            voice = voices[s % len(voices)]
            speed, pitch = round(float(rng.uniform(0.8, 1.3)), 3), int(rng.integers(-300, 501))
            say = lambda word: digits_voices.synthesize(voice, word, speed, pitch, rate=RATE)  # noqa: E731
        else:
            base = BASES[int(rng.integers(len(BASES)))]
            variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
            voice = base + ("+" + variant if variant else "")
            speed, pitch = int(rng.integers(120, 201)), int(rng.integers(25, 76))
            say = lambda word: espeak(voice, speed, pitch, word)  # noqa: E731
        words = [(w, w) for w in COMMANDS] + [(w, "unknown") for w in rng.choice(pool, args.unknown_per_session, replace=False)]
        for word, label in words:
            path = out / f"{label}-{word}-{s:03d}.wav"
            sf.write(str(path), one_second(rng, trim(say(word))), RATE, subtype="PCM_16")
            lines.append(json.dumps({"audio": str(path), "label": label, "speaker": f"{prefix}-{s}",
                                     "voice": voice, "speed": speed, "pitch": pitch}))
        print(f"\rsession {s + 1}/{args.sessions}", end="", file=sys.stderr)
    print(file=sys.stderr)
    (out / f"{prefix}.jsonl").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} clips to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
