"""The op table's math section for the wider PyTorch surface: registered into `ops.OPS`.

Same rules as ops.py: one entry per differentiable op naming a JAX function, backward is
`jax.vjp` of it, `saves` follows PyTorch's saved tensors, node names are PyTorch's. It
holds the elementwise functions (hyperbolic, inverse trigonometric, erfinv, ...), the
activations `nn.functional` needs beyond relu/gelu (hardtanh, mish, selu, ...), sorting and
selection (topk, sort, median), scans and reductions (cumprod, var_mean, ...), and
products (addmm, baddbmm, einsum, cross, det, inverse). Rearranging and index-driven ops
are in `ops_arrange.py`. The Tensor methods that call these entries are in
`tensor_methods_math.py`.

Where PyTorch's derivative differs from the plain JAX function's at singular points
(`pow` at a zero base, hardtanh at its bounds), the function is written so that `jax.vjp`
gives PyTorch's value there (a `where` that picks a constant, a `custom_jvp` holding
PyTorch's formula); the reason is said next to each.

What it does not do: ops whose output shape depends on values (nonzero, unique) run on
the host in the methods.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .ops import S, _clamp, _norm, _op

# Samples of ops defined on an interval take values uniform in it (test_ops.py).
UNIT = (0.1, 0.9)
SYMMETRIC_UNIT = (-0.9, 0.9)
# Products of inputs 1 and 2 (addmm's mat1 @ mat2, addcmul's tensor1 * tensor2): PyTorch
# saves each only for the other's gradient.
_CROSS_12 = {1: (2,), 2: (1,)}


# ---------------------------------------------------------------- elementwise unary math
_op("sinh", jnp.sinh, "SinhBackward0", "all", sample=S((3,)))
_op("cosh", jnp.cosh, "CoshBackward0", "all", sample=S((3,)))
_op("asinh", jnp.arcsinh, "AsinhBackward0", "all", sample=S((3,)))
_op("acosh", jnp.arccosh, "AcoshBackward0", "all", sample=S((3,), positive=(1.1, 2.5)))
_op("atanh", jnp.arctanh, "AtanhBackward0", "all", sample=S((3,), positive=SYMMETRIC_UNIT))
_op("asin", jnp.arcsin, "AsinBackward0", "all", sample=S((3,), positive=SYMMETRIC_UNIT))
_op("acos", jnp.arccos, "AcosBackward0", "all", sample=S((3,), positive=SYMMETRIC_UNIT))
_op("atan", jnp.arctan, "AtanBackward0", "all", sample=S((3,)))
_op(
    "erfinv",
    jax.scipy.special.erfinv,
    "ErfinvBackward0",
    "all",
    sample=S((3,), positive=SYMMETRIC_UNIT),
)
_op("erfc", jax.scipy.special.erfc, "ErfcBackward0", "all", sample=S((3,)))
_op("log10", jnp.log10, "Log10Backward0", "all", sample=S((3,), positive=True))
_op("exp2", jnp.exp2, "Exp2Backward0", "result", sample=S((3,)))
_op("trunc", jnp.trunc, "TruncBackward0", sample=S((3,)))
_op("frac", lambda x: x - jnp.trunc(x), "FracBackward0", sample=S((3,)))
_op("sgn", jnp.sign, "SgnBackward0", "all+result", sample=S((3,)))
_op("deg2rad", jnp.deg2rad, "Deg2RadBackward0", sample=S((3,)))
_op("rad2deg", jnp.rad2deg, "Rad2DegBackward0", sample=S((3,)))


def _logit(x, eps=None):
    """log(x / (1 - x)); with eps, x clamped to [eps, 1 - eps] first, and (PyTorch's rule)
    no gradient outside that interval."""
    if eps is not None:
        x = _clamp(x, eps, 1.0 - eps)
    return jnp.log(x) - jnp.log1p(-x)


_op("logit", _logit, "LogitBackward0", "all", sample=S((4,), positive=UNIT, eps=0.2))


def _nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return jnp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


_op("nan_to_num", _nan_to_num, "NanToNumBackward0", "all", sample=S((3,)))


# ---------------------------------------------------------------- activations
def _inside_or_constant(x, inside, outside_value):
    """x where `inside` holds, else a constant (no gradient): PyTorch's gradient of
    hardtanh-like functions is 0 at their bounds, where jnp.clip's is 1/2."""
    return jnp.where(inside, x, jax.lax.stop_gradient(outside_value))


def _hardtanh(x, min_val=-1.0, max_val=1.0):
    return _inside_or_constant(x, (x > min_val) & (x < max_val), jnp.clip(x, min_val, max_val))


def _hardsigmoid(x):
    return _inside_or_constant(x / 6 + 0.5, (x > -3) & (x < 3), jnp.clip(x / 6 + 0.5, 0, 1))


def _hardswish(x):
    return jnp.where(x < -3, 0.0 * x, jnp.where(x <= 3, x * (x + 3) / 6, x))


def _selu(x):
    # PyTorch's constants (torch/csrc/api, aten Activation.cpp)
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return scale * jax.nn.elu(x, alpha)


def _celu(x, alpha=1.0):
    return jnp.where(x > 0, x, alpha * jnp.expm1(x / alpha))


def _threshold(x, threshold, value):
    return jnp.where(x > threshold, x, jnp.asarray(value, x.dtype))


def _glu(x, dim=-1):
    a, b = jnp.split(x, 2, axis=dim)
    return a * jax.nn.sigmoid(b)


def _prelu(x, weight):
    w = weight.reshape((-1,) + (1,) * (x.ndim - 2)) if x.ndim >= 2 and weight.size > 1 else weight
    return jnp.where(x > 0, x, w * x)


_op("hardtanh", _hardtanh, "HardtanhBackward0", "all", sample=S((6,), min_val=-0.5, max_val=0.5))
_op("hardsigmoid", _hardsigmoid, "HardsigmoidBackward0", "all", sample=S((6,)))
_op("hardswish", _hardswish, "HardswishBackward0", "all", sample=S((6,)))
_op(
    "mish",
    lambda x: x * jnp.tanh(jax.nn.softplus(x)),
    "MishBackward0",
    "all",
    sample=S((4,)),
)
_op("selu", _selu, "EluBackward0", "all", sample=S((6,)))
_op("celu", _celu, "CeluBackward0", "all", sample=S((6,), alpha=0.5))
_op("logsigmoid", jax.nn.log_sigmoid, "LogSigmoidBackward0", "all", sample=S((4,)))
_op(
    "threshold",
    _threshold,
    "ThresholdBackward0",
    "all",
    sample=S((6,), threshold=0.25, value=-2.0),
)
_op("glu", _glu, "GluBackward0", "all", sample=S((3, 4), dim=1))
_op("prelu", _prelu, "PreluKernelBackward0", "all", sample=S((2, 3, 4), (3,)))


# In-place elu_ / leaky_relu_: PyTorch's kernels then save the result, under their own names.
_op(
    "elu_inplace",
    lambda x, alpha=1.0: jax.nn.elu(x, alpha),
    "EluBackward1",
    "result",
    sample=S((6,)),
)
_op(
    "leaky_relu_inplace",
    lambda x, negative_slope=0.01: jax.nn.leaky_relu(x, negative_slope),
    "LeakyReluBackward1",
    "result",
    sample=S((6,), negative_slope=0.1),
)


# ---------------------------------------------------------------- elementwise, several inputs
_op("hypot", jnp.hypot, "HypotBackward0", "all+result", sample=S((4,), (4,)))
_op("logaddexp", jnp.logaddexp, "LogaddexpBackward0", "all", sample=S((4,), (4,)))
_op("fmod", jnp.fmod, "FmodBackward1", {0: (1,), 1: (1,)}, sample=S((6,), (6,), positive=True))
_op("fmod_scalar", jnp.fmod, "FmodBackward0", sample=S((4,), 0.5))
_op(
    "xlogy",
    jax.scipy.special.xlogy,
    "XlogyBackward0",
    "all",
    sample=S((4,), (4,), positive=True),
)
_op(
    "lerp",
    lambda start, end, weight=0.5: start + weight * (end - start),
    "LerpBackward0",
    sample=S((4,), (4,), weight=0.3),
)
_op(
    "lerp_tensor",
    lambda start, end, weight: start + weight * (end - start),
    "LerpBackward1",
    {0: (2,), 1: (2,), 2: (0, 1)},
    sample=S((4,), (4,), (4,)),
)
_op(
    "clamp_min",
    lambda x, min: _clamp(x, min, None),
    "ClampMinBackward0",
    "all",
    sample=S((6,), min=0.25),
)
_op(
    "clamp_max",
    lambda x, max: _clamp(x, None, max),
    "ClampMaxBackward0",
    "all",
    sample=S((6,), max=0.25),
)


def _clamp_tensor(x, lo, hi):
    """clamp with tensor bounds: min(max(x, lo), hi) with PyTorch's gradients (x's where
    lo <= x <= hi; a bound's where it is the result) and hi winning when lo > hi."""
    y = jnp.where(x < lo, lo, x)
    return jnp.where(y > hi, hi, y)


_op("clamp_tensor", _clamp_tensor, "ClampBackward0", "all", sample=S((6,), (6,), (6,)))
_op(
    "clamp_min_tensor",
    lambda x, lo: jnp.where(x < lo, lo, x),
    "ClampMinBackward1",
    "all",
    sample=S((6,), (6,)),
)
_op(
    "clamp_max_tensor",
    lambda x, hi: jnp.where(x > hi, hi, x),
    "ClampMaxBackward1",
    "all",
    sample=S((6,), (6,)),
)
_op(
    "addcmul",
    lambda x, t1, t2, value=1: x + value * t1 * t2,
    "AddcmulBackward0",
    _CROSS_12,
    sample=S((3,), (3,), (3,), value=0.5),
)
_op(
    "addcdiv",
    lambda x, t1, t2, value=1: x + value * t1 / t2,
    "AddcdivBackward0",
    {1: (2,), 2: (0, 1, 2)},  # (PyTorch keeps tensor2 for any input's gradient)
    sample=S((3,), (3,), (3,), positive=True, value=2.0),
)


# ---------------------------------------------------------------- sorting and selection
def _topk(x, k, dim=-1, largest=True):
    moved = jnp.moveaxis(x, dim, -1)
    _, idx = jax.lax.top_k(moved if largest else -moved, k)
    values = jnp.take_along_axis(moved, idx, axis=-1)
    return jnp.moveaxis(values, -1, dim), jnp.moveaxis(idx, -1, dim)


def _sort(x, dim=-1, descending=False):
    if x.ndim == 0:
        return x, jnp.zeros((), jnp.int32)
    idx = jnp.argsort(x, axis=dim, stable=True, descending=descending)
    return jnp.take_along_axis(x, idx, axis=dim), idx


def _median(x):
    """The lower median of all elements, PyTorch's choice for an even count."""
    flat = jnp.sort(jnp.ravel(x))
    return flat[(flat.size - 1) // 2]


def _median_dim(x, dim, keepdim=False):
    if x.ndim == 0:
        return x, jnp.zeros((), jnp.int32)
    idx = jnp.argsort(x, axis=dim, stable=True)
    mid = jnp.take(idx, (x.shape[dim] - 1) // 2, axis=dim)
    mid = jnp.expand_dims(mid, dim)
    values = jnp.take_along_axis(x, mid, axis=dim)
    if not keepdim:
        values, mid = jnp.squeeze(values, dim), jnp.squeeze(mid, dim)
    return values, mid


_op("topk", _topk, "TopkBackward0", "indices", multi=True, sample=S((3, 5), k=2, dim=1))
_op("sort", _sort, "SortBackward0", "indices", multi=True, sample=S((3, 4), dim=0))
_op("median", _median, "MedianBackward0", "all+result", sample=S((3, 4)))
_op(
    "median_dim",
    _median_dim,
    "MedianBackward1",
    "indices",
    multi=True,
    sample=S((3, 4), dim=1),
)


# ---------------------------------------------------------------- scans and reductions
def _spread_mean(x, dim=None, correction=1, keepdim=False, *, spread=jnp.var):
    return spread(x, dim, ddof=correction, keepdims=keepdim), jnp.mean(x, dim, keepdims=keepdim)


_var_mean = _spread_mean
_std_mean = functools.partial(_spread_mean, spread=jnp.std)
_op("var_mean", _var_mean, "VarMeanBackward0", "all", multi=True, sample=S((3, 4), dim=(1,)))
_op("std_mean", _std_mean, "StdMeanBackward0", "all+result", multi=True, sample=S((5,)))


def _scan(fn):
    """A scan along dim; a 0-d tensor is its own scan, as in PyTorch."""
    return lambda x, dim: fn(x, dim) if x.ndim else x


_op("cumprod", _scan(jnp.cumprod), "CumprodBackward0", "all+result", sample=S((3, 4), dim=1))
_op(
    "logcumsumexp",
    _scan(lambda x, dim: jax.lax.cumlogsumexp(x, axis=dim)),
    "LogcumsumexpBackward0",
    "all+result",
    sample=S((3, 4), dim=1),
)
_op(
    "nansum",
    lambda x, dim=None, keepdim=False: jnp.nansum(x, dim, keepdims=keepdim),
    "NansumBackward0",
    "all",
    sample=S((2, 3)),
)
_op(
    "dist",
    lambda x, y, p=2: _norm(x - y, p),
    "DistBackward0",
    "all+result",
    sample=S((3, 4), (4,), p=2),
)


def _cdist(x1, x2, p=2.0):
    diff = x1[..., :, None, :] - x2[..., None, :, :]
    return _norm(diff, p, dim=-1)


_op("cdist", _cdist, "CdistBackward0", "all+result", sample=S((3, 2), (4, 2)))
_op("trace", jnp.trace, "TraceBackward0", sample=S((3, 4)))


# at::norm(x, p, dim): PyTorch's older norm (pairwise_distance uses it), its own node.
_op(
    "norm_legacy",
    lambda x, p=2, dim=None, keepdim=False: _norm(x, p, dim, keepdim),
    "NormBackward1",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)


# ---------------------------------------------------------------- products and linear algebra
_op(
    "addmm",
    lambda x, m1, m2, beta=1, alpha=1: beta * x + alpha * (m1 @ m2),
    "AddmmBackward0",
    _CROSS_12,
    sample=S((3, 1), (3, 4), (4, 2), beta=0.5, alpha=2.0),
)
_op(
    "baddbmm",
    lambda x, b1, b2, beta=1, alpha=1: beta * x + alpha * (b1 @ b2),
    "BaddbmmBackward0",
    _CROSS_12,
    sample=S((2, 3, 2), (2, 3, 4), (2, 4, 2), beta=0.5),
)
_op(
    "addmv",
    lambda x, m, v, beta=1, alpha=1: beta * x + alpha * (m @ v),
    "AddmvBackward0",
    _CROSS_12,
    sample=S((3,), (3, 4), (4,)),
)
_op(
    "addr",
    lambda x, v1, v2, beta=1, alpha=1: beta * x + alpha * jnp.outer(v1, v2),
    "AddrBackward0",
    _CROSS_12,
    sample=S((3, 4), (3,), (4,)),
)
_op("vdot", jnp.vdot, "VdotBackward0", "cross", sample=S((4,), (4,)))
_op(
    "cross",
    lambda x, y, dim=-1: jnp.cross(x, y, axis=dim),
    "LinalgCrossBackward0",
    "cross",
    sample=S((2, 3), (2, 3), dim=1),
)
_op("det", jnp.linalg.det, "LinalgDetBackward0", "all+result", sample=S((3, 3)))
_op("inverse", jnp.linalg.inv, "LinalgInvExBackward0", "result", sample=S((3, 3)))

# einsum: one op; its node is named after the last op of PyTorch's decomposition: a
# contraction (bmm) ends in a view, a plain product in a mul, a reduction of one operand in
# a sum, a transpose or diagonal of one operand in a permute.
_einsum = functools.partial(jnp.einsum, precision=jax.lax.Precision.HIGHEST)
_op(
    "einsum_view",
    lambda *xs, equation: _einsum(equation, *xs),
    "ViewBackward0",
    "all",
    sample=S((3, 4), (4, 2), equation="ij,jk->ik"),
)
_op(
    "einsum_mul",
    lambda *xs, equation: _einsum(equation, *xs),
    "MulBackward0",
    "all",
    sample=S((3,), (4,), equation="i,j->ij"),
)
_op(
    "einsum_sum",
    lambda x, equation: _einsum(equation, x),
    "SumBackward1",
    sample=S((3, 4), equation="ij->j"),
)
_op(
    "einsum_permute",
    lambda x, equation: _einsum(equation, x),
    "PermuteBackward0",
    sample=S((3, 4), equation="ij->ji"),
)


# ---------------------------------------------------------------- not differentiable
for _name, _fn in {
    "isinf": jnp.isinf,
    "isfinite": jnp.isfinite,
    "isposinf": jnp.isposinf,
    "isneginf": jnp.isneginf,
    "signbit": jnp.signbit,
    "logical_xor": jnp.logical_xor,
}.items():
    _op(_name, _fn, "", differentiable=False)
_op(
    "isclose",
    lambda x, y, rtol=1e-5, atol=1e-8, equal_nan=False: jnp.isclose(x, y, rtol, atol, equal_nan),
    "",
    differentiable=False,
)
_op(
    "count_nonzero",
    lambda x, dim=None: jnp.count_nonzero(x, dim),
    "",
    differentiable=False,
)
