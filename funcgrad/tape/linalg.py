"""`torch.linalg` on the tape: norms, det, inv, cross, multi_dot.

Each is an op of the table (`norm` is PyTorch's LinalgVectorNormBackward0 for vectors and
Frobenius norms alike, det and inv are LinalgDetBackward0 and LinalgInvExBackward0).
Matrix norms other than 'fro' (spectral, nuclear, 1, inf) are not supported and raise.

Example:
    >>> import funcgrad.tape as torch
    >>> torch.linalg.norm(torch.tensor([3.0, 4.0]))
    tensor(5.)
"""

from __future__ import annotations

import functools

from . import errors
from .methods._args import _dims
from .tensor import apply

__all__ = ["norm", "vector_norm", "matrix_norm", "det", "inv", "cross", "multi_dot"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ord-norm of x's elements over dim (all of them by default)."""
    x = x if dtype is None else x.to(dtype)
    return apply("norm", x, p=ord, dim=_dims(dim, x.ndim), keepdim=bool(keepdim))


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The Frobenius norm over the two dims (other matrix norms are not supported)."""
    if ord != "fro":
        raise NotImplementedError(errors.UNSUPPORTED.format(what=f"matrix_norm(ord={ord!r})"))
    return vector_norm(A, 2, dim, keepdim, dtype=dtype)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (ord a number, or None: 2) or the Frobenius norm of matrices."""
    if ord is None or ord == "fro" or (isinstance(dim, int) or (dim is None and A.ndim == 1)):
        return vector_norm(A, 2 if ord in (None, "fro") else ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)


def det(A):
    return A.det()


def inv(A):
    return A.inverse()


def cross(input, other, *, dim=-1):
    return input.cross(other, dim)


def multi_dot(tensors):
    """The product of several matrices, left to right."""
    return functools.reduce(lambda a, b: a @ b, tensors)
