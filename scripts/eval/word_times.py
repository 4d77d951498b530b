#!/usr/bin/env python3
"""How well `earshot transcribe` places words in time: strings built from isolated clips of
held-out speakers, with known word boundaries, transcribed, and each word's start and end
compared with the truth (on the strings whose words all come out right).

    python3 scripts/eval/word_times.py --manifest /work/data/digits/valid-fsdd.jsonl \
        --work /tmp/word-times [--earshot .build/release/earshot] [--model digits] [--strings 60] \
        [--gaps 0.05,0.5]

Each string: 0.1-0.4 s of silence, then 3-6 clips of one speaker, each trimmed to where its
10 ms energy is within 35 dB of its loudest (the word's true extent), each followed by
0.05-0.5 s of silence (seed 1; `--gaps 0,0` joins them without pauses, as in fast
speech). Prints the median and mean absolute start and end errors, the share within 0.1 s,
and the share of words whose span and true span overlap by at least half of each. Needs
numpy and soundfile (scripts/bench/requirements.txt).
"""
import argparse
import json
import random
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf


def trim(x: np.ndarray, rate: int) -> np.ndarray:
    h = int(rate * 0.01)
    energy = np.array([np.mean(x[i:i + h] ** 2) for i in range(0, len(x) - h + 1, h)])
    loud = np.where(energy > max(energy.max() * 10 ** (-35 / 10), 1e-8))[0]
    return x[loud[0] * h:min((loud[-1] + 1) * h, len(x))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--manifest", required=True, help="isolated clips: JSON Lines with audio, text, speaker")
    p.add_argument("--work", required=True, help="folder for the strings and the transcripts")
    p.add_argument("--earshot", default=".build/release/earshot")
    p.add_argument("--model", default="digits")
    p.add_argument("--strings", type=int, default=60)
    p.add_argument("--gaps", default="0.05,0.5",
                   help="silence after each word, uniform in MIN,MAX seconds; 0,0 joins the words without pauses")
    args = p.parse_args()
    gap_min, gap_max = (float(v) for v in args.gaps.split(","))
    rng = random.Random(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    by_speaker: dict[str, list[dict]] = {}
    for line in open(args.manifest):
        clip = json.loads(line)
        by_speaker.setdefault(clip["speaker"], []).append(clip)
    speakers = sorted(by_speaker)
    truth = {}
    for n in range(args.strings):
        clips = by_speaker[rng.choice(speakers)]
        pick = rng.sample(clips, min(rng.randint(3, 6), len(clips)))
        parts, words, t, rate = [], [], 0, None
        for clip in pick:
            x, r = sf.read(clip["audio"], dtype="float32")
            x = x.mean(axis=1) if x.ndim > 1 else x
            if rate is None:
                rate = r
                lead = np.zeros(int(rate * rng.uniform(0.1, 0.4)), dtype=np.float32)
                parts.append(lead)
                t += len(lead)
            if r != rate:
                continue  # one rate per string
            x = trim(x, rate)
            words.append((clip["text"], t / rate, (t + len(x)) / rate))
            gap = np.zeros(int(rate * rng.uniform(gap_min, gap_max)), dtype=np.float32)
            parts += [x, gap]
            t += len(x) + len(gap)
        path = str(work / f"s{n:03d}.wav")
        sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
        truth[path] = words
    out = subprocess.run([args.earshot, "transcribe", "--model", args.model, "--format", "json", "--threads", "1", *truth],
                         check=True, capture_output=True, text=True).stdout
    starts, ends, overlap = [], [], 0
    for line in out.splitlines():
        r = json.loads(line)
        want = truth[r["file"]]
        if [w["word"] for w in r["words"]] != [w for w, _, _ in want]:
            continue
        for w, (_, ts, te) in zip(r["words"], want):
            starts.append(w["start"] - ts)
            ends.append(w["end"] - te)
            shared = max(0.0, min(w["end"], te) - max(w["start"], ts))
            overlap += shared >= 0.5 * (te - ts) and shared >= 0.5 * (w["end"] - w["start"])
    s, e = np.array(starts), np.array(ends)
    print(f"{len(s)} words in {len(truth)} strings (scored where every word is right): "
          f"start error median {np.median(s):+.3f} s, mean |error| {np.mean(abs(s)):.3f} s, within 0.1 s {np.mean(abs(s) <= 0.1):.0%}; "
          f"end median {np.median(e):+.3f} s, mean |error| {np.mean(abs(e)):.3f} s, within 0.1 s {np.mean(abs(e) <= 0.1):.0%}; "
          f"half-overlap {overlap / len(s):.0%}")


if __name__ == "__main__":
    main()
