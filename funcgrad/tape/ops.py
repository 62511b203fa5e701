"""THE op table: every differentiable tape op is one entry naming a JAX function.

An op's backward is `jax.vjp` of its JAX function; nothing here writes a derivative by
hand. `dispatch.apply` runs an entry: its forward through a cached `jax.jit`, and, when grad
is recorded, a graph node whose pullback (the functional core's `SavedInputVJP`) applies
`jax.vjp` of the op at the values PyTorch saves, also jitted and cached per op signature.

What an op saves follows PyTorch's rules (`saves`), because they decide when a second
backward fails, which in-place changes invalidate a graph, and how many bytes a graph
keeps. For ops PyTorch writes in terms of their result (relu, tanh, exp, softmax, ...) the
node keeps the result and its gradient comes from the output-saving rule of
`funcgrad.functional.saving_output` (`_op.result_rule`); a `"result"` op without such a
rule (rpow) keeps its inputs and recomputes inside the jitted pullback, but checks the
result's version like PyTorch.

The other sections are modules of their own, for size: the neural-network entries (conv,
pooling, normalisation, losses) in ops_nn.py, more layers (pads, resizing, transposed
convolution, norms) in ops_layers.py, the recurrent cells in ops_rnn.py, the wider math
surface (hyperbolic and special functions, sorting, scans, products) in ops_math.py, and
rearranging and index-driven ops in ops_arrange.py. This module imports them, so `OPS` is
complete once `funcgrad.tape.ops` is imported.
Ops not in the table are not supported: the Tensor API raises for them rather than guess.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from . import (
    ops_arrange as ops_arrange,
    ops_layers as ops_layers,
    ops_math as ops_math,
    ops_nn as ops_nn,
    ops_rnn as ops_rnn,
)
from ._op import OPS as OPS, Op as Op, S, register
from .indexing import decode as decode_index
from .ops_math import _clamp, _norm, _pow_tensor, _rpow

__all__ = ["Op", "OPS"]

# ---------------------------------------------------------------- elementwise arithmetic
# (alpha is static: without one, y keeps its dtype, so bool + bool stays bool as in PyTorch)
register(
    "add",
    lambda x, y, alpha=1: x + (y if alpha == 1 else alpha * y),
    "AddBackward0",
    sample=S((3, 4), (4,)),
)
register(
    "sub",
    lambda x, y, alpha=1: x - (y if alpha == 1 else alpha * y),
    "SubBackward0",
    sample=S((3, 4), (3, 1)),
)
register("rsub", lambda x, y, alpha=1: y - alpha * x, "RsubBackward1", sample=S((3,), 2.0))
register("mul", jnp.multiply, "MulBackward0", "cross", sample=S((2, 3), (2, 3)))
register("div", jnp.true_divide, "DivBackward0", "div", sample=S((2, 3), (3,), positive=True))
# c / x is x.reciprocal() * c in PyTorch: the saved reciprocal is internal, so an in-place
# change of x or of the result does not fail backward ("hidden": kept, never checked).
register("rdiv", lambda x, y: y / x, "MulBackward0", "hidden", sample=S((4,), 3.0, positive=True))
register("neg", jnp.negative, "NegBackward0", sample=S((3,)))
register("pow", lambda x, e: jnp.power(x, e), "PowBackward0", (0,), sample=S((3,), 3.0))
register(
    "pow_tensor", _pow_tensor, "PowBackward1", "all+result", sample=S((3,), (3,), positive=True)
)
register("rpow", _rpow, "PowBackward2", "result", sample=S((3,), 2.0))
register("maximum", jnp.maximum, "MaximumBackward0", "all", sample=S((5,), (5,)))
register("minimum", jnp.minimum, "MinimumBackward0", "all", sample=S((5,), (5,)))
register("atan2", jnp.arctan2, "Atan2Backward0", "all", sample=S((4,), (4,), positive=True))
# Differentiable in PyTorch (d/dx = 1, d/dy = -floor(x / y)); the samples keep away from jumps.
register(
    "remainder", jnp.remainder, "RemainderBackward1", "all", sample=S((8,), (8,), positive=True)
)
register("remainder_scalar", jnp.remainder, "RemainderBackward0", sample=S((4,), 0.5))


# ---------------------------------------------------------------- elementwise unary math
register("exp", jnp.exp, "ExpBackward0", "result", sample=S((3, 2)))
register("expm1", jnp.expm1, "Expm1Backward0", "result", sample=S((3,)))
register("log", jnp.log, "LogBackward0", "all", sample=S((3,), positive=True))
register("log1p", jnp.log1p, "Log1PBackward0", "all", sample=S((3,), positive=True))
register("log2", jnp.log2, "Log2Backward0", "all", sample=S((3,), positive=True))
register("sin", jnp.sin, "SinBackward0", "all", sample=S((3,)))
register("cos", jnp.cos, "CosBackward0", "all", sample=S((3,)))
register("tan", jnp.tan, "TanBackward0", "result", sample=S((3,)))
register("tanh", jnp.tanh, "TanhBackward0", "result", sample=S((3,)))
register(
    "sigmoid",
    # An integer input gives a float, as PyTorch's (float: the mode's float, see dispatch).
    lambda x: jax.nn.sigmoid(x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(float)),
    "SigmoidBackward0",
    "result",
    sample=S((3,)),
)
register("relu", jax.nn.relu, "ReluBackward0", "result", sample=S((6,)))
register("sqrt", jnp.sqrt, "SqrtBackward0", "result", sample=S((3,), positive=True))
register("rsqrt", jax.lax.rsqrt, "RsqrtBackward0", "result", sample=S((3,), positive=True))
register("square", jnp.square, "PowBackward0", "all", sample=S((3,)))
register(
    "reciprocal", jnp.reciprocal, "ReciprocalBackward0", "result", sample=S((3,), positive=True)
)
# x * sgn(x), sgn(0) = sgn(nan) = 0: PyTorch's gradient there (jnp.abs's is 1 at 0).
register(
    "abs",
    lambda x: x * ((x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)),
    "AbsBackward0",
    "all",
    sample=S((4,)),
)
register("erf", jax.scipy.special.erf, "ErfBackward0", "all", sample=S((3,)))
register("sign", jnp.sign, "SignBackward0", sample=S((3,)))
register("floor", jnp.floor, "FloorBackward0", sample=S((3,)))
register("ceil", jnp.ceil, "CeilBackward0", sample=S((3,)))
register("round", jnp.round, "RoundBackward0", sample=S((3,)))
register(
    "gelu",
    lambda x, approximate="none": jax.nn.gelu(x, approximate=approximate == "tanh"),
    "GeluBackward0",
    "all",
    sample=S((4,)),
)
register("silu", jax.nn.silu, "SiluBackward0", "all", sample=S((4,)))
register(
    "leaky_relu",
    lambda x, negative_slope=0.01: jax.nn.leaky_relu(x, negative_slope),
    "LeakyReluBackward0",
    "all",
    sample=S((6,), negative_slope=0.1),
)
register(
    "softplus",
    lambda x, beta=1.0, threshold=20.0: jnp.where(
        x * beta > threshold, x, jax.nn.softplus(x * beta) / beta
    ),
    "SoftplusBackward0",
    "all",
    sample=S((4,)),
)
register("elu", lambda x, alpha=1.0: jax.nn.elu(x, alpha), "EluBackward0", "all", sample=S((6,)))
register(
    "clamp",
    lambda x, min=None, max=None: _clamp(x, min, max),
    "ClampBackward1",
    "all",
    sample=S((6,), min=-0.5, max=0.5),
)
register(
    "softmax",
    lambda x, dim: jax.nn.softmax(x, axis=dim if x.ndim else ()),  # 0-d: 1
    "SoftmaxBackward0",
    "result",
    sample=S((2, 5), dim=1),
)
register(
    "log_softmax",
    lambda x, dim: jax.nn.log_softmax(x, axis=dim if x.ndim else ()),
    "LogSoftmaxBackward0",
    "result",
    sample=S((2, 5), dim=-1),
)

# ---------------------------------------------------------------- linear algebra
register("mm", jnp.matmul, "MmBackward0", "cross", sample=S((3, 4), (4, 2)))
register("dot", jnp.dot, "DotBackward0", "cross", sample=S((4,), (4,)))
register("mv", jnp.matmul, "MvBackward0", "cross", sample=S((3, 4), (4,)))
register("bmm", jnp.matmul, "BmmBackward0", "cross", sample=S((2, 3, 4), (2, 4, 2)))
register("matmul", jnp.matmul, "UnsafeViewBackward0", "cross", sample=S((2, 3, 4), (4, 5)))
# vector @ matrix: PyTorch computes a.unsqueeze(0).mm(b).squeeze_(0).
register("vm", jnp.matmul, "SqueezeBackward4", "cross", sample=S((3,), (3, 2)))
# A matrix that requires grad times a batch: PyTorch computes (b.mT @ a.T).mT.contiguous().
register("matmul_t", jnp.matmul, "TransposeBackward0", "cross", sample=S((1, 3), (2, 3, 4)))
register("matmul_tc", jnp.matmul, "CloneBackward0", "cross", sample=S((2, 3), (2, 3, 4)))


# ---------------------------------------------------------------- reductions
def _max_dim(x, dim, keepdim=False, *, pick=jnp.argmax):
    if x.ndim == 0:  # PyTorch: a 0-d tensor is its own max along dim 0, at index 0
        return x, jnp.zeros((), jnp.int64)
    idx = jnp.expand_dims(pick(x, axis=dim), dim)
    values = jnp.take_along_axis(x, idx, axis=dim)
    if not keepdim:
        values, idx = jnp.squeeze(values, dim), jnp.squeeze(idx, dim)
    return values, idx


register(
    "sum",
    lambda x, dim=None, keepdim=False: jnp.sum(x, dim, keepdims=keepdim),
    "SumBackward0",
    sample=S((2, 3)),
)
register(
    "sum_dim",
    lambda x, dim, keepdim=False: jnp.sum(x, dim, keepdims=keepdim),
    "SumBackward1",
    sample=S((2, 3, 2), dim=(0, 2), keepdim=True),
)
register("mean", lambda x: jnp.mean(x), "MeanBackward0", sample=S((2, 3)))
register(
    "mean_dim",
    lambda x, dim, keepdim=False: jnp.mean(x, dim, keepdims=keepdim),
    "MeanBackward1",
    sample=S((2, 3), dim=(1,)),
)
register(
    "prod",
    lambda x, dim=None, keepdim=False: jnp.prod(x, dim, keepdims=keepdim),
    "ProdBackward0",
    "all+result",
    sample=S((4,), positive=True),
)
register("max", jnp.max, "MaxBackward1", "all+result", sample=S((2, 3)))
register("min", jnp.min, "MinBackward1", "all+result", sample=S((2, 3)))
# PyTorch saves only the indices (an in-place change of the input does not fail backward).
register(
    "max_dim", _max_dim, "MaxBackward0", "indices", multi=True, wide=True, sample=S((3, 4), dim=1)
)
register(
    "min_dim",
    functools.partial(_max_dim, pick=jnp.argmin),
    "MinBackward0",
    "indices",
    multi=True,
    wide=True,
    sample=S((3, 4), dim=0, keepdim=True),
)
register(
    "amax",
    lambda x, dim, keepdim=False: jnp.max(x, dim, keepdims=keepdim),
    "AmaxBackward0",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)
register(
    "amin",
    lambda x, dim, keepdim=False: jnp.min(x, dim, keepdims=keepdim),
    "AminBackward0",
    "all+result",
    sample=S((3, 4), dim=(0,)),
)
register(
    "logsumexp",
    lambda x, dim, keepdim=False: jax.nn.logsumexp(x, dim, keepdims=keepdim),
    "LogsumexpBackward0",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)
register(
    "var",
    lambda x, dim=None, correction=1, keepdim=False: jnp.var(
        x, dim, ddof=correction, keepdims=keepdim
    ),
    "VarBackward0",
    "all",
    sample=S((3, 4), dim=(1,)),
)
register(
    "std",
    lambda x, dim=None, correction=1, keepdim=False: jnp.std(
        x, dim, ddof=correction, keepdims=keepdim
    ),
    "StdBackward0",
    "all+result",
    sample=S((5,)),
)


register(
    "norm",
    _norm,
    "LinalgVectorNormBackward0",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)
register("cumsum", lambda x, dim: jnp.cumsum(x, dim), "CumsumBackward0", sample=S((3, 4), dim=1))

# ---------------------------------------------------------------- shapes and views
register(
    "view",
    lambda x, shape: jnp.reshape(x, shape),
    "ViewBackward0",
    view=True,
    sample=S((2, 3), shape=(3, 2)),
)
register(
    "transpose",
    lambda x, dim0, dim1: jnp.swapaxes(x, dim0, dim1) if x.ndim else x,
    "TransposeBackward0",
    view=True,
    sample=S((2, 3, 4), dim0=0, dim1=2),
)
register("t", jnp.transpose, "TBackward0", view=True, sample=S((2, 3)))
register(
    "permute",
    lambda x, dims: jnp.transpose(x, dims),
    "PermuteBackward0",
    view=True,
    sample=S((2, 3, 4), dims=(1, 2, 0)),
)
register(
    "diagonal",
    lambda x, offset, dim1, dim2: jnp.diagonal(x, offset, dim1, dim2),
    "DiagonalBackward0",
    view=True,
    sample=S((3, 4), offset=1, dim1=0, dim2=1),
)
register("squeeze", lambda x: jnp.squeeze(x), "SqueezeBackward0", view=True, sample=S((2, 1, 3)))
register(
    "squeeze_dim",
    lambda x, dim: jnp.squeeze(x, dim),
    "SqueezeBackward1",
    view=True,
    sample=S((2, 1, 3), dim=(1,)),
)
register(
    "unsqueeze",
    lambda x, dim: jnp.expand_dims(x, dim),
    "UnsqueezeBackward0",
    view=True,
    sample=S((2, 3), dim=1),
)
register(
    "expand",
    lambda x, shape: jnp.broadcast_to(x, shape),
    "ExpandBackward0",
    view=True,
    sample=S((3, 1), shape=(2, 3, 4)),
)
register(
    "repeat",
    lambda x, repeats: jnp.tile(x, repeats),
    "RepeatBackward0",
    sample=S((2, 3), repeats=(2, 1)),
)
register("flip", lambda x, dims: jnp.flip(x, dims), "FlipBackward0", sample=S((2, 3), dims=(1,)))
register("clone", lambda x: jnp.array(x, copy=True), "CloneBackward0", sample=S((3,)))
register(
    "to_dtype", lambda x, dtype: x.astype(dtype), "ToCopyBackward0", sample=S((3,), dtype="float32")
)
register(
    "cat",
    lambda *xs, dim=0: jnp.concatenate(xs, dim),
    "CatBackward0",
    sample=S((2, 3), (1, 3), dim=0),
)
register(
    "stack", lambda *xs, dim=0: jnp.stack(xs, dim), "StackBackward0", sample=S((3,), (3,), dim=1)
)
# split(int) and split(list of sizes): one function, PyTorch's two node names.
for _name, _node, _sections in (
    ("split", "SplitBackward0", (2, 4)),
    ("split_with_sizes", "SplitWithSizesBackward0", (1, 3)),
):
    register(
        _name,
        lambda x, sections, dim: tuple(jnp.split(x, sections, dim)),
        _node,
        multi=True,
        view=True,
        sample=S((5, 2), sections=_sections, dim=0),
    )
register(
    "unbind",
    lambda x, dim: tuple(jnp.moveaxis(x, dim, 0)),
    "UnbindBackward0",
    multi=True,
    view=True,
    sample=S((3, 2), dim=1),
)
register("where", jnp.where, "WhereBackward0", (0,), sample=S(("bool", (4,)), (4,), (4,)))
register(
    "masked_fill",
    lambda x, mask, value: jnp.where(mask, value, x),
    "MaskedFillBackward0",
    (1,),
    sample=S((4,), ("bool", (4,)), 0.5),
)
register(
    "gather",
    lambda x, index, dim: jnp.take_along_axis(x, index, dim),
    "GatherBackward0",
    "all",
    sample=S((3, 4), ("int", (3, 2), 4), dim=1),
)


# ---------------------------------------------------------------- indexing
def _select(x, index):
    return x[decode_index(index)]


register("select", _select, "SelectBackward0", view=True, sample=S((3, 4), index=(1,)))
# Basic indexing whose last step in PyTorch is an unsqueeze (x[..., None]) or nothing (x[...]).
register(
    "index_unsqueeze", _select, "UnsqueezeBackward0", view=True, sample=S((3, 4), index=("None",))
)
register("alias", _select, "AliasBackward0", view=True, sample=S((3, 4), index=("...",)))
register(
    "slice",
    _select,
    "SliceBackward0",
    view=True,
    sample=S((3, 4), index=(("slice", 0, 2, None), ("slice", 1, None, 2))),
)
register(
    "index",
    lambda x, *arrays, index: x[decode_index(index, arrays)],
    "IndexBackward0",
    tuple(range(1, 8)),
    sample=S((5, 3), ("int", (4,), 5), index=(("array", 0),)),
)

register(
    "copy_slices",
    lambda x, v, *arrays, index: x.at[decode_index(index, arrays)].set(v),
    "CopySlices",
    tuple(range(2, 8)),
    sample=S((4, 3), (3,), index=(1,)),
)
register(
    "index_put",
    lambda x, v, *arrays, index: x.at[decode_index(index, arrays)].set(v),
    "IndexPutBackward0",
    tuple(range(2, 8)),
    sample=S((5, 2), (2,), ("int", (2,), 5), index=(("array", 0),)),
)
register(
    "fill",
    lambda x, v: jnp.broadcast_to(jnp.asarray(v, x.dtype), x.shape),
    "FillBackward3",  # PyTorch's node for a tensor value; FillBackward2 for a number
    sample=S((3,), ()),
)
register(
    "fill_scalar",
    lambda x, v: jnp.broadcast_to(jnp.asarray(v, x.dtype), x.shape),
    "FillBackward2",
    sample=S((3,), 0.5),
)
register("zero", jnp.zeros_like, "ZeroBackward0", sample=S((3,)))
register(
    "copy",
    lambda x, src: jnp.broadcast_to(src, x.shape).astype(x.dtype),
    "CopyBackwards",
    sample=S((2, 3), (3,)),
)
register(
    "to_device",
    lambda x, device, source=None: jax.device_put(x, device),
    "ToCopyBackward0",
    sample=S((3,), device=jax.devices()[0], source=jax.devices()[0]),
)


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
    register(_name, _fn, "", differentiable=False)
register(
    "argmax",
    lambda x, dim=None, keepdim=False: jnp.argmax(x, dim, keepdims=keepdim),
    "",
    differentiable=False,
    wide=True,
)
register(
    "argmin",
    lambda x, dim=None, keepdim=False: jnp.argmin(x, dim, keepdims=keepdim),
    "",
    differentiable=False,
    wide=True,
)
register("all", lambda x, dim=None: jnp.all(x, dim), "", differentiable=False)
register("any", lambda x, dim=None: jnp.any(x, dim), "", differentiable=False)
