"""THE op table: every differentiable tape op is one entry naming a JAX function.

An op's backward is `jax.vjp` of its JAX function; nothing here writes a derivative by
hand. `apply()` is the only place a graph node is made: it runs the op's forward through a
cached `jax.jit`, and, when grad is recorded, gives the node the values its pullback needs
and a `run` callable that applies `jax.vjp` of the op at those values, also jitted and
cached per (op, static arguments). With `create_graph=True` the same pullback is itself
recorded as an op, so higher-order gradients come from JAX too.

What an op saves follows PyTorch's rules (`saves`), because they decide when a second
backward fails and which in-place changes invalidate a graph. For ops PyTorch writes in
terms of their result (exp, tanh, ...) the node keeps the inputs and recomputes inside the
jitted pullback (XLA drops whatever forward work the VJP does not need), but checks the
result's version like PyTorch.

Ops not in the table are not supported: the Tensor API raises for them rather than guess.
"""

from __future__ import annotations

import functools
import weakref
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from .engine import AccumulateGrad, no_edge, node_class
from .grad_mode import is_grad_enabled, is_inference_mode_enabled
from .saved_hooks import pack_all, saved_hooks_active, unpack_all


@dataclass(frozen=True, eq=False)  # identity hash: ops are cache keys on the hot path
class Op:
    """One table entry.

    name: the table key. fn: the JAX function of the input arrays (static keyword
    arguments are hashable values). node: PyTorch's grad_fn name. saves: which tensors
    PyTorch saves ("none", "all", "cross", "result", "all+result", "div", "indices" (the
    last output only), "hidden" (an internal value: the inputs are kept but never
    version-checked), a tuple of input positions, or {position: positions}: an input saved
    only when one of those requires grad, as PyTorch's addmm saves mat1 only for mat2's
    gradient). differentiable: False for
    comparisons and integer results.
    multi: the op returns a tuple of outputs. view: the output is a view of input 0 in
    PyTorch (shares its version counter). sample: inputs for the table-wide gradient test.
    """

    name: str
    fn: Callable
    node: str
    saves: str | tuple | dict = "none"
    differentiable: bool = True
    multi: bool = False
    view: bool = False
    sample: dict = field(default_factory=dict, compare=False)


OPS: dict[str, Op] = {}


def _op(name, fn, node, saves="none", *, sample=None, **kw):
    OPS[name] = Op(name, fn, node, saves, sample=sample or {}, **kw)


def S(*inputs, positive=False, **static):
    """A test sample: input shapes (tuples), python scalars, or ("bool"|"int", shape, high)."""
    return {"inputs": inputs, "static": static, "positive": positive}



@jax.custom_jvp
def _pow_tensor(x, y):
    return jnp.power(x, y)


@_pow_tensor.defjvp
def _pow_tensor_jvp(primals, tangents):
    """PyTorch's pow_backward_self / pow_backward_exponent at a zero base, where JAX's
    derivatives are nan: no gradient to x where y == 0, none to y where x == 0 and y >= 0,
    and result * log(x) elsewhere (-inf, not nan, for 0 ** negative)."""
    x, y = primals
    dx, dy = tangents
    out = jnp.power(x, y)
    zero = jnp.zeros((), out.dtype)
    d_x = jnp.where(y == 0, zero, y * jnp.power(x, y - 1))
    d_y = jnp.where((x == 0) & (y >= 0), zero, out * jnp.log(x))
    return out, d_x * dx + d_y * dy


@jax.custom_jvp
def _rpow(x, base):
    return jnp.power(base, x)


@_rpow.defjvp
def _rpow_jvp(primals, tangents):
    """PyTorch's gradient of base ** x: result * log(base), but 0 where base == 0 and
    x >= 0 (JAX's is nan there)."""
    x, base = primals
    dx, _ = tangents
    out = jnp.power(base, x)
    d_x = jnp.where((base == 0) & (x >= 0), jnp.zeros((), out.dtype), out * jnp.log(base))
    return out, d_x * dx


# ---------------------------------------------------------------- elementwise arithmetic
_op("add", lambda x, y, alpha=1: x + alpha * y, "AddBackward0", sample=S((3, 4), (4,)))
_op("sub", lambda x, y, alpha=1: x - alpha * y, "SubBackward0", sample=S((3, 4), (3, 1)))
_op("rsub", lambda x, y, alpha=1: y - alpha * x, "RsubBackward1", sample=S((3,), 2.0))
_op("mul", jnp.multiply, "MulBackward0", "cross", sample=S((2, 3), (2, 3)))
_op("div", jnp.true_divide, "DivBackward0", "div", sample=S((2, 3), (3,), positive=True))
# c / x is x.reciprocal() * c in PyTorch: the saved reciprocal is internal, so an in-place
# change of x or of the result does not fail backward ("hidden": kept, never checked).
_op("rdiv", lambda x, y: y / x, "MulBackward0", "hidden", sample=S((4,), 3.0, positive=True))
_op("neg", jnp.negative, "NegBackward0", sample=S((3,)))
_op("pow", lambda x, e: jnp.power(x, e), "PowBackward0", (0,), sample=S((3,), 3.0))
_op("pow_tensor", _pow_tensor, "PowBackward1", "all+result", sample=S((3,), (3,), positive=True))
_op("rpow", _rpow, "PowBackward2", "result", sample=S((3,), 2.0))
_op("maximum", jnp.maximum, "MaximumBackward0", "all", sample=S((5,), (5,)))
_op("minimum", jnp.minimum, "MinimumBackward0", "all", sample=S((5,), (5,)))
_op("atan2", jnp.arctan2, "Atan2Backward0", "all", sample=S((4,), (4,), positive=True))
# Differentiable in PyTorch (d/dx = 1, d/dy = -floor(x / y)); the samples keep away from jumps.
_op("remainder", jnp.remainder, "RemainderBackward1", "all",
    sample=S((8,), (8,), positive=True))
_op("remainder_scalar", jnp.remainder, "RemainderBackward0", sample=S((4,), 0.5))

def _clamp(x, lo, hi):
    """jnp.clip with PyTorch's gradient: 1 where lo <= x <= hi (jnp.clip gives 1/2 at a
    bound, as jnp.maximum splits ties)."""
    inside = jnp.ones(x.shape, bool)
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return jnp.where(inside, x, jnp.clip(x, lo, hi))


# ---------------------------------------------------------------- elementwise unary math
_op("exp", jnp.exp, "ExpBackward0", "result", sample=S((3, 2)))
_op("expm1", jnp.expm1, "Expm1Backward0", "result", sample=S((3,)))
_op("log", jnp.log, "LogBackward0", "all", sample=S((3,), positive=True))
_op("log1p", jnp.log1p, "Log1PBackward0", "all", sample=S((3,), positive=True))
_op("log2", jnp.log2, "Log2Backward0", "all", sample=S((3,), positive=True))
_op("sin", jnp.sin, "SinBackward0", "all", sample=S((3,)))
_op("cos", jnp.cos, "CosBackward0", "all", sample=S((3,)))
_op("tan", jnp.tan, "TanBackward0", "result", sample=S((3,)))
_op("tanh", jnp.tanh, "TanhBackward0", "result", sample=S((3,)))
_op("sigmoid", jax.nn.sigmoid, "SigmoidBackward0", "result", sample=S((3,)))
_op("relu", jax.nn.relu, "ReluBackward0", "result", sample=S((6,)))
_op("sqrt", jnp.sqrt, "SqrtBackward0", "result", sample=S((3,), positive=True))
_op("rsqrt", jax.lax.rsqrt, "RsqrtBackward0", "result", sample=S((3,), positive=True))
_op("square", jnp.square, "PowBackward0", "all", sample=S((3,)))
_op("reciprocal", jnp.reciprocal, "ReciprocalBackward0", "result", sample=S((3,), positive=True))
# x * sgn(x), sgn(0) = sgn(nan) = 0: PyTorch's gradient there (jnp.abs's is 1 at 0).
_op("abs", lambda x: x * ((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)), "AbsBackward0",
    "all", sample=S((4,)))
_op("erf", jax.scipy.special.erf, "ErfBackward0", "all", sample=S((3,)))
_op("sign", jnp.sign, "SignBackward0", sample=S((3,)))
_op("floor", jnp.floor, "FloorBackward0", sample=S((3,)))
_op("ceil", jnp.ceil, "CeilBackward0", sample=S((3,)))
_op("round", jnp.round, "RoundBackward0", sample=S((3,)))
_op(
    "gelu",
    lambda x, approximate="none": jax.nn.gelu(x, approximate=approximate == "tanh"),
    "GeluBackward0",
    "all",
    sample=S((4,)),
)
_op("silu", jax.nn.silu, "SiluBackward0", "all", sample=S((4,)))
_op(
    "leaky_relu",
    lambda x, negative_slope=0.01: jax.nn.leaky_relu(x, negative_slope),
    "LeakyReluBackward0",
    "all",
    sample=S((6,), negative_slope=0.1),
)
_op(
    "softplus",
    lambda x, beta=1.0, threshold=20.0: jnp.where(
        x * beta > threshold, x, jax.nn.softplus(x * beta) / beta
    ),
    "SoftplusBackward0",
    "all",
    sample=S((4,)),
)
_op("elu", lambda x, alpha=1.0: jax.nn.elu(x, alpha), "EluBackward0", "all", sample=S((6,)))
_op(
    "clamp",
    lambda x, min=None, max=None: _clamp(x, min, max),
    "ClampBackward1",
    "all",
    sample=S((6,), min=-0.5, max=0.5),
)
_op(
    "softmax",
    lambda x, dim: jax.nn.softmax(x, axis=dim if x.ndim else ()),  # 0-d: 1
    "SoftmaxBackward0",
    "result",
    sample=S((2, 5), dim=1),
)
_op(
    "log_softmax",
    lambda x, dim: jax.nn.log_softmax(x, axis=dim if x.ndim else ()),
    "LogSoftmaxBackward0",
    "result",
    sample=S((2, 5), dim=-1),
)

# ---------------------------------------------------------------- linear algebra
_op("mm", jnp.matmul, "MmBackward0", "cross", sample=S((3, 4), (4, 2)))
_op("dot", jnp.dot, "DotBackward0", "cross", sample=S((4,), (4,)))
_op("mv", jnp.matmul, "MvBackward0", "cross", sample=S((3, 4), (4,)))
_op("bmm", jnp.matmul, "BmmBackward0", "cross", sample=S((2, 3, 4), (2, 4, 2)))
_op("matmul", jnp.matmul, "UnsafeViewBackward0", "cross", sample=S((2, 3, 4), (4, 5)))
# vector @ matrix: PyTorch computes a.unsqueeze(0).mm(b).squeeze_(0).
_op("vm", jnp.matmul, "SqueezeBackward4", "cross", sample=S((3,), (3, 2)))
# A matrix that requires grad times a batch: PyTorch computes (b.mT @ a.T).mT.contiguous().
_op("matmul_t", jnp.matmul, "TransposeBackward0", "cross", sample=S((1, 3), (2, 3, 4)))
_op("matmul_tc", jnp.matmul, "CloneBackward0", "cross", sample=S((2, 3), (2, 3, 4)))


# ---------------------------------------------------------------- reductions
def _max_dim(x, dim, keepdim=False, *, pick=jnp.argmax):
    if x.ndim == 0:  # PyTorch: a 0-d tensor is its own max along dim 0, at index 0
        return x, jnp.zeros((), jnp.int32)
    idx = jnp.expand_dims(pick(x, axis=dim), dim)
    values = jnp.take_along_axis(x, idx, axis=dim)
    if not keepdim:
        values, idx = jnp.squeeze(values, dim), jnp.squeeze(idx, dim)
    return values, idx


_op(
    "sum",
    lambda x, dim=None, keepdim=False: jnp.sum(x, dim, keepdims=keepdim),
    "SumBackward0",
    sample=S((2, 3)),
)
_op(
    "sum_dim",
    lambda x, dim, keepdim=False: jnp.sum(x, dim, keepdims=keepdim),
    "SumBackward1",
    sample=S((2, 3, 2), dim=(0, 2), keepdim=True),
)
_op("mean", lambda x: jnp.mean(x), "MeanBackward0", sample=S((2, 3)))
_op(
    "mean_dim",
    lambda x, dim, keepdim=False: jnp.mean(x, dim, keepdims=keepdim),
    "MeanBackward1",
    sample=S((2, 3), dim=(1,)),
)
_op(
    "prod",
    lambda x, dim=None, keepdim=False: jnp.prod(x, dim, keepdims=keepdim),
    "ProdBackward0",
    "all+result",
    sample=S((4,), positive=True),
)
_op("max", jnp.max, "MaxBackward1", "all+result", sample=S((2, 3)))
_op("min", jnp.min, "MinBackward1", "all+result", sample=S((2, 3)))
# PyTorch saves only the indices (an in-place change of the input does not fail backward).
_op("max_dim", _max_dim, "MaxBackward0", "indices", multi=True, sample=S((3, 4), dim=1))
_op(
    "min_dim",
    functools.partial(_max_dim, pick=jnp.argmin),
    "MinBackward0",
    "indices",
    multi=True,
    sample=S((3, 4), dim=0, keepdim=True),
)
_op(
    "amax",
    lambda x, dim, keepdim=False: jnp.max(x, dim, keepdims=keepdim),
    "AmaxBackward0",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)
_op(
    "amin",
    lambda x, dim, keepdim=False: jnp.min(x, dim, keepdims=keepdim),
    "AminBackward0",
    "all+result",
    sample=S((3, 4), dim=(0,)),
)
_op(
    "logsumexp",
    lambda x, dim, keepdim=False: jax.nn.logsumexp(x, dim, keepdims=keepdim),
    "LogsumexpBackward0",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)
_op(
    "var",
    lambda x, dim=None, correction=1, keepdim=False: jnp.var(
        x, dim, ddof=correction, keepdims=keepdim
    ),
    "VarBackward0",
    "all",
    sample=S((3, 4), dim=(1,)),
)
_op(
    "std",
    lambda x, dim=None, correction=1, keepdim=False: jnp.std(
        x, dim, ddof=correction, keepdims=keepdim
    ),
    "StdBackward0",
    "all+result",
    sample=S((5,)),
)
def _norm(x, p=2, dim=None, keepdim=False):
    if p != 2:
        return jnp.linalg.vector_norm(x, ord=p, axis=dim, keepdims=keepdim)
    # The 2-norm with PyTorch's gradient at 0 (zero, where sqrt's would be nan).
    sq = jnp.sum(jnp.square(x), axis=dim, keepdims=keepdim)
    zero = sq == 0
    return jnp.where(zero, 0.0, jnp.sqrt(jnp.where(zero, 1.0, sq))).astype(sq.dtype)


_op(
    "norm",
    _norm,
    "LinalgVectorNormBackward0",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)
_op("cumsum", lambda x, dim: jnp.cumsum(x, dim), "CumsumBackward0", sample=S((3, 4), dim=1))

# ---------------------------------------------------------------- shapes and views
_op(
    "view",
    lambda x, shape: jnp.reshape(x, shape),
    "ViewBackward0",
    view=True,
    sample=S((2, 3), shape=(3, 2)),
)
_op(
    "transpose",
    lambda x, dim0, dim1: jnp.swapaxes(x, dim0, dim1) if x.ndim else x,
    "TransposeBackward0",
    view=True,
    sample=S((2, 3, 4), dim0=0, dim1=2),
)
_op("t", jnp.transpose, "TBackward0", view=True, sample=S((2, 3)))
_op(
    "permute",
    lambda x, dims: jnp.transpose(x, dims),
    "PermuteBackward0",
    view=True,
    sample=S((2, 3, 4), dims=(1, 2, 0)),
)
_op("squeeze", lambda x: jnp.squeeze(x), "SqueezeBackward0", view=True, sample=S((2, 1, 3)))
_op(
    "squeeze_dim",
    lambda x, dim: jnp.squeeze(x, dim),
    "SqueezeBackward1",
    view=True,
    sample=S((2, 1, 3), dim=(1,)),
)
_op(
    "unsqueeze",
    lambda x, dim: jnp.expand_dims(x, dim),
    "UnsqueezeBackward0",
    view=True,
    sample=S((2, 3), dim=1),
)
_op(
    "expand",
    lambda x, shape: jnp.broadcast_to(x, shape),
    "ExpandBackward0",
    view=True,
    sample=S((3, 1), shape=(2, 3, 4)),
)
_op(
    "repeat",
    lambda x, repeats: jnp.tile(x, repeats),
    "RepeatBackward0",
    sample=S((2, 3), repeats=(2, 1)),
)
_op("flip", lambda x, dims: jnp.flip(x, dims), "FlipBackward0", sample=S((2, 3), dims=(1,)))
_op("clone", lambda x: jnp.array(x, copy=True), "CloneBackward0", sample=S((3,)))
_op(
    "to_dtype", lambda x, dtype: x.astype(dtype), "ToCopyBackward0", sample=S((3,), dtype="float32")
)
_op(
    "cat",
    lambda *xs, dim=0: jnp.concatenate(xs, dim),
    "CatBackward0",
    sample=S((2, 3), (1, 3), dim=0),
)
_op("stack", lambda *xs, dim=0: jnp.stack(xs, dim), "StackBackward0", sample=S((3,), (3,), dim=1))
_op(
    "split",
    lambda x, sections, dim: tuple(jnp.split(x, sections, dim)),
    "SplitBackward0",
    multi=True,
    view=True,
    sample=S((5, 2), sections=(2, 4), dim=0),
)
_op(
    "unbind",
    lambda x, dim: tuple(jnp.moveaxis(x, dim, 0)),
    "UnbindBackward0",
    multi=True,
    view=True,
    sample=S((3, 2), dim=1),
)
_op("where", jnp.where, "WhereBackward0", (0,), sample=S(("bool", (4,)), (4,), (4,)))
_op(
    "masked_fill",
    lambda x, mask, value: jnp.where(mask, value, x),
    "MaskedFillBackward0",
    (1,),
    sample=S((4,), ("bool", (4,)), 0.5),
)
_op(
    "gather",
    lambda x, index, dim: jnp.take_along_axis(x, index, dim),
    "GatherBackward0",
    "all",
    sample=S((3, 4), ("int", (3, 2), 4), dim=1),
)


# ---------------------------------------------------------------- indexing
def _select(x, index):
    return x[_decode_index(index)]


_op("select", _select, "SelectBackward0", view=True, sample=S((3, 4), index=(1,)))
# Basic indexing whose last step in PyTorch is an unsqueeze (x[..., None]) or nothing (x[...]).
_op("index_unsqueeze", _select, "UnsqueezeBackward0", view=True, sample=S((3, 4), index=("None",)))
_op("alias", _select, "AliasBackward0", view=True, sample=S((3, 4), index=("...",)))
_op(
    "slice",
    _select,
    "SliceBackward0",
    view=True,
    sample=S((3, 4), index=(("slice", 0, 2, None), ("slice", 1, None, 2))),
)
_op(
    "index",
    lambda x, *arrays, index: x[_decode_index(index, arrays)],
    "IndexBackward0",
    tuple(range(1, 8)),
    sample=S((5, 3), ("int", (4,), 5), index=(("array", 0),)),
)

_op(
    "copy_slices",
    lambda x, v, *arrays, index: x.at[_decode_index(index, arrays)].set(v),
    "CopySlices",
    tuple(range(2, 8)),
    sample=S((4, 3), (3,), index=(1,)),
)
_op(
    "index_put",
    lambda x, v, *arrays, index: x.at[_decode_index(index, arrays)].set(v),
    "IndexPutBackward0",
    tuple(range(2, 8)),
    sample=S((5, 2), (2,), ("int", (2,), 5), index=(("array", 0),)),
)
_op(
    "fill",
    lambda x, v: jnp.broadcast_to(jnp.asarray(v, x.dtype), x.shape),
    "FillBackward3",  # PyTorch's node for a tensor value; FillBackward2 for a number
    sample=S((3,), ()),
)
_op(
    "fill_scalar",
    lambda x, v: jnp.broadcast_to(jnp.asarray(v, x.dtype), x.shape),
    "FillBackward2",
    sample=S((3,), 0.5),
)
_op("zero", jnp.zeros_like, "ZeroBackward0", sample=S((3,)))
_op(
    "copy",
    lambda x, src: jnp.broadcast_to(src, x.shape).astype(x.dtype),
    "CopyBackwards",
    sample=S((2, 3), (3,)),
)
_op(
    "to_device",
    lambda x, device, source=None: jax.device_put(x, device),
    "ToCopyBackward0",
    sample=S((3,), device=jax.devices()[0], source=jax.devices()[0]),
)


def _decode_index(index, arrays=()):
    """Index keys are encoded as hashable tuples so they can be static jit arguments."""
    out = []
    for k in index:
        if isinstance(k, tuple) and k[0] == "slice":
            out.append(slice(*k[1:]))
        elif isinstance(k, tuple) and k[0] == "array":
            out.append(arrays[k[1]])
        elif k == "None":
            out.append(None)
        elif k == "...":
            out.append(Ellipsis)
        else:
            out.append(k)
    return tuple(out)


# ---------------------------------------------------------------- not differentiable
for _name, _fn in {
    "eq": jnp.equal,
    "ne": jnp.not_equal,
    "lt": jnp.less,
    "le": jnp.less_equal,
    "gt": jnp.greater,
    "ge": jnp.greater_equal,
    "logical_not": jnp.logical_not,
    "logical_and": jnp.logical_and,
    "logical_or": jnp.logical_or,
    "isnan": jnp.isnan,
    "floor_divide": jnp.floor_divide,
}.items():
    _op(_name, _fn, "", differentiable=False)
_op(
    "argmax",
    lambda x, dim=None, keepdim=False: jnp.argmax(x, dim, keepdims=keepdim),
    "",
    differentiable=False,
)
_op(
    "argmin",
    lambda x, dim=None, keepdim=False: jnp.argmin(x, dim, keepdims=keepdim),
    "",
    differentiable=False,
)
_op("all", lambda x, dim=None: jnp.all(x, dim), "", differentiable=False)
_op("any", lambda x, dim=None: jnp.any(x, dim), "", differentiable=False)

# ---------------------------------------------------------------- neural-network ops
# conv, pooling, normalisation, losses: the same table, kept in ops_nn.py for size; the
# wider PyTorch surface: math (ops_math), rearranging and indexing (ops_arrange), more layers
# (ops_layers), the LSTM layer (ops_rnn).
from . import ops_arrange as _ops_arrange  # noqa: E402, F401
from . import ops_layers as _ops_layers  # noqa: E402, F401
from . import ops_math as _ops_math  # noqa: E402, F401
from . import ops_nn as _ops_nn  # noqa: E402, F401
from . import ops_rnn as _ops_rnn  # noqa: E402, F401

# ================================================================ dispatch
# The hot path: every tape op passes through apply(), every backward step through _run().
# Per-signature work (which inputs to keep, the jitted pullback) is done once and cached
# in a _Plan; what remains per call is a few attribute reads and two jitted dispatches.

Tensor = None  # bound by tensor.py when the class exists (the two modules import each other)
_forward_cache: dict = {}
_plans: dict = {}
_backward_ops: dict = {}  # create_graph: each op's pullback, itself an op
ReturnTypes = namedtuple("ReturnTypes", ["values", "indices"])
_INEXACT = frozenset(
    np.dtype(t)
    for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64, jnp.complex64, jnp.complex128)
)


def _forward(op, key):
    fn = _forward_cache.get((op, key))
    if fn is None:
        fn = functools.partial(op.fn, **dict(key))
        # A device move runs eagerly: under jit the result would stay on the input's device.
        fn = _forward_cache[(op, key)] = fn if op.name == "to_device" else jax.jit(fn)
    return fn


def apply(name, *inputs, **static):
    """Runs table op `name` on tensors (and python scalars); records a node if needed.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.ops import apply
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> apply("mul", x, 3.0).grad_fn.name()
        'MulBackward0'
    """
    op = name if isinstance(name, Op) else OPS[name]
    key = tuple(sorted(static.items())) if static else ()
    if op.name in _PROMOTING and len(inputs) > 1:
        inputs = _promote_zero_dim(op, inputs)
    arrays, requires = [], []
    for x in inputs:
        if isinstance(x, Tensor):
            arrays.append(x._data if x._base is None else x._value())
            requires.append(x._requires_grad)
        else:
            arrays.append(x)
            requires.append(False)
    if _MULTI_DEVICE and len(arrays) > 1:
        _check_devices(arrays)
    try:
        out = _forward(op, key)(*arrays)
    except (TypeError, ValueError) as e:
        raise _input_error(op, arrays, e) from e
    outs = out if op.multi else (out,)
    results = [Tensor._wrap(o) for o in outs]
    if is_inference_mode_enabled():
        for r in results:
            r._inference = True
    if op.differentiable and True in requires and is_grad_enabled():
        _record(op, key, inputs, arrays, tuple(requires), results)
    if op.view and isinstance(inputs[0], Tensor):
        base = inputs[0] if inputs[0]._base is None else inputs[0]._base
        for r in results:
            r._version, r._base, r._view_version = base._version, base, base._version.value
        if requires[0] and results[0]._grad_fn is None and not is_inference_mode_enabled():
            for r in results:  # PyTorch: a view made under no_grad requires grad, as a
                r._requires_grad, r._accumulator = True, no_edge  # leaf without a grad edge
    if not op.multi:
        return results[0]
    if op.name in ("max_dim", "min_dim"):
        return ReturnTypes(*results)
    return tuple(results)


# Elementwise ops whose tensor inputs follow PyTorch's type promotion (where: inputs 1, 2).
_PROMOTING = frozenset(
    "hypot logaddexp fmod xlogy lerp_tensor clamp_tensor clamp_min_tensor clamp_max_tensor "
    "addcmul addcdiv isclose logical_xor "
    "add sub rsub mul div rdiv pow_tensor maximum minimum atan2 remainder where eq ne lt le "
    "gt ge logical_and logical_or floor_divide".split()
)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}  # V: bfloat16 in numpy


def _promote_zero_dim(op, inputs):
    """PyTorch's promotion: a 0-d tensor does not raise the dtype of dimensioned tensors of
    its category or a higher one (float16 vector + float32 0-d tensor is float16), where
    JAX's would; such a 0-d input is cast (a recorded op, so its grad comes back in its
    own dtype)."""
    positions = (1, 2) if op.name == "where" else range(len(inputs))
    zero, dims = [], []
    for i in positions:
        x = inputs[i]
        if isinstance(x, Tensor):
            (dims if x._data.ndim else zero).append(i)
    if not zero or not dims:
        return inputs
    target = np.dtype(jnp.result_type(*(inputs[i]._data.dtype for i in dims)))
    out = list(inputs)
    for i in zero:
        dtype = np.dtype(inputs[i]._data.dtype)
        if dtype != target and _CATEGORY[dtype.kind] <= _CATEGORY[target.kind]:
            out[i] = apply("to_dtype", inputs[i], dtype=target.name)
    return out


_MULTI_DEVICE = jax.device_count() > 1  # only then can inputs sit on different devices


def _check_devices(arrays):
    """PyTorch's error for inputs on different devices (JAX would move uncommitted ones)."""
    seen = []
    for a in arrays:
        if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer):
            for d in a.devices():
                if d not in seen:
                    seen.append(d)
    if len(seen) > 1:
        names = [f"{d.platform}:{d.id}" for d in seen[:2]]
        raise RuntimeError(
            errors.DEVICE_MISMATCH.format(a=names[0], b=names[1]) + errors.DEVICE_HINT
        )


def _input_error(op, arrays, error):
    """PyTorch's error for input shapes that do not broadcast; other errors unchanged."""
    if "broadcast" not in str(error).lower():
        return error
    shapes = [tuple(a.shape) for a in arrays if hasattr(a, "shape")]
    message = errors.broadcast_mismatch(shapes) if len(shapes) > 1 else None
    if message is None:
        return error
    return RuntimeError(
        message
        + errors.BROADCAST_HINT.format(op=op.name, shapes=", ".join(map(str, shapes)))
    )


class _Plan:
    """What one op signature (op, static args, which inputs require grad, input and output
    shapes) needs at backward: the positions to keep and the jitted pullback."""

    __slots__ = ("spec", "keep", "torch_saved", "saves_result", "diff_out", "bwd")

    def __init__(self, spec, inputs):
        op, key, requires, avals, out_avals = spec
        self.spec = spec
        self.torch_saved, self.saves_result = _saved_positions(op.saves, len(inputs), requires)
        # Python scalars cost nothing to keep, and the pullback may need them (x ** 3).
        self.keep = tuple(
            i for i, a in enumerate(avals) if i in self.torch_saved or a[0] == "scalar"
        )
        self.diff_out = tuple(dtype in _INEXACT for _, dtype in out_avals)
        self.bwd = None  # compiled on first use

    def pullback_fn(self):
        """The op's VJP as a function of (kept input values, output cotangents)."""
        op, key, requires, avals, out_avals = self.spec
        fn = functools.partial(op.fn, **dict(key))
        keep, diff_out = self.keep, self.diff_out
        diff = [i for i, r in enumerate(requires) if r]

        def pullback(kept, cts):
            primals = [_placeholder(a) for a in avals]
            for i, v in zip(keep, kept):
                primals[i] = v

            def f(*d):
                args = list(primals)
                for i, v in zip(diff, d):
                    args[i] = v
                outs = fn(*args)
                outs = outs if op.multi else (outs,)
                return tuple(o for o, keep_o in zip(outs, diff_out) if keep_o)

            _, vjp = jax.vjp(f, *[primals[i] for i in diff])
            full = tuple(
                jnp.zeros(shape, dtype) if ct is None else ct.astype(dtype)
                for ct, (shape, dtype), d in zip(cts, out_avals, diff_out)
                if d
            )
            return vjp(full)

        return pullback


def _saved_positions(saves, n, requires):
    """Input positions whose values PyTorch saves, and whether the result is saved."""
    if saves == "none":
        return (), False
    if saves == "hidden":
        return tuple(range(n)), False
    if saves in ("all", "result", "all+result", "indices"):
        return tuple(range(n)), saves != "all"
    if saves == "cross":
        return tuple(i for i in range(n) if any(requires[:i] + requires[i + 1 :])), False
    if saves == "div":
        return tuple(i for i in range(n) if i == 1 or requires[1]), False
    if isinstance(saves, dict):  # {position: the positions whose grads need it}
        return tuple(i for i, users in saves.items() if any(requires[u] for u in users)), False
    return tuple(i for i in saves if i < n), False


def _aval(a):
    if isinstance(a, (bool, int, float)):
        return ("scalar", type(a))
    return ("array", a.shape, a.dtype)


def _record(op, key, inputs, arrays, requires, results):
    spec = (
        op,
        key,
        requires,
        tuple(map(_aval, arrays)),
        tuple((r._data.shape, r._data.dtype) for r in results),
    )
    plan = _plans.get(spec)
    if plan is None:
        plan = _plans[spec] = _Plan(spec, inputs)
    checks = []
    names = _SAVED_NAMES.get(op.name) or (("self",) if op.saves == "all+result" else ())
    if op.saves not in ("result", "indices", "hidden"):  # (else kept, but not checked)
        for i in plan.torch_saved:
            x = inputs[i]
            if isinstance(x, Tensor):
                if x._inference:
                    raise RuntimeError(errors.INFERENCE_SAVED)
                checks.append((names[i] if i < len(names) else "", _version_check(x)))
    if plan.saves_result:
        saved_results = results[-1:] if op.saves == "indices" else results
        checks.extend(("result", _version_check(r, op.node)) for r in saved_results)
    if names:  # PyTorch checks a node's saved tensors in the order of their names
        checks.sort(key=lambda named: named[0])
    checks = [check for _, check in checks]
    saved = tuple(arrays[i] for i in plan.keep)
    if saved_hooks_active():
        saved = pack_all(saved, tuple(inputs[i] for i in plan.keep))
    edges = tuple(x._edge() if r else (None, 0) for x, r in zip(inputs, requires))
    node = node_class(op.node)(
        op.node,
        edges,
        functools.partial(_run, plan),
        saved,
        checks,
        len(results),
        # PyTorch's CopySlices drops its view function when freed: a second backward fails.
        saves_tensors=bool(plan.torch_saved) or plan.saves_result or op.node == "CopySlices",
    )
    for i, r in enumerate(results):
        if plan.diff_out[i]:
            r._grad_fn, r._output_nr, r._requires_grad = node, i, True


# The names PyTorch's nodes give the saved inputs of these ops (by position): a backward
# checks the saved tensors in the order of their names, so when several were changed in
# place, the error names the first in that order. (Single-input ops that also save their
# result call the input "self": the result, "result", is checked first.)
_SAVED_NAMES = {
    **dict.fromkeys(
        "mul div atan2 maximum minimum remainder hypot logaddexp fmod xlogy dist cross "
        "vdot".split(),
        ("self", "other"),
    ),
    **dict.fromkeys("mm bmm matmul matmul_t matmul_tc".split(), ("self", "mat2")),
    "pow_tensor": ("self", "exponent"),
    "gather": ("self", "index"),
    "take": ("self", "index"),
    "masked_select": ("self", "mask"),
    "lerp_tensor": ("self", "end", "weight"),
    "clamp_tensor": ("self", "min", "max"),
    "clamp_min_tensor": ("self", "min"),
    "clamp_max_tensor": ("self", "max"),
    "cdist": ("x1", "x2"),
    "det": ("A",),
}


def _version_check(tensor, owner=None):
    """(counter, version, info): backward fails if the tensor was changed in place since.

    A saved input is named in the error by its grad_fn at backward time, as PyTorch does
    (an in-place op may have replaced it), so info holds a weak reference to it."""
    grad_fn = owner or (tensor._grad_fn._name if tensor._grad_fn is not None else None)
    ref = None if owner else weakref.ref(tensor)
    output_nr = tensor._output_nr
    if not owner and tensor._base is not None and not getattr(tensor, "_alias", False):
        # A saved view fails only after its base changed in place; PyTorch then regenerates
        # the view's grad_fn as an AsStridedBackward0 (a linear layer's saved weight.t()
        # after an optimizer step), and names that.
        grad_fn = "AsStridedBackward0" if tensor._requires_grad else None
        ref, output_nr = None, 0
    info = (tensor._data.dtype, tensor._data.shape, grad_fn, output_nr, ref)
    return tensor._version, tensor._version.value, info


def _placeholder(aval):
    if aval[0] == "scalar":
        return aval[1](0)
    return jnp.zeros(aval[1], aval[2])


def _run(plan, node, saved, grads, create_graph):
    kept = unpack_all(saved)
    if len(kept) != len(plan.keep):  # freed, and saves no tensor (only Python scalars the
        kept = tuple(_placeholder(plan.spec[3][i]) for i in plan.keep)  # grad ignores)
    if create_graph:
        diff_grads = _backward_as_op(plan, node, kept, grads)
    else:
        if plan.bwd is None:
            plan.bwd = jax.jit(plan.pullback_fn())
        diff_grads = plan.bwd(kept, tuple(grads))
        if plan.spec[0].name == "to_device":  # ToCopyBackward0: back to the source device
            source = dict(plan.spec[1])["source"]
            diff_grads = tuple(jax.device_put(g, source) for g in diff_grads)
    it = iter(diff_grads)
    return [next(it) if r else None for r in plan.spec[2]]


_SELECTING_BACKWARD = frozenset(
    ["max", "min", "max_dim", "min_dim", "amax", "amin", "maximum", "minimum", "clamp",
     "remainder"]
    + "clamp_min clamp_max clamp_tensor clamp_min_tensor clamp_max_tensor median median_dim "
    "topk sort nansum nan_to_num sgn take masked_select".split()
)


def _is_zero(v) -> bool:
    return isinstance(v, (int, float)) and v == 0


def _backward_as_op(plan, node, kept, grads):
    """create_graph: the pullback runs as a recorded op whose inputs are the saved tensors
    (re-attached to their graph edges) and the incoming grads."""
    name = plan.spec[0].name
    # PyTorch's backward of these only selects or masks the incoming grad (comparisons of
    # the saved values), so its result requires grad only through the grad; x ** 0 too.
    constant = name in _SELECTING_BACKWARD or (name == "pow" and _is_zero(kept[-1]))
    saved_tensors = []
    for i, value in zip(plan.keep, kept):
        edge_node, nr = (None, 0) if constant else node.next_functions[i]
        if isinstance(edge_node, AccumulateGrad):
            # The saved value, on the leaf's edge: the leaf itself may have changed since
            # (in place under no_grad, legal when PyTorch saved only the result).
            leaf = Tensor._wrap(value)
            leaf._requires_grad, leaf._accumulator = True, weakref.ref(edge_node)
            saved_tensors.append(leaf)
        elif edge_node is not None:
            saved_tensors.append(Tensor._wrap(value, grad_fn=edge_node, output_nr=nr))
        else:
            saved_tensors.append(value if isinstance(value, (int, float)) else Tensor._wrap(value))
    present = tuple(g is not None for g in grads)
    backward_op = _backward_ops.get((plan, present))
    if backward_op is None:
        pullback = plan.pullback_fn()
        n_kept = len(plan.keep)

        def backward_fn(*args):
            cts = iter(args[n_kept:])
            return tuple(pullback(args[:n_kept], tuple(next(cts) if p else None for p in present)))

        op = plan.spec[0]
        backward_op = _backward_ops[(plan, present)] = Op(
            f"{op.name}_backward",
            backward_fn,
            op.node.replace("Backward", "BackwardBackward"),
            "all",
            multi=True,
        )
    return tuple(apply(backward_op, *saved_tensors, *[g for g in grads if g is not None]))
