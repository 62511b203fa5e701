"""The op table's math section for the wider PyTorch surface: registered into `OPS` on import.

Same rules as ops.py: one entry per differentiable op naming a JAX function, backward is
`jax.vjp` of it, `saves` follows PyTorch's saved tensors, node names are PyTorch's. It
holds the elementwise functions (hyperbolic, inverse trigonometric, erfinv, ...), the
activations `nn.functional` needs beyond relu/gelu (hardtanh, mish, selu, ...), sorting and
selection (topk, sort, median), scans and reductions (cumprod, var_mean, ...), and
products (addmm, baddbmm, einsum, cross, det, inverse). Rearranging and index-driven ops
are in `ops_arrange.py`. The Tensor methods that call these entries are in
`methods/math_more.py`.

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
import numpy as np

from ._op import S, register

__all__ = []

# Samples of ops defined on an interval take values uniform in it (test_ops.py).
UNIT = (0.1, 0.9)
SYMMETRIC_UNIT = (-0.9, 0.9)
# Products of inputs 1 and 2 (addmm's mat1 @ mat2, addcmul's tensor1 * tensor2): PyTorch
# saves each only for the other's gradient.
_CROSS_12 = {1: (2,), 2: (1,)}


def _clamp(x, lo, hi):
    """jnp.clip with PyTorch's gradient: 1 where lo <= x <= hi (jnp.clip gives 1/2 at a
    bound, as jnp.maximum splits ties)."""
    inside = jnp.ones(x.shape, bool)
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return jnp.where(inside, x, jnp.clip(x, lo, hi))


def _norm(x, p=2, dim=None, keepdim=False):
    if p != 2:
        return jnp.linalg.vector_norm(x, ord=p, axis=dim, keepdims=keepdim)
    # The 2-norm with PyTorch's gradient at 0 (zero, where sqrt's would be nan).
    sq = jnp.sum(jnp.square(x), axis=dim, keepdims=keepdim)
    zero = sq == 0
    return jnp.where(zero, 0.0, jnp.sqrt(jnp.where(zero, 1.0, sq))).astype(sq.dtype)


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


# ---------------------------------------------------------------- elementwise unary math
register("sinh", jnp.sinh, "SinhBackward0", "all", sample=S((3,)))
register("cosh", jnp.cosh, "CoshBackward0", "all", sample=S((3,)))
register("asinh", jnp.arcsinh, "AsinhBackward0", "all", sample=S((3,)))
register("acosh", jnp.arccosh, "AcoshBackward0", "all", sample=S((3,), positive=(1.1, 2.5)))
register("atanh", jnp.arctanh, "AtanhBackward0", "all", sample=S((3,), positive=SYMMETRIC_UNIT))
register("asin", jnp.arcsin, "AsinBackward0", "all", sample=S((3,), positive=SYMMETRIC_UNIT))
register("acos", jnp.arccos, "AcosBackward0", "all", sample=S((3,), positive=SYMMETRIC_UNIT))
register("atan", jnp.arctan, "AtanBackward0", "all", sample=S((3,)))
register(
    "erfinv",
    jax.scipy.special.erfinv,
    "ErfinvBackward0",
    "all",
    sample=S((3,), positive=SYMMETRIC_UNIT),
)
register("erfc", jax.scipy.special.erfc, "ErfcBackward0", "all", sample=S((3,)))
register("log10", jnp.log10, "Log10Backward0", "all", sample=S((3,), positive=True))
register("exp2", jnp.exp2, "Exp2Backward0", "result", sample=S((3,)))
register("trunc", jnp.trunc, "TruncBackward0", sample=S((3,)))
register("frac", lambda x: x - jnp.trunc(x), "FracBackward0", sample=S((3,)))
register("sgn", jnp.sign, "SgnBackward0", "all+result", sample=S((3,)))
register("deg2rad", jnp.deg2rad, "Deg2RadBackward0", sample=S((3,)))
register("rad2deg", jnp.rad2deg, "Rad2DegBackward0", sample=S((3,)))


def _logit(x, eps=None):
    """log(x / (1 - x)); with eps, x clamped to [eps, 1 - eps] first, and (PyTorch's rule)
    no gradient outside that interval."""
    if eps is not None:
        x = _clamp(x, eps, 1.0 - eps)
    return jnp.log(x) - jnp.log1p(-x)


register("logit", _logit, "LogitBackward0", "all", sample=S((4,), positive=UNIT, eps=0.2))


def _nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return jnp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


register("nan_to_num", _nan_to_num, "NanToNumBackward0", "all", sample=S((3,)))


# ---------------------------------------------------------------- activations
def _inside_or_constant(x, inside, outside_value):
    """x where `inside` holds, else a constant (no gradient): PyTorch's gradient of
    hardtanh-like functions is 0 at their bounds, where jnp.clip's is 1/2."""
    return jnp.where(inside, x, jax.lax.stop_gradient(outside_value))


def _hardtanh(x, min_val=-1.0, max_val=1.0):
    return _inside_or_constant(x, (x > min_val) & (x < max_val), jnp.clip(x, min_val, max_val))


def _hardsigmoid(x):
    # PyTorch's backward multiplies by 1/6 rounded to float32, also for float64 (its CPU
    # kernel's constant): the slope is that constant, the value stays (x + 3) / 6.
    slope = jnp.asarray(np.float32(1 / 6), x.dtype)
    value = (x + 3) / 6
    line = x * slope + jax.lax.stop_gradient(value - x * slope)
    return _inside_or_constant(line, (x > -3) & (x < 3), jnp.clip(value, 0, 1))


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


register(
    "hardtanh", _hardtanh, "HardtanhBackward0", "all", sample=S((6,), min_val=-0.5, max_val=0.5)
)
register("hardsigmoid", _hardsigmoid, "HardsigmoidBackward0", "all", sample=S((6,)))
register("hardswish", _hardswish, "HardswishBackward0", "all", sample=S((6,)))
register(
    "mish",
    lambda x: x * jnp.tanh(jax.nn.softplus(x)),
    "MishBackward0",
    "all",
    sample=S((4,)),
)
register("selu", _selu, "EluBackward0", "all", sample=S((6,)))
register("celu", _celu, "CeluBackward0", "all", sample=S((6,), alpha=0.5))
register("logsigmoid", jax.nn.log_sigmoid, "LogSigmoidBackward0", "all", sample=S((4,)))
register(
    "threshold",
    _threshold,
    "ThresholdBackward0",
    "all",
    sample=S((6,), threshold=0.25, value=-2.0),
)
register("glu", _glu, "GluBackward0", "all", sample=S((3, 4), dim=1))
register("prelu", _prelu, "PreluKernelBackward0", "all", sample=S((2, 3, 4), (3,)))


# In-place elu_ / leaky_relu_: PyTorch's kernels then save the result, under their own names.
register(
    "elu_inplace",
    lambda x, alpha=1.0: jax.nn.elu(x, alpha),
    "EluBackward1",
    "result",
    sample=S((6,)),
)
register(
    "leaky_relu_inplace",
    lambda x, negative_slope=0.01: jax.nn.leaky_relu(x, negative_slope),
    "LeakyReluBackward1",
    "result",
    sample=S((6,), negative_slope=0.1),
)


# ---------------------------------------------------------------- elementwise, several inputs
register("hypot", jnp.hypot, "HypotBackward0", "all+result", sample=S((4,), (4,)))
register("logaddexp", jnp.logaddexp, "LogaddexpBackward0", "all", sample=S((4,), (4,)))
register("fmod", jnp.fmod, "FmodBackward1", {0: (1,), 1: (1,)}, sample=S((6,), (6,), positive=True))
register("fmod_scalar", jnp.fmod, "FmodBackward0", sample=S((4,), 0.5))
register(
    "xlogy",
    jax.scipy.special.xlogy,
    "XlogyBackward0",
    "all",
    sample=S((4,), (4,), positive=True),
)
register(
    "lerp",
    lambda start, end, weight=0.5: start + weight * (end - start),
    "LerpBackward0",
    sample=S((4,), (4,), weight=0.3),
)
register(
    "lerp_tensor",
    lambda start, end, weight: start + weight * (end - start),
    "LerpBackward1",
    {0: (2,), 1: (2,), 2: (0, 1)},
    sample=S((4,), (4,), (4,)),
)
register(
    "clamp_min",
    lambda x, min: _clamp(x, min, None),
    "ClampMinBackward0",
    "all",
    sample=S((6,), min=0.25),
)
register(
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


register("clamp_tensor", _clamp_tensor, "ClampBackward0", "all", sample=S((6,), (6,), (6,)))
register(
    "clamp_min_tensor",
    lambda x, lo: jnp.where(x < lo, lo, x),
    "ClampMinBackward1",
    "all",
    sample=S((6,), (6,)),
)
register(
    "clamp_max_tensor",
    lambda x, hi: jnp.where(x > hi, hi, x),
    "ClampMaxBackward1",
    "all",
    sample=S((6,), (6,)),
)
register(
    "addcmul",
    lambda x, t1, t2, value=1: x + value * t1 * t2,
    "AddcmulBackward0",
    _CROSS_12,
    sample=S((3,), (3,), (3,), value=0.5),
)
register(
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
    # top_k's are int32; PyTorch's int64 (the op runs wide; int32 outside the mode).
    idx = idx.astype(jax.dtypes.canonicalize_dtype(jnp.int64))
    values = jnp.take_along_axis(moved, idx, axis=-1)
    return jnp.moveaxis(values, -1, dim), jnp.moveaxis(idx, -1, dim)


def _sort(x, dim=-1, descending=False):
    if x.ndim == 0:
        return x, jnp.zeros((), jax.dtypes.canonicalize_dtype(jnp.int64))
    idx = jnp.argsort(x, axis=dim, stable=True, descending=descending)
    return jnp.take_along_axis(x, idx, axis=dim), idx


def _median(x):
    """The lower median of all elements, PyTorch's choice for an even count."""
    flat = jnp.sort(jnp.ravel(x))
    return flat[(flat.size - 1) // 2]


def _median_dim(x, dim, keepdim=False):
    if x.ndim == 0:
        return x, jnp.zeros((), jax.dtypes.canonicalize_dtype(jnp.int64))
    idx = jnp.argsort(x, axis=dim, stable=True)
    mid = jnp.take(idx, (x.shape[dim] - 1) // 2, axis=dim)
    mid = jnp.expand_dims(mid, dim)
    values = jnp.take_along_axis(x, mid, axis=dim)
    if not keepdim:
        values, mid = jnp.squeeze(values, dim), jnp.squeeze(mid, dim)
    return values, mid


# wide: PyTorch's indices are int64 (the op runs in JAX's 64-bit mode to make them).
register(
    "topk", _topk, "TopkBackward0", "indices", multi=True, wide=True, sample=S((3, 5), k=2, dim=1)
)
register("sort", _sort, "SortBackward0", "indices", multi=True, wide=True, sample=S((3, 4), dim=0))
register("median", _median, "MedianBackward0", "all+result", sample=S((3, 4)))
register(
    "median_dim",
    _median_dim,
    "MedianBackward1",
    "indices",
    multi=True,
    wide=True,
    sample=S((3, 4), dim=1),
)


# ---------------------------------------------------------------- scans and reductions
def _spread_mean(x, dim=None, correction=1, keepdim=False, *, spread=jnp.var):
    return spread(x, dim, ddof=correction, keepdims=keepdim), jnp.mean(x, dim, keepdims=keepdim)


_var_mean = _spread_mean
_std_mean = functools.partial(_spread_mean, spread=jnp.std)
register("var_mean", _var_mean, "VarMeanBackward0", "all", multi=True, sample=S((3, 4), dim=(1,)))
register("std_mean", _std_mean, "StdMeanBackward0", "all+result", multi=True, sample=S((5,)))


def _scan(fn):
    """A scan along dim; a 0-d tensor is its own scan, as in PyTorch."""
    return lambda x, dim: fn(x, dim) if x.ndim else x


register("cumprod", _scan(jnp.cumprod), "CumprodBackward0", "all+result", sample=S((3, 4), dim=1))
register(
    "logcumsumexp",
    _scan(lambda x, dim: jax.lax.cumlogsumexp(x, axis=dim)),
    "LogcumsumexpBackward0",
    "all+result",
    sample=S((3, 4), dim=1),
)
register(
    "nansum",
    lambda x, dim=None, keepdim=False: jnp.nansum(x, dim, keepdims=keepdim),
    "NansumBackward0",
    "all",
    sample=S((2, 3)),
)
register(
    "dist",
    lambda x, y, p=2: _norm(x - y, p),
    "DistBackward0",
    "all+result",
    sample=S((3, 4), (4,), p=2),
)


def _cdist(x1, x2, p=2.0):
    diff = x1[..., :, None, :] - x2[..., None, :, :]
    return _norm(diff, p, dim=-1)


register("cdist", _cdist, "CdistBackward0", "all+result", sample=S((3, 2), (4, 2)))
register("trace", jnp.trace, "TraceBackward0", sample=S((3, 4)))


# at::norm(x, p, dim): PyTorch's older norm (pairwise_distance uses it), its own node.
register(
    "norm_legacy",
    lambda x, p=2, dim=None, keepdim=False: _norm(x, p, dim, keepdim),
    "NormBackward1",
    "all+result",
    sample=S((3, 4), dim=(1,)),
)


# ---------------------------------------------------------------- products and linear algebra
register(
    "addmm",
    lambda x, m1, m2, beta=1, alpha=1: beta * x + alpha * (m1 @ m2),
    "AddmmBackward0",
    _CROSS_12,
    sample=S((3, 1), (3, 4), (4, 2), beta=0.5, alpha=2.0),
)
register(
    "baddbmm",
    lambda x, b1, b2, beta=1, alpha=1: beta * x + alpha * (b1 @ b2),
    "BaddbmmBackward0",
    _CROSS_12,
    sample=S((2, 3, 2), (2, 3, 4), (2, 4, 2), beta=0.5),
)
register(
    "addmv",
    lambda x, m, v, beta=1, alpha=1: beta * x + alpha * (m @ v),
    "AddmvBackward0",
    _CROSS_12,
    sample=S((3,), (3, 4), (4,)),
)
register(
    "addr",
    lambda x, v1, v2, beta=1, alpha=1: beta * x + alpha * jnp.outer(v1, v2),
    "AddrBackward0",
    _CROSS_12,
    sample=S((3, 4), (3,), (4,)),
)
register("vdot", jnp.vdot, "VdotBackward0", "cross", sample=S((4,), (4,)))
register(
    "cross",
    lambda x, y, dim=-1: jnp.cross(x, y, axis=dim),
    "LinalgCrossBackward0",
    "cross",
    sample=S((2, 3), (2, 3), dim=1),
)
register("det", jnp.linalg.det, "LinalgDetBackward0", "all+result", sample=S((3, 3)))
register("inverse", jnp.linalg.inv, "LinalgInvExBackward0", "result", sample=S((3, 3)))

# einsum: one op; its node is named after the last op of PyTorch's decomposition: a
# contraction (bmm) ends in a view, a plain product in a mul, a reduction of one operand in
# a sum, a transpose or diagonal of one operand in a permute.
_einsum = functools.partial(jnp.einsum, precision=jax.lax.Precision.HIGHEST)
register(
    "einsum_view",
    lambda *xs, equation: _einsum(equation, *xs),
    "ViewBackward0",
    "all",
    sample=S((3, 4), (4, 2), equation="ij,jk->ik"),
)
register(
    "einsum_mul",
    lambda *xs, equation: _einsum(equation, *xs),
    "MulBackward0",
    "all",
    sample=S((3,), (4,), equation="i,j->ij"),
)
register(
    "einsum_sum",
    lambda x, equation: _einsum(equation, x),
    "SumBackward1",
    sample=S((3, 4), equation="ij->j"),
)
register(
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
    register(_name, _fn, "", differentiable=False)
register(
    "isclose",
    lambda x, y, rtol=1e-5, atol=1e-8, equal_nan=False: jnp.isclose(x, y, rtol, atol, equal_nan),
    "",
    differentiable=False,
)
register(
    "count_nonzero",
    lambda x, dim=None: jnp.count_nonzero(x, dim),
    "",
    differentiable=False,
    wide=True,
)
