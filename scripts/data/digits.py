#!/usr/bin/env python3
"""Data recipe for the shipped `digits` CTC model (English digit strings).

    /work/venv/bin/python scripts/data/digits.py --data ../shared/data --out /work/data/digits [--seed 1]

Writes 8 kHz mono 16-bit WAVs and JSON Lines manifests OUTSIDE the repository
(the script refuses an --out inside it). Each manifest line is

    {"audio": "/abs/path.wav", "text": "four seven one", "speaker": "george",
     "source": "fsdd|speech-commands|espeak|connected"}

The vocabulary is the ten words zero..nine; spoken "oh" is written "zero".

Sources and splits (validation is always speaker- or voice-disjoint from train):
  fsdd             Free Spoken Digit Dataset, referenced in place (already 8 kHz).
                   One speaker (--valid-fsdd-speaker, default theo) is validation.
  speech-commands  The digit words of Speech Commands `_unknown_/`, referenced in place
                   (16 kHz; the trainer resamples). A speaker is validation when the
                   first byte of sha1(speaker id) is < 64 (~25%, seed-independent).
  espeak           espeak-ng isolated words. A "session" is one voice (accent + variant)
                   at one speed and pitch saying all eleven words (zero, oh, one..nine).
                   Variants in VALID_VARIANTS never appear in train, so every validation
                   voice (accent+variant) and every validation variant is unseen in train.
  connected        (a) strings of 2-10 digits concatenated from trimmed isolated clips of
                   ONE training speaker/session (FSDD train speakers or espeak train
                   sessions; validation strings only from the held-out FSDD speaker and
                   validation sessions), with 0-400 ms noisy pauses; (b) phone-number-like
                   strings synthesized by espeak-ng in one utterance, commas between digit
                   groups, with the same voice split.

Outputs in --out: train.jsonl, valid-fsdd.jsonl, valid-sc.jsonl, valid-espeak.jsonl,
valid-connected.jsonl, valid.jsonl (all validation), stats.json, wav/ (generated audio;
deleted and rewritten on every run). Deterministic given --seed (and the espeak-ng
version, recorded in stats.json). Data licences: see ../shared/data/README.md
(FSDD CC BY-SA 4.0, Speech Commands CC BY 4.0).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402

SAMPLE_RATE = 8000
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPOKEN = WORDS + ["oh"]  # what an espeak session says; "oh" is transcribed "zero"
FSDD_SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]

# espeak-ng voices (gmw/ files; the mbrola voices need the mbrola binary, absent here).
# "en" and "en-gb" are the same voice file, so only en-gb is listed.
ESPEAK_BASES = ["en-gb", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp",
                "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc"]
# Variants (voices/!v/). "" is the plain voice. Robotic/novelty variants (robosoft*,
# UniRobot, Demonic, Tweaky, ...) are left out; klatt6 is identical to klatt.
TRAIN_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m7", "m8", "f1", "f2", "f3", "f5",
                  "croak", "whisper", "klatt", "klatt2", "klatt4", "klatt5",
                  "Alex", "Alicia", "Andrea", "Andy", "adam", "anika", "aunty", "belinda",
                  "benjamin", "boris", "caleb", "david", "ed", "edward", "grandma",
                  "grandpa", "iven", "linda", "max", "michel", "norbert", "paul",
                  "quincy", "rob", "robert", "travis", "victor", "zac"]
VALID_VARIANTS = ["m6", "f4", "klatt3", "whisperf", "Annie", "steph", "john", "Lee"]


# ---------------------------------------------------------------- signal helpers

def trim(x: np.ndarray, threshold_db: float = 35.0, margin: float = 0.03) -> np.ndarray:
    """Cut leading/trailing silence, keeping `margin` seconds around the speech.

    A 10 ms frame is active when it is louder than both (loudest frame - threshold_db)
    and (5th-percentile frame + 10 dB, capped at loudest - 25 dB): the second term
    handles quiet recordings whose noise floor sits within threshold_db of the speech
    (FSDD theo). Active runs shorter than 30 ms more than 150 ms from a longer run are
    clicks (some FSDD files end in one) and are ignored.
    """
    hop = SAMPLE_RATE // 100
    n = len(x) // hop
    if n < 3:
        return x
    frames = x[: n * hop].reshape(n, hop)
    db = 10 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)
    top = db.max()
    floor = np.percentile(db, 5)
    active = db > max(top - threshold_db, min(floor + 10, top - 25))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    runs = list(zip(edges[::2], edges[1::2]))  # [start, end) in frames
    long = [r for r in runs if r[1] - r[0] >= 3] or [max(runs, key=lambda r: r[1] - r[0])]
    near = 15  # frames (150 ms)
    kept = [r for r in runs if r in long or any(r[0] - b <= near and a - r[1] <= near for a, b in long)]
    m = int(margin * SAMPLE_RATE)
    start = max(0, kept[0][0] * hop - m)
    end = min(len(x), kept[-1][1] * hop + m)
    return x[start:end]


def fade(x: np.ndarray, seconds: float = 0.005) -> np.ndarray:
    n = min(int(seconds * SAMPLE_RATE), len(x) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def colored_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS noise: white through a random one-pole low-pass (white..brown-ish)."""
    w = rng.standard_normal(n + 800)
    a = rng.uniform(0.0, 0.97)
    y = scipy.signal.lfilter([1.0], [1.0, -a], w)[800:]
    return (y / (np.sqrt(np.mean(y * y)) + 1e-12)).astype(np.float32)


def finish(rng: np.random.Generator, speech: np.ndarray, active_rms: float,
           floor_rms: float = 0.0) -> np.ndarray:
    """Random gain (peak -30..-1 dBFS) plus seeded noise at 20-40 dB SNR; never clips.

    The noise is at least floor_rms (before gain), so recorded clips with their own
    noise floor do not stand out as boxes against quieter pauses.
    """
    peak = float(np.max(np.abs(speech))) + 1e-12
    gain = 10 ** (rng.uniform(-30.0, -1.0) / 20) / peak  # FSDD theo peaks near -30 dBFS
    speech = speech * gain
    snr = rng.uniform(20.0, 40.0)
    level = max(active_rms * 10 ** (-snr / 20), floor_rms)
    noise = colored_noise(rng, len(speech)) * (level * gain)
    y = speech + noise
    top = float(np.max(np.abs(y)))
    if top > 0.97:
        y *= 0.97 / top
    return y.astype(np.float32)


def active_rms(x: np.ndarray) -> float:
    hop = SAMPLE_RATE // 100
    n = max(1, len(x) // hop)
    e = np.mean(x[: n * hop].reshape(n, -1) ** 2, axis=1) if len(x) >= hop else np.array([np.mean(x * x)])
    loud = e[e > e.max() * 10 ** (-3.5)]
    return float(np.sqrt(np.mean(loud)))


def floor_rms(x: np.ndarray) -> float:
    """RMS of the quietest 10 ms frame of an untrimmed recording."""
    hop = SAMPLE_RATE // 100
    n = len(x) // hop
    if n < 1:
        return 0.0
    return float(np.sqrt(np.min(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1))))


def write_wav(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert np.max(np.abs(x)) < 1.0, f"{path}: would clip"
    sf.write(str(path), x, SAMPLE_RATE, subtype="PCM_16")


def espeak(voice: str, speed: int, pitch: int, text: str, gap: int = 0) -> np.ndarray:
    """Synthesize with espeak-ng and return float32 audio at 8 kHz (soxr HQ)."""
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "x.wav")
        cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
               "-a", "60", "-g", str(gap), "-w", wav, text]
        subprocess.run(cmd, check=True, capture_output=True)
        x, sr = sf.read(wav, dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    assert len(x) > 0, f"espeak-ng produced no audio for {cmd}"
    return soxr.resample(x, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)


# ---------------------------------------------------------------- workers
# Each task carries its own seed tuple, so results do not depend on scheduling.

CLIPS: dict = {}  # (speaker, word) -> [(trimmed clip, noise-floor RMS)]; set before forking


def session_task(task):
    """One espeak session: eleven isolated clips, written padded+noised; returns clean trims."""
    seed, voice, speed, pitch, outdir = task
    rng = np.random.default_rng(seed)
    clean, rows = {}, []
    for word in SPOKEN:
        x = trim(espeak(voice, speed, pitch, word))
        clean[word] = x
        pad = lambda: np.zeros(int(rng.uniform(0.05, 0.3) * SAMPLE_RATE), np.float32)  # noqa: E731
        y = finish(rng, np.concatenate([pad(), fade(x), pad()]), active_rms(x))
        path = Path(outdir) / f"{word}.wav"
        write_wav(path, y)
        rows.append((str(path), "zero" if word == "oh" else word, len(y)))
    return clean, rows


def concat_task(task):
    """A connected string from one speaker's trimmed clips, with noisy 0-400 ms pauses."""
    seed, speaker, digits, groups, path = task
    rng = np.random.default_rng(seed)
    parts, speech_only, floors = [np.zeros(int(rng.uniform(0.1, 0.4) * SAMPLE_RATE), np.float32)], [], []
    for i, d in enumerate(digits):
        word = WORDS[d]
        if d == 0 and (speaker, "oh") in CLIPS and rng.random() < 0.4:
            word = "oh"
        takes = CLIPS[(speaker, word)]
        x, floor = takes[rng.integers(len(takes))]
        g = 10 ** (rng.uniform(-2.0, 2.0) / 20)
        x = fade(x) * g
        parts.append(x)
        speech_only.append(x)
        floors.append(floor * g)
        if i + 1 < len(digits):
            # 0-400 ms; longer at a group boundary (like "415 555 2368").
            lo, hi = (0.15, 0.4) if i + 1 in groups else (0.0, 0.2)
            parts.append(np.zeros(int(rng.uniform(lo, hi) * SAMPLE_RATE), np.float32))
    parts.append(np.zeros(int(rng.uniform(0.1, 0.4) * SAMPLE_RATE), np.float32))
    y = finish(rng, np.concatenate(parts), active_rms(np.concatenate(speech_only)),
               float(np.median(floors)))
    write_wav(Path(path), y)
    return len(y)


def tts_task(task):
    """A phone-number-like string synthesized by espeak-ng in one utterance."""
    seed, voice, speed, pitch, gap, spoken, path = task
    rng = np.random.default_rng(seed)
    x = trim(espeak(voice, speed, pitch, spoken, gap))
    pad = lambda: np.zeros(int(rng.uniform(0.1, 0.4) * SAMPLE_RATE), np.float32)  # noqa: E731
    y = finish(rng, np.concatenate([pad(), fade(x), pad()]), active_rms(x))
    write_wav(Path(path), y)
    return len(y)


# ---------------------------------------------------------------- planning

def sc_is_valid(speaker: str) -> bool:
    return hashlib.sha1(speaker.encode()).digest()[0] < 64


def digit_string(rng: np.random.Generator) -> tuple[list[int], set[int]]:
    """2-10 digits; 40% phone-shaped (3+4, 3+3+4), else uniform length with random groups."""
    r = rng.random()
    if r < 0.2:
        sizes = [3, 4]
    elif r < 0.4:
        sizes = [3, 3, 4]
    else:
        n = int(rng.integers(2, 11))
        sizes, left = [], n
        while left > 0:
            s = int(min(left, rng.integers(1, 5)))
            sizes.append(s)
            left -= s
    digits = [int(d) for d in rng.integers(0, 10, size=sum(sizes))]
    groups = set(np.cumsum(sizes)[:-1].tolist())
    return digits, groups


def voice_name(base: str, variant: str) -> str:
    return base if not variant else f"{base}+{variant}"


def plan_sessions(rng, count, variants, seed, split, root):
    tasks = []
    for i in range(count):
        voice = voice_name(ESPEAK_BASES[rng.integers(len(ESPEAK_BASES))],
                           variants[rng.integers(len(variants))])
        speed, pitch = int(rng.integers(120, 221)), int(rng.integers(20, 81))
        tasks.append(((seed, 1, split == "valid", i), voice, speed, pitch,
                      str(root / "espeak" / split / f"{i:04d}")))
    return tasks


def espeak_version() -> str:
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"text-to-speech:\s*(\S+)", out)
    return m.group(1) if m else out.strip()


# ---------------------------------------------------------------- main

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/data", help="shared data folder (read only)")
    p.add_argument("--out", default="/work/data/digits", help="output folder, outside the repo")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--valid-fsdd-speaker", default="theo", choices=FSDD_SPEAKERS)
    p.add_argument("--espeak-train", type=int, default=2500, help="isolated espeak train clips (approx.)")
    p.add_argument("--espeak-valid", type=int, default=300)
    p.add_argument("--connected-train", type=int, default=2500)
    p.add_argument("--connected-valid", type=int, default=300)
    p.add_argument("--tts-train", type=int, default=440, help="one-utterance espeak phone strings")
    p.add_argument("--tts-valid", type=int, default=80)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()

    t0 = time.time()
    data = Path(args.data).resolve()
    out = Path(args.out).resolve()
    repo = Path(__file__).resolve().parents[2]
    if out == repo or repo in out.parents:
        sys.exit(f"--out {out} is inside the repository {repo}; write data outside it")
    fsdd_dir, sc_dir = data / "fsdd" / "recordings", data / "speech-commands" / "_unknown_"
    for d in (fsdd_dir, sc_dir):
        if not d.is_dir():
            sys.exit(f"{d}: not found; pass --data pointing at the shared data folder")
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng not found; install it (Debian: apt-get install espeak-ng)")
    wav_root = out / "wav"
    if wav_root.exists():
        shutil.rmtree(wav_root)
    wav_root.mkdir(parents=True)

    rng = np.random.default_rng(args.seed)
    rows = {"train": [], "valid-fsdd": [], "valid-sc": [], "valid-espeak": [], "valid-connected": []}
    seconds = Counter()  # (source, split) -> seconds

    def add(manifest, audio, text, speaker, source, n_samples, sr=SAMPLE_RATE):
        rows[manifest].append({"audio": str(audio), "text": text, "speaker": speaker, "source": source})
        seconds[(source, "train" if manifest == "train" else "valid")] += n_samples / sr

    # 1. FSDD, referenced in place; trimmed copies kept in memory for concatenation.
    valid_fsdd = args.valid_fsdd_speaker
    for path in sorted(fsdd_dir.glob("*.wav")):
        digit, speaker, _take = path.stem.split("_")
        assert speaker in FSDD_SPEAKERS, f"{path}: unknown FSDD speaker {speaker}"
        x, sr = sf.read(str(path), dtype="float32")
        assert sr == SAMPLE_RATE and x.ndim == 1, f"{path}: {sr} Hz, shape {x.shape}"
        add("valid-fsdd" if speaker == valid_fsdd else "train", path, WORDS[int(digit)],
            speaker, "fsdd", len(x))
        CLIPS.setdefault((speaker, WORDS[int(digit)]), []).append((trim(x), floor_rms(x)))
    # FSDD clips are cut tightly, so one clip rarely holds pure noise; a speaker's noise
    # floor is the quietest frame over all his recordings.
    for speaker in FSDD_SPEAKERS:
        floor = min(f for w in WORDS for _, f in CLIPS[(speaker, w)])
        for w in WORDS:
            CLIPS[(speaker, w)] = [(x, floor) for x, _ in CLIPS[(speaker, w)]]

    # 2. Speech Commands digit words, referenced in place, split by speaker hash.
    sc_speakers = {"train": set(), "valid": set()}
    for path in sorted(sc_dir.glob("*_nohash_*.wav")):
        word, speaker = path.stem.split("_")[:2]
        if word not in WORDS:
            continue
        split = "valid" if sc_is_valid(speaker) else "train"
        sc_speakers[split].add(speaker)
        info = sf.info(str(path))
        add("valid-sc" if split == "valid" else "train", path, word, speaker,
            "speech-commands", info.frames, info.samplerate)

    # 3. espeak sessions (isolated words), voice-disjoint via VALID_VARIANTS.
    n_train_sessions = -(-args.espeak_train // len(SPOKEN))
    n_valid_sessions = -(-args.espeak_valid // len(SPOKEN))
    sessions = {"train": plan_sessions(rng, n_train_sessions, TRAIN_VARIANTS, args.seed, "train", wav_root),
                "valid": plan_sessions(rng, n_valid_sessions, VALID_VARIANTS, args.seed, "valid", wav_root)}
    session_speakers = {}
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for split, tasks in sessions.items():
            for task, (clean, clip_rows) in zip(tasks, pool.imap(session_task, tasks, chunksize=4)):
                session_id = f"espeak:{task[1]}:s{task[2]}:p{task[3]}"
                session_speakers[session_id] = task[1]
                for word, x in clean.items():
                    CLIPS[(session_id, word)] = [(x, 0.0)]
                for path, text, n in clip_rows:
                    add("train" if split == "train" else "valid-espeak", path, text,
                        f"espeak:{task[1]}", "espeak", n)
    espeak_voices = {s: sorted({f"espeak:{t[1]}" for t in ts}) for s, ts in sessions.items()}

    # 4a. Connected strings by concatenation (one speaker or session per string).
    fsdd_train = [s for s in FSDD_SPEAKERS if s != valid_fsdd]
    pools = {"train": (fsdd_train, [f"espeak:{t[1]}:s{t[2]}:p{t[3]}" for t in sessions["train"]]),
             "valid": ([valid_fsdd], [f"espeak:{t[1]}:s{t[2]}:p{t[3]}" for t in sessions["valid"]])}
    concat, tts = [], []
    for split, count in (("train", args.connected_train), ("valid", args.connected_valid)):
        fsdd_pool, espeak_pool = pools[split]
        for i in range(count):
            # Half real FSDD voices, half espeak sessions.
            if rng.random() < 0.5:
                speaker = label = fsdd_pool[rng.integers(len(fsdd_pool))]
            else:
                speaker = espeak_pool[rng.integers(len(espeak_pool))]
                label = f"espeak:{session_speakers[speaker]}"
            digits, groups = digit_string(rng)
            path = wav_root / "connected" / split / f"{i:05d}.wav"
            concat.append((split, label, digits,
                           ((args.seed, 2, split == "valid", i), speaker, digits, groups, str(path))))

    # 4b. Phone-number-like strings, one espeak-ng utterance each.
    for split, count, variants in (("train", args.tts_train, TRAIN_VARIANTS),
                                   ("valid", args.tts_valid, VALID_VARIANTS)):
        for i in range(count):
            voice = voice_name(ESPEAK_BASES[rng.integers(len(ESPEAK_BASES))],
                               variants[rng.integers(len(variants))])
            speed, pitch, gap = int(rng.integers(120, 221)), int(rng.integers(20, 81)), int(rng.integers(0, 6))
            digits, groups = digit_string(rng)
            spoken = []
            for k, d in enumerate(digits):
                spoken.append(("oh" if d == 0 and rng.random() < 0.4 else WORDS[d])
                              + ("," if k + 1 in groups else ""))
            path = wav_root / "tts" / split / f"{i:05d}.wav"
            tts.append((split, f"espeak:{voice}", digits,
                        ((args.seed, 3, split == "valid", i), voice, speed, pitch, gap,
                         " ".join(spoken), str(path))))

    with multiprocessing.get_context("fork").Pool(args.workers) as pool:  # forked after CLIPS is complete
        for tasks, fn in ((concat, concat_task), (tts, tts_task)):
            lengths = pool.map(fn, [t[3] for t in tasks], chunksize=16)
            for (split, label, digits, task), n in zip(tasks, lengths):
                add("train" if split == "train" else "valid-connected", task[-1],
                    " ".join(WORDS[d] for d in digits), label, "connected", n)

    # Checks: vocabulary, files exist, no validation speaker or voice in train.
    train_speakers = {r["speaker"] for r in rows["train"]}
    for name, manifest in rows.items():
        for r in manifest:
            assert r["text"] and set(r["text"].split()) <= set(WORDS), r
            assert os.path.isabs(r["audio"]) and os.path.exists(r["audio"]), r
        if name != "train":
            leaked = train_speakers & {r["speaker"] for r in manifest}
            assert not leaked, f"{name}: validation speakers also in train: {sorted(leaked)}"
    assert valid_fsdd not in train_speakers
    assert not sc_speakers["train"] & sc_speakers["valid"]
    assert not set(espeak_voices["train"]) & set(espeak_voices["valid"])
    assert not {v.split("+")[-1] for v in espeak_voices["valid"] if "+" in v} & set(TRAIN_VARIANTS)

    # Manifests and stats.
    valid_all = [r for k in ("valid-fsdd", "valid-sc", "valid-espeak", "valid-connected") for r in rows[k]]
    for name, manifest in list(rows.items()) + [("valid", valid_all)]:
        with open(out / f"{name}.jsonl", "w") as f:
            for r in manifest:
                f.write(json.dumps(r) + "\n")
    counts = defaultdict(Counter)
    for name, manifest in rows.items():
        for r in manifest:
            counts[r["source"]]["train" if name == "train" else "valid"] += 1
    sources = ["fsdd", "speech-commands", "espeak", "connected"]
    stats = {
        "seed": args.seed,
        "espeak_ng_version": espeak_version(),
        "sample_rate_generated": SAMPLE_RATE,
        "clips": {s: dict(counts[s]) for s in sources},
        "hours": {s: {sp: round(seconds[(s, sp)] / 3600, 4) for sp in ("train", "valid")} for s in sources},
        "total_hours": {sp: round(sum(seconds[(s, sp)] for s in sources) / 3600, 4) for sp in ("train", "valid")},
        "manifests": {name: len(m) for name, m in list(rows.items()) + [("valid", valid_all)]},
        "connected": {"concatenated": {sp: sum(1 for t in concat if t[0] == sp) for sp in ("train", "valid")},
                      "espeak_utterance": {sp: sum(1 for t in tts if t[0] == sp) for sp in ("train", "valid")}},
        "splits": {
            "fsdd_valid_speaker": valid_fsdd,
            "speech_commands_rule": "valid iff sha1(speaker)[0] < 64",
            "speech_commands_speakers": {k: len(v) for k, v in sc_speakers.items()},
            "speech_commands_valid_speakers": sorted(sc_speakers["valid"]),
            "espeak_train_variants": TRAIN_VARIANTS,
            "espeak_valid_variants": VALID_VARIANTS,
            "espeak_bases": ESPEAK_BASES,
            "espeak_voices": {k: len(v) for k, v in espeak_voices.items()},
        },
        "seconds_to_generate": round(time.time() - t0, 1),
    }
    with open(out / "stats.json", "w") as f:
        json.dump(stats, f, indent=2)
        f.write("\n")

    print(f"{'source':<16} {'train':>7} {'hours':>7} {'valid':>7} {'hours':>7}")
    for s in sources:
        print(f"{s:<16} {counts[s]['train']:>7} {seconds[(s, 'train')] / 3600:>7.3f} "
              f"{counts[s]['valid']:>7} {seconds[(s, 'valid')] / 3600:>7.3f}")
    print(f"{'total':<16} {len(rows['train']):>7} {stats['total_hours']['train']:>7.3f} "
          f"{len(valid_all):>7} {stats['total_hours']['valid']:>7.3f}")
    print(f"wrote {out} in {time.time() - t0:.0f} s (seed {args.seed}, espeak-ng {stats['espeak_ng_version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
