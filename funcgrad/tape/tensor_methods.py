"""The Tensor's op methods: argument handling in PyTorch's conventions, then `ops.apply`.

Each method only translates PyTorch's calling conventions (`dim` as int or tuple, negative
dims, `*shape` varargs, Python scalars) into a table op and its static arguments. The
supported methods are listed one by one; anything else is an AttributeError, never a
guess.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from . import ops as _ops
from .engine import no_edge
from .grad_mode import is_grad_enabled
from .ops import apply


def _tensor_cls():
    return _ops.Tensor  # bound by tensor.py once the class exists (on the hot path: no import)


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


def _expand_shape(x, sizes) -> tuple:
    """The target of x.expand(*sizes) with -1 filled in, checked with PyTorch's errors."""
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand({errors.torch_type_name(x.dtype)}{{{list(x.shape)}}}, size={list(sizes)}): "
            f"the number of sizes provided ({len(sizes)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({x.ndim})"
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
                f"The expanded size of the tensor ({s}) must match the existing size "
                f"({x.shape[i - lead]}) at non-singleton dimension {i}.  Target sizes: "
                f"{list(sizes)}.  Tensor sizes: {list(x.shape)}"
            )
        shape.append(s)
    return tuple(shape)


def _check_bool(x, message, scalar_type=False) -> None:
    Tensor = _tensor_cls()
    if isinstance(x, Tensor) and x.dtype != np.bool_:
        word = (errors.torch_scalar_type if scalar_type else errors.torch_typemeta_name)(x.dtype)
        raise RuntimeError(f"{message} {word}")


def _check_index(index, arrays, shape) -> None:
    """PyTorch's IndexErrors for an index with too many entries or out of bounds (JAX
    would clamp it silently)."""
    used = sum(1 for k in index if k not in ("None", "..."))
    if used > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    dim = 0
    for k in index:
        if k == "...":
            dim += len(shape) - used
            continue
        if k == "None":
            continue
        size = shape[dim]
        if isinstance(k, int):
            bad = k if not -size <= k < size else None
        elif k[0] == "array" and isinstance(arrays[k[1]], np.ndarray) and arrays[k[1]].size:
            a = arrays[k[1]]
            bad = next((int(v) for v in (a.min(), a.max()) if not -size <= v < size), None)
        else:
            bad = None
        if bad is not None:
            raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
        dim += 1


def _decode_for_shape(index, arrays):
    from .ops import _decode_index

    return _decode_index(index, tuple(np.asarray(a) for a in arrays))


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


def _operand(x):
    """Python scalars pass through (weakly typed, like PyTorch's wrapped numbers)."""
    Tensor = _tensor_cls()
    if isinstance(x, (Tensor, bool, int, float)):
        return x
    if isinstance(x, (str, bytes)):
        raise TypeError(f"unsupported operand type for a Tensor op: 'str' ({x!r})")
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
        traced = isinstance(k, Tensor) and isinstance(k._data, jax.core.Tracer)
        if isinstance(k, Tensor) and k.ndim == 0 and not k.dtype == np.bool_ and not traced:
            k = int(k.item())
        if isinstance(k, (bool, np.bool_)):
            raise NotImplementedError(
                "indexing with True/False inside a tuple is not supported by funcgrad.tape; "
                "index with x.unsqueeze(d) (for True) instead"
            )
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
        elif isinstance(k, float):
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                "are valid indices (got float)"
            )
        else:
            if traced:  # inside funcgrad.tape.jit: integer indices stay traced arrays
                idx = k._data
                if idx.dtype == np.bool_:
                    from .compile import BOOLEAN_MASK_INDEX

                    raise IndexError(BOOLEAN_MASK_INDEX)
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


def _basic_index_op(key, index, shape) -> str:
    """The table op for basic indexing `x[key]`, named after the last view op PyTorch
    applies: select (an int), slice, unsqueeze (None), or alias when all are no-ops."""
    if not isinstance(key, tuple):  # PyTorch's single-key fast paths
        if isinstance(key, slice):
            return "slice"
        return {type(None): "index_unsqueeze", type(Ellipsis): "alias"}.get(type(key), "select")
    last, dim = "alias", 0
    for k in index:
        if k == "...":
            dim += len(shape) - sum(1 for k in index if k not in ("None", "..."))
        elif k == "None":
            last = "index_unsqueeze"
        else:
            if isinstance(k, int):
                last = "select"
            elif not (
                k[1] in (None, 0) and k[3] in (None, 1) and (k[2] is None or k[2] >= shape[dim])
            ):
                last = "slice"  # a full slice (:) is skipped by PyTorch
            dim += 1
    return last


def _indexes_a_view(index, shape) -> bool:
    """Whether PyTorch writes `x[index] = v` through a view of x: an int, None, or a slice
    that is not the whole dim (index arrays and full slices write to x itself)."""
    dim, used = 0, sum(1 for k in index if k not in ("None", "..."))
    for k in index:
        if isinstance(k, int) or k == "None":
            return True
        if k == "...":
            dim += len(shape) - used
            continue
        if k[0] == "slice" and dim < len(shape) and slice(*k[1:]).indices(shape[dim]) != (
            0, shape[dim], 1
        ):
            return True
        dim += 1
    return False


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
        if rounding_mode == "trunc":
            raise NotImplementedError(
                "div(rounding_mode='trunc') is not supported by funcgrad.tape; use "
                "rounding_mode='floor' or (x / y).trunc() in JAX"
            )
        if rounding_mode is not None:
            raise RuntimeError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"{rounding_mode!r}"
            )
        return apply("div", self, _operand(other))

    def pow(self, exponent):
        if isinstance(exponent, (int, float)):
            if exponent == 0 and jnp.issubdtype(self.dtype, jnp.inexact):
                exponent = 0  # x ** 0.0: JAX's gradient at x = 0 is nan, PyTorch's is 0
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
        if isinstance(other, (bool, int, float)):
            return NotImplemented  # Python raises PyTorch's TypeError
        return self.matmul(other)

    def __rmatmul__(self, other):
        if isinstance(other, (bool, int, float)):
            return NotImplemented
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
        if isinstance(other, (int, float)):
            return apply("remainder_scalar", self, other)
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
        # 3D @ 3D is not bmm: PyTorch records UnsafeViewBackward0 for it, as "matmul" does.
        name = {(2, 2): "mm", (1, 1): "dot", (2, 1): "mv", (1, 2): "vm"}.get(nd, "matmul")
        a, b, transposed = _matmul_plan(
            self.shape, other.shape, self.requires_grad, other.requires_grad
        )
        if transposed and len(a) == 2:  # PyTorch: (b.mT @ a.T).mT.contiguous()
            contiguous = 1 in (a[0], b[-1]) or 0 in a or 0 in b
            name = "matmul_t" if contiguous else "matmul_tc"
        if self.dtype != other.dtype:  # PyTorch does not promote in matrix products
            if len(a) == len(b) == 1:
                kind = "dot"
            elif len(b) == 1 or (transposed and len(a) == 1):
                kind = "mv"
            else:
                kind = "mm" if len(b) <= 2 or transposed else "bmm"
            first, second = (other, self) if transposed else (self, other)
            raise RuntimeError(_product_dtype_error(kind, first.dtype, second.dtype))
        try:
            return apply(name, self, other)
        except (TypeError, ValueError, RuntimeError) as e:
            message = _matmul_error(a, b, transposed)
            if message is None:
                raise
            raise RuntimeError(message) from e

    def mm(self, other):
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(f"{'self' if self.ndim != 2 else 'mat2'} must be a matrix")
        return self._product("mm", other)

    def bmm(self, other):
        if self.ndim != 3 or other.ndim != 3:
            raise RuntimeError(f"batch{1 if self.ndim != 3 else 2} must be a 3D tensor")
        return self._product("bmm", other)

    def mv(self, vec):
        if self.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(
                f"vector + matrix @ vector expected, got 1, {self.ndim}, {vec.ndim}"
            )
        return self._product("mv", vec)

    def dot(self, other):
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(
                f"1D tensors expected, but got {self.ndim}D and {other.ndim}D tensors"
            )
        return self._product("dot", other)

    def _product(self, name, other):
        if self.dtype != other.dtype:
            raise RuntimeError(_product_dtype_error(name, self.dtype, other.dtype))
        try:
            return apply(name, self, other)
        except (TypeError, ValueError, RuntimeError) as e:
            message = _matmul_error(self.shape, other.shape)
            if message is None:
                raise
            raise RuntimeError(message) from e

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
        Tensor = _tensor_cls()
        if isinstance(min, Tensor) or isinstance(max, Tensor):  # PyTorch's ClampBackward0
            lo = -float("inf") if min is None else _operand(min)
            hi = float("inf") if max is None else _operand(max)
            return apply("clamp_tensor", self, lo, hi)
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
        if not jnp.issubdtype(x.dtype, jnp.inexact):
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
            if self.numel() == 0:
                raise RuntimeError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument."
                )
            return apply(name, self)
        if isinstance(dim, _tensor_cls()):
            return apply("maximum" if name == "max" else "minimum", self, dim)
        d = _dim(dim, self.ndim)
        if self.ndim and self.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return apply(f"{name}_dim", self, dim=d, keepdim=keepdim)

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
        _required(shape, "reshape", "shape")
        return apply("view", self, shape=_infer_shape(_shape_args(shape), self.numel()))

    def view(self, *shape):
        return apply("view", self, shape=_infer_shape(_shape_args(shape), self.numel()))

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
        _required(dims, "permute", "dims")
        dims = _shape_args(dims)
        if len(dims) != self.ndim:
            raise RuntimeError(
                "permute(sparse_coo): number of dimensions in the tensor input does not match "
                "the length of the desired ordering of dimensions i.e. input.dim() = "
                f"{self.ndim} is not equal to len(dims) = {len(dims)}"
            )
        dims = tuple(_dim(d, self.ndim) for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        return apply("permute", self, dims=dims)

    def squeeze(self, dim=None):
        if dim is None:
            return apply("squeeze", self)
        dims = tuple(d for d in _dims(dim, self.ndim) if self.shape[d] == 1) if self.ndim else ()
        return apply("squeeze_dim", self, dim=dims)

    def unsqueeze(self, dim):
        return apply("unsqueeze", self, dim=_dim(dim, self.ndim + 1))

    def expand(self, *sizes):
        _required(sizes, "expand", "size")
        return apply("expand", self, shape=_expand_shape(self, _shape_args(sizes)))

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
        return apply("repeat", self, repeats=repeats)

    def flip(self, *dims):
        _required(dims, "flip", "dims")
        return apply("flip", self, dims=_dims(_shape_args(dims), self.ndim))

    def clone(self):
        return apply("clone", self)

    def contiguous(self):
        return self

    def split(self, split_size, dim=0):
        d = _dim(dim, self.ndim)
        sections = _split_sections(self.shape[d], split_size)
        # A list of sizes is PyTorch's split_with_sizes (its own node name).
        name = "split" if isinstance(split_size, int) else "split_with_sizes"
        return apply(name, self, sections=sections, dim=d)

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
        _check_bool(mask, "masked_fill_ only supports boolean masks, but got mask with dtype")
        return apply(
            "masked_fill",
            self,
            mask,
            float(value) if not isinstance(value, _tensor_cls()) else value.item(),
        )

    def gather(self, dim, index):
        if not np.issubdtype(index.dtype, np.integer):
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        return apply("gather", self, index, dim=_dim(dim, self.ndim))

    def where(self, condition, other):
        condition = _operand(condition)
        _check_bool(condition, "where expected condition to be a boolean tensor, but got a "
                    "tensor with dtype", scalar_type=True)  # fmt: skip
        return apply("where", condition, self, _operand(other))

    def __getitem__(self, key):
        if isinstance(key, (bool, np.bool_)):  # PyTorch: unsqueeze, then a mask of one
            return self.unsqueeze(0)[np.arange(int(key), dtype=np.int32)]
        index, arrays = _encode_index(key)
        _check_index(index, arrays, self.shape)
        if arrays:
            return apply("index", self, *arrays, index=index)
        return apply(_basic_index_op(key, index, self.shape), self, index=index)

    def __setitem__(self, key, value):
        index, arrays = _encode_index(key)
        _check_index(index, arrays, self.shape)
        if self._grad_fn is None and self._requires_grad and is_grad_enabled():
            if _indexes_a_view(index, self.shape):  # PyTorch's wording for this case
                raise RuntimeError(errors.LEAF_VIEW_INPLACE + errors.LEAF_INPLACE_HINT)
        value = _operand(value)
        if isinstance(value, _tensor_cls()) and value.ndim:  # PyTorch expands it to the slice
            region = np.broadcast_to(np.zeros((), np.int8), self.shape)[
                _decode_for_shape(index, arrays)
            ]
            _expand_shape(value, region.shape)
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
                out = apply("to_device", out, device=target, source=out.device)
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
        if self._jit_trace is not None:
            self._jit_trace.writing(self, f"ran the in-place op {name!r} on")
        if self._grad_fn is None and self._requires_grad and is_grad_enabled():
            if self._accumulator is no_edge:  # a view made under no_grad
                raise RuntimeError(errors.NO_GRAD_VIEW_INPLACE)
            raise RuntimeError(errors.LEAF_INPLACE + errors.LEAF_INPLACE_HINT)
        alias = getattr(self, "_alias", False)
        if self._base is not None and (not alias or self._base._base is not None):
            raise NotImplementedError(errors.VIEW_INPLACE.format(what="a view"))
        reshaping = name in _RESHAPING_INPLACE  # x.unsqueeze_(0): only the shape changes
        if reshaping and alias:
            raise NotImplementedError(errors.VIEW_INPLACE.format(what="a detach() alias"))
        out = apply(name, self, *args, **static)
        if not reshaping and (
            out._data.shape != self._data.shape or out._data.dtype != self._data.dtype
        ):
            _keep_shape_and_dtype(self, out)
        old_version, old_fn, old_nr = self._version.value, self._grad_fn, self._output_nr
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
            if self._retains_grad:  # moves to the new grad_fn, as in PyTorch
                if old_fn is not None:
                    old_fn._retains_grad.pop(old_nr, None)
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
        Tensor = _tensor_cls()
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            lo = -float("inf") if min is None else _operand(min)
            hi = float("inf") if max is None else _operand(max)
            return self._inplace("clamp_tensor", lo, hi)
        return self._inplace("clamp", min=min, max=max)

    def masked_fill_(self, mask, value):
        return self._inplace("masked_fill", mask, float(value))

    def zero_(self):
        return self._inplace("zero")

    def fill_(self, value):
        value = _operand(value)
        return self._inplace("fill" if isinstance(value, _tensor_cls()) else "fill_scalar", value)

    def copy_(self, src):
        src = _operand(src)
        if isinstance(src, _tensor_cls()) and src.shape != self.shape:
            message = errors.broadcast_mismatch([self.shape, src.shape])
            if message is not None:
                raise RuntimeError(message + errors.INPLACE_HINT)
            _check_inplace_shape(self.shape, np.broadcast_shapes(self.shape, src.shape))
        return self._inplace("copy", src)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


# In-place ops that change only the shape (ops_math.py): the tensor takes the new shape.
_RESHAPING_INPLACE = frozenset(
    "unsqueeze_inplace squeeze_inplace squeeze_dim_inplace squeeze_dims_inplace t_inplace "
    "transpose_inplace".split()
)


def _check_inplace_shape(shape, result_shape) -> None:
    if tuple(result_shape) != tuple(shape):
        raise RuntimeError(
            errors.INPLACE_SHAPE.format(
                shape=errors.short_shape(shape), broadcast=errors.short_shape(result_shape)
            )
            + errors.INPLACE_HINT
        )


def _keep_shape_and_dtype(x, out) -> None:
    """An in-place op keeps x's shape and dtype, as in PyTorch: a result broadcast to a
    larger shape, or of a kind x cannot hold (float into int, int into bool), is an error;
    another dtype of the same kind (float32 into float16) is cast back."""
    _check_inplace_shape(x.shape, out.shape)
    rank = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}  # V: bfloat16 in numpy
    if rank[np.dtype(out.dtype).kind] > rank[np.dtype(x.dtype).kind]:
        raise RuntimeError(
            errors.INPLACE_DTYPE.format(
                result=errors.torch_scalar_type(out.dtype), dtype=errors.torch_scalar_type(x.dtype)
            )
            + errors.INPLACE_HINT
        )
    out._data = out._data.astype(x.dtype)


def _product_dtype_error(kind, first, second) -> str:
    """PyTorch's message for a matrix product of two dtypes (first: the matrix, or the
    first operand)."""
    word, cpp = errors.torch_scalar_type, errors.torch_typemeta_name
    if kind == "dot":
        return (
            f"dot : expected both vectors to have same dtype, but found {word(first)} and "
            f"{word(second)}"
        )
    if kind == "mv":
        return (
            f"addmv input tensors must have the same dtype, but got {word(second)}, "
            f"{word(first)}, and {word(second)}"
        )
    if kind == "bmm":
        return f"expected scalar type {word(first)} but found {word(second)}"
    return f"expected m1 and m2 to have the same dtype, but got: {cpp(first)} != {cpp(second)}"


def _matmul_plan(a, b, a_requires_grad, b_requires_grad):
    """How PyTorch's _matmul_impl multiplies tensors of shapes a and b (they decide its
    node name and error text): (a, b, transposed). A 3-D operand with a batch of 1 that
    requires grad is squeezed to a matrix when the batches differ; a matrix or vector a
    times a batch b is computed as (b.mT @ a.T).mT with folded batch dims (`transposed`)
    when a requires grad, or, for a vector, when b is empty or b.mT folds without a copy
    (b.shape[-2] == 1). A batch times a matrix or vector always folds (funcgrad has no
    strides: it takes every tensor as contiguous)."""
    a, b = tuple(a), tuple(b)
    if len(a) == 3 and len(b) == 3 and a[0] != b[0]:
        if a[0] == 1 and a_requires_grad:
            a = a[1:]
        elif b[0] == 1 and b_requires_grad:
            b = b[1:]
    transposed = (
        len(a) <= 2
        and len(b) >= 3
        and (a_requires_grad or (len(a) == 1 and (0 in b or b[-2] == 1)))
    )
    return a, b, transposed


def _matmul_error(a, b, transposed=False) -> str | None:
    """PyTorch's message for `a @ b` with shapes that do not fit (None if they do): from
    mm / mv after folding batch dims into rows (of b.mT when `transposed`), else bmm."""
    a, b = tuple(a), tuple(b)
    if transposed:
        a, b = b[:-2] + (b[-1], b[-2]), tuple(reversed(a))  # (a @ b) = (b.mT @ a.T).mT
    if len(a) == 1 and len(b) == 1:
        if a[0] != b[0]:
            return (
                f"inconsistent tensor size, expected tensor [{a[0]}] and src [{b[0]}] to have "
                f"the same number of elements, but got {a[0]} and {b[0]} elements respectively"
            )
        return None
    if len(b) <= 2:  # mm / mv, folding a's batch dims into rows
        rows = int(np.prod(a[:-1], dtype=np.int64)) if len(a) > 1 else 1
        if len(b) == 1:
            if a[-1] != b[0]:
                return f"size mismatch, got input ({rows}), mat ({rows}x{a[-1]}), vec ({b[0]})"
        elif a[-1] != b[0]:
            return (
                f"mat1 and mat2 shapes cannot be multiplied ({rows}x{a[-1]} and "
                f"{b[0]}x{b[1]})"
            )
        return None
    a2 = (1,) + a if len(a) == 1 else a  # batched: broadcast the batch dims, then bmm
    batch_a, batch_b = a2[:-2], b[:-2]
    n = max(len(batch_a), len(batch_b))
    for i in range(n - 1, -1, -1):
        off = n - 1 - i
        sa = batch_a[len(batch_a) - 1 - off] if off < len(batch_a) else 1
        sb = batch_b[len(batch_b) - 1 - off] if off < len(batch_b) else 1
        if sa != sb and 1 not in (sa, sb):
            return (
                f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                f"non-singleton dimension {i}"
            )
    if a2[-1] != b[-2]:
        size = int(np.prod(np.broadcast_shapes(batch_a, batch_b), dtype=np.int64))
        return (
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{size}, {a2[-1]}] but got: [{size}, {b[-2]}]."
        )
    return None


def _torch_dtype_word(dtype) -> str:
    return {
        "int64": "Long",
        "int32": "Int",
        "bool": "Bool",
        "int16": "Short",
        "int8": "Char",
        "uint8": "Byte",
    }.get(np.dtype(dtype).name, np.dtype(dtype).name)
