#!/usr/bin/env python3
"""Convert an Earshot model file (safetensors) back to a PyTorch state_dict.

    python scripts/torch_import.py --input model.safetensors --output model.pt [--print-metadata]

Reads F32/F16/BF16/F64 tensors with a hand-written parser (torch, json, struct
only) and saves {name: tensor} with torch.save; load it with
`module.load_state_dict(torch.load("model.pt"))` into a module with attributes
lstm / fc (/ attention). The __metadata__ map (architecture, tokens, features,
...) is saved next to it as <output>.metadata.json.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        sys.exit(f"{path}: {len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        sys.exit(f"{path}: header length {n} runs past the end of the {len(raw)}-byte file")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        if e["dtype"] not in DTYPES:
            sys.exit(f"{path}: tensor '{name}' has dtype {e['dtype']}; expected F32, F16, BF16 or F64")
        begin, end = e["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            sys.exit(f"{path}: tensor '{name}' data_offsets {e['data_offsets']} outside the {len(data)}-byte data")
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[e["dtype"]]) if end > begin \
            else torch.empty(0, dtype=DTYPES[e["dtype"]])
        tensors[name] = t.reshape(e["shape"]).to(torch.float32).clone()
    return tensors, meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="Earshot .safetensors model")
    ap.add_argument("--output", required=True, help="the .pt state_dict to write")
    ap.add_argument("--print-metadata", action="store_true")
    args = ap.parse_args()
    tensors, meta = read_safetensors(args.input)
    torch.save(tensors, args.output)
    with open(args.output + ".metadata.json", "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    if args.print_metadata:
        print(json.dumps(meta, indent=2, sort_keys=True))
    print(f"wrote {args.output} ({len(tensors)} tensors) and {args.output}.metadata.json")


if __name__ == "__main__":
    main()
