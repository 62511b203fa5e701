"""Values to JAX arrays, and PyTorch's names for dtypes and devices.

- `to_array`: THE converter from anything array-like (a tape tensor, a jax or numpy array,
  a torch tensor, a nested list, a Python number) to a jax.Array;
- `canonical_dtype`, `is_dtype_like`, `dtype_name`, `to_arguments`: dtype (and device)
  arguments as PyTorch accepts them;
- `parse_device`: 'cpu', 'cuda:1', ... to a jax.Device;
- `dtype_category`: PyTorch's order of dtype kinds (bool < integer < float < complex).

It knows tensors only through `TensorBase`, and records nothing on the tape. (Not in
dtypes.py: that module shadows `float`, `int` and `bool` with PyTorch's dtype names.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._base import TensorBase

# PyTorch's promotion categories; "V" is numpy's kind of bfloat16.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}


def dtype_category(dtype) -> int:
    """0 bool, 1 integer, 2 floating point, 3 complex: a result of a higher category than
    an in-place op's tensor cannot be written into it, and a 0-d tensor of a lower or equal
    one does not promote a dimensioned tensor (PyTorch's rules)."""
    return _CATEGORY[np.dtype(dtype).kind]


def canonical_dtype(dtype):
    """Accepts jnp/np dtypes, their names ('float32'), and Python's float/int/bool."""
    if dtype is None:
        return None
    try:
        return jax.dtypes.canonicalize_dtype(jnp.dtype(dtype))
    except TypeError:
        raise TypeError(
            f"argument 'dtype' must be a dtype such as torch.float32, not {dtype!r}"
        ) from None


def dtype_name(dtype) -> str:
    """The canonical dtype's name, e.g. `torch.float64` without x64 -> 'float32'."""
    return np.dtype(canonical_dtype(dtype)).name


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


def parse_device(device) -> jax.Device:
    """'cpu', 'cuda', 'cuda:1', 'gpu', 'tpu' or a jax.Device -> a jax.Device."""
    if isinstance(device, jax.Device):
        return device
    name, _, index = str(device).partition(":")
    platform = {"cuda": "gpu"}.get(name, name)
    try:
        devices = jax.devices(platform)
    except RuntimeError as e:
        raise RuntimeError(
            f"device {device!r} is not available: JAX sees {jax.devices()}. "
            "Install the JAX build for that accelerator, or use 'cpu'."
        ) from e
    return devices[int(index or 0)]


def to_array(value, dtype=None) -> jax.Array:
    """Any array-like value as a jax.Array, never aliasing memory that can change.

    A tape tensor gives its array and a jax array is taken as is (both are immutable). A
    numpy array or a torch tensor is copied first: `jnp.asarray` can alias a numpy buffer on
    CPU, and torch updates its buffers in place. Nested lists may hold tape tensors. Python
    floats (data without a dtype of its own) become float32, PyTorch's default dtype.

    Args:
      value: a tape tensor, jax or numpy array, torch tensor, nested list or Python number.
      dtype: Optional. The dtype to convert to (anything `canonical_dtype` accepts).

    Example:
        >>> import numpy as np
        >>> a = np.ones(2)
        >>> x = to_array(a, "float32")
        >>> a[0] = 5.0  # the jax array does not see the change
        >>> x.tolist(), to_array([[1.0], [2.0]]).dtype
        ([1.0, 1.0], dtype('float32'))
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
    if dtype is None and not hasattr(value, "dtype") and np.asarray(value).dtype == np.float64:
        dtype = jnp.float32  # PyTorch's default dtype
    return jnp.asarray(value, dtype=dtype)


def _unwrap(v):
    return np.asarray(v._value()) if isinstance(v, TensorBase) else v


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d
