#!/usr/bin/env python3
"""Score a `digits` candidate on the validation sets of docs/models.md, and compare candidates.

    python3 scripts/eval/score_digits.py score --sets WORK --model M --out SCORES/NAME [--noise]
        [--earshot .build/release/earshot] [--precision int8|float32] [--beam 8]
    python3 scripts/eval/score_digits.py compare SCORES/base SCORES/NAME ...

WORK is what scripts/eval/digits_sets.sh built. `score` runs `earshot evaluate --format json`
on each of the eleven sets (and with --noise the eighteen noise probes) and keeps each report
as OUT/SET.json. `compare` prints each set's error (WER, in percent) per candidate and the
means every rule in docs/models.md is written in:
  nine-set   theo (FSDD theo, isolated), espeak (held-out espeak-ng voices), connected (strings
             of held-out speakers), flite / flite-str (held-out Flite/Festival voices, isolated /
             strings), theo-gsm / theo-rev and con-gsm / con-rev (GSM telephone, reverberant);
  new voices more / more-str (held-out Pico/RHVoice/MBROLA voices, isolated / strings);
  noise      twelve (unpadded probes) and padded six;
  halves     the nine-set and new-voices means on two halves of every set (A: sessions whose
             speaker id hashes even; for theo's sets and the connected strings, of which theo
             says a third, even rows; B: the rest), to see whether a gain holds on both.
Standard library only.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from transcribe import edit_distance  # noqa: E402  (word-level Levenshtein distance)

SETS = {
    "theo": "digits/valid-fsdd", "espeak": "digits/valid-espeak", "connected": "digits/valid-connected",
    "flite": "digits-voices/valid-voices", "flite-str": "digits-voices/valid-voices-strings",
    "theo-gsm": "deg/valid-fsdd-gsm", "theo-rev": "deg/valid-fsdd-reverb",
    "con-gsm": "deg/valid-connected-gsm", "con-rev": "deg/valid-connected-reverb",
    "more": "digits-more/valid-voices", "more-str": "digits-more/valid-voices-strings",
}
NINE = list(SETS)[:9]
NEW = ["more", "more-str"]
NOISE = [f"np/n{kind}{snr}-{name}" for name in ("theo", "con") for kind in ("white", "rain", "heli")
         for snr in (20, 10)]
PADDED = [f"np/p{kind}{snr}-conpad" for kind in ("white", "rain", "heli") for snr in (30, 20)]


def score(a: argparse.Namespace) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(k, v) for k, v in SETS.items()]
    if a.noise:
        jobs += [(Path(p).name, p) for p in NOISE + PADDED]
    (out / "sets").write_text(str(Path(a.sets).resolve()) + "\n")
    for name, rel in jobs:
        manifest = Path(a.sets) / f"{rel}.jsonl"
        if not manifest.exists():
            sys.exit(f"{manifest} is missing: build the sets with scripts/eval/digits_sets.sh {a.sets}")
        report = subprocess.run([a.earshot, "evaluate", "--model", a.model, "--beam", str(a.beam), "--precision",
                                 a.precision, "--format", "json", str(manifest)], capture_output=True, text=True)
        if report.returncode != 0:
            sys.exit(f"earshot evaluate failed on {manifest}:\n{report.stderr}")
        (out / f"{name}.json").write_text(report.stdout)
        print(f"{name:18s} {100 * json.loads(report.stdout)['wer']:6.2f}", flush=True)


def halves(directory: Path, sets: Path) -> dict | None:
    """Per set, the WER (%) of half A and half B; None when a set's report is missing."""
    result = {}
    for name, rel in SETS.items():
        if not (directory / f"{name}.json").exists():
            return None
        rows = [json.loads(line) for line in open(sets / f"{rel}.jsonl")]
        many = len({r["speaker"] for r in rows}) > 4 and not name.startswith("con")
        half = {r["audio"]: (hashlib.sha1(r["speaker"].encode()).digest()[0] % 2 if many else i % 2)
                for i, r in enumerate(rows)}
        words, errors = [0, 0], [0, 0]
        for r in rows:
            words[half[r["audio"]]] += len(r["text"].split())
        for e in json.load(open(directory / f"{name}.json"))["errors"]:
            errors[half[e["audio"]]] += edit_distance(e["reference"].split(), e["hypothesis"].split())
        result[name] = [100 * errors[h] / max(words[h], 1) for h in (0, 1)]
    return result


def compare(a: argparse.Namespace) -> None:
    dirs = [Path(d) for d in a.dirs]
    def wer(d: Path, name: str):
        p = d / f"{name}.json"
        value = json.load(open(p))["wer"] if p.exists() else None
        return 100 * value if value is not None else None
    def mean(values):
        return sum(values) / len(values) if values and None not in values else None
    cell = lambda v: f"{v:11.2f}" if v is not None else f"{'-':>11s}"
    print(f"{'set':12s}" + "".join(f"{d.name[:11]:>11s}" for d in dirs))
    for name in SETS:
        print(f"{name:12s}" + "".join(cell(wer(d, name)) for d in dirs))
    rows = [("nine-set", NINE), ("new voices", NEW),
            ("noise 12", [Path(p).name for p in NOISE]), ("padded 6", [Path(p).name for p in PADDED])]
    for label, names in rows:
        print(f"{label:12s}" + "".join(cell(mean([wer(d, n) for n in names])) for d in dirs))
    for d in dirs:
        sets_file = d / "sets"
        if not sets_file.exists():
            continue
        h = halves(d, Path(sets_file.read_text().strip()))
        if h is None:
            print(f"{d.name}: not every set scored, no halves")
            continue
        m = lambda names, i: sum(h[n][i] for n in names) / len(names)
        print(f"{d.name}: half A nine-set {m(NINE, 0):.2f} new voices {m(NEW, 0):.2f} theo {h['theo'][0]:.2f}"
              f" | half B nine-set {m(NINE, 1):.2f} new voices {m(NEW, 1):.2f} theo {h['theo'][1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score")
    s.add_argument("--sets", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--earshot", default=".build/release/earshot")
    s.add_argument("--precision", default="int8", choices=["int8", "float32"])
    s.add_argument("--beam", type=int, default=8)
    s.add_argument("--noise", action="store_true")
    c = sub.add_parser("compare")
    c.add_argument("dirs", nargs="+")
    a = parser.parse_args()
    score(a) if a.command == "score" else compare(a)


if __name__ == "__main__":
    main()
