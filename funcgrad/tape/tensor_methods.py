"""The Tensor's op methods: argument handling in PyTorch's conventions, then `ops.apply`.

Each method only translates PyTorch's calling conventions (`dim` as int or tuple, negative
dims, `*shape` varargs, Python scalars) into a table op and its static arguments. The
supported methods are listed one by one; anything else is an AttributeError, never a
guess.
"""

from __future__ import annotations

import numpy as np

from . import errors
from .grad_mode import is_grad_enabled
from .ops import apply


def _tensor_cls():
    from .tensor import Tensor

    return Tensor


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
        out.append(d % max(ndim, 1))
    return tuple(sorted(out))


def _dim(dim, ndim):
    return _dims(dim, ndim)[0] if ndim else 0


def _shape_args(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _operand(x):
    """Python scalars pass through (weakly typed, like PyTorch's wrapped numbers)."""
    Tensor = _tensor_cls()
    if isinstance(x, (Tensor, bool, int, float)):
        return x
    from .creation import as_tensor

    return as_tensor(x)


def _dtype_name(dtype) -> str:
    from .creation import _canonical_dtype

    return np.dtype(_canonical_dtype(dtype)).name


_INDEX_TYPES = (int, slice, type(None), type(Ellipsis))


def _encode_index(key):
    """Encodes an index as a hashable static key plus the index arrays it uses."""
    Tensor = _tensor_cls()
    key = key if isinstance(key, tuple) else (key,)
    encoded, arrays = [], []
    for k in key:
        if isinstance(k, Tensor) and k.ndim == 0 and not k.dtype == np.bool_:
            k = int(k.item())
        if isinstance(k, (bool, np.bool_)):
            k = [bool(k)]
        if isinstance(k, (int, np.integer)):
            encoded.append(int(k))
        elif isinstance(k, slice):
            encoded.append(
                ("slice",) + tuple(None if v is None else int(v) for v in (k.start, k.stop, k.step))
            )
        elif k is None:
            encoded.append("None")
        elif k is Ellipsis:
            encoded.append("...")
        else:
            idx = np.asarray(k._value() if isinstance(k, Tensor) else k)
            if idx.dtype == np.bool_:
                # A boolean mask selects a data-dependent number of elements: resolved here,
                # eagerly, into integer indices (one array per masked dimension).
                for a in np.nonzero(idx):
                    encoded.append(("array", len(arrays)))
                    arrays.append(a.astype(np.int32))
                continue
            if not np.issubdtype(idx.dtype, np.integer):
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            encoded.append(("array", len(arrays)))
            arrays.append(idx)
    return tuple(encoded), arrays


class TensorMethods:
    """Mixin with every op method of `Tensor`."""

    __slots__ = ()

    # ---------------------------------------------------------------- arithmetic
    def add(self, other, *, alpha=1):
        return apply("add", self, _operand(other), alpha=alpha)

    def sub(self, other, *, alpha=1):
        return apply("sub", self, _operand(other), alpha=alpha)

    def mul(self, other):
        return apply("mul", self, _operand(other))

    def div(self, other, *, rounding_mode=None):
        if rounding_mode == "floor":
            return apply("floor_divide", self, _operand(other))
        if rounding_mode is not None:
            raise NotImplementedError(f"div(rounding_mode={rounding_mode!r}) is not supported")
        return apply("div", self, _operand(other))

    def pow(self, exponent):
        if isinstance(exponent, (int, float)):
            return apply("pow", self, exponent)
        return apply("pow_tensor", self, _operand(exponent))

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        return self.add(other)

    def __sub__(self, other):
        return self.sub(other)

    def __rsub__(self, other):
        return apply("rsub", self, _operand(other))

    def __mul__(self, other):
        return self.mul(other)

    def __rmul__(self, other):
        return self.mul(other)

    def __truediv__(self, other):
        return self.div(other)

    def __rtruediv__(self, other):
        return apply("rdiv", self, _operand(other))

    def __pow__(self, exponent):
        return self.pow(exponent)

    def __rpow__(self, base):
        return apply("rpow", self, _operand(base))

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return _operand(other).matmul(self)

    def __neg__(self):
        return apply("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __floordiv__(self, other):
        return apply("floor_divide", self, _operand(other))

    def __mod__(self, other):
        return apply("remainder", self, _operand(other))

    def neg(self):
        return apply("neg", self)

    def matmul(self, other):
        other = _operand(other)
        nd = (self.ndim, other.ndim)
        if 0 in nd:
            raise RuntimeError(
                "both arguments to matmul need to be at least 1D, but they are "
                f"{nd[0]}D and {nd[1]}D"
            )
        name = {(2, 2): "mm", (1, 1): "dot", (2, 1): "mv", (3, 3): "bmm"}.get(nd, "matmul")
        return apply(name, self, other)

    def mm(self, other):
        return apply("mm", self, other)

    def bmm(self, other):
        return apply("bmm", self, other)

    def mv(self, vec):
        return apply("mv", self, vec)

    def dot(self, other):
        return apply("dot", self, other)

    def maximum(self, other):
        return apply("maximum", self, _operand(other))

    def minimum(self, other):
        return apply("minimum", self, _operand(other))

    def atan2(self, other):
        return apply("atan2", self, _operand(other))

    # ---------------------------------------------------------------- unary math
    def exp(self):
        return apply("exp", self)

    def expm1(self):
        return apply("expm1", self)

    def log(self):
        return apply("log", self)

    def log1p(self):
        return apply("log1p", self)

    def log2(self):
        return apply("log2", self)

    def sin(self):
        return apply("sin", self)

    def cos(self):
        return apply("cos", self)

    def tan(self):
        return apply("tan", self)

    def tanh(self):
        return apply("tanh", self)

    def sigmoid(self):
        return apply("sigmoid", self)

    def relu(self):
        return apply("relu", self)

    def sqrt(self):
        return apply("sqrt", self)

    def rsqrt(self):
        return apply("rsqrt", self)

    def square(self):
        return apply("square", self)

    def reciprocal(self):
        return apply("reciprocal", self)

    def abs(self):
        return apply("abs", self)

    def erf(self):
        return apply("erf", self)

    def sign(self):
        return apply("sign", self)

    def floor(self):
        return apply("floor", self)

    def ceil(self):
        return apply("ceil", self)

    def round(self):
        return apply("round", self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        return apply("clamp", self, min=min, max=max)

    clip = clamp

    def softmax(self, dim):
        return apply("softmax", self, dim=_dim(dim, self.ndim))

    def log_softmax(self, dim):
        return apply("log_softmax", self, dim=_dim(dim, self.ndim))

    # ---------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if dim is None:
            return apply("sum", x)
        return apply("sum_dim", x, dim=_dims(dim, x.ndim), keepdim=keepdim)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if not np.issubdtype(x.dtype, np.inexact):
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {_torch_dtype_word(x.dtype)}"
            )
        if dim is None:
            return apply("mean", x)
        return apply("mean_dim", x, dim=_dims(dim, x.ndim), keepdim=keepdim)

    def prod(self, dim=None, keepdim=False):
        return apply(
            "prod", self, dim=None if dim is None else _dim(dim, self.ndim), keepdim=keepdim
        )

    def _minmax(self, name, dim, keepdim):
        if dim is None:
            return apply(name, self)
        if isinstance(dim, _tensor_cls()):
            return apply("maximum" if name == "max" else "minimum", self, dim)
        return apply(f"{name}_dim", self, dim=_dim(dim, self.ndim), keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        return self._minmax("max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return self._minmax("min", dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return apply(
            "amax", self, dim=_dims(dim, self.ndim) or tuple(range(self.ndim)), keepdim=keepdim
        )

    def amin(self, dim=(), keepdim=False):
        return apply(
            "amin", self, dim=_dims(dim, self.ndim) or tuple(range(self.ndim)), keepdim=keepdim
        )

    def argmax(self, dim=None, keepdim=False):
        return apply(
            "argmax", self, dim=None if dim is None else _dim(dim, self.ndim), keepdim=keepdim
        )

    def argmin(self, dim=None, keepdim=False):
        return apply(
            "argmin", self, dim=None if dim is None else _dim(dim, self.ndim), keepdim=keepdim
        )

    def logsumexp(self, dim, keepdim=False):
        return apply("logsumexp", self, dim=_dims(dim, self.ndim), keepdim=keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        correction = (1 if unbiased else 0) if correction is None else correction
        return apply("var", self, dim=_dims(dim, self.ndim), correction=correction, keepdim=keepdim)

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        correction = (1 if unbiased else 0) if correction is None else correction
        return apply("std", self, dim=_dims(dim, self.ndim), correction=correction, keepdim=keepdim)

    def norm(self, p="fro", dim=None, keepdim=False):
        p = 2 if p == "fro" else p
        return apply("norm", self, p=p, dim=_dims(dim, self.ndim), keepdim=keepdim)

    def cumsum(self, dim):
        return apply("cumsum", self, dim=_dim(dim, self.ndim))

    def all(self, dim=None):
        return apply("all", self, dim=dim)

    def any(self, dim=None):
        return apply("any", self, dim=dim)

    # ---------------------------------------------------------------- comparisons
    def __eq__(self, other):
        return apply("eq", self, _operand(other))

    def __ne__(self, other):
        return apply("ne", self, _operand(other))

    def __lt__(self, other):
        return apply("lt", self, _operand(other))

    def __le__(self, other):
        return apply("le", self, _operand(other))

    def __gt__(self, other):
        return apply("gt", self, _operand(other))

    def __ge__(self, other):
        return apply("ge", self, _operand(other))

    def __invert__(self):
        return apply("logical_not", self)

    def __and__(self, other):
        return apply("logical_and", self, _operand(other))

    def __or__(self, other):
        return apply("logical_or", self, _operand(other))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def isnan(self):
        return apply("isnan", self)

    def logical_not(self):
        return apply("logical_not", self)

    # ---------------------------------------------------------------- shapes
    def reshape(self, *shape):
        return apply("view", self, shape=_shape_args(shape))

    def view(self, *shape):
        return apply("view", self, shape=_shape_args(shape))

    def view_as(self, other):
        return self.view(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _dim(start_dim, self.ndim), _dim(end_dim, self.ndim)
        shape = self.shape
        return self.reshape(shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :])

    def unflatten(self, dim, sizes):
        d = _dim(dim, self.ndim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def transpose(self, dim0, dim1):
        return apply("transpose", self, dim0=_dim(dim0, self.ndim), dim1=_dim(dim1, self.ndim))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D"
            )
        return apply("t", self)

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def permute(self, *dims):
        return apply("permute", self, dims=tuple(_dim(d, self.ndim) for d in _shape_args(dims)))

    def squeeze(self, dim=None):
        if dim is None:
            return apply("squeeze", self)
        dims = tuple(d for d in _dims(dim, self.ndim) if self.shape[d] == 1) if self.ndim else ()
        return apply("squeeze_dim", self, dim=dims)

    def unsqueeze(self, dim):
        return apply("unsqueeze", self, dim=_dim(dim, self.ndim + 1))

    def expand(self, *sizes):
        sizes = _shape_args(sizes)
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return apply("expand", self, shape=shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *repeats):
        return apply("repeat", self, repeats=_shape_args(repeats))

    def flip(self, *dims):
        return apply("flip", self, dims=_dims(_shape_args(dims), self.ndim))

    def clone(self):
        return apply("clone", self)

    def contiguous(self):
        return self

    def split(self, split_size, dim=0):
        d = _dim(dim, self.ndim)
        n = self.shape[d]
        sizes = (
            [split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
            if isinstance(split_size, int)
            else list(split_size)
        )
        sections = tuple(int(v) for v in np.cumsum(sizes)[:-1])
        return apply("split", self, sections=sections, dim=d)

    def chunk(self, chunks, dim=0):
        n = self.shape[_dim(dim, self.ndim)]
        return self.split(-(-n // chunks), dim)

    def unbind(self, dim=0):
        return apply("unbind", self, dim=_dim(dim, self.ndim))

    def narrow(self, dim, start, length):
        d = _dim(dim, self.ndim)
        key = (slice(None),) * d + (slice(start, start + length),)
        return self[key]

    def select(self, dim, index):
        d = _dim(dim, self.ndim)
        return self[(slice(None),) * d + (index,)]

    def masked_fill(self, mask, value):
        return apply(
            "masked_fill",
            self,
            mask,
            float(value) if not isinstance(value, _tensor_cls()) else value.item(),
        )

    def gather(self, dim, index):
        return apply("gather", self, index, dim=_dim(dim, self.ndim))

    def where(self, condition, other):
        return apply("where", _operand(condition), self, _operand(other))

    def __getitem__(self, key):
        index, arrays = _encode_index(key)
        if arrays:
            return apply("index", self, *arrays, index=index)
        return apply("select" if isinstance(key, int) else "slice", self, index=index)

    def __setitem__(self, key, value):
        index, arrays = _encode_index(key)
        value = _operand(value)
        name = "index_put" if arrays else "copy_slices"
        self._inplace(name, value, *arrays, index=index)

    # ---------------------------------------------------------------- dtypes and devices
    def to(self, *args, **kwargs):
        """Converts dtype and/or device, PyTorch style: `x.to(torch.float64)`, `x.to("cpu")`."""
        from .creation import _is_dtype_like, _parse_device

        dtype, device = kwargs.get("dtype"), kwargs.get("device")
        for a in args:
            if isinstance(a, _tensor_cls()):
                dtype, device = a.dtype, a.device
            elif _is_dtype_like(a):
                dtype = a
            else:
                device = a
        out = self
        if dtype is not None and _dtype_name(dtype) != np.dtype(self.dtype).name:
            out = apply("to_dtype", out, dtype=_dtype_name(dtype))
        if device is not None:
            target = _parse_device(device)
            if target != out.device:
                out = apply("to_device", out, device=target)
        return out

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    def bfloat16(self):
        return self.to("bfloat16")

    def long(self):
        return self.to("int64")

    def int(self):
        return self.to("int32")

    def bool(self):
        return self.to("bool")

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}")

    # ---------------------------------------------------------------- in-place ops
    def _inplace(self, name, *args, **static):
        """Runs op `name` out of place, then rebinds this tensor to the result and bumps its
        version, so nodes that saved the old value fail their backward like PyTorch's."""
        if self._grad_fn is None and self._requires_grad and is_grad_enabled():
            raise RuntimeError(errors.LEAF_INPLACE + errors.LEAF_INPLACE_HINT)
        alias = getattr(self, "_alias", False)
        if self._base is not None and not alias:
            raise NotImplementedError(errors.VIEW_INPLACE.format(what="a view"))
        out = apply(name, self, *args, **static)
        old_version = self._version.value
        self._data = out._data
        if out._grad_fn is not None:  # else (no_grad, or nothing requires grad): keep grad_fn
            self._grad_fn, self._output_nr, self._requires_grad = out._grad_fn, out._output_nr, True
        self._version.value += 1
        if out._grad_fn is not None:
            # The node saved its result as `out`: it is this tensor now, at the new version.
            node = out._grad_fn
            node._checks = tuple(
                (self._version, self._version.value, d) if c is out._version else (c, v, d)
                for c, v, d in node._checks
                if not (c is self._version and v == old_version)
            )
            out._grad_fn = None
            if self._retains_grad:
                self._retains_grad = False
                self.retain_grad()
        if alias:
            self._base._data = self._data
            self._view_version = self._version.value
        return self

    def add_(self, other, *, alpha=1):
        return self._inplace("add", _operand(other), alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return self._inplace("sub", _operand(other), alpha=alpha)

    def mul_(self, other):
        return self._inplace("mul", _operand(other))

    def div_(self, other):
        return self._inplace("div", _operand(other))

    def pow_(self, exponent):
        return self._inplace("pow", exponent)

    def neg_(self):
        return self._inplace("neg")

    def exp_(self):
        return self._inplace("exp")

    def relu_(self):
        return self._inplace("relu")

    def sigmoid_(self):
        return self._inplace("sigmoid")

    def tanh_(self):
        return self._inplace("tanh")

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp", min=min, max=max)

    def masked_fill_(self, mask, value):
        return self._inplace("masked_fill", mask, float(value))

    def zero_(self):
        return self._inplace("fill", 0.0)

    def fill_(self, value):
        return self._inplace("fill", _operand(value))

    def copy_(self, src):
        return self._inplace("copy", _operand(src))

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


def _torch_dtype_word(dtype) -> str:
    return {
        "int64": "Long",
        "int32": "Int",
        "bool": "Bool",
        "int16": "Short",
        "int8": "Char",
        "uint8": "Byte",
    }.get(np.dtype(dtype).name, np.dtype(dtype).name)
