"""Indexing methods of `Tensor`: `x[key]`, `x[key] = v`, `masked_fill`, `gather`, `where`.

The key goes through the index codec (indexing.py); a write `x[key] = v` is, as in PyTorch,
`x[key].copy_(v)` through a view for basic indexing (x's grad_fn becomes CopySlices), or
an in-place `index_put` / `fill_` / `copy_` of x itself, with PyTorch's checks.
"""

from __future__ import annotations

import numpy as np

from .. import errors, indexing
from .._base import TensorBase
from .._convert import refuse_complex
from ..grad_mode import is_grad_enabled
from ._args import _check_bool, _dim, _expand_shape

__all__ = ["IndexMixin"]


class IndexMixin(TensorBase):
    """Reading and writing through an index."""

    __slots__ = ()

    def masked_fill(self, mask, value):
        _check_bool(mask, "masked_fill_ only supports boolean masks, but got mask with dtype")
        refuse_complex(value)
        return self._apply(
            "masked_fill",
            self,
            mask,
            float(value) if not isinstance(value, TensorBase) else value.item(),
        )

    def gather(self, dim, index):
        if not np.issubdtype(index.dtype, np.integer):
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        return self._apply("gather", self, index, dim=_dim(dim, self.ndim))

    def where(self, condition, other):
        condition = self._operand(condition)
        _check_bool(condition, "where expected condition to be a boolean tensor, but got a "
                    "tensor with dtype", scalar_type=True)  # fmt: skip
        return self._apply("where", condition, self, self._operand(other))

    def __getitem__(self, key):
        if isinstance(key, (bool, np.bool_)):  # PyTorch: unsqueeze, then a mask of one
            return self.unsqueeze(0)[np.arange(int(key), dtype=np.int32)]
        index, arrays = indexing.encode(key)
        indexing.check(index, arrays, self.shape)
        if arrays:
            return self._apply("index", self, *arrays, index=index)
        return self._apply(indexing.basic_op(key, index, self.shape), self, index=index)

    def __setitem__(self, key, value):
        index, arrays = indexing.encode(key)
        indexing.check(index, arrays, self.shape)
        if self._grad_fn is None and self._requires_grad and is_grad_enabled():
            if indexing.writes_a_view(index, self.shape):  # PyTorch's wording for this case
                raise RuntimeError(errors.LEAF_VIEW_INPLACE + errors.LEAF_INPLACE_HINT)
        value = self._operand(value)
        if isinstance(value, TensorBase) and value.ndim:  # PyTorch expands it to the slice
            _expand_shape(value, indexing.selected_shape(index, arrays, self.shape))
        if arrays:
            self._inplace("index_put", value, *arrays, index=index)
        elif indexing.writes_a_view(index, self.shape):
            self[key]._inplace("copy", value)
        else:  # x[:] = v, x[...] = v: PyTorch writes x itself
            self._inplace("fill" if not isinstance(value, TensorBase) else "copy", value)
