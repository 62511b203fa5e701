"""Module-level math functions (`torch.exp(x)`, `torch.cat([...])`, ...).

Each is the Tensor method of the same name, or an op that takes several tensors; listed
explicitly so that an unsupported function fails with AttributeError.
"""

from __future__ import annotations

import jax.numpy as jnp

from .ops import apply
from .tensor import Tensor
from .tensor_methods import _dim, _operand


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


def cat(tensors, dim=0):
    """Concatenates tensors along an existing dim. Example: `torch.cat([a, b], 0)`."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    return apply("cat", *tensors, dim=_dim(dim, tensors[0].ndim))


concat = concatenate = cat


def stack(tensors, dim=0):
    """Stacks tensors along a new dim. Example: `torch.stack([a, b], 1)`."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    return apply("stack", *tensors, dim=_dim(dim, tensors[0].ndim + 1))


def where(condition, input, other):
    """Picks from input where condition holds, else from other."""
    return apply("where", _operand(condition), _operand(input), _operand(other))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(jnp.allclose(input._data, other._data, rtol, atol, equal_nan))


def equal(input, other) -> bool:
    return input.shape == other.shape and bool(jnp.array_equal(input._data, other._data))
