#!/usr/bin/env python3
"""Side-by-side feature-extraction benchmark: earshot vs librosa, torchaudio, kaldi-native-fbank.

Run it through `scripts/bench/features` (which builds the release binaries and pins every
library to one thread); see scripts/bench/README.md. Subcommands:

  run       the whole benchmark: generate the file, time every tool, print the table
  generate  write the deterministic test file (16-bit WAV, 16 kHz)
  peer      (internal) time one Python peer in this process and print one JSON line;
            `run` starts one child per peer so that peak RSS is per tool

Times are wall-clock, best of N after one untimed warm-up, plus the median. Peak RSS is each
tool's own process measured by /usr/bin/time (%M) in a separate run, so the Python rows include
the interpreter and their imports; the "imports MB" column (getrusage inside the peer, right
after its imports) shows that floor. This is a benchmark script, never a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
SEED = 20_240_601
N_FFT, WIN, HOP, N_MELS, N_MFCC = 512, 400, 160, 80, 20
KALDI_SCALE = 32768.0
WORKLOADS = ("logmel", "mfcc", "fbank", "pcen")
TIME = "/usr/bin/time"  # GNU time, for peak RSS (apt-get install time)
PEERS = {
    "logmel": ("librosa", "torchaudio", "knf"),
    "mfcc": ("librosa", "torchaudio", "knf"),
    "fbank": ("knf", "torchaudio"),
    "pcen": ("librosa",),   # torchaudio and kaldi-native-fbank have no PCEN
}
# What each tool's row computes, for the table.
WHAT = {
    ("librosa", "logmel"): "power_to_db(melspectrogram)",
    ("librosa", "mfcc"): "feature.mfcc",
    ("librosa", "pcen"): "pcen(melspectrogram(power=1)*2^31)",
    ("torchaudio", "logmel"): "MelSpectrogram+AmplitudeToDB",
    ("torchaudio", "mfcc"): "transforms.MFCC",
    ("torchaudio", "fbank"): "compliance.kaldi.fbank",
    ("knf", "logmel"): "OnlineFbank 80 (ln, Kaldi)",
    ("knf", "mfcc"): "OnlineMfcc 20 (Kaldi)",
    ("knf", "fbank"): "OnlineFbank 80",
}
SENTENCES = [
    "Four seven one, nine two eight, zero five three six.",
    "The quick brown fox jumps over the lazy dog near the riverbank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "Speech recognition on Linux should be fast, accurate and easy to install.",
    "A long benchmark file is made of many short sentences spoken one after another.",
    "Turn left at the next junction, then continue straight for two kilometres.",
    "Seven hundred and twenty three thousand, four hundred and eleven.",
    "Yes. No. Up. Down. Left. Right. On. Off. Stop. Go.",
]


# --------------------------------------------------------------------------------------
# The test file


def generate(path: Path, seconds: float) -> str:
    """Writes `seconds` of 16 kHz 16-bit mono speech-plus-noise to `path`; returns a description.

    espeak-ng sentences (if installed) at varying speeds and pitches, resampled to 16 kHz,
    concatenated with pauses and seeded gains, plus seeded white noise at about -50 dBFS.
    Without espeak-ng: a seeded synthetic signal (gliding harmonic tones with syllable-rate
    amplitude modulation, same noise). Deterministic for a given espeak-ng version.
    """
    import scipy.signal
    import soundfile as sf

    rng = np.random.default_rng(SEED)
    total = int(round(seconds * SAMPLE_RATE))
    pieces: list[np.ndarray] = []
    source = "synthetic (seeded)"
    espeak = shutil.which("espeak-ng")
    if espeak:
        version = subprocess.run([espeak, "--version"], capture_output=True, text=True).stdout.strip()
        source = f"espeak-ng speech ({version.split('Data at')[0].strip()}) + noise"
        with tempfile.TemporaryDirectory() as tmp:
            for i, text in enumerate(SENTENCES):
                for speed, pitch in ((150, 40), (175, 60), (200, 30)):
                    wav = Path(tmp) / f"s{i}-{speed}.wav"
                    subprocess.run([espeak, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text], check=True)
                    y, sr = sf.read(wav, dtype="float64")
                    if y.ndim > 1:
                        y = y.mean(axis=1)
                    g = np.gcd(SAMPLE_RATE, sr)
                    pieces.append(scipy.signal.resample_poly(y, SAMPLE_RATE // g, sr // g))
    else:
        t = np.arange(int(2.5 * SAMPLE_RATE)) / SAMPLE_RATE
        for _ in range(12):
            f0 = rng.uniform(90, 220) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 1) * t))
            phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
            voice = sum(np.sin(k * phase) / k for k in range(1, 20))
            envelope = np.clip(np.sin(2 * np.pi * rng.uniform(3, 6) * t), 0, None) ** 2
            pieces.append(0.3 * voice * envelope)
    out = np.zeros(total)
    position = 0
    while position < total:
        piece = pieces[rng.integers(len(pieces))]
        gain = rng.uniform(0.3, 0.9) / max(np.max(np.abs(piece)), 1e-9)
        n = min(len(piece), total - position)
        out[position:position + n] = gain * piece[:n]
        position += n + int(rng.uniform(0.1, 0.6) * SAMPLE_RATE)
    out += rng.normal(0, 0.003, total)
    pcm = np.clip(np.round(out * 32767), -32768, 32767).astype(np.int16)
    sf.write(path, pcm, SAMPLE_RATE, subtype="PCM_16")
    return source


# --------------------------------------------------------------------------------------
# Peers, each run in its own child process


def peer(tool: str, workload: str, path: str, runs: int, save: str | None) -> dict:
    """Times one peer in this process: load (soundfile/librosa.load) and compute, best of `runs`."""
    import resource

    import soundfile as sf

    if tool == "librosa":
        import librosa

        def load():
            return librosa.load(path, sr=SAMPLE_RATE)[0]

        if workload == "logmel":
            def compute(y):
                return librosa.power_to_db(librosa.feature.melspectrogram(
                    y=y, sr=SAMPLE_RATE, n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=N_MELS)).T
        elif workload == "pcen":
            def compute(y):
                mel = librosa.feature.melspectrogram(
                    y=y, sr=SAMPLE_RATE, n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=N_MELS, power=1)
                return librosa.pcen(mel * 2.0 ** 31, sr=SAMPLE_RATE, hop_length=HOP).T
        else:
            def compute(y):
                return librosa.feature.mfcc(
                    y=y, sr=SAMPLE_RATE, n_mfcc=N_MFCC, n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=N_MELS).T
    elif tool == "torchaudio":
        import torch
        import torchaudio.compliance.kaldi as ta_kaldi
        import torchaudio.transforms as T

        torch.set_num_threads(1)
        # torchaudio 2.9+ hands load() to torchcodec; soundfile reads the same PCM.
        def load():
            return torch.from_numpy(sf.read(path, dtype="float32")[0])

        mel = dict(n_fft=N_FFT, win_length=WIN, hop_length=HOP, n_mels=N_MELS,
                   norm="slaney", mel_scale="slaney", pad_mode="constant")
        if workload == "logmel":
            def compute(y):
                with torch.inference_mode():
                    spec = T.MelSpectrogram(sample_rate=SAMPLE_RATE, **mel)(y)
                    return T.AmplitudeToDB(stype="power", top_db=80)(spec).T.numpy()
        elif workload == "mfcc":
            def compute(y):
                with torch.inference_mode():
                    return T.MFCC(sample_rate=SAMPLE_RATE, n_mfcc=N_MFCC, melkwargs=mel)(y).T.numpy()
        else:
            def compute(y):
                with torch.inference_mode():
                    return ta_kaldi.fbank((y * KALDI_SCALE).unsqueeze(0), num_mel_bins=N_MELS, dither=0.0,
                                          energy_floor=0.0, sample_frequency=SAMPLE_RATE).numpy()
    elif tool == "knf":
        import kaldi_native_fbank as knf

        def load():
            return sf.read(path, dtype="float32")[0]

        def compute(y):
            if workload == "mfcc":
                o = knf.MfccOptions()
                o.num_ceps = N_MFCC
                o.mel_opts.num_bins = N_MELS
                o.frame_opts.dither = 0
                o.frame_opts.samp_freq = SAMPLE_RATE
                f = knf.OnlineMfcc(o)
            else:
                o = knf.FbankOptions()
                o.mel_opts.num_bins = N_MELS
                o.frame_opts.dither = 0
                o.frame_opts.samp_freq = SAMPLE_RATE
                f = knf.OnlineFbank(o)
            f.accept_waveform(SAMPLE_RATE, (y * KALDI_SCALE).tolist())
            f.input_finished()
            return np.stack([np.asarray(f.get_frame(i), dtype=np.float32) for i in range(f.num_frames_ready)])
    else:
        raise SystemExit(f"unknown tool {tool}")

    after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loads, computes, totals = [], [], []
    result = None
    for run in range(runs + 1):  # run 0 warms up (imports inside calls, caches, page cache)
        t0 = time.perf_counter()
        y = load()
        t1 = time.perf_counter()
        result = compute(y)
        t2 = time.perf_counter()
        if run:
            loads.append(t1 - t0)
            computes.append(t2 - t1)
            totals.append(t2 - t0)
        del y
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = np.ascontiguousarray(result, dtype=np.float32)
    if save:
        np.save(save, result)

    def summary(xs):
        return {"best": min(xs), "median": statistics.median(xs)}

    return {"tool": tool, "kind": workload, "runs": runs, "load": summary(loads), "compute": summary(computes),
            "load_compute": summary(totals), "frames": int(result.shape[0]), "bins": int(result.shape[1]),
            "peak_rss_kb": peak, "imports_rss_kb": after_imports}


# --------------------------------------------------------------------------------------
# Processes: the earshot CLI and the optional C baseline

C_BASELINE = r"""
/* log-mel 80 as librosa computes it, in one plain loop: libsndfile + FFTW (float), Slaney mel,
   power_to_db(top_db=80); writes a (frames, 80) float32 .npy. A floor for what the process can cost. */
#include <fftw3.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
enum { NFFT = 512, WIN = 400, HOP = 160, NMELS = 80, BINS = NFFT / 2 + 1 };
static double hz_to_mel(double f) { return f >= 1000 ? 15 + log(f / 1000) / (log(6.4) / 27) : f / (200.0 / 3); }
static double mel_to_hz(double m) { return m >= 15 ? 1000 * exp(log(6.4) / 27 * (m - 15)) : m * 200.0 / 3; }
int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s in.wav out.npy\n", argv[0]); return 64; }
  SF_INFO info = {0};
  SNDFILE *sf = sf_open(argv[1], SFM_READ, &info);
  if (!sf || info.channels != 1) { fprintf(stderr, "%s: %s\n", argv[1], sf_strerror(sf)); return 1; }
  long n = info.frames;
  float *x = malloc(sizeof(float) * n);
  sf_readf_float(sf, x, n);
  sf_close(sf);
  double sr = info.samplerate;
  static float fb[NMELS][BINS];
  double lo = hz_to_mel(0), hi = hz_to_mel(sr / 2), edge[NMELS + 2];
  for (int i = 0; i < NMELS + 2; i++) edge[i] = mel_to_hz(lo + (hi - lo) * i / (NMELS + 1));
  for (int m = 0; m < NMELS; m++)
    for (int k = 0; k < BINS; k++) {
      double f = k * sr / NFFT, r = (f - edge[m]) / (edge[m + 1] - edge[m]), d = (edge[m + 2] - f) / (edge[m + 2] - edge[m + 1]);
      double w = fmax(0, fmin(r, d)) * 2 / (edge[m + 2] - edge[m]);
      fb[m][k] = (float)w;
    }
  int first[NMELS], last[NMELS];
  for (int m = 0; m < NMELS; m++) {
    first[m] = 0; last[m] = -1;
    for (int k = 0; k < BINS; k++) if (fb[m][k] != 0) { if (last[m] < 0) first[m] = k; last[m] = k; }
  }
  float win[NFFT] = {0};
  for (int i = 0; i < WIN; i++) win[(NFFT - WIN) / 2 + i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / WIN));
  float *in = fftwf_alloc_real(NFFT);
  fftwf_complex *out = fftwf_alloc_complex(BINS);
  fftwf_plan plan = fftwf_plan_dft_r2c_1d(NFFT, in, out, FFTW_ESTIMATE);
  long frames = 1 + n / HOP;
  float *S = malloc(sizeof(float) * frames * NMELS), power[BINS], top = -INFINITY;
  for (long t = 0; t < frames; t++) {
    long start = t * HOP - NFFT / 2;
    for (int i = 0; i < NFFT; i++) { long j = start + i; in[i] = (j >= 0 && j < n ? x[j] : 0) * win[i]; }
    fftwf_execute(plan);
    for (int k = 0; k < BINS; k++) power[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
    for (int m = 0; m < NMELS; m++) {
      float s = 0;
      for (int k = first[m]; k <= last[m]; k++) s += fb[m][k] * power[k];
      float db = 10 * log10f(fmaxf(s, 1e-10f));
      S[t * NMELS + m] = db;
      if (db > top) top = db;
    }
  }
  for (long i = 0; i < frames * NMELS; i++) if (S[i] < top - 80) S[i] = top - 80;
  FILE *f = fopen(argv[2], "wb");
  char header[128];
  int len = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%ld, %d), }", frames, NMELS);
  while ((10 + len + 1) % 64) header[len++] = ' ';
  header[len++] = '\n';
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  unsigned char hl[2] = {len & 255, len >> 8};
  fwrite(hl, 1, 2, f);
  fwrite(header, 1, len, f);
  fwrite(S, sizeof(float), frames * NMELS, f);
  fclose(f);
  return 0;
}
"""


def build_c_baseline(tmp: Path) -> Path | None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if not gcc:
        return None
    src, exe = tmp / "logmel.c", tmp / "logmel-c"
    src.write_text(C_BASELINE)
    r = subprocess.run([gcc, "-O2", "-o", str(exe), str(src), "-lsndfile", "-lfftw3f", "-lm"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"(C baseline skipped: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'gcc failed'})")
        return None
    return exe


def peak_rss_kb(cmd: list[str], env: dict, tmp: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Runs `cmd` once under /usr/bin/time and returns (result, peak RSS in KiB).

    Not os.wait4 on our own child: Linux carries the parent's high-water RSS into a forked
    child's ru_maxrss across exec, so every child of this (large) Python process would report
    at least this process's RSS. /usr/bin/time is small and forks the command itself.
    """
    out = tmp / "rss.txt"
    r = subprocess.run([TIME, "-f", "%M", "-o", str(out), *cmd], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr.strip()}")
    return r, int(out.read_text().split()[-1])


def time_process(cmd: list[str], runs: int, env: dict, tmp: Path) -> dict:
    """Best/median wall time of `cmd` over `runs` runs after one warm-up (plain fork+exec, no
    wrapper), then one more run under /usr/bin/time for its peak RSS."""
    times = []
    for run in range(runs + 1):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.decode().strip()}")
        if run:
            times.append(elapsed)
    _, rss = peak_rss_kb(cmd, env, tmp)
    return {"best": min(times), "median": statistics.median(times), "peak_rss_kb": rss}


def run_child(cmd: list[str], env: dict, tmp: Path) -> dict:
    """Runs a timing child (it times itself in-process) and returns its JSON, with
    `peak_rss_kb` replaced by what /usr/bin/time measured."""
    r, rss = peak_rss_kb(cmd, env, tmp)
    result = json.loads(r.stdout.strip().splitlines()[-1])
    result["peak_rss_kb"] = rss
    return result


# --------------------------------------------------------------------------------------
# The whole benchmark


def one_thread_env() -> dict:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = "1"
    return env


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return "shape differs"
    return f"{float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))):.2e}"


def cmd_run(args) -> int:
    earshot = Path(args.earshot).resolve()
    bench = Path(args.library_bench).resolve() if args.library_bench else None
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            raise SystemExit(f"--workloads: unknown workload {w!r} (expected {', '.join(WORKLOADS)})")
    if not earshot.is_file():
        raise SystemExit(f"{earshot}: no such binary; build it with scripts/bench/features")
    if not os.access(TIME, os.X_OK):
        raise SystemExit(f"{TIME} (GNU time) is needed for peak RSS: apt-get install -y time")
    env = one_thread_env()
    tmp = Path(tempfile.mkdtemp(prefix="earshot-bench-"))
    try:
        audio = tmp / "bench-600s.wav"
        source = generate(audio, args.seconds)
        import soundfile as sf
        info = sf.info(str(audio))
        load = os.getloadavg()
        print(f"file: {info.duration:.1f} s, {info.samplerate} Hz, {info.subtype}, {source}; "
              f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at start")
        print(f"1 thread everywhere; each time is best of {args.runs} after 1 warm-up, median beside it; "
              "speedup = reference compute-only best / row best (>1: faster than the reference)")
        c_exe = build_c_baseline(tmp) if args.c_baseline else None
        script = str(Path(__file__).resolve())
        for workload in workloads:
            rows: list[dict] = []
            outputs: dict[str, np.ndarray] = {}
            # earshot CLI: the whole process, as a user runs it.
            flags = {
                "logmel": ["--kind", "logmel", "--fft-size", str(N_FFT), "--window-length", str(WIN),
                           "--hop-length", str(HOP), "--mel-bands", str(N_MELS)],
                "mfcc": ["--kind", "mfcc", "--mfcc-count", str(N_MFCC), "--fft-size", str(N_FFT),
                         "--window-length", str(WIN), "--hop-length", str(HOP), "--mel-bands", str(N_MELS)],
                "fbank": ["--kind", "fbank", "--mel-bands", str(N_MELS)],
                "pcen": ["--kind", "pcen", "--fft-size", str(N_FFT), "--window-length", str(WIN),
                         "--hop-length", str(HOP), "--mel-bands", str(N_MELS)],
            }[workload]
            out_dir = tmp / f"earshot-{workload}"
            cli = [str(earshot), "features", str(audio), *flags, "--output", str(out_dir), "--threads", "1"]
            p = time_process(cli, args.runs, env, tmp)
            outputs["earshot-cli"] = np.load(out_dir / f"{audio.stem}.npy")
            rows.append({"tool": "earshot features", "what": "process: read+compute+.npy", "t": p,
                         "rss": p["peak_rss_kb"], "key": "earshot-cli"})
            if bench:
                save = tmp / f"lib-{workload}.npy"
                r = run_child([str(bench), str(audio), *flags, "--runs", str(args.runs), "--save", str(save)], env, tmp)
                outputs["earshot-lib"] = np.load(save)
                rows.append({"tool": "earshot library", "what": "FeatureExtractor + call", "t": r["compute"],
                             "rss": r["peak_rss_kb"], "key": "earshot-lib"})
                rows.append({"tool": "earshot library", "what": "loadMono + compute", "t": r["load_compute"],
                             "rss": r["peak_rss_kb"], "key": "earshot-lib"})
            # Optional baseline build (another checkout's binaries), timed the same way.
            if args.baseline_earshot:
                base_dir = tmp / f"baseline-{workload}"
                cli = [str(Path(args.baseline_earshot).resolve()), "features", str(audio), *flags,
                       "--output", str(base_dir), "--threads", "1"]
                p = time_process(cli, args.runs, env, tmp)
                outputs["baseline-cli"] = np.load(base_dir / f"{audio.stem}.npy")
                rows.append({"tool": "baseline features", "what": "process: read+compute+.npy", "t": p,
                             "rss": p["peak_rss_kb"], "key": "baseline-cli"})
            if args.baseline_library_bench:
                save = tmp / f"baseline-lib-{workload}.npy"
                r = run_child([str(Path(args.baseline_library_bench).resolve()), str(audio), *flags,
                               "--runs", str(args.runs), "--save", str(save)], env, tmp)
                outputs["baseline-lib"] = np.load(save)
                rows.append({"tool": "baseline library", "what": "FeatureExtractor + call", "t": r["compute"],
                             "rss": r["peak_rss_kb"], "key": "baseline-lib"})
                rows.append({"tool": "baseline library", "what": "loadMono + compute", "t": r["load_compute"],
                             "rss": r["peak_rss_kb"], "key": "baseline-lib"})
            if c_exe and workload == "logmel":
                c_out = tmp / "c-logmel.npy"
                p = time_process([str(c_exe), str(audio), str(c_out)], args.runs, env, tmp)
                outputs["c"] = np.load(c_out)
                rows.append({"tool": "C libsndfile+FFTW", "what": "process: read+compute+.npy", "t": p,
                             "rss": p["peak_rss_kb"], "key": "c"})
            for tool in PEERS[workload]:
                peer_env = dict(env)
                if tool == "librosa":
                    # numpy's OpenBLAS must pick its own kernels for the librosa timing.
                    peer_env.pop("OPENBLAS_CORETYPE", None)
                    peer_env.pop("OPENBLAS_L2_SIZE", None)
                save = tmp / f"{tool}-{workload}.npy"
                r = run_child([sys.executable, script, "peer", tool, workload, str(audio), "--runs", str(args.runs),
                               "--save", str(save)], peer_env, tmp)
                outputs[tool] = np.load(save)
                what = WHAT[(tool, workload)]
                rows.append({"tool": tool, "what": what, "t": r["compute"], "rss": r["peak_rss_kb"],
                             "base": r["imports_rss_kb"], "key": tool, "reference": True})
                rows.append({"tool": tool, "what": "load + compute", "t": r["load_compute"],
                             "rss": r["peak_rss_kb"], "base": r["imports_rss_kb"], "key": tool})
            print_table(workload, rows, outputs)
        return 0
    finally:
        if args.keep:
            print(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def print_table(workload: str, rows: list[dict], outputs: dict[str, np.ndarray]) -> None:
    reference_tool = "knf" if workload == "fbank" else "librosa"
    reference = next(r for r in rows if r["tool"] == reference_tool and r.get("reference"))
    ref_time = reference["t"]["best"]
    ref_out = outputs[reference_tool]
    title = {
        "logmel": f"log-mel {N_MELS} (n_fft {N_FFT}, win {WIN}, hop {HOP}, top_db 80)",
        "mfcc": f"MFCC {N_MFCC} ({N_MELS} mel, n_fft {N_FFT}, win {WIN}, hop {HOP})",
        "fbank": f"Kaldi fbank {N_MELS} (25 ms povey, 10 ms, snip edges, dither 0)",
        "pcen": f"PCEN {N_MELS} (magnitude mel, n_fft {N_FFT}, win {WIN}, hop {HOP}, librosa's settings)",
    }[workload]
    ref_name = "kaldi-native-fbank" if reference_tool == "knf" else "librosa"
    print()
    print(f"== {title}; reference: {ref_name} compute-only")
    header = (f"{'tool':<19} {'what':<30} {'best ms':>8} {'median ms':>9} {'speedup':>8} "
              f"{'peak RSS MB':>11} {'imports MB':>10} {'frames x bins':>14} {'max|diff| vs ' + ref_name}")
    print(header)
    print("-" * len(header))
    for r in rows:
        out = outputs[r["key"]]
        same_definition = not (reference_tool == "librosa" and r["key"] == "knf")
        diff = "(reference)" if r["key"] == reference_tool else (
            max_abs_diff(out, ref_out) if same_definition else "n/a (Kaldi definition)")
        base = f"{r['base'] / 1024:.0f}" if "base" in r else "-"
        name = {"knf": "kaldi-native-fbank"}.get(r["tool"], r["tool"])
        print(f"{name:<19} {r['what']:<30} {r['t']['best'] * 1e3:>8.1f} {r['t']['median'] * 1e3:>9.1f} "
              f"{ref_time / r['t']['best']:>7.2f}x {r['rss'] / 1024:>11.1f} {base:>10} "
              f"{out.shape[0]:>7} x {out.shape[1]:<4} {diff}")
    cli = next(r for r in rows if r["key"] == "earshot-cli")
    if workload in ("logmel", "mfcc"):
        speedup = ref_time / cli["t"]["best"]
        verdict = "met" if speedup >= 3 else "NOT met"
        print(f"goal (earshot features process >= 3x faster than librosa compute-only): {verdict}, {speedup:.2f}x")
    shapes = {k: v.shape for k, v in outputs.items() if k != "knf" or workload == "fbank"}
    if len(set(shapes.values())) > 1:
        print(f"WARNING: output shapes differ: {shapes}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="the whole benchmark")
    r.add_argument("--earshot", required=True, help="release earshot binary")
    r.add_argument("--library-bench", help="release earshot-features-bench binary (the library rows)")
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--seconds", type=float, default=600)
    r.add_argument("--workloads", default=",".join(WORKLOADS))
    r.add_argument("--no-c-baseline", dest="c_baseline", action="store_false")
    r.add_argument("--baseline-earshot", help="another earshot binary (e.g. a build of main) to time beside this one")
    r.add_argument("--baseline-library-bench", help="another earshot-features-bench binary to time beside this one")
    r.add_argument("--keep", action="store_true", help="keep the temporary folder (file and outputs)")
    g = sub.add_parser("generate", help="write the test file")
    g.add_argument("output")
    g.add_argument("--seconds", type=float, default=600)
    p = sub.add_parser("peer", help="(internal) time one Python peer")
    p.add_argument("tool", choices=("librosa", "torchaudio", "knf"))
    p.add_argument("workload", choices=WORKLOADS)
    p.add_argument("file")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--save")
    args = parser.parse_args()
    if args.command == "run":
        if args.runs < 1:
            parser.error("--runs must be >= 1")
        return cmd_run(args)
    if args.command == "generate":
        print(generate(Path(args.output), args.seconds))
        return 0
    print(json.dumps(peer(args.tool, args.workload, args.file, args.runs, args.save)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
