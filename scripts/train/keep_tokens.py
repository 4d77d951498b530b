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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_header  # noqa: E402


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, target, wanted = sys.argv[1], sys.argv[2], [t for t in sys.argv[3].split(",") if t]
    header, data = model_header.read(source)
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

    tensors = model_header.tensors(header, data)
    for name, (info, blob) in tensors.items():
        if name in ("fc.weight", "fc.bias"):
            if info["dtype"] != "F32":
                sys.exit(f"{source}: {name} is {info['dtype']}, expected F32")
            width = 4 * (info["shape"][1] if name == "fc.weight" else 1)
            blob = b"".join(blob[r * width : (r + 1) * width] for r in rows)
            info["shape"][0] = len(rows)
        tensors[name] = (info, blob)

    architecture["outputSize"] = len(rows)
    architecture["blank"] = 0
    meta["architecture"] = json.dumps(architecture, sort_keys=True, separators=(",", ":"))
    meta["tokens"] = json.dumps([tokens[blank]] + wanted, separators=(",", ":"))
    model_header.write_tensors(target, meta, tensors)
    print(f"{target}: {len(rows)} outputs ({tokens[blank]} {' '.join(wanted)}) of {len(tokens)}")


if __name__ == "__main__":
    main()
