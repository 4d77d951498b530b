"""Read and rewrite the JSON header of a safetensors model file in place (standard library).

The tensors are copied byte for byte; the header is written compact with sorted keys and
padded with spaces to a multiple of 8 bytes, as the format asks. Shared by
stamp_provenance.py, set_speech_span.py and store_f16.py.
"""
import json
import os
import struct


def read(path: str) -> tuple[dict, bytes]:
    """The header (a dict, `__metadata__` included) and the raw tensor bytes after it."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write(path: str, header: dict, data: bytes) -> None:
    """Writes header and data to a temporary file beside `path`, then renames it over `path`."""
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    os.replace(tmp, path)
