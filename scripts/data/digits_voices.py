#!/usr/bin/env python3
"""More synthetic voices for the `digits` model: Flite and Festival, beside espeak-ng.

    /work/venv/bin/python scripts/data/digits_voices.py --out /work/data/digits-voices [--seed 1]

espeak-ng (used by digits.py) is a formant synthesizer: every espeak voice shares one
vocal tract model. Flite and Festival voices are made from recordings of real speakers
(diphone, unit-selection and statistical voices), so they add speaker variety that espeak
cannot. A "session" is one voice at one speed (duration stretch 0.8-1.3) and one pitch
(sox `pitch`, -300..+500 cents) saying the eleven words (zero, oh, one..nine) one at a
time, plus phone-number strings said as one utterance.

Voices and splits (disjoint by recorded speaker, so validation voices are unseen):
  train  flite kal, kal16, rms; festival kal_diphone, ked_diphone (all male speakers)
  valid  flite awb (Scottish male), flite slt and festival cmu_us_slt_arctic_hts (one
         female speaker, two synthesizers): a voice and a gender the train voices lack,
         which is what tells whether pitch and frequency-warp augmentation generalise.

`--voice-set more` (2026-11-28) makes a second, separate set from three other synthesizers,
chosen because the `digits` model erred most on women's voices and fast diphone speech:
SVOX Pico (libttspico-utils, non-free), MBROLA diphone voices through espeak-ng (mbrola and
mbrola-us1, -us2, -us3, -en1, -de3, -de5, -fr4, -sw2; contrib/non-free) and RHVoice
(rhvoice, rhvoice-english):
  train  pico en-US (F); rhvoice clb (F), bdl, alan (M); mbrola us1 (F), us2 (M),
         fr4-en, de5-en (F, French and German accents)
  valid  pico en-GB (F); rhvoice slt (F; the speaker of the flite valid voice), evgeniy-eng
         (M, Russian accent); mbrola us3, en1 (M), de3-en, sw2-en (F, German and Swedish
         accents)
`--voice-set accents` (training only, no validation voices): English through eleven more
MBROLA voices of other languages (Afrikaans, Dutch, French, German x3, Greek, Romanian, Swedish,
Hungarian, Polish; women and men), heavy accents that a general English recognizer also
stumbles on. In both sets, speed comes from the synthesizer's own rate where it has one
(espeak-ng -s, RHVoice -r) and from sox `tempo` for Pico; pitch from sox `pitch`, -200..+300
cents.

Outputs in --out (outside the repository): train.jsonl (isolated words and strings),
valid-voices.jsonl (isolated), valid-voices-strings.jsonl, stats.json, wav/. Rows have the
digits.py layout ({"audio", "text", "speaker", "source"}); audio is 8 kHz 16-bit with
the same padding, gain and noise as digits.py's espeak clips. Deterministic given --seed
and the synthesizer versions. Needs flite, festival, festvox-kallpc16k, festvox-kdlpc16k,
festvox-us-slt-hts and sox (Debian), and the digits.py venv.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits as D  # noqa: E402  (trim, fade, finish, digit_string, write_wav)

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402

TRAIN_VOICES = ["flite:kal", "flite:kal16", "flite:rms", "festival:kal_diphone", "festival:ked_diphone"]
VALID_VOICES = ["flite:awb", "flite:slt", "festival:cmu_us_slt_arctic_hts"]
PACKAGES = "flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox"
# Licences: Pico Apache-2.0; RHVoice's clb, slt, bdl and alan LGPL-2.1+ (CMU ARCTIC speakers);
# MBROLA voices may be used to synthesize speech with the mbrola program (not sold). RHVoice's
# evgeniy-eng (and lyubov, not used) are CC BY-NC-ND 4.0: evgeniy-eng is only ever a validation
# voice, never in the training data of a model this project ships.
NONCOMMERCIAL_VOICES = ["rhvoice:evgeniy-eng", "rhvoice:lyubov"]
MORE_TRAIN_VOICES = ["pico:en-US", "rhvoice:clb", "rhvoice:bdl", "rhvoice:alan",
                     "mbrola:mb-us1", "mbrola:mb-us2", "mbrola:mb-fr4-en", "mbrola:mb-de5-en"]
MORE_VALID_VOICES = ["pico:en-GB", "rhvoice:slt", "rhvoice:evgeniy-eng", "mbrola:mb-us3", "mbrola:mb-en1",
                     "mbrola:mb-de3-en", "mbrola:mb-sw2-en"]
MORE_PACKAGES = ("libttspico-utils mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 mbrola-de3 mbrola-de5 "
                 "mbrola-fr4 mbrola-sw2 rhvoice rhvoice-english sox (contrib and non-free)")
ACCENT_VOICES = ["mbrola:mb-af1-en", "mbrola:mb-nl2-en", "mbrola:mb-fr1-en", "mbrola:mb-de1-en", "mbrola:mb-de2-en",
                 "mbrola:mb-de6-en", "mbrola:mb-gr2-en", "mbrola:mb-ro1-en", "mbrola:mb-sw1-en", "mbrola:mb-hu1-en",
                 "mbrola:mb-pl1-en"]
ACCENT_PACKAGES = "mbrola mbrola-af1 mbrola-nl2 mbrola-fr1 mbrola-de1 mbrola-de2 mbrola-de6 mbrola-gr2 mbrola-ro1 mbrola-sw1 mbrola-hu1 mbrola-pl1 sox"


class VoiceSet(NamedTuple):
    train: list[str]
    valid: list[str]
    cents: tuple[int, int]      # pitch shift drawn from [low, high)
    tools: tuple[str, ...]      # commands that must be on PATH
    packages: str               # what to apt-get install when one is missing
    seed_tag: tuple[int, ...]   # appended to each session's seed: sets never share sessions


# The flite set keeps the seeds it was made with (no tag); the others draw their own.
VOICE_SETS = {
    "flite": VoiceSet(TRAIN_VOICES, VALID_VOICES, (-300, 501), ("flite", "festival"), PACKAGES, ()),
    "more": VoiceSet(MORE_TRAIN_VOICES, MORE_VALID_VOICES, (-200, 301), ("pico2wave", "espeak-ng", "RHVoice-test"),
                     MORE_PACKAGES, (2,)),
    "accents": VoiceSet(ACCENT_VOICES, [], (-200, 301), ("espeak-ng",), ACCENT_PACKAGES, (3,)),
}
assert not set(NONCOMMERCIAL_VOICES) & set(TRAIN_VOICES + MORE_TRAIN_VOICES + ACCENT_VOICES), \
    "a non-commercial voice in a training list"


ALL_VOICES = TRAIN_VOICES + VALID_VOICES


def synthesize(voice: str, text: str, stretch: float, cents: int, rate: int = D.SAMPLE_RATE) -> np.ndarray:
    """Speak `text` with `voice` ("ENGINE:NAME", engine flite, festival, pico, mbrola or
    rhvoice) at `rate` Hz, float32 mono.

    stretch: duration factor (> 1 is slower); cents: pitch shift (sox `pitch`, tempo kept).
    """
    engine, name = voice.split(":")
    effects = ["pitch", str(cents)]
    with tempfile.TemporaryDirectory() as d:
        raw, wav = os.path.join(d, "raw.wav"), os.path.join(d, "x.wav")
        if engine == "flite":
            cmd = ["flite", "-voice", name, "--setf", f"duration_stretch={stretch:.3f}", "-t", text, "-o", raw]
            subprocess.run(cmd, check=True, capture_output=True)
        elif engine == "festival":
            script = os.path.join(d, "say.scm")
            escaped = text.replace('"', "")
            Path(script).write_text(
                f"(voice_{name})\n(Parameter.set 'Duration_Stretch {stretch:.3f})\n"
                f"(utt.save.wave (utt.synth (Utterance Text \"{escaped}\")) \"{raw}\" 'riff)\n")
            subprocess.run(["festival", "-b", script], check=True, capture_output=True)
        elif engine == "pico":
            subprocess.run(["pico2wave", "-l", name, "-w", raw, text], check=True, capture_output=True)
            effects += ["tempo", "-s", f"{1 / stretch:.3f}"]
        elif engine == "mbrola":
            words_per_minute = str(round(150 / stretch))
            subprocess.run(["espeak-ng", "-v", name, "-s", words_per_minute, "-w", raw, text],
                           check=True, capture_output=True)
        elif engine == "rhvoice":
            subprocess.run(["RHVoice-test", "-p", name, "-r", str(round(100 / stretch)), "-o", raw],
                           input=text.encode(), check=True, capture_output=True)
        else:
            raise ValueError(f"unknown engine {engine!r} in voice {voice!r}")
        # -D: no dither, which sox otherwise draws afresh on every run
        subprocess.run(["sox", "-D", raw, "-c", "1", wav, *effects], check=True, capture_output=True)
        x, sr = sf.read(wav, dtype="float32")
    assert len(x) > 0, f"{voice} produced no audio for {text!r}"
    return soxr.resample(x, sr, rate, quality="HQ").astype(np.float32)


def pad(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    return np.zeros(int(rng.uniform(lo, hi) * D.SAMPLE_RATE), np.float32)


def session_task(task):
    """One session: eleven isolated words and `strings` phone strings; returns manifest rows."""
    seed, voice, split, index, strings, outdir, cents_range = task
    rng = np.random.default_rng(seed)
    stretch = float(rng.uniform(0.8, 1.3))
    cents = int(rng.integers(*cents_range))
    speaker = f"{voice}:s{stretch:.2f}:p{cents}"
    rows = []
    for word in D.SPOKEN:
        x = D.trim(synthesize(voice, word, stretch, cents))
        y = D.finish(rng, np.concatenate([pad(rng, 0.05, 0.3), D.fade(x), pad(rng, 0.05, 0.3)]), D.active_rms(x))
        path = Path(outdir) / f"{word}.wav"
        D.write_wav(path, y)
        rows.append(("isolated", str(path), "zero" if word == "oh" else word, speaker, len(y)))
    for i in range(strings):
        digits, groups = D.digit_string(rng)
        words = [("oh" if d == 0 and rng.random() < 0.4 else D.WORDS[d]) for d in digits]
        spoken = " ".join(w + ("," if k + 1 in groups else "") for k, w in enumerate(words))
        x = D.trim(synthesize(voice, spoken, stretch, cents))
        y = D.finish(rng, np.concatenate([pad(rng, 0.1, 0.4), D.fade(x), pad(rng, 0.1, 0.4)]), D.active_rms(x))
        path = Path(outdir) / f"string{i:02d}.wav"
        D.write_wav(path, y)
        rows.append(("string", str(path), " ".join(D.WORDS[d] for d in digits), speaker, len(y)))
    return split, voice, rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="/work/data/digits-voices", help="output folder, outside the repo")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train-sessions", type=int, default=24, help="sessions per train voice")
    p.add_argument("--valid-sessions", type=int, default=4, help="sessions per validation voice")
    p.add_argument("--strings", type=int, default=2, help="phone strings per session")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--voice-set", choices=sorted(VOICE_SETS), default="flite",
                   help="flite: Flite and Festival (the default); more: Pico, MBROLA and RHVoice; accents: MBROLA voices of other languages")
    args = p.parse_args()
    voice_set = VOICE_SETS[args.voice_set]

    t0 = time.time()
    out = Path(args.out).resolve()
    repo = Path(__file__).resolve().parents[2]
    if out == repo or repo in out.parents:
        sys.exit(f"--out {out} is inside the repository {repo}; write data outside it")
    for tool in (*voice_set.tools, "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found; install: apt-get install -y {voice_set.packages}")
    wav_root = out / "wav"
    if wav_root.exists():
        shutil.rmtree(wav_root)
    wav_root.mkdir(parents=True)

    tasks = []
    for split, voices, count in (("train", voice_set.train, args.train_sessions), ("valid", voice_set.valid, args.valid_sessions)):
        for v, voice in enumerate(voices):
            for i in range(count):
                outdir = wav_root / split / voice.replace(":", "-") / f"{i:03d}"
                seed = (args.seed, split == "valid", v, i) + voice_set.seed_tag
                tasks.append((seed, voice, split, i, args.strings, str(outdir), voice_set.cents))
    with multiprocessing.Pool(args.workers) as pool:
        results = pool.map(session_task, tasks, chunksize=1)

    manifests = {"train": [], "valid-voices": [], "valid-voices-strings": []}
    seconds: dict[str, float] = {}
    for split, voice, rows in results:
        for kind, audio, text, speaker, n in rows:
            name = "train" if split == "train" else ("valid-voices" if kind == "isolated" else "valid-voices-strings")
            source = voice.split(":")[0]
            manifests[name].append({"audio": audio, "text": text, "speaker": speaker, "source": source})
            seconds[name] = seconds.get(name, 0.0) + n / D.SAMPLE_RATE
    for name, rows in manifests.items():
        with open(out / f"{name}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    stats = {"seed": args.seed, "voice_set": args.voice_set, "train_voices": voice_set.train, "valid_voices": voice_set.valid,
             "clips": {k: len(v) for k, v in manifests.items()},
             "seconds": {k: round(v, 1) for k, v in seconds.items()},
             "elapsed_s": round(time.time() - t0, 1)}
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
