#!/usr/bin/env python3
"""Set (or clear) the speech span of an Earshot model's per-utterance CMVN, in place.

    python3 scripts/train/set_speech_span.py MODEL.safetensors DECIBELS [MARGIN_FRAMES]
    python3 scripts/train/set_speech_span.py MODEL.safetensors none

With a span, the CMVN statistics of each utterance come from the frames between the first and
the last within DECIBELS of the loudest frame (widened by MARGIN_FRAMES, default 20, each
side), not from every frame (`CMVNOptions.speechSpan`, `earshot train --cmvn-span`). Every
member of an ensemble file gets it. The networks are not retrained: a span matters only where
an utterance carries long stretches of noise alone before or after its speech, so a network
trained on tightly cut clips hears those as it heard its training clips. Tensors are copied
byte for byte. Standard library only.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_header  # noqa: E402


def with_span(features_json: str, span) -> str:
    features = json.loads(features_json)
    cmvn = features.setdefault("cmvn", {})
    if cmvn.get("mode") not in ("utterance", "level"):
        sys.exit(f"CMVN mode is {cmvn.get('mode')!r}: a speech span needs utterance or level")
    if features.get("kind") not in ("logmel", "mfcc"):
        sys.exit(f"features are {features.get('kind')!r}: a speech span needs logmel or mfcc")
    if span is None:
        cmvn.pop("speechSpan", None)
    else:
        cmvn["speechSpan"] = span
    return json.dumps(features, separators=(",", ":"), sort_keys=True)


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    model = sys.argv[1]
    if sys.argv[2] == "none":
        span = None
    else:
        decibels, margin = float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) == 4 else 20
        if not decibels > 0 or margin < 0:
            sys.exit("DECIBELS must be > 0 and MARGIN_FRAMES >= 0")
        span = {"decibels": decibels, "marginFrames": margin}
    header, data = model_header.read(model)
    meta = header.get("__metadata__", {})
    if "ensemble" in meta:
        for k in range(int(meta["ensemble"])):
            member = json.loads(meta[f"member{k}"])
            member["features"] = with_span(member["features"], span)
            meta[f"member{k}"] = json.dumps(member, separators=(",", ":"), sort_keys=True)
    elif "features" in meta:
        meta["features"] = with_span(meta["features"], span)
    else:
        sys.exit(f"{model}: no features in its metadata; is it an Earshot model?")
    model_header.write(model, header, data)
    print(f"{model}: speech span {'cleared' if span is None else span}")


if __name__ == "__main__":
    main()
