#!/usr/bin/env python3
"""Interpolate two Earshot models' weights: every tensor (1 - a) A + a B, the header of B.

    python3 scripts/train/interpolate.py A.safetensors B.safetensors ALPHA OUT.safetensors

A and B must be single networks with the same tensors (names, shapes, F32 or F16), such as a
network and its own fine-tune ("weight-space ensembling", WiSE-FT: the interpolation often keeps
what the start knew while gaining what the fine-tune learned). OUT is F32, with B's header and a
provenance that names both files and ALPHA. Needs numpy.
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_header  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16}


def tensors(path: str) -> tuple[dict, dict]:
    header, data = model_header.read(path)
    out = {}
    for name, (entry, raw) in model_header.tensors(header, data).items():
        if entry["dtype"] not in DTYPES:
            sys.exit(f"{path}: tensor {name} is {entry['dtype']}; only F32 and F16 are read")
        out[name] = np.frombuffer(raw, DTYPES[entry["dtype"]]).astype(np.float32).reshape(entry["shape"])
    return header, out


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    a_path, b_path, alpha, out_path = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    if not 0 <= alpha <= 1:
        sys.exit(f"ALPHA {alpha} is outside 0...1")
    _, a = tensors(a_path)
    header_b, b = tensors(b_path)
    if "ensemble" in header_b.get("__metadata__", {}):
        sys.exit(f"{b_path} is an ensemble; interpolate single networks (one member each)")
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        sys.exit(f"{a_path} and {b_path} do not have the same tensors")
    metadata = dict(header_b["__metadata__"])
    metadata["provenance"] = json.dumps(
        {"interpolated": f"(1 - {alpha}) x {Path(a_path).name} + {alpha} x {Path(b_path).name}",
         "b_provenance": metadata.get("provenance", "")})
    mixed = {name: ({"dtype": "F32", "shape": list(b[name].shape)},
                    ((1 - alpha) * a[name] + alpha * b[name]).astype("<f4").tobytes()) for name in b}
    model_header.write_tensors(out_path, metadata, mixed)
    print(f"wrote {out_path}: {len(b)} tensors, alpha {alpha}")


if __name__ == "__main__":
    main()
