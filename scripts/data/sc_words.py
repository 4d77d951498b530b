#!/usr/bin/env python3
"""Extra CTC training data for the second `digits` ensemble member: every Speech Commands
clip of a word that is not a digit (the ten command folders and the other words of
`_unknown_/`), transcribed as its word, from speakers outside the digits validation split.

    python3 scripts/data/sc_words.py --data ../shared/data --digits /work/data/digits

Reads DIGITS/valid-sc.jsonl (written by scripts/data/digits.py) for the held-out Speech
Commands speakers and leaves all of their clips out, so the member never hears a validation
speaker. Writes DIGITS/sc-words.jsonl (the word clips, referenced in place, sorted by path)
and DIGITS/train-scwords.jsonl (DIGITS/train.jsonl followed by them). The words become extra
CTC tokens; scripts/train/keep_tokens.py cuts the trained model back to the digits.
Standard library only. Data licence: Speech Commands CC BY 4.0 (../shared/data/README.md).
"""
import argparse
import json
import wave
from pathlib import Path

DIGITS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/data", help="shared data folder (read only)")
    p.add_argument("--digits", default="/work/data/digits", help="output folder of scripts/data/digits.py")
    args = p.parse_args()
    sc = Path(args.data).resolve() / "speech-commands"
    out = Path(args.digits)
    held_out = {json.loads(line)["speaker"] for line in open(out / "valid-sc.jsonl")}
    rows = []
    for path in sorted(sc.glob("*/*_nohash_*.wav"), key=str):
        folder = path.parent.name
        if folder == "_unknown_":
            word, speaker = path.stem.split("_")[:2]
        else:
            word, speaker = folder, path.stem.split("_")[0]
        if word in DIGITS or speaker in held_out:
            continue
        with wave.open(str(path)) as w:
            if w.getnframes() == 0:
                continue
        rows.append({"audio": str(path), "text": word, "speaker": speaker, "source": "speech-commands-words"})
    with open(out / "sc-words.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    with open(out / "train-scwords.jsonl", "w") as f:
        f.write((out / "train.jsonl").read_text())
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(f"{len(rows)} word clips from {len({r['speaker'] for r in rows})} speakers "
          f"({len(held_out)} held-out speakers left out) -> {out}/sc-words.jsonl, {out}/train-scwords.jsonl")


if __name__ == "__main__":
    main()
