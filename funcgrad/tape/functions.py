"""Module-level math functions (`torch.exp(x)`, `torch.cat([...])`, ...).

Each is the Tensor method of the same name, or an op that takes several tensors; listed
explicitly so that an unsupported function fails with AttributeError.
"""

from __future__ import annotations

import jax.numpy as jnp

from .ops import apply
from .tensor import Tensor
from .tensor_methods import _check_bool, _dim, _operand


def _method(name):
    def fn(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(
                f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}"
            )
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"Same as `Tensor.{name}`."
    return fn


_UNARY_AND_METHODS = (
    "exp expm1 log log1p log2 sin cos tan tanh sigmoid relu sqrt rsqrt square reciprocal abs erf "
    "sign floor ceil round clamp clip softmax log_softmax sum mean prod max min amax amin argmax "
    "argmin logsumexp var std norm cumsum all any isnan logical_not reshape transpose t permute "
    "squeeze unsqueeze flatten unflatten expand_as repeat flip clone split chunk unbind narrow "
    "select masked_fill gather matmul mm bmm mv dot maximum minimum atan2 pow add sub mul div neg "
    "eq ne lt le gt ge numel swapaxes"
).split()

for _name in _UNARY_AND_METHODS:
    globals()[_name] = _method(_name)

absolute, multiply, divide, subtract, negative, true_divide = abs, mul, div, sub, neg, div  # noqa: F821

# What `from .functions import *` exports: the functions, not this module's imports.
__all__ = [*_UNARY_AND_METHODS, "absolute", "multiply", "divide", "subtract", "negative",
           "true_divide"]


def _tensor_list(fn, tensors):
    """The tensors of cat/stack, checked with PyTorch's errors (a list of Tensors)."""
    if isinstance(tensors, Tensor):
        raise TypeError(
            f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"
        )
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}"
            )
    return tensors


def cat(tensors, dim=0):
    """Concatenates tensors along an existing dim. Example: `torch.cat([a, b], 0)`."""
    tensors = _tensor_list("cat", tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = _dim(dim, tensors[0].ndim)
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != len(first):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {len(first)} and {t.ndim}"
            )
        for k, (a, b) in enumerate(zip(first, t.shape)):
            if k != d and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {a} "
                    f"but got size {b} for tensor number {i} in the list."
                )
    return apply("cat", *tensors, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Stacks tensors along a new dim. Example: `torch.stack([a, b], 1)`."""
    tensors = _tensor_list("stack", tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                "stack expects each tensor to be equal size, but got "
                f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at entry {i}"
            )
    return apply("stack", *tensors, dim=_dim(dim, tensors[0].ndim + 1))


def where(condition, input, other):
    """Picks from input where condition holds, else from other."""
    condition = _operand(condition)
    _check_bool(condition, "where expected condition to be a boolean tensor, but got a tensor "
                "with dtype", scalar_type=True)  # fmt: skip
    return apply("where", condition, _operand(input), _operand(other))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(jnp.allclose(input._data, other._data, rtol, atol, equal_nan))


def equal(input, other) -> bool:
    return input.shape == other.shape and bool(jnp.array_equal(input._data, other._data))
