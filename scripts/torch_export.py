#!/usr/bin/env python3
"""Export a PyTorch state_dict to an Earshot model file (safetensors, F32).

    python scripts/torch_export.py --state-dict model.pt --output model.safetensors \
        [--metadata tokens='["_","a",...]'] [--metadata-file features=features.json]

The state_dict must come from a module with attributes
    lstm = nn.LSTM(input, hidden, num_layers=L, bidirectional=True)
    fc = nn.Linear(2 * hidden, outputs)      (4 * hidden after mean-max pooling:
                                             torch.cat([mean, max], -1) over time;
                                             6 * hidden after mean-std-max: [mean,
                                             sqrt(population var + 1e-5), max])
and, for a classifier with attention pooling, attention = nn.Linear(2 * hidden, 1).
Sizes (input, hidden, layers, outputs) are inferred from the tensors; the kind is
"ctc" unless --kind classifier is given (or an attention.* tensor is present).
The architecture JSON and format_version go into __metadata__ exactly as
EarshotNeural's ModelArchitecture reads them. Uses only torch, json and struct.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys

import torch

FORMAT_VERSION = "1"


def write_safetensors(path: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def infer_architecture(sd: dict[str, torch.Tensor], kind: str | None, pooling: str | None,
                       blank: int, dropout: float) -> dict[str, object]:
    if "lstm.weight_ih_l0" not in sd or "fc.weight" not in sd:
        sys.exit("state_dict needs lstm.weight_ih_l0 and fc.weight (module attributes `lstm` and `fc`)")
    layers = 1 + max(int(m.group(1)) for k in sd if (m := re.fullmatch(r"lstm\.weight_ih_l(\d+)", k)))
    if "lstm.weight_ih_l0_reverse" not in sd:
        sys.exit("lstm is not bidirectional (no lstm.weight_ih_l0_reverse); Earshot models are BiLSTMs")
    hidden = sd["lstm.weight_hh_l0"].shape[1]
    has_attention = "attention.weight" in sd
    kind = kind or ("classifier" if has_attention else "ctc")
    if kind == "classifier":
        pooling = pooling or ("attention" if has_attention else "mean")
    arch = {
        "kind": kind,
        "inputSize": int(sd["lstm.weight_ih_l0"].shape[1]),
        "hiddenSize": int(hidden),
        "numLayers": int(layers),
        "outputSize": int(sd["fc.weight"].shape[0]),
        "dropout": dropout,
        "pooling": pooling or "mean",
        "blank": blank,
    }
    width = {"mean-max": 4, "mean-std-max": 6}.get(arch["pooling"], 2) * hidden
    if sd["fc.weight"].shape[1] != width:
        sys.exit(f"fc.weight is {tuple(sd['fc.weight'].shape)}, expected (outputs, {width})")
    return arch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state-dict", required=True, help="torch.save'd state_dict (or a module)")
    ap.add_argument("--output", required=True, help="the .safetensors file to write")
    ap.add_argument("--kind", choices=["ctc", "classifier"])
    ap.add_argument("--pooling", choices=["mean", "max", "mean-max", "mean-std-max", "attention"])
    ap.add_argument("--blank", type=int, default=0, help="CTC blank index (default 0)")
    ap.add_argument("--dropout", type=float, default=0.0, help="recorded for further training")
    ap.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE",
                    help="extra metadata string, e.g. tokens='[...]' or provenance=...")
    ap.add_argument("--metadata-file", action="append", default=[], metavar="KEY=PATH",
                    help="extra metadata read from a file, e.g. features=features.json")
    args = ap.parse_args()

    obj = torch.load(args.state_dict, map_location="cpu", weights_only=False)
    sd = obj.state_dict() if hasattr(obj, "state_dict") else obj
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    arch = infer_architecture(sd, args.kind, args.pooling, args.blank, args.dropout)
    keep = {k: v for k, v in sd.items()
            if k.startswith("lstm.") or k.startswith("fc.")
            or (arch["kind"] == "classifier" and arch["pooling"] == "attention" and k.startswith("attention."))}
    dropped = sorted(set(sd) - set(keep))
    if dropped:
        print(f"note: not exported (not part of the architecture): {', '.join(dropped)}", file=sys.stderr)
    meta = {"architecture": json.dumps(arch, sort_keys=True, separators=(",", ":")),
            "format_version": FORMAT_VERSION}
    for kv in args.metadata:
        k, _, v = kv.partition("=")
        meta[k] = v
    for kv in args.metadata_file:
        k, _, p = kv.partition("=")
        with open(p, encoding="utf-8") as f:
            meta[k] = f.read()
    write_safetensors(args.output, keep, meta)
    print(f"wrote {args.output}: {arch}")


if __name__ == "__main__":
    main()
