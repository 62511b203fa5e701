"""Tensor creation: `tensor`, `zeros`, `arange`, ... with PyTorch's signatures (random
tensors are in `random_ops.py`).

Dtypes are JAX's: without `jax_enable_x64`, integer data becomes int32 and float64 requests
become float32, as JAX does (PyTorch would give int64/float64).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from ._convert import canonical_dtype, parse_device, to_array
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


def _finish(array, requires_grad, device=None):
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
    return _finish(
        jnp.zeros(_size(size), canonical_dtype(dtype) or jnp.float32), requires_grad, device
    )


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones. Example: `torch.ones(2, 3)`."""
    return _finish(
        jnp.ones(_size(size, "ones"), canonical_dtype(dtype) or jnp.float32), requires_grad, device
    )


def empty(*size, dtype=None, device=None, requires_grad=False):
    """Like zeros (JAX has no uninitialised memory)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor filled with fill_value. Example: `torch.full((2,), 7.0)`."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(
            f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}"
        )
    array = jnp.full(_size((size,), "full"), fill_value, dtype=canonical_dtype(dtype))
    if dtype is None and isinstance(fill_value, float):
        array = array.astype(jnp.float32)
    return _finish(array, requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values from start to end (exclusive). Example: `torch.arange(5)`."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    array = jnp.arange(start, end, step, dtype=canonical_dtype(dtype))
    if dtype is None and array.dtype == jnp.float64:
        array = array.astype(jnp.float32)
    return _finish(array, requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    array = jnp.linspace(start, end, steps, dtype=canonical_dtype(dtype) or jnp.float32)
    return _finish(array, requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _finish(
        jnp.eye(n, m, dtype=canonical_dtype(dtype) or jnp.float32), requires_grad, device
    )


def _like(fn):
    def like(input, *, dtype=None, device=None, requires_grad=False):
        return fn(
            *input.shape, dtype=dtype or input.dtype, device=device, requires_grad=requires_grad
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
