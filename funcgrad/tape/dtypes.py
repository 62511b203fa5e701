"""PyTorch's dtypes (`torch.float32`, `torch.long`, ...) as small objects NumPy and JAX accept.

A `dtype` prints as PyTorch's does (`torch.float32`), has PyTorch's attributes
(`is_floating_point`, `is_complex`, `is_signed`, `itemsize`), compares equal to the NumPy
dtype, JAX type or name it stands for (`torch.float32 == jnp.float32`), and converts through
its `dtype` attribute, so `np.dtype(torch.float64)`, `jnp.zeros(2, dtype=torch.int64)` and
`array.astype(torch.half)` work. `Tensor.dtype` returns these objects (`of`). Also
`finfo` / `iinfo`, PyTorch's numeric limits of a dtype.

The complex dtypes (`complex64` / `cfloat`, `complex128` / `cdouble`) are names only: a
tensor never holds them (`errors.COMPLEX_UNSUPPORTED`).

What it does not do: decide dtypes of results (dispatch.py, promotion.py) or make 64-bit
values (`_convert.x64`). It shadows `float`, `int` and `bool` with PyTorch's names, so the
code above the names uses `builtins`.
"""

from __future__ import annotations

import builtins

import jax.numpy as jnp
import numpy as np

__all__ = [
    "bfloat16",
    "bool",
    "cdouble",
    "cfloat",
    "complex128",
    "complex64",
    "double",
    "dtype",
    "finfo",
    "float",
    "float16",
    "float32",
    "float64",
    "half",
    "iinfo",
    "int",
    "int16",
    "int32",
    "int64",
    "int8",
    "long",
    "of",
    "short",
    "uint8",
]


class dtype:  # noqa: N801 - PyTorch's name
    """One of PyTorch's dtypes.

    Example:
        >>> import numpy as np
        >>> import funcgrad.tape as torch
        >>> print(torch.float64, torch.float64.itemsize, torch.float64.is_floating_point)
        torch.float64 8 True
        >>> np.dtype(torch.long), torch.float32 == np.float32
        (dtype('int64'), True)
    """

    __slots__ = ("dtype", "_name", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name: str):
        self.dtype = np.dtype(jnp.dtype(name))  # the NumPy dtype (what np.dtype(self) reads)
        self._name = name
        self.is_floating_point = self.dtype.kind == "f" or name == "bfloat16"
        self.is_complex = self.dtype.kind == "c"
        self.is_signed = self.dtype.kind in "ifc" or name == "bfloat16"
        self.itemsize = self.dtype.itemsize

    def __repr__(self) -> str:
        return f"torch.{self._name}"

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self is other
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self) -> builtins.int:
        return hash(self.dtype)  # as the NumPy dtype's: either finds the other in a dict

    def __getattr__(self, name):  # NumPy's attributes (kind, name, ...) for array code
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dtype, name)

    def __reduce__(self):
        return (of, (self.dtype,))


float16 = half = dtype("float16")
bfloat16 = dtype("bfloat16")
float32 = float = dtype("float32")  # noqa: A001 - PyTorch's names
float64 = double = dtype("float64")
int8 = dtype("int8")
uint8 = dtype("uint8")
int16 = short = dtype("int16")
int32 = int = dtype("int32")  # noqa: A001
int64 = long = dtype("int64")
bool = dtype("bool")  # noqa: A001
# Complex dtypes exist so that PyTorch programs resolve the names, but funcgrad.tape refuses
# them where they would enter a tensor (`_convert.canonical_dtype`, `to_array`, dispatch).
complex64 = cfloat = dtype("complex64")
complex128 = cdouble = dtype("complex128")

_ALL = (float16, bfloat16, float32, float64, int8, uint8, int16, int32, int64, bool)
_ALL += (complex64, complex128)
_BY_NUMPY = {d.dtype: d for d in _ALL}
_BY_ID = {id(d.dtype): d for d in _ALL}  # NumPy's dtype instances are singletons: fast path


def of(numpy_dtype) -> dtype | np.dtype:
    """The PyTorch dtype of a NumPy dtype (the NumPy dtype itself if PyTorch has none).

    Example:
        >>> import numpy as np
        >>> of(np.dtype("int64"))
        torch.int64
    """
    found = _BY_ID.get(id(numpy_dtype))
    return found if found is not None else _BY_NUMPY.get(np.dtype(numpy_dtype), numpy_dtype)


class finfo:  # noqa: N801 - PyTorch's name
    """PyTorch's machine limits of a floating point dtype (the default dtype if none).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.finfo(torch.float32).eps
        1.1920928955078125e-07
    """

    def __init__(self, type=None):  # noqa: A002 - PyTorch's argument name
        d = np.dtype(float32 if type is None else type)
        if d.kind != "f" and d.name != "bfloat16":
            raise TypeError(
                "torch.finfo() requires a floating point input type. Use torch.iinfo to "
                "handle 'torch.finfo'"
            )
        info = jnp.finfo(d)
        self.bits = builtins.int(info.bits)
        self.eps = builtins.float(info.eps)
        self.max = builtins.float(info.max)
        self.min = builtins.float(info.min)
        self.tiny = self.smallest_normal = builtins.float(info.tiny)
        self.resolution = 10.0 ** -builtins.int(info.precision)  # as PyTorch computes it
        self.dtype = d.name

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:  # noqa: N801 - PyTorch's name
    """PyTorch's limits of an integer dtype.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.iinfo(torch.int64).max
        9223372036854775807
    """

    def __init__(self, type):  # noqa: A002 - PyTorch's argument name
        d = np.dtype(type)
        if d.kind == "b":
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if d.kind not in "iu":
            raise TypeError(
                "torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                "'torch.iinfo'"
            )
        info = np.iinfo(d)
        self.bits = builtins.int(info.bits)
        self.max = builtins.int(info.max)
        self.min = builtins.int(info.min)
        self.dtype = d.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
