"""The one safetensors reader of the experiment scripts (Debian ships no python3-safetensors; standard library only).

A file is an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} (plus an
optional "__metadata__"), then the tensors' bytes; offsets count from the end of the header.
"""
import json
import struct

# The dtypes the engine writes (Engine/Formats/SafetensorsWriter.cs and the checkpoints): struct code, bytes.
DTYPES = {"F32": ("f", 4), "I64": ("q", 8), "I32": ("i", 4)}


def raw(path):
    """{name: (dtype, shape, bytes)} for every tensor of the file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {t['dtype']}; this reader knows {', '.join(DTYPES)}")
        a, b = t["data_offsets"]
        out[name] = (t["dtype"], t["shape"], data[a:b])
    return out


def values(path):
    """{name: (shape, flat tuple of values)}: the tensors as Python numbers."""
    out = {}
    for name, (dtype, shape, data) in raw(path).items():
        code, size = DTYPES[dtype]
        out[name] = (shape, struct.unpack(f"<{len(data) // size}{code}", data))
    return out
