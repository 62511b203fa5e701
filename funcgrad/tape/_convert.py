"""Values to JAX arrays, and PyTorch's names for dtypes and devices.

- `to_array`: THE converter from anything array-like (a tape tensor, a jax or numpy array,
  a torch tensor, a nested list, a Python number) to a jax.Array;
- `canonical_dtype`, `is_dtype_like`, `dtype_name`, `to_arguments`: dtype (and device)
  arguments as PyTorch accepts them (devices themselves: devices.py);
- `dtype_category`: PyTorch's order of dtype kinds (bool < integer < float < complex);
- `get_default_dtype` / `set_default_dtype`: PyTorch's default floating point dtype;
- `is_wide`, `x64`: 64-bit dtypes, and JAX's 64-bit mode scoped to the code that uses them.
- `refuse_complex`, `complex_default`: complex numbers are refused where they would enter a
  tensor (with `canonical_dtype` and `to_array`), naming the dtype PyTorch would make.

64-bit values: JAX computes `float64`/`int64` only in its 64-bit mode, and outside it
silently truncates them to 32 bits. The tape keeps that mode off globally (plain JAX code
keeps its dtypes) and enters it, per tape op and per backward node, exactly when a 64-bit
dtype is involved (`x64`), so float32 code never pays for it.

It knows tensors only through `TensorBase`, and records nothing on the tape. (Not in
dtypes.py: that module shadows `float`, `int` and `bool` with PyTorch's dtype names.)
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from ._base import TensorBase

# PyTorch's promotion categories; "V" is numpy's kind of bfloat16.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}


def dtype_category(dtype) -> int:
    """0 bool, 1 integer, 2 floating point, 3 complex: a result of a higher category than
    an in-place op's tensor cannot be written into it, and a 0-d tensor of a lower or equal
    one does not promote a dimensioned tensor (PyTorch's rules)."""
    return _CATEGORY[np.dtype(dtype).kind]


class Defaults:
    """PyTorch's default dtype for floating point data (`torch.set_default_dtype`)."""

    float = np.dtype("float32")  # noqa: A003 - the default float dtype
    wide = False  # whether it is float64: then every op runs in JAX's 64-bit mode


def get_default_dtype() -> np.dtype:
    """The dtype Python floats become (float32 unless `set_default_dtype` changed it)."""
    return Defaults.float


def set_default_dtype(dtype) -> None:
    """Sets the dtype of floating point data without a dtype, as PyTorch's does (only
    float16, bfloat16, float32 and float64 are accepted, with PyTorch's TypeError)."""
    d = np.dtype(dtype)
    if d.name not in ("float16", "bfloat16", "float32", "float64"):
        raise TypeError("only floating-point types are supported as the default type")
    Defaults.float, Defaults.wide = d, d.name == "float64"


def canonical_dtype(dtype):
    """Accepts jnp/np/tape dtypes, their names ('float32'), and Python's float/int/bool
    (float64, int64, bool, as in PyTorch). 64-bit dtypes are kept, never truncated; complex
    dtypes are refused (`errors.COMPLEX_UNSUPPORTED`)."""
    if dtype is None:
        return None
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"argument 'dtype' must be a dtype such as torch.float32, not {dtype!r}"
        ) from None
    if d.kind == "c":
        raise errors.complex_unsupported(d)
    return d


def complex_default() -> np.dtype:
    """The dtype PyTorch gives Python complex numbers: complex64, or complex128 when the
    default dtype is float64 (named in the refusal, never made)."""
    return np.dtype("complex128" if Defaults.wide else "complex64")


def refuse_complex(*values) -> None:
    """Raises the complex refusal if one of `values` is a Python complex number (an op's
    scalar argument that PyTorch would take as complex).

    Example:
        >>> refuse_complex(1.0, None)  # real numbers pass
        >>> refuse_complex(2j)
        Traceback (most recent call last):
        ...
        TypeError: Trying to convert ComplexFloat to the funcgrad backend but it does not ...
    """
    for v in values:
        if isinstance(v, complex):
            raise errors.complex_unsupported(complex_default())


def dtype_name(dtype) -> str:
    """The dtype's name, e.g. `torch.float64` -> 'float64'."""
    return canonical_dtype(dtype).name


def is_wide(dtype) -> bool:
    """Whether values of `dtype` need JAX's 64-bit mode (float64, int64, ...)."""
    return dtype is not None and np.dtype(dtype).itemsize >= 8


_NO_SCOPE = contextlib.nullcontext()


def x64(wide: bool = True):
    """JAX's 64-bit mode for the `with` block when `wide`, else nothing (one object).

    Example:
        >>> import jax.numpy as jnp
        >>> with x64():
        ...     jnp.zeros(2, "int64").dtype
        dtype('int64')
        >>> jnp.zeros(2).dtype  # plain JAX code outside keeps its dtypes
        dtype('float32')
    """
    return jax.enable_x64(True) if wide else _NO_SCOPE


def is_dtype_like(x) -> bool:
    """Whether `x` names a dtype (as opposed to a device) in `tensor.to(x)`."""
    if isinstance(x, str):
        try:
            jnp.dtype(x)
            return True
        except TypeError:
            return False
    try:
        return x is not None and not isinstance(x, jax.Device) and jnp.dtype(x) is not None
    except TypeError:
        return False


def to_arguments(args, kwargs) -> tuple:
    """The `(dtype, device)` that `x.to(...)` / `module.to(...)` arguments ask for (None
    where not given): a dtype, a device, both by keyword, or a tensor to match."""
    dtype, device = kwargs.get("dtype"), kwargs.get("device")
    for a in args:
        if isinstance(a, TensorBase):
            dtype, device = a.dtype, a.device
        elif is_dtype_like(a):
            dtype = a
        else:
            device = a
    return dtype, device


def to_array(value, dtype=None) -> jax.Array:
    """Any array-like value as a jax.Array, never aliasing memory that can change.

    A tape tensor gives its array and a jax array is taken as is (both are immutable). A
    numpy array or a torch tensor is copied first: `jnp.asarray` can alias a numpy buffer on
    CPU, and torch updates its buffers in place. Nested lists may hold tape tensors. As in
    PyTorch, Python floats (data without a dtype of its own) take the default dtype
    (float32), Python ints become int64, and arrays keep their dtype (also float64).

    Args:
      value: a tape tensor, jax or numpy array, torch tensor, nested list or Python number.
      dtype: Optional. The dtype to convert to (anything `canonical_dtype` accepts).

    Example:
        >>> import numpy as np
        >>> a = np.ones(2)
        >>> x = to_array(a, "float32")
        >>> a[0] = 5.0  # the jax array does not see the change
        >>> x.tolist(), to_array([[1.0], [2.0]]).dtype, to_array([1, 2]).dtype
        ([1.0, 1.0], dtype('float32'), dtype('int64'))
    """
    dtype = canonical_dtype(dtype)
    if isinstance(value, TensorBase):
        value = value._value()
    elif isinstance(value, jax.Array):
        pass
    elif isinstance(value, np.ndarray):
        value = value.copy()
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = np.array(value.detach().cpu().numpy(), copy=True)
    elif isinstance(value, (list, tuple)) and any(isinstance(v, TensorBase) for v in _flat(value)):
        value = np.asarray([_unwrap(v) for v in value])
        if dtype is None and value.dtype.kind == "c":  # Python complex numbers among them
            raise errors.complex_unsupported(complex_default())
    if not hasattr(value, "dtype"):  # Python data: PyTorch's defaults
        value = np.asarray(value)
        if dtype is None and value.dtype.kind == "f":
            dtype = Defaults.float
        elif value.dtype.kind == "c":  # PyTorch: complex data, or a TypeError for a real dtype
            if dtype is None:
                raise errors.complex_unsupported(complex_default())
            raise TypeError(errors.REAL_NOT_COMPLEX)
    if dtype is None:
        dtype = value.dtype
        if dtype.kind == "c":  # complex numpy, JAX or torch data: refused as it enters
            raise errors.complex_unsupported(dtype)
    if dtype.itemsize < 8:
        return jnp.asarray(value, dtype=dtype)
    with jax.enable_x64(True):
        return jnp.asarray(value, dtype=dtype)


def legacy_array(args, dtype) -> jax.Array:
    """The array of PyTorch's legacy constructors (`torch.Tensor(...)`, `FloatTensor(...)`):
    no argument: empty; ints: that shape (zeros: JAX has no uninitialised memory); one
    sequence or array: its values, converted to `dtype`.

    Example:
        >>> legacy_array(([1, 2],), "float32").tolist(), legacy_array((2, 1), "int64").shape
        ([1.0, 2.0], (2, 1))
    """
    dtype = canonical_dtype(dtype)
    if len(args) == 1 and isinstance(args[0], (tuple, list)) and not args[0]:
        args = ((),)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        with x64(is_wide(dtype)):
            return jnp.zeros(tuple(int(a) for a in args) if args else (0,), dtype)
    if len(args) == 1 and not isinstance(args[0], (str, bytes)):
        value = args[0]
        if isinstance(value, TensorBase):
            return value._value() if value._data.dtype == dtype else to_array(value, dtype)
        return to_array(value, dtype)
    if len(args) == 1:
        raise TypeError(f"new(): invalid data type '{type(args[0]).__name__}'")
    pos, bad = next((i, a) for i, a in enumerate(args, 1) if not isinstance(a, (int, np.integer)))
    raise TypeError(
        f"new(): argument 'size' failed to unpack the object at pos {pos} with error "
        f'"type must be tuple of ints,but got {type(bad).__name__}"'
    )


def _unwrap(v):
    return np.asarray(v._value()) if isinstance(v, TensorBase) else v


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d
