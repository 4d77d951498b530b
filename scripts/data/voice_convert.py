#!/usr/bin/env python3
"""Copies of training or evaluation clips in a higher voice, made with the WORLD vocoder:
every clip is analysed into pitch (F0), spectral envelope and aperiodicity, the pitch is
multiplied by a factor drawn from --f0 (about 1.7-2 turns a man's 100-130 Hz into a woman's
190-230 Hz) and the envelope is stretched along frequency by a factor drawn from --formant
(women's formants sit about 10-20% above men's), and the clip is synthesised again at its own
sample rate and length. FSDD's six speakers are all men; this gives a model trained on them
women-like versions of the same words, and gives validation a women-like copy of a held-out
speaker.

    /work/venv/bin/python scripts/data/voice_convert.py \\
        --manifest /work/data/digits/train.jsonl --sources fsdd,speech-commands \\
        --connected 600 --out /work/data/digits-higher --name train --seed 1

writes OUT/NAME.jsonl (same texts; the speaker id gains ":higher", so a converted speaker
stays one speaker apart from the original; the factors used are in "voice_factors") and the
16-bit WAVs under OUT/wav/NAME/. Rows are chosen by --sources (every row with one of those
`source` values) and --connected (that many rows with source `connected`, drawn with
--seed); with neither, every row. Every row's factors come from its own generator seeded by
(--seed, row number), so the output does not depend on --workers. Relative audio paths are
read from the manifest's folder, as `earshot` reads them; lines starting with # are skipped.
Needs numpy, soundfile and pyworld (PyPI).
"""
import argparse
import json
import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyworld
import soundfile

FRAME_MS = 5.0


def convert(x: np.ndarray, rate: int, f0_factor: float, formant_factor: float) -> np.ndarray:
    """x (mono float) re-synthesised with F0 x f0_factor and the envelope raised by formant_factor."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, times = pyworld.harvest(x, rate, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_MS)
    envelope = pyworld.cheaptrick(x, f0, times, rate)
    aperiodicity = pyworld.d4c(x, f0, times, rate)
    bins = np.arange(envelope.shape[1], dtype=np.float64)
    # Output bin k takes the input's value at k / factor: every formant moves up by the factor
    # (a factor below 1 would read past the top bin; its value is then held).
    source = bins / formant_factor
    envelope = np.stack([np.interp(source, bins, row) for row in envelope])
    aperiodicity = np.stack([np.interp(source, bins, row) for row in aperiodicity])
    y = pyworld.synthesize(f0 * f0_factor, envelope, aperiodicity, rate, FRAME_MS)
    y = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32)


def work(task):
    index, row, audio, out_wav, seed, f0_range, formant_range = task
    rng = np.random.default_rng([seed, index])
    f0_factor = float(rng.uniform(*f0_range))
    formant_factor = float(rng.uniform(*formant_range))
    try:
        x, rate = soundfile.read(audio, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types; say which file
        raise SystemExit(f"{audio}: cannot read audio ({e})")
    y = convert(x.mean(axis=1), rate, f0_factor, formant_factor)
    path = Path(out_wav) / f"{index:05d}.wav"
    soundfile.write(path, y, rate, subtype="PCM_16")
    return dict(row, audio=str(path.resolve()), speaker=f"{row.get('speaker', '')}:higher",
                voice_factors={"f0": round(f0_factor, 4), "formant": round(formant_factor, 4)})


def factor_range(text: str) -> tuple:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        lo = hi = float("nan")
    if not (0 < lo <= hi):
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH with 0 < LOW <= HIGH (e.g. 1.5,2.1), got {text!r}")
    return lo, hi


def count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value
    return parse


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--manifest", required=True, help="JSON Lines manifest ({\"audio\": ..., \"text\": ...})")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", default=None, help="output manifest name (default: the input's)")
    p.add_argument("--sources", default=None,
                   help="comma-separated `source` values whose rows are all converted (default: every row)")
    p.add_argument("--connected", type=count(0), default=0,
                   help="also convert this many rows with source `connected`, drawn with --seed")
    p.add_argument("--f0", type=factor_range, default=(1.5, 2.1), help="pitch factor range LOW,HIGH")
    p.add_argument("--formant", type=factor_range, default=(1.08, 1.25), help="envelope factor range LOW,HIGH")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=count(1), default=os.cpu_count() or 1)
    args = p.parse_args()

    base = Path(args.manifest).resolve().parent
    rows = []
    for number, line in enumerate(open(args.manifest), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise SystemExit(f"{args.manifest}:{number}: not a JSON object ({e.msg})")
        if "audio" not in rows[-1]:
            raise SystemExit(f"{args.manifest}:{number}: no \"audio\" field")
    if args.sources is None and args.connected == 0:
        chosen = rows
    else:
        wanted = set(args.sources.split(",")) if args.sources else set()
        present = {r.get("source") for r in rows}
        if wanted - present:
            raise SystemExit(f"--sources: {sorted(wanted - present)} not in the manifest "
                             f"(its sources: {sorted(str(v) for v in present)})")
        if "connected" in wanted and args.connected:
            raise SystemExit("--sources connected already takes every connected row; drop --connected")
        chosen = [r for r in rows if r.get("source") in wanted]
        connected = [r for r in rows if r.get("source") == "connected"]
        if args.connected > len(connected):
            raise SystemExit(f"--connected {args.connected}: the manifest has {len(connected)} connected rows")
        chosen += random.Random(args.seed).sample(connected, args.connected)
    if not chosen:
        raise SystemExit("no rows chosen: check --sources against the manifest's `source` values")
    name = args.name or Path(args.manifest).stem
    out_wav = Path(args.out) / "wav" / name
    out_wav.mkdir(parents=True, exist_ok=True)
    tasks = [(i, r, str(base / r["audio"]), str(out_wav), args.seed, args.f0, args.formant)
             for i, r in enumerate(chosen)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        converted = list(pool.map(work, tasks, chunksize=16))
    manifest = Path(args.out) / f"{name}.jsonl"
    with open(manifest, "w") as f:
        for r in converted:
            f.write(json.dumps(r) + "\n")
    print(f"wrote {len(converted)} clips to {manifest}")


if __name__ == "__main__":
    main()
