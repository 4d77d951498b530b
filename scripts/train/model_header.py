"""Read and rewrite the JSON header of a safetensors model file in place (standard library).

The tensors are copied byte for byte; the header is written compact with sorted keys and
padded with spaces to a multiple of 8 bytes, as the format asks. `tensors` and
`write_tensors` are for scripts that change the tensors themselves. Shared by
stamp_provenance.py, set_speech_span.py, store_f16.py, keep_tokens.py and interpolate.py.
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


def tensors(header: dict, data: bytes) -> dict[str, tuple[dict, bytes]]:
    """Each tensor of a `read` result: its name -> (its header entry, its raw bytes)."""
    out = {}
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            out[name] = (entry, data[begin:end])
    return out


def write_tensors(path: str, metadata: dict, tensors: dict[str, tuple[dict, bytes]]) -> int:
    """Writes `metadata` and the tensors (name -> (entry, raw bytes); each entry's
    `data_offsets` is set here) with `write`, the data in name order; returns its byte count."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        entry, raw = tensors[name]
        header[name] = dict(entry, data_offsets=[offset, offset + len(raw)])
        chunks.append(raw)
        offset += len(raw)
    write(path, header, b"".join(chunks))
    return offset
