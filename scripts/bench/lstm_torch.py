#!/usr/bin/env python3
"""PyTorch CPU peer of lstm-swift (same model and shapes); used by scripts/bench/lstm.

    python lstm_torch.py infer|infer8|train BATCH FRAMES THREADS REPS

infer8: the LSTM and the Linear dynamically quantized to int8 weights
(torch.ao.quantization.quantize_dynamic, per-tensor activations), PyTorch's 8-bit inference.
"""
import resource
import sys
import time

import warnings

import torch
import torch.nn.functional as F

mode, batch, frames, threads, reps = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(threads)
torch.manual_seed(1)
lstm = torch.nn.LSTM(80, 256, num_layers=3, bidirectional=True)
fc = torch.nn.Linear(512, 29)
params = list(lstm.parameters()) + list(fc.parameters())
opt = torch.optim.Adam(params)
x = torch.randn(frames, batch, 80)
targets = torch.randint(1, 29, (batch, frames // 6))
in_len = torch.full((batch,), frames)
tgt_len = torch.full((batch,), frames // 6)


if mode == "infer8":
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.fc = lstm, fc

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated for torchao
        warnings.simplefilter("ignore")
        net = torch.ao.quantization.quantize_dynamic(Net(), {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8)
    lstm, fc = net.lstm, net.fc


def once() -> float:
    if mode != "train":
        with torch.inference_mode():
            return F.log_softmax(fc(lstm(x)[0]), dim=-1)[0, 0, 0].item()
    lp = F.log_softmax(fc(lstm(x)[0]), dim=-1)
    loss = F.ctc_loss(lp, targets, in_len, tgt_len, zero_infinity=True)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


once()
times = []
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(reps):
    t = time.perf_counter()
    once()
    times.append((time.perf_counter() - t) * 1e3)
times.sort()
usage = resource.getrusage(resource.RUSAGE_SELF)
rss = usage.ru_maxrss / 1024
print(f"pytorch {mode} batch={batch} frames={frames} threads={threads} "
      f"median_ms={times[len(times) // 2]:.1f} min_ms={times[0]:.1f} peak_rss_mib={rss:.0f} "
      f"faults_per_step={(usage.ru_minflt - faults) // reps}")
