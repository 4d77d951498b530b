#!/usr/bin/env python3
"""Add (or replace) the `provenance` metadata of an Earshot model file, in place.

    python3 scripts/train/stamp_provenance.py MODEL.safetensors PROVENANCE.json

PROVENANCE.json is any JSON object (recipe, data, seed, epochs, validation figures); it is
stored as a string under __metadata__["provenance"]. Tensors are copied byte for byte.
Standard library only.
"""
import json
import struct
import sys


def main() -> None:
    model, provenance_path = sys.argv[1], sys.argv[2]
    with open(provenance_path) as f:
        provenance = json.load(f)
    with open(model, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    header.setdefault("__metadata__", {})["provenance"] = json.dumps(provenance, sort_keys=True)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = model + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    import os

    os.replace(tmp, model)
    print(f"{model}: provenance stamped ({len(json.dumps(provenance))} bytes)")


if __name__ == "__main__":
    main()
