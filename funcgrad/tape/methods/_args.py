"""Argument conventions the Tensor methods share: PyTorch's `dim`, `*shape` and dtype checks.

Plain functions of shapes and dims; no tensor is made and no op runs here.
"""

from __future__ import annotations

import numpy as np

from .. import errors
from .._base import TensorBase


def _required(args, method, name) -> None:
    """PyTorch's TypeError for a shape-like varargs method called with no arguments."""
    if not args:
        raise TypeError(f'{method}() missing 1 required positional arguments: "{name}"')


def _dims(dim, ndim):
    """Normalizes an int / tuple / None `dim` to a sorted tuple of non-negative ints."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
                f"{max(ndim, 1) - 1}], but got {d})"
            )
        d = d % max(ndim, 1)
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(sorted(out)) if ndim else ()  # a 0-d tensor has no dims to reduce


def _dim(dim, ndim):
    dims = _dims(dim, ndim)  # validates the range, also for a 0-d tensor
    return dims[0] if ndim else 0


def _shape_args(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _split_sections(n, split_size) -> tuple:
    """Where split(split_size) cuts a dim of size n: an int size, or a list of sizes."""
    if isinstance(split_size, int):
        sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
    else:
        sizes = list(split_size)
    return tuple(int(v) for v in np.cumsum(sizes)[:-1])


def _expand_shape(x, sizes) -> tuple:
    """The target of x.expand(*sizes) with -1 filled in, checked with PyTorch's errors."""
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(
            errors.EXPAND_TOO_FEW_SIZES.format(
                type_name=errors.torch_type_name(x.dtype),
                shape=list(x.shape),
                sizes=list(sizes),
                n=len(sizes),
                ndim=x.ndim,
            )
        )
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                    f"non-existing dimension {i}"
                )
        elif s == -1:
            s = x.shape[i - lead]
        elif s != x.shape[i - lead] and x.shape[i - lead] != 1:
            raise RuntimeError(
                errors.EXPAND_SIZE.format(
                    size=s,
                    existing=x.shape[i - lead],
                    dim=i,
                    sizes=list(sizes),
                    shape=list(x.shape),
                )
            )
        shape.append(s)
    return tuple(shape)


def _check_bool(x, message, scalar_type=False) -> None:
    if isinstance(x, TensorBase) and x.dtype != np.bool_:
        word = (errors.torch_scalar_type if scalar_type else errors.torch_typemeta_name)(x.dtype)
        raise RuntimeError(f"{message} {word}")
