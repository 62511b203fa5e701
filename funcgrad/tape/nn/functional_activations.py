"""`nn.functional` activations beyond relu/gelu/silu: hardtanh, relu6, mish, selu, glu,
prelu, ..., and the similarity functions (normalize, cosine_similarity,
pairwise_distance) and one_hot.

Each is a table op (ops_math.py), or composed from table ops where PyTorch composes them,
so that node names match (softsign is a `DivBackward0`, normalize a `DivBackward0` over a
clamped norm). Re-exported by `nn.functional`.

Example:
    >>> import funcgrad.tape as torch
    >>> import funcgrad.tape.nn.functional as F
    >>> F.hardtanh(torch.tensor([-2.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import errors
from ..grad_mode import no_grad
from ..methods._args import _dim
from ..tensor import Tensor, apply

__all__ = [
    "celu", "cosine_similarity", "elu_", "glu", "hardsigmoid", "hardswish", "hardtanh",
    "hardtanh_", "leaky_relu_", "logsigmoid", "mish", "normalize", "one_hot",
    "pairwise_distance", "prelu", "relu6", "selu", "softsign", "tanhshrink",
    "threshold", "threshold_",
]  # fmt: skip


def _maybe_inplace(input: Tensor, inplace: bool, name: str, **static) -> Tensor:
    return input._inplace(name, **static) if inplace else apply(name, input, **static)


def hardtanh(input: Tensor, min_val=-1.0, max_val=1.0, inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; no gradient at or beyond the bounds (PyTorch's)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, "hardtanh", min_val=float(min_val),
                          max_val=float(max_val))  # fmt: skip


def hardtanh_(input: Tensor, min_val=-1.0, max_val=1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): PyTorch computes it as hardtanh(x, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return input._inplace("elu_inplace", alpha=float(alpha))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return input._inplace("leaky_relu_inplace", negative_slope=float(negative_slope))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "hardsigmoid")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "hardswish")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "mish")


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "selu")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _maybe_inplace(input, inplace, "celu", alpha=float(alpha))


def logsigmoid(input: Tensor) -> Tensor:
    return apply("logsigmoid", input)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + abs(x)), composed as in PyTorch."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    return _maybe_inplace(input, inplace, "threshold", threshold=float(threshold),
                          value=float(value))  # fmt: skip


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return input._inplace("threshold", threshold=float(threshold), value=float(value))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), with a and b the halves of input along dim."""
    d = _dim(dim, input.ndim)
    if input.ndim == 0 or input.shape[d] % 2:
        size = input.shape[d] if input.ndim else 1
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    return apply("glu", input, dim=d)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """max(0, x) + weight * min(0, x), weight per channel (dim 1) or one for all."""
    return apply("prelu", input, weight)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """input / max(||input||_p, eps) along dim, composed as in PyTorch."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along dim; PyTorch's formula: each divided by
    its norm (clamped to eps without a gradient) first, then the product summed."""
    n1 = x1.norm(2, dim, keepdim=True).clone()
    n2 = x2.norm(2, dim, keepdim=True).clone()
    with no_grad():
        n1.clamp_min_(eps)
        n2.clamp_min_(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """||x1 - x2 + eps||_p over the last dim (PyTorch's at::norm: NormBackward1)."""
    diff = x1 - x2 + eps
    last = max(diff.ndim - 1, 0)
    return apply("norm_legacy", diff, p=p, dim=(last,) if diff.ndim else (), keepdim=keepdim)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices -> one-hot integer vectors along a new last dim."""
    if not jnp.issubdtype(tensor.dtype, jnp.integer):
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._value()
    if isinstance(data, jax.core.Tracer):  # inside jit: no value checks
        if num_classes == -1:
            raise RuntimeError(errors.DATA_DEPENDENT_SHAPE.format(op="one_hot"))
        return Tensor._wrap((jnp.arange(num_classes) == data[..., None]).astype(data.dtype))
    values = np.asarray(data)
    if values.size and values.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(values.max()) + 1 if values.size else 0
    elif values.size and values.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = jnp.arange(num_classes) == jnp.asarray(values)[..., None]
    return Tensor._wrap(out.astype(tensor.dtype))
