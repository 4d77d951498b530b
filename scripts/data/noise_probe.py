#!/usr/bin/env python3
"""Copies of an evaluation manifest with background noise added, to measure how a model holds
up in noise it may never have trained with (docs/models.md, "Background noise").

    python3 scripts/data/noise_probe.py --manifest /work/data/digits/valid-connected.jsonl \
        --out /work/noise-probe --name con --count 120 --seed 1

writes OUT/n{KIND}{SNR}-{NAME}.jsonl for every kind and SNR (same texts, audio under
OUT/n{KIND}{SNR}/{NAME}/), and OUT/plain-{NAME}.jsonl (the same clips, unchanged but resampled
and written as 16-bit WAV like the others). Kinds: `white` (Gaussian noise), and any ESC-10
class folder under --esc (the first eight clips of the class, resampled and joined; a random
stretch per clip). The SNR is the power of the clip's louder half of 20 ms frames over the
noise's. Everything is written at --rate (default 8000, the `digits` model's rate; 16000 for
the classifiers). `--count` clips are drawn with Python's `random.seed(SEED)` shuffle; the noise with
numpy's default_rng(7). With --pad S each clip also gets S seconds of the same noise alone
before and after it (OUT/p{KIND}{SNR}-{NAME}.jsonl; the same SNR under the speech): a recording
that starts and ends in a noisy room. Needs numpy, soundfile and soxr
(scripts/fixtures/requirements.txt).
"""
import argparse
import glob
import json
import os
import random

import numpy as np
import soundfile as sf
import soxr

def mono(path: str, rate: int) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32")
    if x.ndim > 1:
        x = x.mean(1)
    return soxr.resample(x, sr, rate) if sr != rate else x


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--manifest", required=True, help="JSON Lines manifest ({\"audio\": ..., \"text\": ...})")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", required=True, help="short name of this set in the output names, e.g. iso or con")
    p.add_argument("--count", type=int, default=120, help="clips drawn from the manifest (default 120)")
    p.add_argument("--seed", type=int, default=1, help="seed of the draw (default 1)")
    p.add_argument("--kinds", default="white,rain,helicopter", help="white and/or ESC-10 classes (default white,rain,helicopter)")
    p.add_argument("--snr", default="20,10", help="SNRs in dB, comma-separated (default 20,10)")
    p.add_argument("--esc", default="../shared/data/esc10", help="ESC-10 folder (default ../shared/data/esc10)")
    p.add_argument("--rate", type=int, default=8000, help="sample rate of the copies in Hz (default 8000)")
    p.add_argument("--pad", type=float, default=0.0,
                   help="also this many seconds of the noise alone before and after each clip (default 0)")
    args = p.parse_args()
    random.seed(args.seed)
    rows = [json.loads(line) for line in open(args.manifest) if line.strip()]
    random.shuffle(rows)
    rows = rows[: args.count]
    base = os.path.dirname(os.path.abspath(args.manifest))
    clips = [mono(r["audio"] if os.path.isabs(r["audio"]) else os.path.join(base, r["audio"]), args.rate) for r in rows]
    rng = np.random.default_rng(7)
    banks = {}
    for kind in args.kinds.split(","):
        if kind != "white":
            files = sorted(glob.glob(os.path.join(args.esc, kind, "*.ogg")))[:8]
            if not files:
                raise SystemExit(f"{kind}: no .ogg clips under {os.path.join(args.esc, kind)}")
            banks[kind] = np.concatenate([mono(f, args.rate) for f in files])
    variants = [("plain", None, None)] + [
        (f"{'p' if args.pad > 0 else 'n'}{'heli' if k == 'helicopter' else k}{snr}", k, float(snr))
        for k in args.kinds.split(",") for snr in args.snr.split(",")]
    pad = int(round(args.pad * args.rate))
    silence = np.zeros(pad, np.float32)
    for v, kind, snr in variants:
        folder = os.path.join(args.out, v, args.name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(args.out, f"{v}-{args.name}.jsonl"), "w") as out:
            for i, (r, x) in enumerate(zip(rows, clips)):
                y = x
                if kind is not None:
                    length = len(x) + 2 * pad
                    if kind == "white":
                        n = rng.standard_normal(length).astype(np.float32)
                    else:
                        b = banks[kind]
                        if length >= len(b):
                            raise SystemExit(f"{kind}: {length} samples of noise needed, the bank holds {len(b)}")
                        s0 = rng.integers(0, len(b) - length)
                        n = b[s0:s0 + length].copy()
                    frame = args.rate // 50  # 20 ms
                    frames = x[: len(x) // frame * frame].reshape(-1, frame)
                    power = np.sort((frames ** 2).mean(1))[::-1]
                    speech = power[: max(1, len(power) // 2)].mean()
                    n *= np.sqrt(speech / (np.mean(n ** 2) + 1e-12) / 10 ** (snr / 10))
                    y = np.clip(np.concatenate([silence, x, silence]) + n, -1, 1)
                dst = os.path.abspath(os.path.join(folder, f"{i}.wav"))
                sf.write(dst, y, args.rate, subtype="PCM_16")
                out.write(json.dumps({**r, "audio": dst}) + "\n")
        print(f"wrote {os.path.join(args.out, f'{v}-{args.name}.jsonl')} ({len(rows)} clips)")


if __name__ == "__main__":
    main()
