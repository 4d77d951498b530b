#!/usr/bin/env python3
"""Side-by-side transcription benchmark: `earshot transcribe` (digits model) vs PocketSphinx.

Run it through `scripts/bench/transcribe` (which builds the release CLI and pins every library
to one thread); see scripts/bench/README.md. Subcommands:

  run   the whole benchmark: time every tool on every set, score them, print the tables
  peer  (internal) decode a list of files with PocketSphinx in this process (model loaded
        once), write one JSON line per file and print one JSON summary line

Sets: isolated digits of the held-out FSDD speaker (default `theo`, 500 clips, 8 kHz) and
the connected validation strings of scripts/data/digits.py (valid-connected.jsonl; skipped
with a message when absent). Every tool decodes every file of a set in ONE process (the
model loads once); the time is the wall clock of that whole process, fork to exit,
start-up and imports included. Runs are interleaved (tool A, B, C, then A, B, C ...), and the
ratio column is the median over runs of the per-run ratio, so that a load change on the
shared machine moves both sides of a ratio together. A benchmark, never a test: it
asserts nothing about time.

PocketSphinx, tuned as a fair peer: the bundled en-us model (16 kHz; each 8 kHz clip is
resampled with soxr inside the timed process, as earshot resamples inside its own), a
dictionary cut down to the digit words, and a JSGF grammar: one digit word for the isolated
set, one or more for the connected set; "oh" is allowed for zero and scored as "zero";
for the connected set a lower word insertion probability (see DECODER_OPTIONS).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TIME = "/usr/bin/time"  # GNU time, for peak RSS (apt-get install time); optional here
GOAL_X_REAL_TIME = 100  # issue 4, section 6: at least 100x real time on one core

# JSGF grammars for PocketSphinx (the words are those of DIGITS plus "oh").
DIGIT_RULE = "<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;"
GRAMMARS = {
    "isolated": f"#JSGF V1.0;\ngrammar digits;\npublic <utterance> = <digit>;\n{DIGIT_RULE}\n",
    "connected": f"#JSGF V1.0;\ngrammar digits;\npublic <utterance> = <digit>+;\n{DIGIT_RULE}\n",
}
# Decoder options beyond the defaults, per set. Connected strings: with the defaults the digit
# loop inserts words (WER about 67% and 4x real time on the first 40 clips); a lower word
# insertion probability and a higher silence probability, tuned on those 40 clips (so in
# PocketSphinx's favour), gave WER about 43% at about 30x. Isolated digits: the defaults were
# best (a low `wip` empties many hypotheses).
DECODER_OPTIONS = {"isolated": {}, "connected": {"wip": 1e-3, "silprob": 0.1}}


# --------------------------------------------------------------------------------------
# Scoring


def normalise(text: str) -> list[str]:
    """Lower-case words, PocketSphinx's alternate-pronunciation marks dropped, "oh" -> "zero"."""
    words = [re.sub(r"\(\d+\)$", "", w) for w in text.lower().split()]
    return ["zero" if w == "oh" else w for w in words]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def score(refs: list[str], hyps: list[str]) -> dict:
    """Clip accuracy (exact word sequence) and WER (edits / reference words), in percent."""
    edits = words = exact = 0
    for ref, hyp in zip(refs, hyps):
        r, h = normalise(ref), normalise(hyp)
        edits += edit_distance(r, h)
        words += len(r)
        exact += r == h
    return {"accuracy": 100 * exact / len(refs), "wer": 100 * edits / words}


# --------------------------------------------------------------------------------------
# The PocketSphinx peer (a child process)


def digits_dictionary(path: Path) -> None:
    """Writes the bundled CMUdict's entries for the digit words and "oh" (with alternates)."""
    import pocketsphinx

    words = set(DIGITS) | {"oh"}
    lines = []
    with open(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as f:
        for line in f:
            if re.sub(r"\(\d+\)$", "", line.split(maxsplit=1)[0]) in words:
                lines.append(line)
    path.write_text("".join(lines), encoding="utf-8")


def peer(grammar: str, dictionary: str, listing: str, out: str) -> dict:
    """Decodes every file in `listing` (one path a line) in this process; the model loads once."""
    t0 = time.perf_counter()
    import numpy as np
    import pocketsphinx
    import soundfile as sf
    import soxr

    t1 = time.perf_counter()
    decoder = pocketsphinx.Decoder(dict=dictionary, lm=None, loglevel="FATAL", **DECODER_OPTIONS[grammar])
    decoder.add_jsgf_string("digits", GRAMMARS[grammar])
    decoder.activate_search("digits")
    rate = int(decoder.config["samprate"])
    t2 = time.perf_counter()
    seconds = 0.0
    with open(listing, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
        for path in f.read().splitlines():
            x, sr = sf.read(path, dtype="float32", always_2d=True)
            x = x.mean(axis=1)
            seconds += len(x) / sr
            if sr != rate:
                x = soxr.resample(x, sr, rate)
            pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
            o.write(json.dumps({"file": path, "text": hyp.hypstr if hyp else ""}) + "\n")
    t3 = time.perf_counter()
    return {"imports_s": t1 - t0, "load_s": t2 - t1, "decode_s": t3 - t2, "audio_s": seconds,
            "version": _version("pocketsphinx")}


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


# --------------------------------------------------------------------------------------
# The whole benchmark


def load_sets(args) -> list[dict]:
    """The evaluation sets that exist: name, files, reference texts, audio seconds."""
    import soundfile as sf

    sets = []
    wanted = [s for s in args.sets.split(",") if s]
    for name in wanted:
        if name not in ("isolated", "connected"):
            raise SystemExit(f"--sets: unknown set {name!r} (expected isolated, connected)")
    if "isolated" in wanted:
        folder = Path(args.fsdd)
        files = sorted(folder.glob(f"*_{args.speaker}_*.wav")) if folder.is_dir() else []
        if not files:
            print(f"skip isolated: no {folder}/*_{args.speaker}_*.wav (the FSDD under ../shared/data)")
        else:
            sets.append({"name": "isolated", "title": f"isolated digits, FSDD speaker {args.speaker}",
                         "files": [str(f) for f in files],
                         "refs": [DIGITS[int(f.name.split("_")[0])] for f in files]})
    if "connected" in wanted:
        manifest = Path(args.connected)
        if not manifest.is_file():
            print(f"skip connected: {manifest} is absent (make it with scripts/data/digits.py, see "
                  "scripts/data/README.md)")
        else:
            rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
            missing = [r["audio"] for r in rows if not Path(r["audio"]).is_file()]
            if missing:
                print(f"skip connected: {len(missing)} of {len(rows)} files in {manifest} are missing "
                      f"(first: {missing[0]}); rerun scripts/data/digits.py")
            else:
                sets.append({"name": "connected", "title": f"connected digit strings, {manifest.name}",
                             "files": [r["audio"] for r in rows], "refs": [r["text"] for r in rows]})
    for s in sets:
        if args.limit:
            s["files"], s["refs"] = s["files"][:args.limit], s["refs"][:args.limit]
        infos = [sf.info(f) for f in s["files"]]
        s["seconds"] = sum(i.duration for i in infos)
        s["rates"] = sorted({i.samplerate for i in infos})
    return sets


def run_process(cmd: list[str], env: dict, tmp: Path) -> tuple[float, float | None, int | None, str]:
    """Wall seconds (fork to exit), CPU seconds (user + system) and peak RSS in KiB (both from
    GNU time, when installed; else None) and stdout.

    GNU time, not os.wait4: Linux carries the parent's high-water RSS into a forked child
    across exec, so every child of this Python process would report at least its RSS.
    """
    stats = tmp / "time.txt"
    timed = os.access(TIME, os.X_OK)
    wrapped = [TIME, "-f", "%M %U %S", "-o", str(stats), *cmd] if timed else cmd
    t0 = time.perf_counter()
    r = subprocess.run(wrapped, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... exited {r.returncode}:\n{r.stderr.strip()[-2000:]}")
    if not timed:
        return elapsed, None, None, r.stdout
    rss, user, system = stats.read_text().split()[-3:]
    return elapsed, float(user) + float(system), int(rss), r.stdout


def earshot_hyps(stdout: str, files: list[str]) -> list[str]:
    """Parses `earshot transcribe` text output with several files: "FILE<TAB>transcript"."""
    got = {}
    for line in stdout.splitlines():
        name, _, text = line.partition("\t")
        got[name] = text
    if len(files) == 1 and not got.get(files[0]):
        got = {files[0]: stdout.strip()}
    missing = [f for f in files if f not in got]
    if missing:
        raise SystemExit(f"earshot printed no transcript for {len(missing)} files (first: {missing[0]})")
    return [got[f] for f in files]


def cmd_run(args) -> int:
    earshot = Path(args.earshot).resolve()
    if not earshot.is_file():
        raise SystemExit(f"{earshot}: no such binary; build it with scripts/bench/transcribe")
    try:
        ps_version = _version("pocketsphinx")
    except Exception:
        raise SystemExit(f"pocketsphinx is not installed in {sys.executable}: "
                         f"{sys.executable} -m pip install -r scripts/bench/requirements.txt")
    sets = load_sets(args)
    if not sets:
        print("nothing to measure: no evaluation set found")
        return 0
    from features import one_thread_env  # scripts/bench/features.py, beside this file

    env = one_thread_env()
    beams = sorted({args.beam, 1}, reverse=True)
    tmp = Path(tempfile.mkdtemp(prefix="earshot-bench-transcribe-"))
    try:
        dictionary = tmp / "digits.dict"
        digits_dictionary(dictionary)
        script = str(Path(__file__).resolve())
        load = os.getloadavg()
        print(f"earshot {earshot}; pocketsphinx {ps_version} (bundled en-us model, digit JSGF grammar, "
              f"{sum(1 for _ in open(dictionary))}-entry dictionary); {os.cpu_count()} CPUs, "
              f"load average {load[0]:.2f} at start")
        print(f"1 thread each; one process per tool and set (model loaded once); {args.runs} interleaved "
              f"runs after 1 warm-up; wall clock fork to exit and CPU time of each process; medians of the runs")
        for s in sets:
            listing = tmp / f"{s['name']}.txt"
            listing.write_text("\n".join(s["files"]) + "\n")
            tools = {}
            for beam in beams:
                tools[f"earshot --beam {beam}"] = (
                    "earshot", [str(earshot), "transcribe", "--threads", "1", "--beam", str(beam), *s["files"]])
            # The default beam in float arithmetic too: what the int8 default buys, in this run
            tools["earshot float32"] = (
                "earshot", [str(earshot), "transcribe", "--threads", "1", "--beam", str(args.beam),
                            "--precision", "float32", *s["files"]])
            tools["pocketsphinx"] = ("pocketsphinx", [sys.executable, script, "peer", s["name"], "--dict",
                                                      str(dictionary), "--list", str(listing),
                                                      "--out", str(tmp / "ps.jsonl")])
            results = {name: {"t": [], "cpu": [], "rss": [], "inproc": []} for name in tools}
            for run in range(args.runs + 1):  # run 0 is the untimed warm-up
                order = list(tools)
                order = order[run % len(order):] + order[:run % len(order)]
                for name in order:
                    kind, cmd = tools[name]
                    elapsed, cpu, rss, stdout = run_process(cmd, env, tmp)
                    if kind == "earshot":
                        hyps = earshot_hyps(stdout, s["files"])
                    else:
                        summary = json.loads(stdout.strip().splitlines()[-1])
                        by_file = {}
                        for line in (tmp / "ps.jsonl").read_text(encoding="utf-8").splitlines():
                            row = json.loads(line)
                            by_file[row["file"]] = row["text"]
                        hyps = [by_file[f] for f in s["files"]]
                    if run == 0:
                        results[name]["score"] = score(s["refs"], hyps)
                        results[name]["hyps"] = hyps
                        continue
                    if hyps != results[name]["hyps"]:
                        print(f"WARNING: {name} gave different transcripts in run {run}")
                    results[name]["t"].append(elapsed)
                    if rss is not None:
                        results[name]["rss"].append(rss)
                        results[name]["cpu"].append(cpu)
                    if kind == "pocketsphinx":
                        results[name]["inproc"].append(summary)
            print_table(s, results, beams, args)
            if args.keep:
                write_transcripts(tmp / f"{s['name']}-transcripts.tsv", s, results)
        return 0
    finally:
        if args.keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def write_transcripts(path: Path, s: dict, results: dict) -> None:
    names = list(results)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(["file", "reference", *names]) + "\n")
        for i, file in enumerate(s["files"]):
            f.write("\t".join([file, s["refs"][i], *(results[n]["hyps"][i] for n in names)]) + "\n")


def print_table(s: dict, results: dict, beams: list[int], args) -> None:
    seconds = s["seconds"]
    ps = results["pocketsphinx"]
    rates = "/".join(f"{r // 1000} kHz" if r % 1000 == 0 else f"{r} Hz" for r in s["rates"])
    print()
    print(f"== {s['title']}: {len(s['files'])} clips, {seconds:.1f} s of {rates} audio")
    options = ", ".join(f"{k}={v:g}" for k, v in DECODER_OPTIONS[s["name"]].items()) or "defaults"
    print(f"pocketsphinx: {'<digit>' if s['name'] == 'isolated' else '<digit>+'} grammar, decoder {options}")
    header = (f"{'tool':<42} {'wall s':>7} {'x RT':>7} {'vs PS':>7} {'CPU s':>7} {'x RT CPU':>8} "
              f"{'vs PS CPU':>9} {'clip acc %':>10} {'WER %':>6} {'RSS MB':>6}")
    print(header)
    print("-" * len(header))

    def ratio(mine: list[float], reference: list[float]) -> str:
        return f"{statistics.median(p / e for p, e in zip(reference, mine)):.2f}x" if mine and reference else "-"

    def row(label: str, r: dict, wall: list[float] | None = None, cpu: list[float] | None = None):
        in_process = wall is not None
        wall = r["t"] if wall is None else wall
        cpu = r["cpu"] if cpu is None else cpu
        med = statistics.median(wall)
        cpu_s = x_cpu = acc = wer = rss = "-"
        if cpu:
            cpu_med = statistics.median(cpu)
            cpu_s, x_cpu = f"{cpu_med:.3f}", f"{seconds / cpu_med:.1f}x"
        if "score" in r:
            acc, wer = f"{r['score']['accuracy']:.1f}", f"{r['score']['wer']:.1f}"
        if r.get("rss"):
            rss = f"{max(r['rss']) / 1024:.0f}"
        vs = "-" if in_process else ratio(wall, ps["t"])
        print(f"{label:<42} {med:>7.3f} {seconds / med:>6.1f}x {vs:>7} {cpu_s:>7} {x_cpu:>8} "
              f"{ratio(cpu, ps['cpu']):>9} {acc:>10} {wer:>6} {rss:>6}")

    for beam in beams:
        label = f"earshot transcribe --beam {beam}" + (" (greedy)" if beam == 1 else " (default)" if beam == args.beam else "")
        row(label, results[f"earshot --beam {beam}"])
    row(f"earshot --beam {args.beam} --precision float32", results["earshot float32"])
    row("pocketsphinx (whole process)", ps)
    row("  in-process: decoder load + decode", {}, [p["load_s"] + p["decode_s"] for p in ps["inproc"]], [])
    row("  in-process: decode only (read+resample)", {}, [p["decode_s"] for p in ps["inproc"]], [])
    imports = statistics.median(p["imports_s"] for p in ps["inproc"])
    print(f"wall s / CPU s: medians over runs of the whole process (CPU = user + system, GNU time); x RT = audio "
          f"seconds / that time; vs PS = median over runs of pocketsphinx's time / the tool's (> 1: faster); "
          f"pocketsphinx in-process rows leave out the interpreter start-up and {imports:.2f} s of imports")
    default = results[f"earshot --beam {args.beam}"]
    x = seconds / statistics.median(default["t"])
    x_cpu = f", {seconds / statistics.median(default['cpu']):.0f}x on CPU time" if default["cpu"] else ""
    verdict = "met" if x >= GOAL_X_REAL_TIME else "NOT met"
    print(f"goal (earshot transcribe --beam {args.beam} >= {GOAL_X_REAL_TIME}x real time on one core, features "
          f"included): {verdict} on wall time, {x:.0f}x{x_cpu}")


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="the whole benchmark")
    r.add_argument("--earshot", required=True, help="release earshot binary")
    r.add_argument("--runs", type=int, default=3, help="timed runs per tool and set (default 3)")
    r.add_argument("--beam", type=int, default=8, help="earshot's default beam; --beam 1 is always added")
    r.add_argument("--sets", default="isolated,connected")
    r.add_argument("--fsdd", default=str(root.parent / "shared/data/fsdd/recordings"),
                   help="FSDD recordings folder (default ../shared/data/fsdd/recordings)")
    r.add_argument("--speaker", default="theo", help="FSDD speaker of the isolated set (the held-out one)")
    r.add_argument("--connected", default="/work/data/digits/valid-connected.jsonl",
                   help="JSON Lines of connected strings (scripts/data/digits.py)")
    r.add_argument("--limit", type=int, default=0, help="only the first N clips of each set (0: all)")
    r.add_argument("--keep", action="store_true", help="keep the temporary folder (with transcripts.tsv)")
    p = sub.add_parser("peer", help="(internal) decode a file list with PocketSphinx")
    p.add_argument("grammar", choices=sorted(GRAMMARS))
    p.add_argument("--dict", required=True)
    p.add_argument("--list", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "run":
        if args.runs < 1:
            parser.error("--runs must be >= 1")
        if args.beam < 1:
            parser.error("--beam must be >= 1")
        return cmd_run(args)
    print(json.dumps(peer(args.grammar, args.dict, args.list, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
