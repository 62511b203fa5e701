"""The safetensors format, read and written with numpy (no code, no pickle).

A file is an 8-byte little-endian header length, a JSON header mapping each tensor's name
to its dtype, shape and byte range (plus an optional "__metadata__" of strings), then the
raw little-endian data. Reading checks every range against the data and the shapes.

What this module does not do: the float8 dtypes, or memory-mapped (lazy) loading.
"""

from __future__ import annotations

import json
import math
import struct

import ml_dtypes
import numpy as np

__all__ = ["looks_like_safetensors", "read", "write"]

DTYPES = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}
BAD_FILE = "invalid safetensors file: {why}"
_MAX_HEADER = 100_000_000  # the format's own limit


def looks_like_safetensors(data: bytes) -> bool:
    """Whether `data` starts as a safetensors file does (a header length, then '{')."""
    if len(data) < 10:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return 2 <= n <= min(_MAX_HEADER, len(data) - 8) and data[8:9] == b"{"


def read(data: bytes) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file, by name, as numpy arrays (header order).

    Example:
        >>> import numpy as np
        >>> from funcgrad.checkpoint import safetensors_format as st
        >>> st.read(st.write({"w": np.arange(3, dtype=np.float32)}))["w"]
        array([0., 1., 2.], dtype=float32)
    """
    if len(data) < 8:
        raise ValueError(BAD_FILE.format(why="shorter than its 8-byte header length"))
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(_MAX_HEADER, len(data) - 8):
        raise ValueError(BAD_FILE.format(why=f"header length {n} exceeds the file"))
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(BAD_FILE.format(why=f"header is not JSON ({e})")) from None
    if not isinstance(header, dict):
        raise ValueError(BAD_FILE.format(why="header is not a JSON object"))
    body = memoryview(data)[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        out[name] = _tensor(name, entry, body)
    return out


def _tensor(name: str, entry, body) -> np.ndarray:
    try:
        dtype = DTYPES[entry["dtype"]]
        shape = tuple(int(d) for d in entry["shape"])
        begin, end = (int(x) for x in entry["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(BAD_FILE.format(why=f"bad entry for {name!r}: {entry!r}")) from None
    size = math.prod(shape) * dtype.itemsize
    if any(d < 0 for d in shape) or not 0 <= begin <= end <= len(body) or end - begin != size:
        raise ValueError(
            BAD_FILE.format(
                why=f"{name!r}: bytes {begin}..{end} do not hold {entry['dtype']}{list(shape)} "
                f"in a data section of {len(body)} bytes"
            )
        )
    return np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).copy()


def write(arrays: dict, metadata: dict | None = None) -> bytes:
    """A safetensors file holding `arrays` (name -> numpy array), as bytes."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        if array.dtype not in NAMES:
            raise TypeError(f"safetensors cannot store dtype {array.dtype} ({name!r})")
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format aligns the data to 8 bytes
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)
