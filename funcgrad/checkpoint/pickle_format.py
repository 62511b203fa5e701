"""PyTorch's checkpoint pickle, both ways, with weights only.

Reading: `WeightsUnpickler` is a `pickle.Unpickler` that resolves only the globals a
tensor checkpoint needs (PyTorch's `_rebuild_tensor_v2` / `_rebuild_parameter`, storage
types, `OrderedDict`, `torch.Size`, dtypes, `_codecs.encode` for bytes, `set`) and
refuses every other one with PyTorch's "Weights only load failed" error, so a file can
never make the loader run code (the `os.system` pickle is refused before anything runs).
Tensors are rebuilt from their storage arrays (bounds checked) by a caller's function.

Writing: `dumps` emits protocol-2 pickle opcodes for the types a checkpoint holds (dicts,
OrderedDicts, lists, tuples, sets, strings, bytes, numbers, None, tensors) and refers to
PyTorch's rebuild functions by name, as `torch.save` does, so `torch.load(...,
weights_only=True)` reads the result. Any other type is refused.

What this module does not do: the zip or legacy containers around the pickle
(`torch_format.py`), or tensor subclasses, quantized and sparse tensors.
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
import struct

import ml_dtypes
import numpy as np

__all__ = ["dumps", "Storage", "WeightsUnpickler"]

# PyTorch storage class -> numpy dtype
STORAGE_DTYPES = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
    "ComplexFloatStorage": np.dtype(np.complex64),
    "ComplexDoubleStorage": np.dtype(np.complex128),
}
STORAGE_NAMES = {dtype: name for name, dtype in STORAGE_DTYPES.items()}
# torch.<dtype> names a checkpoint may pickle (e.g. in metadata)
DTYPE_NAMES = {
    "float64": "float64",
    "double": "float64",
    "float32": "float32",
    "float": "float32",
    "float16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "int64": "int64",
    "long": "int64",
    "int32": "int32",
    "int": "int32",
    "int16": "int16",
    "short": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}

WEIGHTS_ONLY_FAILED = (
    "Weights only load failed. {reason}\n[funcgrad] funcgrad loads weights only: it never "
    "runs code from a file, so a checkpoint may hold tensors, numbers, strings and "
    "containers of them (a state dict, an optimizer state), not pickled objects such as a "
    "whole nn.Module. Save model.state_dict() instead of the model."
)
UNSUPPORTED_GLOBAL = "Unsupported global: GLOBAL {name} was not an allowed global by default."
OUT_OF_BOUNDS = (
    "setStorage: sizes {size}, strides {stride}, storage offset {offset}, and itemsize "
    "{itemsize} requiring a storage size of {needed} are out of bounds for storage of size "
    "{available}"
)
UNSUPPORTED_TYPE = (
    "funcgrad cannot save an object of type {type} in a checkpoint: it saves tensors, numpy "
    "and JAX arrays, numbers, strings, bytes, None, and dicts, lists, tuples and sets of "
    "them (what torch.load(weights_only=True) reads). Save a state_dict() instead."
)


class _TypeMarker:
    """A resolved global that only marks a type (a storage class, torch.Tensor, ...)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):
        raise pickle.UnpicklingError(
            WEIGHTS_ONLY_FAILED.format(
                reason=f"Calling {self.module}.{self.name} is not supported when loading weights."
            )
        )


class Storage:
    """A storage read from a checkpoint: its flat array."""

    def __init__(self, array: np.ndarray):
        self.array = array


def _bytes_from(text, encoding="latin1"):
    return codecs.encode(text, encoding)


class WeightsUnpickler(pickle.Unpickler):
    """Unpickles a checkpoint's pickle with an allowlist of globals.

    Args:
      file: the pickle stream.
      load_storage: called with a storage's (key, numpy dtype, numel); returns its flat
        numpy array.
      rebuild: called with (array, requires_grad) for every tensor; its result takes the
        tensor's place.
      parameter: called with (tensor, requires_grad) for an `nn.Parameter`, on what
        `rebuild` returned.
    """

    def __init__(self, file, load_storage, rebuild, parameter):
        super().__init__(file)
        self._load_storage = load_storage
        self._rebuild = rebuild
        self._parameter = parameter
        self._storages: dict = {}

    def find_class(self, module: str, name: str):
        if module == "__builtin__":  # protocol 2's name for builtins (Python 2's)
            module = "builtins"
        allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_tensor"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): self._rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self._rebuild_parameter,
            ("torch._tensor", "_rebuild_from_type_v2"): self._rebuild_from_type,
            ("torch", "Size"): tuple,
            ("_codecs", "encode"): _bytes_from,
            ("builtins", "set"): set,
            ("builtins", "frozenset"): frozenset,
            ("builtins", "complex"): complex,
            ("builtins", "bytearray"): bytearray,
        }
        found = allowed.get((module, name))
        if found is not None:
            return found
        if module == "torch" and (name in STORAGE_DTYPES or name in DTYPE_NAMES):
            return _TypeMarker(module, name)
        if (module, name) in (("torch", "Tensor"), ("torch.nn.parameter", "Parameter")):
            return _TypeMarker(module, name)
        if (module, name) in (("torch.storage", "UntypedStorage"), ("torch", "UntypedStorage")):
            return _TypeMarker(module, "ByteStorage")
        reason = UNSUPPORTED_GLOBAL.format(name=f"{module}.{name}")
        raise pickle.UnpicklingError(WEIGHTS_ONLY_FAILED.format(reason=reason))

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unsupported persistent id encountered")
        kind, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(kind, _TypeMarker) or kind.name not in STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage type in a checkpoint: {kind!r}")
        if key not in self._storages:
            dtype = STORAGE_DTYPES[kind.name]
            self._storages[key] = Storage(self._load_storage(key, dtype, int(numel)))
        return self._storages[key]

    def _rebuild_tensor(self, storage, offset, size, stride, requires_grad=False, *_):
        if not isinstance(storage, Storage):
            raise pickle.UnpicklingError("a tensor's storage is not a checkpoint storage")
        flat = storage.array
        size, stride, offset = tuple(size), tuple(stride), int(offset)
        if any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0:
            raise RuntimeError(f"invalid tensor layout: size {size}, stride {stride}")
        needed = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
        if needed > flat.size:
            raise RuntimeError(
                OUT_OF_BOUNDS.format(
                    size=list(size),
                    stride=list(stride),
                    offset=offset,
                    itemsize=flat.itemsize,
                    needed=needed * flat.itemsize,
                    available=flat.size * flat.itemsize,
                )
            )
        if 0 in size:
            array = np.zeros(size, flat.dtype)
        else:
            view = np.lib.stride_tricks.as_strided(
                flat[offset:],
                shape=size,
                strides=tuple(s * flat.itemsize for s in stride),
                writeable=False,
            )
            array = np.array(view, copy=True)
        return self._rebuild(array, bool(requires_grad))

    def _rebuild_parameter(self, data, requires_grad, *_):
        return self._parameter(data, bool(requires_grad))

    def _rebuild_from_type(self, func, new_type, args, state):
        tensor = func(*args)
        if isinstance(new_type, _TypeMarker) and new_type.name == "Parameter":
            return self._parameter(tensor, True)
        return tensor


# ---------------------------------------------------------------- writing
class _Pickle:
    """Protocol-2 opcodes for a checkpoint's object tree; tensors become persistent storage
    references inside `torch._utils._rebuild_tensor_v2` calls, as torch.save writes them."""

    def __init__(self, describe):
        self.out = io.BytesIO()
        self.describe = describe
        self.storages: list[np.ndarray] = []
        self._keys: dict[int, int] = {}
        self._active: set[int] = set()

    def op(self, data: bytes) -> None:
        self.out.write(data)

    def glob(self, module: str, name: str) -> None:
        self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def text(self, s: str) -> None:
        data = s.encode("utf-8", "surrogatepass")
        self.op(b"X" + struct.pack("<I", len(data)) + data)

    def integer(self, v: int) -> None:
        if 0 <= v < 256:
            self.op(b"K" + bytes([v]))
        elif 0 <= v < 65536:
            self.op(b"M" + struct.pack("<H", v))
        elif -(2**31) <= v < 2**31:
            self.op(b"J" + struct.pack("<i", v))
        else:
            data = v.to_bytes((v.bit_length() + 8) // 8 or 1, "little", signed=True)
            self.op(b"\x8a" + bytes([len(data)]) + data)

    def tuple_of(self, items) -> None:
        items = list(items)
        if not items:
            self.op(b")")
            return
        if len(items) <= 3:
            for item in items:
                self.save(item)
            self.op(b"\x85\x86\x87"[len(items) - 1 : len(items)])
            return
        self.op(b"(")
        for item in items:
            self.save(item)
        self.op(b"t")

    def call(self, module: str, name: str, args) -> None:
        self.glob(module, name)
        self.tuple_of(args)
        self.op(b"R")

    def save(self, obj) -> None:  # noqa: C901 - one branch per checkpoint type
        if obj is None:
            self.op(b"N")
        elif obj is True or obj is False:
            self.op(b"\x88" if obj else b"\x89")
        elif isinstance(obj, int) and type(obj) is int:
            self.integer(obj)
        elif type(obj) is float:
            self.op(b"G" + struct.pack(">d", obj))
        elif type(obj) is str:
            self.text(obj)
        elif type(obj) is complex:
            self.call("builtins", "complex", (obj.real, obj.imag))
        elif type(obj) is bytes:
            self.call("_codecs", "encode", (obj.decode("latin1"), "latin1"))
        elif isinstance(obj, (np.integer, np.floating, np.bool_)) and np.ndim(obj) == 0:
            self.save(obj.item())
        else:
            self.container_or_tensor(obj)

    def container_or_tensor(self, obj) -> None:
        described = self.describe(obj)
        if described is not None:
            self.tensor(*described, key=id(obj))
            return
        if id(obj) in self._active:
            raise ValueError("cannot save a checkpoint whose containers refer to themselves")
        self._active.add(id(obj))
        try:
            self.container(obj)
        finally:
            self._active.discard(id(obj))

    def container(self, obj) -> None:
        kind = type(obj)
        if kind is dict or kind is collections.OrderedDict:
            if kind is dict:
                self.op(b"}")
            else:
                self.call("collections", "OrderedDict", ())
            if obj:
                self.op(b"(")
                for k, v in obj.items():
                    self.save(k)
                    self.save(v)
                self.op(b"u")
            metadata = getattr(obj, "_metadata", None)
            if kind is collections.OrderedDict and metadata is not None:
                self.save({"_metadata": metadata})
                self.op(b"b")
        elif kind is list:
            self.op(b"]")
            if obj:
                self.op(b"(")
                for v in obj:
                    self.save(v)
                self.op(b"e")
        elif kind is tuple:
            self.tuple_of(obj)
        elif kind in (set, frozenset):
            self.glob("builtins", kind.__name__)
            self.tuple_of([list(obj)])
            self.op(b"R")
        else:
            raise TypeError(UNSUPPORTED_TYPE.format(type=f"{kind.__module__}.{kind.__qualname__}"))

    def tensor(self, array: np.ndarray, requires_grad: bool, parameter: bool, key: int) -> None:
        """`_rebuild_tensor_v2(storage, 0, shape, strides, requires_grad, OrderedDict())`,
        inside `_rebuild_parameter(tensor, requires_grad, OrderedDict())` for parameters;
        one storage per tensor object (a tensor saved twice shares it, as in PyTorch)."""
        if array.dtype not in STORAGE_NAMES:
            raise TypeError(UNSUPPORTED_TYPE.format(type=f"tensor of dtype {array.dtype}"))
        if key not in self._keys:
            self._keys[key] = len(self.storages)
            self.storages.append(np.ascontiguousarray(array))
        if parameter:
            self.glob("torch._utils", "_rebuild_parameter")
        self.glob("torch._utils", "_rebuild_tensor_v2")
        self.op(b"((")  # the call's arguments, then the storage's persistent id
        self.text("storage")
        self.glob("torch", STORAGE_NAMES[array.dtype])
        self.text(str(self._keys[key]))
        self.text("cpu")
        self.integer(int(array.size))
        self.op(b"tQ")
        self.integer(0)
        shape = tuple(int(n) for n in array.shape)
        self.tuple_of(shape)
        self.tuple_of(_contiguous_strides(shape))
        self.op(b"\x88" if requires_grad and not parameter else b"\x89")
        self.call("collections", "OrderedDict", ())
        self.op(b"tR")
        if parameter:
            self.op(b"\x88" if requires_grad else b"\x89")
            self.call("collections", "OrderedDict", ())
            self.op(b"\x87R")


def _contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def dumps(obj, describe) -> tuple[bytes, list[np.ndarray]]:
    """The pickle of `obj` (protocol 2) and the storages it refers to, in key order.

    Args:
      obj: the object tree.
      describe: returns (numpy array, requires_grad, is_parameter) for a tensor-like leaf,
        or None for anything else.
    """
    writer = _Pickle(describe)
    writer.op(b"\x80\x02")
    writer.save(obj)
    writer.op(b".")
    return writer.out.getvalue(), writer.storages
