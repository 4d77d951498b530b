#!/usr/bin/env python3
"""Store an Earshot model's F32 tensors as F16 (IEEE half), in place, to halve the file.

    python3 scripts/train/store_f16.py MODEL.safetensors

Earshot reads F16 tensors into Float, so the model loads as before with weights rounded to
half precision (relative error under 5e-4 each). All three shipped models are stored so
(their recipes run this when they install); docs/models.md has the check made for each: the
same labels or transcripts, F16 against F32, on held-out clips. Check a new model the same
way before shipping it so. The header is kept; standard library only
(`struct`'s `e` format is IEEE half, rounding to nearest even).
"""
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_header  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    header, data = model_header.read(path)
    out = {}
    for name, (entry, raw) in model_header.tensors(header, data).items():
        if entry["dtype"] == "F32":
            count = len(raw) // 4
            raw = struct.pack(f"<{count}e", *struct.unpack(f"<{count}f", raw))
            entry = dict(entry, dtype="F16")
        elif entry["dtype"] != "F16":
            sys.exit(f"{path}: tensor {name} is {entry['dtype']}: only F32 (and F16) are handled")
        out[name] = (entry, raw)
    offset = model_header.write_tensors(path, header.get("__metadata__", {}), out)
    print(f"{path}: {len(data)} -> {offset} bytes of tensors (F16)")


if __name__ == "__main__":
    main()
