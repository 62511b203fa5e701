"""PyTorch's checkpoint containers: the zip format `torch.save` writes (read and write) and
the legacy format of `_use_new_zipfile_serialization=False` (read).

Zip: `{name}/data.pkl` (the pickle, see `pickle_format`), `{name}/data/{key}` (each
storage's raw bytes), `{name}/byteorder`, `{name}/version` and PyTorch's bookkeeping
records; stored uncompressed, with each storage aligned to 64 bytes as PyTorch aligns them
(so PyTorch can memory-map the file). Legacy: five pickles in a row (magic number, protocol,
system info, the object, the storage keys), then each storage as an int64 element count
and its bytes.

What this module does not do: the pre-1.6 tar format, or `mmap` (storages are read into
memory).
"""

from __future__ import annotations

import io
import os
import pickle
import secrets
import struct
import zipfile

import numpy as np

from .pickle_format import WeightsUnpickler, dumps

__all__ = ["read_legacy", "read_zip", "write_zip"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
ZIP_CORRUPT = (
    "PytorchStreamReader failed reading zip archive: failed finding central directory. This "
    "is an internal miniz error. If you are seeing this error, there is a high likelihood "
    "that your checkpoint file is corrupted. This can happen if the checkpoint was not saved "
    "properly, was transferred incorrectly, or the file was modified after saving."
)
MISSING_RECORD = "PytorchStreamReader failed locating file {name}: file not found"
RECORD_SIZE = (
    "record size ({actual} bytes) does not match expected size ({expected} bytes = "
    "{expected} elements * 1 bytes/element) for dtype Byte"
)
LEGACY_TRUNCATED = (
    "storage data ended early: expected {expected} bytes for storage {key}, found {actual}"
)
_ALIGNMENT = 64


def _array_from(data: bytes, dtype: np.dtype, numel: int, big_endian: bool) -> np.ndarray:
    array = np.frombuffer(data, dtype=dtype, count=numel)
    return array.byteswap().view(array.dtype.newbyteorder("<")) if big_endian else array


def read_zip(data: bytes, rebuild, parameter):
    """The object saved in a zip checkpoint, its tensors made by `rebuild` (and
    `parameter`, see `WeightsUnpickler`)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise RuntimeError(ZIP_CORRUPT) from e
    pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pickles:
        raise RuntimeError(MISSING_RECORD.format(name="data.pkl"))
    prefix = pickles[0][: -len("data.pkl")]

    def record(name: str) -> bytes:
        try:
            return archive.read(prefix + name)
        except KeyError:
            raise RuntimeError(MISSING_RECORD.format(name=name)) from None
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise RuntimeError(ZIP_CORRUPT) from e

    big_endian = prefix + "byteorder" in names and record("byteorder").strip() == b"big"

    def load_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
        raw = record(f"data/{key}")
        expected = numel * dtype.itemsize
        if len(raw) != expected:
            raise RuntimeError(RECORD_SIZE.format(actual=len(raw), expected=expected))
        return _array_from(raw, dtype, numel, big_endian)

    return WeightsUnpickler(io.BytesIO(record("data.pkl")), load_storage, rebuild, parameter).load()


def read_legacy(data: bytes, rebuild, parameter):
    """The object saved in PyTorch's legacy (non-zip) format.

    The storages follow the object's pickle, so the pickle is read twice: once with
    zero-filled stand-ins to learn each storage's dtype, then with the storages' data.
    """
    stream = io.BytesIO(data)

    def unpickle(load_storage=_no_storage):
        return WeightsUnpickler(stream, load_storage, rebuild, parameter).load()

    if unpickle() != LEGACY_MAGIC:
        raise pickle.UnpicklingError("Invalid magic number; corrupt file?")
    unpickle()  # the protocol version
    info = unpickle()
    big_endian = isinstance(info, dict) and info.get("little_endian") is False
    start = stream.tell()
    dtypes: dict = {}

    def stand_in(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
        dtypes[key] = dtype
        return np.zeros(numel, dtype)

    unpickle(stand_in)
    arrays = {}
    for key in map(str, unpickle()):
        (count,) = struct.unpack("<q", stream.read(8))
        dtype = dtypes.get(key, np.dtype(np.uint8))
        raw = stream.read(count * dtype.itemsize)
        if count < 0 or len(raw) != count * dtype.itemsize:
            raise RuntimeError(
                LEGACY_TRUNCATED.format(expected=count * dtype.itemsize, key=key, actual=len(raw))
            )
        arrays[key] = _array_from(raw, dtype, count, big_endian)

    def stored(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
        if key not in arrays:
            raise RuntimeError(MISSING_RECORD.format(name=f"storage {key}"))
        if arrays[key].size != numel:
            raise RuntimeError(
                RECORD_SIZE.format(actual=arrays[key].nbytes, expected=numel * dtype.itemsize)
            )
        return arrays[key]

    stream.seek(start)
    return unpickle(stored)


def _no_storage(key, dtype, numel):
    raise pickle.UnpicklingError("a legacy checkpoint refers to a storage in its header")


def write_zip(obj, file, name: str, describe) -> None:
    """Writes `obj` as `torch.save` does (PyTorch's zip format), to a path or binary file."""
    pickled, storages = dumps(obj, describe)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:

        def add(record: str, data: bytes, align: bool = False) -> None:
            info = zipfile.ZipInfo(f"{name}/{record}", date_time=(1980, 1, 1, 0, 0, 0))
            if align:  # pad the local header's extra field so the data starts aligned
                start = buffer.tell() + 30 + len(info.filename.encode())
                pad = (-(start + 4)) % _ALIGNMENT
                info.extra = struct.pack("<HH", 0x4746, pad) + b"Z" * pad
            archive.writestr(info, data)

        add("data.pkl", pickled)
        add(".format_version", b"1")
        add(".storage_alignment", str(_ALIGNMENT).encode())
        add("byteorder", b"little")
        for key, array in enumerate(storages):
            add(f"data/{key}", _little_endian_bytes(array), align=True)
        add("version", b"3\n")
        add(".data/serialization_id", str(secrets.randbits(128)).zfill(40).encode())
    data = buffer.getvalue()
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as f:
            f.write(data)
    else:
        file.write(data)


def _little_endian_bytes(array: np.ndarray) -> bytes:
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return array.tobytes()
