"""More of the Tensor's methods: the wider PyTorch surface, on the entries of `ops_math.py`.

Like `tensor_methods.py`, each method only translates PyTorch's calling conventions into a
table op and its static arguments (or composes table ops where PyTorch composes kernels, so
node names match: `outer` is a `MulBackward0`). Grouped here, apart from the original
methods: comparisons, elementwise math and its in-place forms, sorting and selection,
products, diagonals and triangles, index-driven reads and writes, the `new_*` constructors,
and the ops whose result size depends on values (`nonzero`, `unique`, `bincount`, `histc`,
`masked_select`), which run on the host and so cannot run inside `funcgrad.tape.jit`.

Example:
    >>> import funcgrad.tape as torch
    >>> x = torch.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    >>> values, indices = x.topk(2)
    >>> values.grad_fn.name(), indices.tolist()
    ('TopkBackward0', [[0, 2]])
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from . import ops as _ops
from .ops import ReturnTypes, apply
from .tensor_methods import _dim, _dims, _operand, _shape_args, _split_sections


def _tensor_cls():
    return _ops.Tensor


def _is_tensor(x) -> bool:
    return isinstance(x, _tensor_cls())


def _wrap(array):
    return _tensor_cls()._wrap(array)


def _int_array(x, what):
    """An index argument as an integer array (PyTorch requires integer index tensors)."""
    array = x._data if _is_tensor(x) else jnp.asarray(x)
    if not jnp.issubdtype(array.dtype, jnp.integer):
        raise RuntimeError(f"{what}(): Expected dtype int64 for index")
    return array


def _host(x, what):
    """The values of x on the host, for ops whose result size depends on them."""
    data = x._value()
    if isinstance(data, jax.core.Tracer):
        raise RuntimeError(errors.DATA_DEPENDENT_SHAPE.format(op=what))
    return np.asarray(data)


def _unary(name):
    def method(self):
        return apply(name, self)

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


class MoreTensorMethods:
    """Mixin with the Tensor methods of the wider PyTorch surface (see the module doc)."""

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
        return apply(
            "isclose", self, _operand(other), rtol=rtol, atol=atol, equal_nan=bool(equal_nan)
        )

    def isinf(self):
        return apply("isinf", self)

    def isfinite(self):
        return apply("isfinite", self)

    def isposinf(self):
        return apply("isposinf", self)

    def isneginf(self):
        return apply("isneginf", self)

    def signbit(self):
        return apply("signbit", self)

    def logical_and(self, other):
        return apply("logical_and", self, _operand(other))

    def logical_or(self, other):
        return apply("logical_or", self, _operand(other))

    def logical_xor(self, other):
        return apply("logical_xor", self, _operand(other))

    def count_nonzero(self, dim=None):
        return apply("count_nonzero", self, dim=None if dim is None else _dims(dim, self.ndim))

    # ---------------------------------------------------------------- elementwise math
    # (sinh, ..., and the in-place cos_, ...: one table op each, added below the class)
    def positive(self):
        return self

    def floor_divide(self, other):
        return apply("floor_divide", self, _operand(other))

    def remainder(self, other):
        return self % other

    def logit(self, eps=None):
        return apply("logit", self, eps=None if eps is None else float(eps))

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return apply("nan_to_num", self, nan=nan, posinf=posinf, neginf=neginf)

    def hypot(self, other):
        return apply("hypot", self, _operand(other))

    def logaddexp(self, other):
        return apply("logaddexp", self, _operand(other))

    def fmod(self, other):
        if isinstance(other, (int, float)):
            return apply("fmod_scalar", self, other)
        return apply("fmod", self, _operand(other))

    def xlogy(self, other):
        return apply("xlogy", self, _operand(other))

    def lerp(self, end, weight):
        if _is_tensor(weight):
            return apply("lerp_tensor", self, end, weight)
        return apply("lerp", self, end, weight=float(weight))

    def clamp_min(self, min):
        if _is_tensor(min):
            return apply("clamp_min_tensor", self, min)
        return apply("clamp_min", self, min=min)

    def clamp_max(self, max):
        if _is_tensor(max):
            return apply("clamp_max_tensor", self, max)
        return apply("clamp_max", self, max=max)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return apply("addcmul", self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return apply("addcdiv", self, tensor1, tensor2, value=value)

    def fmod_(self, other):
        if isinstance(other, (int, float)):
            return self._inplace("fmod_scalar", other)
        return self._inplace("fmod", _operand(other))

    def remainder_(self, other):
        if isinstance(other, (int, float)):
            return self._inplace("remainder_scalar", other)
        return self._inplace("remainder", _operand(other))

    def clamp_min_(self, min):
        if _is_tensor(min):
            return self._inplace("clamp_min_tensor", min)
        return self._inplace("clamp_min", min=min)

    def clamp_max_(self, max):
        if _is_tensor(max):
            return self._inplace("clamp_max_tensor", max)
        return self._inplace("clamp_max", max=max)

    def lerp_(self, end, weight):
        if _is_tensor(weight):
            return self._inplace("lerp_tensor", end, weight)
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

    # ---------------------------------------------------------------- shapes changed in place
    def unsqueeze_(self, dim):
        return self._inplace("unsqueeze_inplace", dim=_dim(dim, self.ndim + 1))

    def squeeze_(self, dim=None):
        if dim is None:
            return self._inplace("squeeze_inplace")
        name = "squeeze_dim_inplace" if isinstance(dim, int) else "squeeze_dims_inplace"
        dims = tuple(d for d in _dims(dim, self.ndim) if self.shape[d] == 1) if self.ndim else ()
        return self._inplace(name, dim=dims)

    def t_(self):
        if self.ndim > 2:
            raise RuntimeError(
                f"t_() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )
        return self._inplace("t_inplace")

    def transpose_(self, dim0, dim1):
        return self._inplace(
            "transpose_inplace", dim0=_dim(dim0, self.ndim), dim1=_dim(dim1, self.ndim)
        )

    swapaxes_ = swapdims_ = transpose_

    # ---------------------------------------------------------------- sorting and selection
    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The k largest (or smallest) elements along dim, with their indices."""
        d = _dim(dim, self.ndim)
        size = self.shape[d] if self.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError("selected index k out of range")
        if self.ndim == 0:
            return ReturnTypes(*apply("sort", self))
        return ReturnTypes(*apply("topk", self, k=int(k), dim=d, largest=bool(largest)))

    def sort(self, dim=-1, descending=False, stable=False):
        return ReturnTypes(
            *apply("sort", self, dim=_dim(dim, self.ndim), descending=bool(descending))
        )

    def argsort(self, dim=-1, descending=False, stable=False):
        return self.detach().sort(dim, descending).indices

    def msort(self):
        return self.sort(0).values

    def median(self, dim=None, keepdim=False):
        if dim is None:
            if self.numel() == 0:
                raise NotImplementedError(errors.UNSUPPORTED.format(what="median() of nothing"))
            return apply("median", self)
        return ReturnTypes(
            *apply("median_dim", self, dim=_dim(dim, self.ndim), keepdim=bool(keepdim))
        )

    # ---------------------------------------------------------------- scans and reductions
    def cumprod(self, dim):
        return apply("cumprod", self, dim=_dim(dim, self.ndim))

    def logcumsumexp(self, dim):
        return apply("logcumsumexp", self, dim=_dim(dim, self.ndim))

    def nansum(self, dim=None, keepdim=False):
        return apply("nansum", self, dim=_dims(dim, self.ndim), keepdim=bool(keepdim))

    def nanmean(self, dim=None, keepdim=False):
        """nansum / the count of non-nan elements (a DivBackward0, as in PyTorch)."""
        return self.nansum(dim, keepdim) / (~self.isnan()).sum(dim, keepdim=keepdim)

    def dist(self, other, p=2):
        return apply("dist", self, other, p=float(p) if p != 2 else 2)

    def trace(self):
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
        return apply("trace", self)

    def cumsum_(self, dim):
        return self._inplace("cumsum", dim=_dim(dim, self.ndim))

    # ---------------------------------------------------------------- products
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return apply("addmm", self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return apply("baddbmm", self, batch1, batch2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return apply("addmv", self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return apply("addr", self, vec1, vec2, beta=beta, alpha=alpha)

    def outer(self, vec2):
        """Outer product; PyTorch computes it as self.reshape(-1, 1) * vec2."""
        return self.reshape(-1, 1) * vec2

    ger = outer

    def vdot(self, other):
        return apply("vdot", self, other)

    def cross(self, other, dim=None):
        if dim is None:  # PyTorch's deprecated default: the first dim of size 3
            warnings.warn(errors.CROSS_DIM_WARNING, UserWarning, stacklevel=2)
            dim = next((i for i, s in enumerate(self.shape) if s == 3), -1)
        return apply("cross", self, other, dim=_dim(dim, self.ndim))

    def det(self):
        return apply("det", self)

    def inverse(self):
        return apply("inverse", self)

    # ---------------------------------------------------------------- diagonals and triangles
    def diagonal(self, offset=0, dim1=0, dim2=1):
        return apply(
            "diagonal",
            self,
            offset=int(offset),
            dim1=_dim(dim1, self.ndim),
            dim2=_dim(dim2, self.ndim),
        )

    def diag(self, diagonal=0):
        if self.ndim == 1:
            return apply("diag_embed", self, offset=int(diagonal), dim1=0, dim2=1)
        if self.ndim != 2:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")
        return apply("diagonal_copy", self, offset=int(diagonal))

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return apply(
            "diag_embed",
            self,
            offset=int(offset),
            dim1=_dim(dim1, self.ndim + 1),
            dim2=_dim(dim2, self.ndim + 1),
        )

    def tril(self, diagonal=0):
        return apply("tril", self, diagonal=int(diagonal))

    def triu(self, diagonal=0):
        return apply("triu", self, diagonal=int(diagonal))

    def tril_(self, diagonal=0):
        return self._inplace("tril", diagonal=int(diagonal))

    def triu_(self, diagonal=0):
        return self._inplace("triu", diagonal=int(diagonal))

    # ---------------------------------------------------------------- rearranging
    def roll(self, shifts, dims=None):
        if dims is None:  # over the flattened tensor, shape kept
            shifts = shifts if isinstance(shifts, int) else tuple(shifts)[0]
            return apply("roll", self, shifts=int(shifts), dims=None)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        return apply("roll", self, shifts=shifts, dims=tuple(_dim(d, self.ndim) for d in dims))

    def rot90(self, k=1, dims=(0, 1)):
        dims = tuple(_dim(d, self.ndim) for d in dims)
        return apply("rot90", self, k=int(k) % 4, dims=dims)

    def fliplr(self):
        return self.flip(1)

    def flipud(self):
        return self.flip(0)

    def movedim(self, source, destination):
        src = (source,) if isinstance(source, int) else tuple(source)
        dst = (destination,) if isinstance(destination, int) else tuple(destination)
        src = [_dim(d, self.ndim) for d in src]
        dst = [_dim(d, self.ndim) for d in dst]
        order = [d for d in range(self.ndim) if d not in src]
        perm = [None] * self.ndim
        for s, d in zip(src, dst):
            perm[d] = s
        rest = iter(order)
        return self.permute(*[p if p is not None else next(rest) for p in perm])

    def broadcast_to(self, *size):
        return self.expand(*size)

    def tile(self, *dims):
        dims = _shape_args(dims)
        dims = (1,) * (self.ndim - len(dims)) + dims
        return self.repeat(*dims)

    def ravel(self):
        return self.reshape(-1)

    def unfold(self, dimension, size, step):
        d = _dim(dimension, self.ndim)
        return apply("unfold", self, dimension=d, size=int(size), step=int(step))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Repeats each element; int repeats as PyTorch does (unsqueeze, expand, reshape),
        tensor repeats as an index_select of the repeated positions."""
        x = self.flatten() if dim is None else self
        d = 0 if dim is None else _dim(dim, self.ndim)
        if _is_tensor(repeats) and repeats.numel() != 1:
            counts = _host(repeats, "repeat_interleave")
            index = np.repeat(np.arange(x.shape[d]), counts)
            return x.index_select(d, _wrap(jnp.asarray(index)))
        n = int(repeats)
        shape = tuple(x.shape)
        expanded = x.unsqueeze(d + 1).expand(*shape[: d + 1], n, *shape[d + 1 :])
        return expanded.reshape(*shape[:d], shape[d] * n, *shape[d + 1 :])

    def unsafe_split(self, split_size, dim=0):
        """split, as copies (PyTorch's RNN cells chunk their gates this way)."""
        d = _dim(dim, self.ndim)
        sections = _split_sections(self.shape[d], split_size)
        return apply("unsafe_split", self, sections=sections, dim=d)

    def unsafe_chunk(self, chunks, dim=0):
        n = self.shape[_dim(dim, self.ndim)]
        return self.unsafe_split(-(-n // chunks), dim)

    def tensor_split(self, sections, dim=0):
        d = _dim(dim, self.ndim)
        n = self.shape[d]
        if isinstance(sections, int):
            q, r = divmod(n, sections)
            sizes = [q + 1] * r + [q] * (sections - r)
            bounds = np.cumsum([0] + sizes)
        else:
            bounds = [0, *sections, n]
        return tuple(
            self.narrow(d, int(a), int(max(min(b, n) - min(a, n), 0)))
            for a, b in zip(bounds[:-1], bounds[1:])
        )

    # ---------------------------------------------------------------- index-driven reads
    def index_select(self, dim, index):
        index = _int_array(index, "index_select")
        if index.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        return apply("index_select", self, index, dim=_dim(dim, self.ndim))

    def take(self, index):
        return apply("take", self, _int_array(index, "take"))

    def take_along_dim(self, indices, dim=None):
        if dim is None:
            return self.flatten().gather(0, indices.flatten())
        return self.gather(dim, indices)

    def masked_select(self, mask):
        """The elements where mask (broadcast with self) is True, as a 1-D tensor."""
        shape = tuple(np.broadcast_shapes(tuple(self.shape), tuple(mask.shape)))
        positions = np.flatnonzero(np.broadcast_to(_host(mask, "masked_select"), shape))
        return apply("masked_select", self, mask, jnp.asarray(positions), shape=shape)

    def nonzero(self, *, as_tuple=False):
        found = np.nonzero(_host(self, "nonzero"))
        if as_tuple:
            return tuple(_wrap(jnp.asarray(i)) for i in found)
        return _wrap(jnp.asarray(np.stack(found, axis=1) if found else np.zeros((1, 0), int)))

    def argwhere(self):
        return self.nonzero()

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        if dim is not None:
            raise NotImplementedError(errors.UNSUPPORTED.format(what="unique(dim=...)"))
        values, inverse, counts = np.unique(
            _host(self, "unique"), return_inverse=True, return_counts=True
        )
        out = [_wrap(jnp.asarray(values))]
        if return_inverse:
            out.append(_wrap(jnp.asarray(inverse.reshape(self.shape))))
        if return_counts:
            out.append(_wrap(jnp.asarray(counts)))
        return out[0] if len(out) == 1 else tuple(out)

    def bincount(self, weights=None, minlength=0):
        values = _host(self, "bincount")
        if values.ndim != 1 or (values.size and values.min() < 0):
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        w = None if weights is None else _host(weights, "bincount")
        counts = np.bincount(values, weights=w, minlength=minlength)
        dtype = None if w is None else np.dtype(weights.dtype)
        return _wrap(jnp.asarray(counts if dtype is None else counts.astype(dtype)))

    def histc(self, bins=100, min=0, max=0):
        values = _host(self, "histc")
        lo, hi = (float(values.min()), float(values.max())) if min == max == 0 else (min, max)
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        inside = values[(values >= lo) & (values <= hi)]
        counts, _ = np.histogram(inside, bins=bins, range=(lo, hi))
        return _wrap(jnp.asarray(counts.astype(np.dtype(self.dtype))))

    # ---------------------------------------------------------------- index-driven writes
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        name, inputs, static = self._scatter_args(dim, index, src, value, reduce)
        return apply(name, self, *inputs, **static)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        name, inputs, static = self._scatter_args(dim, index, src, value, reduce)
        return self._inplace(name, *inputs, **static)

    def _scatter_args(self, dim, index, src, value, reduce):
        """(op, inputs after self, static args) of scatter with a tensor or a number."""
        if reduce is not None:
            raise NotImplementedError(errors.UNSUPPORTED.format(what="scatter(reduce=...)"))
        index = _int_array(index, "scatter")
        d = _dim(dim, self.ndim)
        src = value if src is None else src
        if _is_tensor(src):
            return "scatter", (index, src), {"dim": d}
        return "scatter_value", (index,), {"dim": d, "value": float(src)}

    def scatter_add(self, dim, index, src):
        return apply("scatter_add", self, _int_array(index, "scatter_add"), src,
                     dim=_dim(dim, self.ndim))  # fmt: skip

    def scatter_add_(self, dim, index, src):
        return self._inplace(
            "scatter_add", _int_array(index, "scatter_add"), src, dim=_dim(dim, self.ndim)
        )

    def index_add(self, dim, index, source, *, alpha=1):
        return apply("index_add", self, _int_array(index, "index_add"), source,
                     dim=_dim(dim, self.ndim), alpha=alpha)  # fmt: skip

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace("index_add", _int_array(index, "index_add"), source,
                             dim=_dim(dim, self.ndim), alpha=alpha)  # fmt: skip

    def index_fill(self, dim, index, value):
        return apply("index_fill", self, _int_array(index, "index_fill"),
                     dim=_dim(dim, self.ndim), value=float(value))  # fmt: skip

    def index_fill_(self, dim, index, value):
        return self._inplace("index_fill", _int_array(index, "index_fill"),
                             dim=_dim(dim, self.ndim), value=float(value))  # fmt: skip

    def index_copy(self, dim, index, source):
        return apply("index_copy", self, _int_array(index, "index_copy"), source,
                     dim=_dim(dim, self.ndim))  # fmt: skip

    def index_copy_(self, dim, index, source):
        return self._inplace("index_copy", _int_array(index, "index_copy"), source,
                             dim=_dim(dim, self.ndim))  # fmt: skip

    # ---------------------------------------------------------------- new tensors like this one
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A new leaf from data, with this tensor's dtype and device unless given."""
        array = data._value() if _is_tensor(data) else np.asarray(data)
        return self._new(jnp.asarray(array), dtype, device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(jnp.zeros(_shape_args(size)), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(jnp.ones(_shape_args(size)), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        array = jnp.full(_shape_args((size,)), fill_value)
        return self._new(array, dtype, device, requires_grad)

    def _new(self, array, dtype, device, requires_grad):
        out = _wrap(array.astype(self.dtype if dtype is None else dtype))
        out = out.to(device=self.device if device is None else device)
        return out.requires_grad_(True) if requires_grad else out


def _alias(name, target):
    def method(self, *args, **kwargs):
        return getattr(self, target)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"Alias of `Tensor.{target}`."
    return method


for _name in _UNARY:
    setattr(MoreTensorMethods, _name, _unary(_name))
for _name in _UNARY_INPLACE:
    setattr(MoreTensorMethods, f"{_name}_", _unary_inplace(f"{_name}_", _name))
for _name, _target in _ALIASES.items():
    setattr(MoreTensorMethods, _name, _alias(_name, _target))
