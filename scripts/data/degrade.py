#!/usr/bin/env python3
"""Copies of an evaluation manifest under harder recording conditions, to measure how a model
holds up away from clean close-talk audio. Each clip is rewritten with sox:

    gsm     telephone: 300-3400 Hz band, 8 kHz, through the GSM 06.10 full-rate codec
    reverb  a room: sox's reverb (reverberance 50%, HF damping 50%, room scale 60%, stereo
            depth 100%, pre-delay 10 ms, wet gain 0) with 0.3 s of tail

    python3 scripts/data/degrade.py --manifest /work/data/digits/valid-connected.jsonl \
        --out /work/tel --kinds gsm,reverb

writes OUT/<manifest name>-<kind>.jsonl (same texts and speakers, audio under OUT/wav/).
The reverb here is sox's algorithm, not the synthetic impulse responses of
`earshot train --reverb`, so a model trained with that option meets a room it never heard.
sox runs in repeatable mode (-R), so the same input gives the same files. Needs sox on
PATH; standard library only.
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path


def degrade(src: str, dst: Path, kind: str) -> None:
    if kind == "gsm":
        with tempfile.TemporaryDirectory() as tmp:
            coded = Path(tmp) / "x.gsm"
            subprocess.run(["sox", "-R", src, "-r", "8000", "-c", "1", str(coded), "highpass", "300", "lowpass", "3400"], check=True)
            subprocess.run(["sox", "-R", str(coded), "-e", "signed-integer", "-b", "16", str(dst)], check=True)
    elif kind == "reverb":
        subprocess.run(["sox", "-R", src, str(dst), "reverb", "50", "50", "60", "100", "10", "0", "pad", "0", "0.3"], check=True)
    else:
        raise SystemExit(f"unknown kind {kind!r}: gsm or reverb")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--manifest", required=True, help="JSON Lines manifest ({\"audio\": ..., ...})")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--kinds", default="gsm,reverb", help="comma-separated: gsm, reverb")
    args = p.parse_args()
    manifest = Path(args.manifest)
    out = Path(args.out)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    entries = [json.loads(line) for line in open(manifest) if line.strip()]
    for kind in args.kinds.split(","):
        with open(out / f"{manifest.stem}-{kind}.jsonl", "w") as f:
            for i, e in enumerate(entries):
                src = e["audio"] if Path(e["audio"]).is_absolute() else str(manifest.parent / e["audio"])
                dst = out / "wav" / f"{manifest.stem}-{i}-{kind}.wav"
                degrade(src, dst, kind)
                f.write(json.dumps({**e, "audio": str(dst)}) + "\n")
        print(f"wrote {out / f'{manifest.stem}-{kind}.jsonl'} ({len(entries)} clips)")


if __name__ == "__main__":
    main()
