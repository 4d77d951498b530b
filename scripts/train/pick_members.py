#!/usr/bin/env python3
"""An ensemble of chosen networks of other model files, without `earshot ensemble`'s rule
that an ensemble input brings all its members.

    python3 scripts/train/pick_members.py OUT.safetensors FILE:K[,K...] [FILE:K ...] \
        [--provenance TEXT]

Each FILE:K,... adds members K of FILE (numbered from 0 as in FILE), in the order given; a single network is
member 0 of its own file. The output's members are numbered in the order listed, so member 0
(whose frames give the times) is the first. Tensors are copied byte for byte (F32 or F16 as
they are); every file must have the same tokens. E.g. the shipped `digits` with members 0 and
2 swapped for fine-tunes:

    python3 scripts/train/pick_members.py cand.safetensors run0/last.safetensors:0 \
        Sources/Earshot/Models/digits.safetensors:1 run2/last.safetensors:0 \
        Sources/Earshot/Models/digits.safetensors:3

Standard library only.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_header  # noqa: E402


def members(path: str) -> tuple[dict, list[tuple[dict, dict]]]:
    """A file's metadata and its members: (the member's metadata, its tensors by short name)."""
    header, data = model_header.read(path)
    metadata = header.get("__metadata__", {})
    tensors = model_header.tensors(header, data)
    if "ensemble" not in metadata:
        return metadata, [(dict(metadata), tensors)]
    found = []
    for k in range(int(metadata["ensemble"])):
        prefix = f"member{k}."
        found.append((json.loads(metadata[f"member{k}"]),
                      {n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)}))
    return metadata, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", help="the ensemble file to write (.safetensors)")
    parser.add_argument("specs", nargs="+", metavar="FILE:K[,K...]", help="members K of FILE, in FILE's numbering")
    parser.add_argument("--provenance", help="the output's provenance text (default: the specs as JSON)")
    a = parser.parse_args()
    out, specs, provenance = a.output, a.specs, a.provenance
    if not out.endswith(".safetensors"):
        sys.exit(f"{out}: the output must be a .safetensors file (did you forget it before the specs?)")
    for spec in specs:
        path, _, chosen = spec.rpartition(":")
        if not path or not all(k.isdigit() for k in chosen.split(",")):
            sys.exit(f"{spec}: expected FILE:K[,K...], K member numbers from 0")
    metadata, tensors, count = None, {}, 0
    for spec in specs:
        path, chosen = spec.rsplit(":", 1)
        file_metadata, file_members = members(path)
        if metadata is None:
            metadata = {k: v for k, v in file_metadata.items()
                        if k in ("format_version", "token_unit", "tokens")}
        if "tokens" not in file_metadata:
            sys.exit(f"{path}: no tokens in its metadata: not a CTC model file")
        if file_metadata["tokens"] != metadata.get("tokens"):
            sys.exit(f"{path}: its tokens differ from the first file's")
        for k in map(int, chosen.split(",")):
            if not 0 <= k < len(file_members):
                sys.exit(f"{path} has {len(file_members)} member(s): no member {k}")
            member_metadata, member_tensors = file_members[k]
            metadata[f"member{count}"] = json.dumps(member_metadata, separators=(",", ":"), sort_keys=True)
            for name, t in member_tensors.items():
                tensors[f"member{count}.{name}"] = t
            count += 1
    metadata["ensemble"] = str(count)
    metadata["provenance"] = provenance or json.dumps({"members": specs})
    model_header.write_tensors(out, metadata, tensors)
    print(f"{out}: {count} networks")


if __name__ == "__main__":
    main()
