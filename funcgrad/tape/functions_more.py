"""More module-level functions (`torch.topk(x, 2)`, `torch.einsum(...)`, ...).

Most are the Tensor method of the same name (methods/math_more.py,
methods/arrange.py), listed explicitly so that an unsupported function still fails
with AttributeError. The rest take several tensors or have no method: `var_mean`,
`std_mean`, `einsum`, `cdist`, `hstack`, `vstack`, `meshgrid`, `broadcast_tensors`.

Example:
    >>> import funcgrad.tape as torch
    >>> a = torch.ones(2, 3, requires_grad=True)
    >>> torch.einsum("ij,kj->ik", a, torch.ones(4, 3)).grad_fn.name()
    'ViewBackward0'
"""

from __future__ import annotations

import warnings

import numpy as np

from . import errors, linalg
from .functions import _method, _tensor_list, cat
from .methods._args import _dims
from .tensor import apply

_METHODS = (
    "topk sort argsort msort median diag diag_embed tril triu roll rot90 fliplr flipud "
    "movedim moveaxis broadcast_to tile ravel repeat_interleave index_select masked_select "
    "nonzero argwhere unique bincount histc scatter scatter_add index_add index_fill index_copy "
    "take take_along_dim cumprod logcumsumexp nansum nanmean dist trace addmm baddbmm addmv "
    "addr outer ger vdot cross det inverse sinh cosh asinh acosh atanh asin acos atan arcsin "
    "arccos arctan arcsinh arccosh arctanh erfinv erfc log10 exp2 trunc fix frac sgn deg2rad "
    "rad2deg logit nan_to_num hypot logaddexp fmod remainder xlogy lerp clamp_min clamp_max "
    "addcmul addcdiv isclose isinf isfinite isposinf isneginf signbit logical_and logical_or "
    "logical_xor count_nonzero positive floor_divide tensor_split unsafe_split unsafe_chunk"
).split()

for _name in _METHODS:
    globals()[_name] = _method(_name)

__all__ = [*_METHODS, "var_mean", "std_mean", "einsum", "cdist", "hstack", "vstack",
           "meshgrid", "broadcast_tensors", "selu", "celu", "threshold", "prelu",
           "chain_matmul"]  # fmt: skip


def selu(input):
    """Scaled ELU (PyTorch's constants); an EluBackward0 node, as in PyTorch."""
    return apply("selu", input)


def celu(input, alpha=1.0):
    return apply("celu", input, alpha=float(alpha))


def threshold(input, threshold, value):
    return apply("threshold", input, threshold=float(threshold), value=float(value))


def prelu(input, weight):
    return apply("prelu", input, weight)


def _moments(name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # the var_mean(input, unbiased) overload
        dim, unbiased = None, dim
    correction = (1 if unbiased else 0) if correction is None else correction
    dims = _dims(dim, input.ndim)
    return tuple(apply(name, input, dim=dims, correction=correction, keepdim=bool(keepdim)))


def var_mean(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """(variance, mean) over dim, in one op (PyTorch's VarMeanBackward0).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.var_mean(torch.tensor([1.0, 2.0, 3.0]))
        (tensor(1.), tensor(2.))
    """
    return _moments("var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """(standard deviation, mean) over dim, in one op (PyTorch's StdMeanBackward0)."""
    return _moments("std_mean", input, dim, unbiased, keepdim, correction)


def _einsum_kind(equation: str, n_operands: int) -> str:
    """Which of PyTorch's decompositions the equation takes (it names the node): a
    contraction over an index shared by operands, a plain product, a sum, a permutation."""
    inputs, _, output = equation.replace(" ", "").partition("->")
    terms = [set(t.replace(".", "")) for t in inputs.split(",")]
    letters = set().union(*terms)
    if "->" not in equation:  # implicit output: the indices that appear once
        output = "".join(c for c in letters if inputs.count(c) == 1)
    summed = letters - set(output)
    if any(sum(c in t for t in terms) > 1 for c in summed):
        return "einsum_view"
    if n_operands > 1:
        return "einsum_mul"
    return "einsum_sum" if summed else "einsum_permute"


def einsum(equation, *operands):
    """Einstein summation (jnp.einsum), recorded as one op named like PyTorch's last node.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.einsum("ii", torch.eye(3))
        tensor(3.)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    kind = _einsum_kind(equation, len(operands))
    return apply(kind, *operands, equation=equation.replace(" ", ""))


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances between the rows of x1 and x2 (batched: ... x P x M)."""
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    return apply("cdist", x1, x2, p=float(p) if p != 2 else 2)


def hstack(tensors):
    """Concatenates along dim 1 (dim 0 for 1-D tensors)."""
    tensors = _tensor_list("hstack", tensors)
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenates along dim 0, 1-D tensors as rows."""
    tensors = _tensor_list("vstack", tensors)
    return cat([t.unsqueeze(0) if t.ndim == 1 else t for t in tensors], 0)


def broadcast_tensors(*tensors):
    """Each tensor expanded to the broadcast shape of all (ExpandBackward0 views)."""
    shape = ()
    for t in tensors:
        shape = _broadcast_shape(shape, tuple(t.shape))
    return tuple(t.expand(*shape) for t in tensors)


def _broadcast_shape(a, b):
    return tuple(np.broadcast_shapes(a, b))


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: 'ij' (the default, with PyTorch's warning) or
    'xy'. Each grid is a view + expand of its input, as in PyTorch."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(errors.MESHGRID_WARNING, UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    order = list(tensors)
    if indexing == "xy" and len(order) >= 2:
        order[0], order[1] = order[1], order[0]
    shape = tuple(t.numel() for t in order)
    grids = []
    for i, t in enumerate(order):
        view = [1] * len(order)
        view[i] = -1
        grids.append(t.reshape(*view).expand(*shape))
    if indexing == "xy" and len(grids) >= 2:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def chain_matmul(*matrices):
    """The product of the matrices, left to right (deprecated by PyTorch, as here)."""
    warnings.warn(errors.CHAIN_MATMUL_WARNING, UserWarning, stacklevel=2)
    return linalg.multi_dot(matrices)
