"""The Tensor's rearranging and indexing methods of the wider PyTorch surface, on the
entries of `ops_arrange.py`.

Like the other mixins, each method only translates PyTorch's calling conventions into a
table op and its static arguments, or composes table ops where PyTorch composes kernels
(`repeat_interleave` is an unsqueeze, expand, clone and reshape). Grouped here: in-place
reshapes, diagonals and triangles, rearranging, index-driven reads and writes, the `new_*`
constructors, and the ops whose result size depends on values (`nonzero`, `unique`,
`bincount`, `histc`, `masked_select`), which run on the host and so cannot run inside
`funcgrad.tape.jit`.

Example:
    >>> import funcgrad.tape as torch
    >>> x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> x.masked_select(x > 1.5), x.tril().grad_fn.name()
    (tensor([2., 3., 4.], grad_fn=<MaskedSelectBackward0>), 'TrilBackward0')
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import errors
from .._base import TensorBase
from .._convert import refuse_complex, to_array
from ._args import _dim, _dims, _shape_args, _split_sections

__all__ = ["ArrangeMixin"]


def _int_array(x, what):
    """An index argument as an integer array (PyTorch requires integer index tensors)."""
    array = x._data if isinstance(x, TensorBase) else jnp.asarray(x)
    if not jnp.issubdtype(array.dtype, jnp.integer):
        raise RuntimeError(f"{what}(): Expected dtype int64 for index")
    return array


def _host(x, what):
    """The values of x on the host, for ops whose result size depends on them."""
    data = x._value()
    if isinstance(data, jax.core.Tracer):
        raise RuntimeError(errors.DATA_DEPENDENT_SHAPE.format(op=what))
    return np.asarray(data)


def _matrices(x, name):
    """x, checked to be (a batch of) matrices, as PyTorch's triangle ops check."""
    if x.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return x


class ArrangeMixin(TensorBase):
    """Mixin with the Tensor's rearranging and indexing methods of the wider surface."""

    __slots__ = ()

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

    # ---------------------------------------------------------------- diagonals and triangles
    def diag(self, diagonal=0):
        if self.ndim == 1:
            return self._apply("diag_embed", self, offset=int(diagonal), dim1=0, dim2=1)
        if self.ndim != 2:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")
        return self._apply("diagonal_copy", self, offset=int(diagonal))

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return self._apply(
            "diag_embed",
            self,
            offset=int(offset),
            dim1=_dim(dim1, self.ndim + 1),
            dim2=_dim(dim2, self.ndim + 1),
        )

    def tril(self, diagonal=0):
        return self._apply("tril", _matrices(self, "tril"), diagonal=int(diagonal))

    def triu(self, diagonal=0):
        return self._apply("triu", _matrices(self, "triu"), diagonal=int(diagonal))

    def tril_(self, diagonal=0):
        return _matrices(self, "tril")._inplace("tril", diagonal=int(diagonal))

    def triu_(self, diagonal=0):
        return _matrices(self, "triu")._inplace("triu", diagonal=int(diagonal))

    # ---------------------------------------------------------------- rearranging
    def roll(self, shifts, dims=None):
        if dims is None:  # over the flattened tensor, shape kept
            shifts = shifts if isinstance(shifts, int) else tuple(shifts)[0]
            return self._apply("roll", self, shifts=int(shifts), dims=None)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if self.ndim == 0:
            raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
        return self._apply(
            "roll", self, shifts=shifts, dims=tuple(_dim(d, self.ndim) for d in dims)
        )

    def rot90(self, k=1, dims=(0, 1)):
        dims = tuple(_dim(d, self.ndim) for d in dims)
        return self._apply("rot90", self, k=int(k) % 4, dims=dims)

    def fliplr(self):
        return self.flip(1)

    def flipud(self):
        return self.flip(0)

    def movedim(self, source, destination):
        if self.ndim == 0:  # PyTorch returns an alias of a 0-d tensor
            _dim(source if isinstance(source, int) else tuple(source)[0], 0)
            return self[...]
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
        return self._apply("unfold", self, dimension=d, size=int(size), step=int(step))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Repeats each element; int repeats as PyTorch does (unsqueeze, expand, clone,
        reshape), tensor repeats as an index_select of the repeated positions."""
        x = self.flatten() if dim is None else self
        d = 0 if dim is None else _dim(dim, self.ndim)
        if isinstance(repeats, TensorBase) and repeats.numel() != 1:
            counts = _host(repeats, "repeat_interleave")
            index = np.repeat(np.arange(x.shape[d]), counts)
            return x.index_select(d, self._wrap(to_array(index)))
        n = int(repeats)
        shape = tuple(x.shape)
        expanded = x.unsqueeze(d + 1).expand(*shape[: d + 1], n, *shape[d + 1 :]).clone()
        return expanded.reshape(*shape[:d], shape[d] * n, *shape[d + 1 :])

    def unsafe_split(self, split_size, dim=0):
        """split, as copies (PyTorch's RNN cells chunk their gates this way)."""
        d = _dim(dim, self.ndim)
        sections = _split_sections(self.shape[d], split_size)
        return self._apply("unsafe_split", self, sections=sections, dim=d)

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
        return self._apply("index_select", self, index, dim=_dim(dim, self.ndim))

    def take(self, index):
        return self._apply("take", self, _int_array(index, "take"))

    def take_along_dim(self, indices, dim=None):
        if dim is None:
            return self.flatten().gather(0, indices.flatten())
        return self.gather(dim, indices)

    def masked_select(self, mask):
        """The elements where mask (broadcast with self) is True, as a 1-D tensor."""
        shape = tuple(np.broadcast_shapes(tuple(self.shape), tuple(mask.shape)))
        positions = np.flatnonzero(np.broadcast_to(_host(mask, "masked_select"), shape))
        return self._apply("masked_select", self, mask, to_array(positions), shape=shape)

    def nonzero(self, *, as_tuple=False):
        found = np.nonzero(_host(self, "nonzero"))
        if as_tuple:
            return tuple(self._wrap(to_array(i)) for i in found)
        return self._wrap(to_array(np.stack(found, axis=1) if found else np.zeros((1, 0), int)))

    def argwhere(self):
        return self.nonzero()

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        if dim is not None:
            raise NotImplementedError(errors.UNSUPPORTED.format(what="unique(dim=...)"))
        values, inverse, counts = np.unique(
            _host(self, "unique"), return_inverse=True, return_counts=True
        )
        out = [self._wrap(to_array(values))]
        if return_inverse:
            out.append(self._wrap(to_array(inverse.reshape(self.shape))))
        if return_counts:
            out.append(self._wrap(to_array(counts)))
        return out[0] if len(out) == 1 else tuple(out)

    def bincount(self, weights=None, minlength=0):
        values = _host(self, "bincount")
        if values.ndim != 1 or (values.size and values.min() < 0):
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        w = None if weights is None else _host(weights, "bincount")
        counts = np.bincount(values, weights=w, minlength=minlength)
        dtype = None if w is None else np.dtype(weights.dtype)
        return self._wrap(to_array(counts if dtype is None else counts.astype(dtype)))

    def histc(self, bins=100, min=0, max=0):
        values = _host(self, "histc")
        lo, hi = (float(values.min()), float(values.max())) if min == max == 0 else (min, max)
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        inside = values[(values >= lo) & (values <= hi)]
        counts, _ = np.histogram(inside, bins=bins, range=(lo, hi))
        return self._wrap(to_array(counts.astype(np.dtype(self.dtype))))

    # ---------------------------------------------------------------- index-driven writes
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        name, inputs, static = self._scatter_args(dim, index, src, value, reduce)
        return self._apply(name, self, *inputs, **static)

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
        if isinstance(src, TensorBase):
            return "scatter", (index, src), {"dim": d}
        return "scatter_value", (index,), {"dim": d, "value": float(src)}

    def scatter_add(self, dim, index, src):
        return self._apply("scatter_add", self, _int_array(index, "scatter_add"), src,
                     dim=_dim(dim, self.ndim))  # fmt: skip

    def scatter_add_(self, dim, index, src):
        return self._inplace(
            "scatter_add", _int_array(index, "scatter_add"), src, dim=_dim(dim, self.ndim)
        )

    def index_add(self, dim, index, source, *, alpha=1):
        return self._apply("index_add", self, _int_array(index, "index_add"), source,
                     dim=_dim(dim, self.ndim), alpha=alpha)  # fmt: skip

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace("index_add", _int_array(index, "index_add"), source,
                             dim=_dim(dim, self.ndim), alpha=alpha)  # fmt: skip

    def index_fill(self, dim, index, value):
        return self._apply("index_fill", self, _int_array(index, "index_fill"),
                     dim=_dim(dim, self.ndim), value=float(value))  # fmt: skip

    def index_fill_(self, dim, index, value):
        return self._inplace("index_fill", _int_array(index, "index_fill"),
                             dim=_dim(dim, self.ndim), value=float(value))  # fmt: skip

    def index_copy(self, dim, index, source):
        return self._apply("index_copy", self, _int_array(index, "index_copy"), source,
                     dim=_dim(dim, self.ndim))  # fmt: skip

    def index_copy_(self, dim, index, source):
        return self._inplace("index_copy", _int_array(index, "index_copy"), source,
                             dim=_dim(dim, self.ndim))  # fmt: skip

    # ---------------------------------------------------------------- new tensors like this one
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A new leaf from data, with this tensor's dtype and device unless given."""
        array = data._value() if isinstance(data, TensorBase) else np.asarray(data)
        if array.dtype.kind == "c" and not hasattr(data, "dtype"):  # Python complex data
            raise TypeError(errors.REAL_NOT_COMPLEX)
        return self._new(array, dtype, device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(np.zeros(_shape_args(size)), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(np.ones(_shape_args(size)), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        refuse_complex(fill_value)
        array = np.full(_shape_args((size,)), fill_value)
        return self._new(array, dtype, device, requires_grad)

    def _new(self, array, dtype, device, requires_grad):
        out = self._wrap(to_array(array, self.dtype if dtype is None else dtype))
        out = out.to(device=self.device if device is None else device)
        return out.requires_grad_(True) if requires_grad else out
