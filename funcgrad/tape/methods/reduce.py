"""Reductions of `Tensor`: `sum`, `mean`, `max`, `var`, ... with PyTorch's `dim` conventions.

A `dim` is an int, a tuple or None; negative dims count from the end; a 0-d tensor has no
dims to reduce. `max(dim)` / `min(dim)` return `(values, indices)` as PyTorch does.
"""

from __future__ import annotations

import jax.numpy as jnp

from .. import errors
from .._base import TensorBase
from ._args import _dim, _dims

__all__ = ["ReduceMixin"]


class ReduceMixin(TensorBase):
    """Reductions over all elements or along `dim`."""

    __slots__ = ()

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if dim is None:
            return self._apply("sum", x)
        return self._apply("sum_dim", x, dim=_dims(dim, x.ndim), keepdim=keepdim)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {errors.torch_scalar_type(x.dtype)}"
            )
        if dim is None:
            return self._apply("mean", x)
        return self._apply("mean_dim", x, dim=_dims(dim, x.ndim), keepdim=keepdim)

    def prod(self, dim=None, keepdim=False):
        return self._apply(
            "prod", self, dim=None if dim is None else _dim(dim, self.ndim), keepdim=keepdim
        )

    def _minmax(self, name, dim, keepdim):
        if dim is None:
            if self.numel() == 0:
                raise RuntimeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument."
                )
            return self._apply(name, self)
        if isinstance(dim, TensorBase):
            return self._apply("maximum" if name == "max" else "minimum", self, dim)
        d = _dim(dim, self.ndim)
        if self.ndim and self.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return self._apply(f"{name}_dim", self, dim=d, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        return self._minmax("max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return self._minmax("min", dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return self._apply(
            "amax", self, dim=_dims(dim, self.ndim) or tuple(range(self.ndim)), keepdim=keepdim
        )

    def amin(self, dim=(), keepdim=False):
        return self._apply(
            "amin", self, dim=_dims(dim, self.ndim) or tuple(range(self.ndim)), keepdim=keepdim
        )

    def argmax(self, dim=None, keepdim=False):
        return self._apply(
            "argmax", self, dim=None if dim is None else _dim(dim, self.ndim), keepdim=keepdim
        )

    def argmin(self, dim=None, keepdim=False):
        return self._apply(
            "argmin", self, dim=None if dim is None else _dim(dim, self.ndim), keepdim=keepdim
        )

    def logsumexp(self, dim, keepdim=False):
        return self._apply("logsumexp", self, dim=_dims(dim, self.ndim), keepdim=keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        correction = (1 if unbiased else 0) if correction is None else correction
        return self._apply(
            "var", self, dim=_dims(dim, self.ndim), correction=correction, keepdim=keepdim
        )

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        correction = (1 if unbiased else 0) if correction is None else correction
        return self._apply(
            "std", self, dim=_dims(dim, self.ndim), correction=correction, keepdim=keepdim
        )

    def norm(self, p="fro", dim=None, keepdim=False):
        p = 2 if p == "fro" else p
        return self._apply("norm", self, p=p, dim=_dims(dim, self.ndim), keepdim=keepdim)

    def cumsum(self, dim):
        return self._apply("cumsum", self, dim=_dim(dim, self.ndim))

    def all(self, dim=None):
        return self._apply("all", self, dim=dim)

    def any(self, dim=None):
        return self._apply("any", self, dim=dim)
