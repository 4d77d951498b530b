#!/usr/bin/env python3
"""Cut a CTC model's output layer down to some of its tokens, e.g. a digits model trained with
extra words (more real speakers for the encoder) that should only ever say digits.

    python3 scripts/train/keep_tokens.py IN.safetensors OUT.safetensors zero,one,two,...

Keeps the blank and the listed tokens, in the listed order, by copying their rows of
`fc.weight` and `fc.bias`; the encoder is untouched. The log-softmax over the kept outputs is
then the original distribution renormalised over them: per frame, every path through the
kept tokens is scaled by the same factor, so decoding ranks transcripts exactly as decoding
the original model with `--vocabulary` set to these tokens does. Updates the `tokens` and
`architecture` metadata. Standard library only.
"""
import json
import os
import struct
import sys


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, target, wanted = sys.argv[1], sys.argv[2], [t for t in sys.argv[3].split(",") if t]
    with open(source, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    meta = header["__metadata__"]
    architecture = json.loads(meta["architecture"])
    if architecture.get("kind", "ctc") != "ctc":
        sys.exit(f"{source}: a {architecture['kind']} model; this script cuts CTC models")
    tokens = json.loads(meta["tokens"])
    blank = architecture.get("blank", 0)
    missing = [t for t in wanted if t not in tokens]
    if missing:
        sys.exit(f"{source}: no token(s) {', '.join(missing)}; it has {', '.join(tokens)}")
    rows = [blank] + [tokens.index(t) for t in wanted]

    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    blobs = {}
    for name, info in tensors.items():
        start, end = info["data_offsets"]
        blob = data[start:end]
        if name in ("fc.weight", "fc.bias"):
            if info["dtype"] != "F32":
                sys.exit(f"{source}: {name} is {info['dtype']}, expected F32")
            width = 4 * (info["shape"][1] if name == "fc.weight" else 1)
            blob = b"".join(blob[r * width : (r + 1) * width] for r in rows)
            info["shape"][0] = len(rows)
        blobs[name] = blob
    offset = 0
    out = bytearray()
    for name in sorted(blobs):
        tensors[name]["data_offsets"] = [offset, offset + len(blobs[name])]
        out += blobs[name]
        offset += len(blobs[name])

    architecture["outputSize"] = len(rows)
    architecture["blank"] = 0
    meta["architecture"] = json.dumps(architecture, sort_keys=True, separators=(",", ":"))
    meta["tokens"] = json.dumps([tokens[blank]] + wanted, separators=(",", ":"))
    tensors["__metadata__"] = meta
    text = json.dumps(tensors, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = target + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(out))
    os.replace(tmp, target)
    print(f"{target}: {len(rows)} outputs ({tokens[blank]} {' '.join(wanted)}) of {len(tokens)}")


if __name__ == "__main__":
    main()
