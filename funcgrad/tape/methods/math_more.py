"""The Tensor's math methods of the wider PyTorch surface, on the entries of `ops_math.py`.

Like the other mixins, each method only translates PyTorch's calling conventions into a
table op and its static arguments (or composes table ops where PyTorch composes kernels, so
node names match: `outer` is a `MulBackward0`). Grouped here, apart from the original
methods: comparisons, elementwise math and its in-place forms, sorting and selection,
scans and reductions, products. Rearranging and indexing methods are in
`arrange.py`.

Example:
    >>> import funcgrad.tape as torch
    >>> x = torch.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    >>> values, indices = x.topk(2)
    >>> values.grad_fn.name(), indices.tolist()
    ('TopkBackward0', [[0, 2]])
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp

from .. import errors
from .._base import TensorBase
from .._convert import refuse_complex
from .._op import ReturnTypes
from ._args import _dim, _dims

__all__ = ["MoreMathMixin"]


def _unary(name):
    def method(self):
        return self._apply(name, self)

    method.__name__ = name
    method.__doc__ = f"Elementwise {name}, PyTorch's `Tensor.{name}`."
    return method


def _unary_inplace(name, op):
    def method(self):
        return self._inplace(op)

    method.__name__ = name
    method.__doc__ = f"In-place `{op}`: rebinds this tensor and bumps its version."
    return method


# Elementwise methods of one tensor, each one table op (ops_math.py).
_UNARY = (
    "sinh cosh asinh acosh atanh asin acos atan erfinv erfc log10 exp2 trunc frac sgn "
    "deg2rad rad2deg"
).split()
# In-place forms of elementwise ops (the out-of-place ones are in both method mixins).
_UNARY_INPLACE = (
    "cos sin tan log log1p log2 log10 sqrt rsqrt abs floor ceil round trunc frac sign sgn "
    "reciprocal square expm1 erf erfinv erfc sinh cosh asin acos atan asinh acosh atanh exp2 "
    "deg2rad rad2deg"
).split()
_ALIASES = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "fix": "trunc",
    "absolute": "abs",
    "negative": "neg",
    "true_divide": "div",
    "multiply": "mul",
    "subtract": "sub",
    "divide": "div",
    "moveaxis": "movedim",
    "greater": "gt",
    "less": "lt",
    "greater_equal": "ge",
    "less_equal": "le",
    "not_equal": "ne",
}


class MoreMathMixin(TensorBase):
    """Mixin with the Tensor's math methods of the wider PyTorch surface."""

    __slots__ = ()

    # ---------------------------------------------------------------- comparisons
    def equal(self, other) -> bool:
        """True if both have the same shape and elements (`torch.equal`)."""
        return tuple(self.shape) == tuple(other.shape) and bool(
            jnp.array_equal(self._value(), other._value())
        )

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        return bool(jnp.allclose(self._value(), other._value(), rtol, atol, equal_nan))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return self._apply(
            "isclose", self, self._operand(other), rtol=rtol, atol=atol, equal_nan=bool(equal_nan)
        )

    def isinf(self):
        return self._apply("isinf", self)

    def isfinite(self):
        return self._apply("isfinite", self)

    def isposinf(self):
        return self._apply("isposinf", self)

    def isneginf(self):
        return self._apply("isneginf", self)

    def signbit(self):
        return self._apply("signbit", self)

    def logical_and(self, other):
        return self._apply("logical_and", self, self._operand(other))

    def logical_or(self, other):
        return self._apply("logical_or", self, self._operand(other))

    def logical_xor(self, other):
        return self._apply("logical_xor", self, self._operand(other))

    def count_nonzero(self, dim=None):
        return self._apply(
            "count_nonzero", self, dim=None if dim is None else _dims(dim, self.ndim)
        )

    # ---------------------------------------------------------------- elementwise math
    # (sinh, ..., and the in-place cos_, ...: one table op each, added below the class)
    def positive(self):
        return self

    def floor_divide(self, other):
        return self._apply("floor_divide", self, self._operand(other))

    def remainder(self, other):
        return self % other

    def logit(self, eps=None):
        return self._apply("logit", self, eps=None if eps is None else float(eps))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return self._apply("nan_to_num", self, nan=nan, posinf=posinf, neginf=neginf)

    def hypot(self, other):
        return self._apply("hypot", self, self._operand(other))

    def logaddexp(self, other):
        return self._apply("logaddexp", self, self._operand(other))

    def fmod(self, other):
        if isinstance(other, (int, float)):
            return self._apply("fmod_scalar", self, other)
        return self._apply("fmod", self, self._operand(other))

    def xlogy(self, other):
        return self._apply("xlogy", self, self._operand(other))

    def _check_lerp_end(self, end) -> None:
        # PyTorch's lerp refuses an `end` of another dtype rather than promoting.
        if isinstance(end, TensorBase) and end.dtype != self.dtype:
            raise RuntimeError(
                errors.LERP_END_DTYPE.format(
                    expected=errors.torch_typemeta_name(self.dtype),
                    got=errors.torch_typemeta_name(end.dtype),
                )
            )

    def lerp(self, end, weight):
        self._check_lerp_end(end)
        if isinstance(weight, TensorBase):
            return self._apply("lerp_tensor", self, end, weight)
        refuse_complex(weight)
        return self._apply("lerp", self, end, weight=float(weight))

    def clamp_min(self, min):
        if isinstance(min, TensorBase):
            return self._apply("clamp_min_tensor", self, min)
        return self._apply("clamp_min", self, min=min)

    def clamp_max(self, max):
        if isinstance(max, TensorBase):
            return self._apply("clamp_max_tensor", self, max)
        return self._apply("clamp_max", self, max=max)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return self._apply("addcmul", self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return self._apply("addcdiv", self, tensor1, tensor2, value=value)

    def fmod_(self, other):
        if isinstance(other, (int, float)):
            return self._inplace("fmod_scalar", other)
        return self._inplace("fmod", self._operand(other))

    def remainder_(self, other):
        if isinstance(other, (int, float)):
            return self._inplace("remainder_scalar", other)
        return self._inplace("remainder", self._operand(other))

    def clamp_min_(self, min):
        if isinstance(min, TensorBase):
            return self._inplace("clamp_min_tensor", min)
        return self._inplace("clamp_min", min=min)

    def clamp_max_(self, max):
        if isinstance(max, TensorBase):
            return self._inplace("clamp_max_tensor", max)
        return self._inplace("clamp_max", max=max)

    def lerp_(self, end, weight):
        self._check_lerp_end(end)
        if isinstance(weight, TensorBase):
            return self._inplace("lerp_tensor", end, weight)
        refuse_complex(weight)
        return self._inplace("lerp", end, weight=float(weight))

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return self._inplace("addcmul", tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return self._inplace("addcdiv", tensor1, tensor2, value=value)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return self._inplace("nan_to_num", nan=nan, posinf=posinf, neginf=neginf)

    def logit_(self, eps=None):
        return self._inplace("logit", eps=None if eps is None else float(eps))

    def hardtanh_(self, min_val=-1.0, max_val=1.0):
        return self._inplace("hardtanh", min_val=float(min_val), max_val=float(max_val))

    # ---------------------------------------------------------------- sorting and selection
    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The k largest (or smallest) elements along dim, with their indices."""
        d = _dim(dim, self.ndim)
        size = self.shape[d] if self.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError("selected index k out of range")
        if self.ndim == 0:
            return ReturnTypes(*self._apply("sort", self))
        return ReturnTypes(*self._apply("topk", self, k=int(k), dim=d, largest=bool(largest)))

    def sort(self, dim=-1, descending=False, stable=False):
        return ReturnTypes(
            *self._apply("sort", self, dim=_dim(dim, self.ndim), descending=bool(descending))
        )

    def argsort(self, dim=-1, descending=False, stable=False):
        return self.detach().sort(dim, descending).indices

    def msort(self):
        return self.sort(0).values

    def median(self, dim=None, keepdim=False):
        if dim is None:
            if self.numel() == 0:
                raise NotImplementedError(errors.UNSUPPORTED.format(what="median() of nothing"))
            return self._apply("median", self)
        return ReturnTypes(
            *self._apply("median_dim", self, dim=_dim(dim, self.ndim), keepdim=bool(keepdim))
        )

    # ---------------------------------------------------------------- scans and reductions
    def cumprod(self, dim):
        return self._apply("cumprod", self, dim=_dim(dim, self.ndim))

    def logcumsumexp(self, dim):
        return self._apply("logcumsumexp", self, dim=_dim(dim, self.ndim))

    def nansum(self, dim=None, keepdim=False):
        return self._apply("nansum", self, dim=_dims(dim, self.ndim), keepdim=bool(keepdim))

    def nanmean(self, dim=None, keepdim=False):
        """nansum / the count of non-nan elements (a DivBackward0, as in PyTorch)."""
        return self.nansum(dim, keepdim) / (~self.isnan()).sum(dim, keepdim=keepdim)

    def dist(self, other, p=2):
        return self._apply("dist", self, other, p=float(p) if p != 2 else 2)

    def trace(self):
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
        return self._apply("trace", self)

    def cumsum_(self, dim):
        return self._inplace("cumsum", dim=_dim(dim, self.ndim))

    # ---------------------------------------------------------------- products
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return self._apply("addmm", self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return self._apply("baddbmm", self, batch1, batch2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return self._apply("addmv", self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return self._apply("addr", self, vec1, vec2, beta=beta, alpha=alpha)

    def outer(self, vec2):
        """Outer product; PyTorch computes it as self.reshape(-1, 1) * vec2."""
        return self.reshape(-1, 1) * vec2

    ger = outer

    def vdot(self, other):
        return self._apply("vdot", self, other)

    def cross(self, other, dim=None):
        if dim is None:  # PyTorch's deprecated default: the first dim of size 3
            warnings.warn(errors.CROSS_DIM_WARNING, UserWarning, stacklevel=2)
            dim = next((i for i, s in enumerate(self.shape) if s == 3), -1)
        return self._apply("cross", self, other, dim=_dim(dim, self.ndim))

    def det(self):
        return self._apply("det", self)

    def inverse(self):
        return self._apply("inverse", self)


def _alias(name, target):
    def method(self, *args, **kwargs):
        return getattr(self, target)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"Alias of `Tensor.{target}`."
    return method


for _name in _UNARY:
    setattr(MoreMathMixin, _name, _unary(_name))
for _name in _UNARY_INPLACE:
    setattr(MoreMathMixin, f"{_name}_", _unary_inplace(f"{_name}_", _name))
for _name, _target in _ALIASES.items():
    setattr(MoreMathMixin, _name, _alias(_name, _target))
