#!/usr/bin/env python3
"""Add (or replace) the `provenance` metadata of an Earshot model file, in place.

    python3 scripts/train/stamp_provenance.py MODEL.safetensors PROVENANCE.json

PROVENANCE.json is any JSON object (recipe, data, seed, epochs, validation figures); it is
stored as a string under __metadata__["provenance"]. Tensors are copied byte for byte.
Standard library only.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_header  # noqa: E402


def main() -> None:
    model, provenance_path = sys.argv[1], sys.argv[2]
    with open(provenance_path) as f:
        provenance = json.load(f)
    header, data = model_header.read(model)
    header.setdefault("__metadata__", {})["provenance"] = json.dumps(provenance, sort_keys=True)
    model_header.write(model, header, data)
    print(f"{model}: provenance stamped ({len(json.dumps(provenance))} bytes)")


if __name__ == "__main__":
    main()
