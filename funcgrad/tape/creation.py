"""Tensor creation: `tensor`, `zeros`, `arange`, ... with PyTorch's signatures (random
tensors are in `random_ops.py`).

Dtypes are PyTorch's: floating point data and factories without a dtype take the default
dtype (`get_default_dtype()`, float32), integer data, `arange` of ints, `randint` and
`randperm` give int64, and 64-bit dtypes are made in JAX's 64-bit mode (`_convert.x64`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from ._convert import Defaults, canonical_dtype, is_wide, refuse_complex, to_array, x64
from .devices import default_device, parse_device
from .grad_mode import is_inference_mode_enabled
from .tensor import Tensor

__all__ = [
    "arange",
    "as_tensor",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "tensor",
    "zeros",
    "zeros_like",
]


def _float_dtype(dtype):
    """The asked dtype, or the default float dtype."""
    return canonical_dtype(dtype) or Defaults.float


def _make(dtype, fn, *args):
    """`fn(*args, dtype=dtype)`, in JAX's 64-bit mode when `dtype` is 64-bit."""
    with x64(is_wide(dtype)):
        return fn(*args, dtype=dtype)


def _finish(array, requires_grad, device=None):
    if device is None:
        device = default_device()
    if device is not None:
        array = jax.device_put(array, parse_device(device))
    t = Tensor._wrap(array)
    t._inference = is_inference_mode_enabled()  # like PyTorch: made inside inference_mode
    if requires_grad:
        if not jnp.issubdtype(array.dtype, jnp.inexact):  # PyTorch's factory wording
            raise RuntimeError(
                errors.INTEGER_REQUIRES_GRAD_CTOR + errors.INTEGER_HINT.format(dtype=array.dtype)
            )
        t.requires_grad_(True)
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False):
    """Creates a leaf tensor from data (list, number, numpy or JAX array), copying it.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.tensor([[1.0, 2.0]], requires_grad=True).shape
        torch.Size([1, 2])
    """
    return _finish(to_array(data, dtype), requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """Like `tensor`, but returns `data` itself if it already is a tensor of that dtype."""
    if isinstance(data, Tensor) and (dtype is None or canonical_dtype(dtype) == data.dtype):
        return data if device is None else data.to(device)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray):
    return tensor(array, dtype=array.dtype)


def _size(size, fn="zeros"):
    """A size given as ints or one tuple of ints, checked with PyTorch's errors."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(
                f"{fn}(): argument 'size' must be tuple of ints, but found element of type "
                f"{type(s).__name__}"
            )
    for s in size:
        if s < 0:
            raise RuntimeError(
                "zeros: Dimension size must be non-negative."
                if fn == "zeros"
                else f"Trying to create tensor with negative dimension {s}: {list(size)}"
            )
    return tuple(int(s) for s in size)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros. Example: `torch.zeros(2, 3)`."""
    return _finish(_make(_float_dtype(dtype), jnp.zeros, _size(size)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones. Example: `torch.ones(2, 3)`."""
    return _finish(_make(_float_dtype(dtype), jnp.ones, _size(size, "ones")), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """Like zeros (JAX has no uninitialised memory)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor filled with fill_value. Example: `torch.full((2,), 7.0)`."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(
            f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}"
        )
    refuse_complex(fill_value)  # also with a real dtype: JAX would drop the imaginary part
    if dtype is None:  # PyTorch: the fill value's kind (bool, int64 or the default float)
        dtype = to_array(getattr(fill_value, "_data", fill_value)).dtype
    array = _make(canonical_dtype(dtype), jnp.full, _size((size,), "full"), fill_value)
    return _finish(array, requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values from start to end (exclusive). Example: `torch.arange(5)`."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:  # PyTorch: int64 for integer arguments, else the default dtype
        numbers = [getattr(v, "_data", v) for v in (start, end, step)]
        dtype = to_array(np.asarray(numbers).tolist()).dtype
        if dtype.kind == "b":
            dtype = np.dtype("int64")
    array = _make(canonical_dtype(dtype), jnp.arange, start, end, step)
    return _finish(array, requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    array = _make(_float_dtype(dtype), jnp.linspace, start, end, steps)
    return _finish(array, requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _finish(_make(_float_dtype(dtype), jnp.eye, n, m), requires_grad, device)


def _like(fn):
    def like(input, *, dtype=None, device=None, requires_grad=False):
        return fn(  # on input's device unless told (never the default device)
            *input.shape,
            dtype=dtype or input.dtype,
            device=device or input.device,
            requires_grad=requires_grad,
        )

    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"`{fn.__name__}` with the shape (and dtype) of `input`."
    return like


zeros_like, ones_like = _like(zeros), _like(ones)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(
        input.shape,
        fill_value,
        dtype=dtype or input.dtype,
        device=device,
        requires_grad=requires_grad,
    )
