"""Module-level math functions (`torch.exp(x)`, `torch.cat([...])`, ...).

Each is the Tensor method of the same name (listed one by one below, so that an unsupported
function is an AttributeError), or an op that takes several tensors (`cat`, `stack`,
`where`). Names shadow Python's builtins (`sum`, `max`, `abs`, ...) on purpose, as in
PyTorch's namespace; this module uses no builtin of those names after defining them.
"""

from __future__ import annotations

import builtins
import warnings

import jax.numpy as jnp

from . import errors, grad_mode, promotion
from ._convert import is_wide, x64
from .methods._args import _check_bool, _dim
from .tensor import Tensor, apply

__all__ = [
    "abs",
    "absolute",
    "add",
    "all",
    "allclose",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "atan2",
    "bmm",
    "cat",
    "ceil",
    "chunk",
    "clamp",
    "clip",
    "clone",
    "concat",
    "concatenate",
    "cos",
    "cumsum",
    "diagonal",
    "div",
    "divide",
    "dot",
    "eq",
    "equal",
    "erf",
    "exp",
    "expand_as",
    "expm1",
    "flatten",
    "flip",
    "floor",
    "gather",
    "ge",
    "gt",
    "is_complex",
    "is_tensor",
    "isnan",
    "le",
    "log",
    "log1p",
    "log2",
    "log_softmax",
    "logical_not",
    "logsumexp",
    "lt",
    "masked_fill",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mm",
    "mul",
    "multiply",
    "mv",
    "narrow",
    "ne",
    "neg",
    "negative",
    "norm",
    "numel",
    "permute",
    "pow",
    "prod",
    "reciprocal",
    "relu",
    "repeat",
    "reshape",
    "round",
    "rsqrt",
    "select",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "sub",
    "subtract",
    "sum",
    "swapaxes",
    "swapdims",
    "t",
    "tan",
    "tanh",
    "transpose",
    "true_divide",
    "unbind",
    "unflatten",
    "unsqueeze",
    "var",
    "where",
]


def _method(name):
    def fn(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(
                f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}"
            )
        out = kwargs.pop("out", None)
        if out is None:
            return getattr(input, name)(*args, **kwargs)
        return _into_out(name, out, (input, *args), lambda: getattr(input, name)(*args, **kwargs))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Same as `Tensor.{name}`."
    return fn


def _into_out(name, out, inputs, compute):
    """`torch.f(..., out=t)`: f's result written into `t`, which is returned, as PyTorch does
    (off the tape: PyTorch refuses `out=` when anything requires grad; a `t` of another
    shape is resized, with PyTorch's warning when it held elements)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if grad_mode.is_grad_enabled() and builtins.any(
        isinstance(t, Tensor) and t.requires_grad for t in (out, *inputs)
    ):
        raise RuntimeError(errors.OUT_REQUIRES_GRAD.format(name=name))
    with grad_mode.no_grad():
        result = compute()
    if not promotion.can_cast(result.dtype, out.dtype):
        raise RuntimeError(
            errors.INPLACE_DTYPE.format(
                result=errors.torch_scalar_type(result.dtype),
                dtype=errors.torch_scalar_type(out.dtype),
            )
        )
    if tuple(out.shape) == tuple(result.shape) or out._is_view():
        with grad_mode.no_grad():
            out.copy_(result)
        return out
    if out.numel():
        shapes = {"old": errors.short_shape(out.shape), "new": errors.short_shape(result.shape)}
        warnings.warn(errors.OUT_RESIZED.format(**shapes), UserWarning, stacklevel=3)
    out._write(result._data.astype(out._data.dtype))
    return out


# ---------------------------------------------------------------- elementwise math
exp = _method("exp")
expm1 = _method("expm1")
log = _method("log")
log1p = _method("log1p")
log2 = _method("log2")
sin = _method("sin")
cos = _method("cos")
tan = _method("tan")
tanh = _method("tanh")
sigmoid = _method("sigmoid")
relu = _method("relu")
sqrt = _method("sqrt")
rsqrt = _method("rsqrt")
square = _method("square")
reciprocal = _method("reciprocal")
abs = _method("abs")
erf = _method("erf")
sign = _method("sign")
floor = _method("floor")
ceil = _method("ceil")
round = _method("round")
clamp = _method("clamp")
clip = _method("clip")
softmax = _method("softmax")
log_softmax = _method("log_softmax")
isnan = _method("isnan")
logical_not = _method("logical_not")

# ---------------------------------------------------------------- arithmetic and comparisons
add = _method("add")
sub = _method("sub")
mul = _method("mul")
div = _method("div")
neg = _method("neg")
maximum = _method("maximum")
minimum = _method("minimum")
atan2 = _method("atan2")
eq = _method("eq")
ne = _method("ne")
lt = _method("lt")
le = _method("le")
gt = _method("gt")
ge = _method("ge")

# ---------------------------------------------------------------- reductions
sum = _method("sum")
mean = _method("mean")
prod = _method("prod")
max = _method("max")
min = _method("min")
amax = _method("amax")
amin = _method("amin")
argmax = _method("argmax")
argmin = _method("argmin")
logsumexp = _method("logsumexp")
var = _method("var")
std = _method("std")
norm = _method("norm")
cumsum = _method("cumsum")
diagonal = _method("diagonal")
all = _method("all")
any = _method("any")
numel = _method("numel")

# ---------------------------------------------------------------- shapes and indexing
reshape = _method("reshape")
transpose = _method("transpose")
swapaxes = _method("swapaxes")
swapdims = _method("swapdims")
t = _method("t")
permute = _method("permute")
squeeze = _method("squeeze")
unsqueeze = _method("unsqueeze")
flatten = _method("flatten")
unflatten = _method("unflatten")
expand_as = _method("expand_as")
repeat = _method("repeat")
flip = _method("flip")
clone = _method("clone")
split = _method("split")
chunk = _method("chunk")
unbind = _method("unbind")
narrow = _method("narrow")
select = _method("select")
masked_fill = _method("masked_fill")
gather = _method("gather")

# ---------------------------------------------------------------- matrix products
matmul = _method("matmul")
mm = _method("mm")
bmm = _method("bmm")
mv = _method("mv")
dot = _method("dot")

# PyTorch's aliases
absolute, multiply, divide, subtract, negative, true_divide = abs, mul, div, sub, neg, div


def pow(input, exponent):
    """input ** exponent; either may be a Python number (`torch.pow(2, x)`: PowBackward2).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.pow(2, torch.tensor([1.0, 3.0]))
        tensor([2., 8.])
    """
    if isinstance(input, Tensor):
        return input.pow(exponent)
    if isinstance(exponent, Tensor):
        return exponent.__rpow__(input)
    raise TypeError(
        f"pow() received an invalid combination of arguments - got ({type(input).__name__}, "
        f"{type(exponent).__name__})"
    )


def _tensor_list(fn, tensors):
    """The tensors of cat/stack, checked with PyTorch's errors (a list of Tensors)."""
    if isinstance(tensors, Tensor):
        raise TypeError(
            f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"
        )
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}"
            )
    return tensors


def cat(tensors, dim=0):
    """Concatenates tensors along an existing dim. Example: `torch.cat([a, b], 0)`."""
    tensors = _tensor_list("cat", tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = _dim(dim, tensors[0].ndim)
    first = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != len(first):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {len(first)} and {t.ndim}"
            )
        for k, (a, b) in enumerate(zip(first, t.shape)):
            if k != d and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {a} "
                    f"but got size {b} for tensor number {i} in the list."
                )
    return apply("cat", *tensors, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Stacks tensors along a new dim. Example: `torch.stack([a, b], 1)`."""
    tensors = _tensor_list("stack", tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                "stack expects each tensor to be equal size, but got "
                f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at entry {i}"
            )
    return apply("stack", *tensors, dim=_dim(dim, tensors[0].ndim + 1))


def where(condition, input, other):
    """Picks from input where condition holds, else from other."""
    condition = Tensor._operand(condition)
    _check_bool(condition, "where expected condition to be a boolean tensor, but got a tensor "
                "with dtype", scalar_type=True)  # fmt: skip
    return apply("where", condition, Tensor._operand(input), Tensor._operand(other))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_complex(input) -> bool:
    """Whether `input` has a complex dtype: always False, funcgrad refuses complex dtypes."""
    return input.is_complex()


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    with x64(is_wide(input._data.dtype) or is_wide(other._data.dtype)):
        return bool(jnp.allclose(input._data, other._data, rtol, atol, equal_nan))


def equal(input, other) -> bool:
    return input.shape == other.shape and bool(jnp.array_equal(input._data, other._data))
