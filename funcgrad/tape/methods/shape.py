"""Shape and view methods of `Tensor`: `reshape`, `transpose`, `expand`, `split`, ...

Their ops are views in PyTorch (they share the base's version counter); the reshape and
expand targets are checked with PyTorch's errors before the op runs.
"""

from __future__ import annotations

import numpy as np

from .. import errors
from .._base import TensorBase
from ._args import _dim, _dims, _expand_shape, _required, _shape_args, _split_sections

__all__ = ["ShapeMixin"]


def _infer_shape(shape, numel) -> tuple:
    """A reshape target with its -1 filled in, checked with PyTorch's errors."""
    known, infer = 1, None
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(shape)}")
        else:
            known *= s
    if infer is not None:
        if known == 0:
            if numel == 0:
                raise RuntimeError(
                    f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                    "unspecified dimension size -1 can be any value and is ambiguous"
                )
        elif numel % known == 0:
            return shape[:infer] + (numel // known,) + shape[infer + 1 :]
    elif known == numel:
        return shape
    raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")


class ShapeMixin(TensorBase):
    """Reshaping, transposing, expanding, splitting."""

    __slots__ = ()

    def reshape(self, *shape):
        _required(shape, "reshape", "shape")
        return self._apply("view", self, shape=_infer_shape(_shape_args(shape), self.numel()))

    def view(self, *shape):
        return self._apply("view", self, shape=_infer_shape(_shape_args(shape), self.numel()))

    def view_as(self, other):
        return self.view(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _dim(start_dim, self.ndim), _dim(end_dim, self.ndim)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return self  # as PyTorch: the tensor itself, not a view
        shape = self.shape
        return self.reshape(shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :])

    def unflatten(self, dim, sizes):
        d = _dim(dim, self.ndim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def transpose(self, dim0, dim1):
        return self._apply(
            "transpose", self, dim0=_dim(dim0, self.ndim), dim1=_dim(dim1, self.ndim)
        )

    swapaxes = swapdims = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )
        return self._apply("t", self)

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def permute(self, *dims):
        _required(dims, "permute", "dims")
        dims = _shape_args(dims)
        if len(dims) != self.ndim:
            raise RuntimeError(errors.PERMUTE_DIMS.format(ndim=self.ndim, n=len(dims)))
        dims = tuple(_dim(d, self.ndim) for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        return self._apply("permute", self, dims=dims)

    def squeeze(self, dim=None):
        if dim is None:
            return self._apply("squeeze", self)
        dims = tuple(d for d in _dims(dim, self.ndim) if self.shape[d] == 1) if self.ndim else ()
        return self._apply("squeeze_dim", self, dim=dims)

    def unsqueeze(self, dim):
        return self._apply("unsqueeze", self, dim=_dim(dim, self.ndim + 1))

    def expand(self, *sizes):
        _required(sizes, "expand", "size")
        return self._apply("expand", self, shape=_expand_shape(self, _shape_args(sizes)))

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *repeats):
        _required(repeats, "repeat", "repeats")
        repeats = _shape_args(repeats)
        if len(repeats) < self.ndim:
            raise RuntimeError(
                "Number of dimensions of repeat dims can not be smaller than number of "
                "dimensions of tensor"
            )
        return self._apply("repeat", self, repeats=repeats)

    def flip(self, *dims):
        _required(dims, "flip", "dims")
        return self._apply("flip", self, dims=_dims(_shape_args(dims), self.ndim))

    def clone(self):
        return self._apply("clone", self)

    def contiguous(self):
        return self

    def split(self, split_size, dim=0):
        d = _dim(dim, self.ndim)
        sections = _split_sections(self.shape[d], split_size)
        # A list of sizes is PyTorch's split_with_sizes (its own node name).
        name = "split" if isinstance(split_size, int) else "split_with_sizes"
        return self._apply(name, self, sections=sections, dim=d)

    def chunk(self, chunks, dim=0):
        n = self.shape[_dim(dim, self.ndim)]
        return self.split(-(-n // chunks), dim)

    def unbind(self, dim=0):
        return self._apply("unbind", self, dim=_dim(dim, self.ndim))

    def diagonal(self, offset=0, dim1=0, dim2=1):
        d1, d2 = _dim(dim1, self.ndim), _dim(dim2, self.ndim)
        if d1 == d2:
            raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
        return self._apply("diagonal", self, offset=int(offset), dim1=d1, dim2=d2)

    def narrow(self, dim, start, length):
        d = _dim(dim, self.ndim)
        key = (slice(None),) * d + (slice(start, start + length),)
        return self[key]

    def select(self, dim, index):
        d = _dim(dim, self.ndim)
        return self[(slice(None),) * d + (index,)]
