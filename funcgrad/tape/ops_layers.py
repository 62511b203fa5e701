"""The op table's entries for the layers of the wider PyTorch surface: registered into
`ops.OPS` on import.

Same rules as ops_nn.py (whose conventions they share: NC... layouts, static arguments as
hashable tuples, an absent affine weight as the Python scalar 1.0): 1-D and transposed
convolution, padding (constant, reflect, replicate, circular), resampling (nearest and
linear interpolation), channel-wise dropout, layer and group normalisation, and the losses
PyTorch computes in one kernel (binary cross entropy, smooth L1, Huber). Losses PyTorch
composes (L1, KL divergence) are composed in `nn.loss_functions`, not added here.

Binary cross entropy keeps PyTorch's derivative where the log is clamped at -100 (an
input of exactly 0 or 1, e.g. a saturated sigmoid): PyTorch's gradient there is
(x - t) / max(x (1 - x), 1e-12), where the clamp's would be 0; a `custom_jvp` holds it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._op import S, register

__all__ = []
from .ops_nn import _reduce


# ---------------------------------------------------------------- convolution
def _conv1d(x, weight, *bias, stride=(1,), padding=((0, 0),), dilation=(1,), groups=1):
    unbatched = x.ndim == 2
    x = x[None] if unbatched else x
    y = jax.lax.conv_general_dilated(
        x, weight, stride, padding, rhs_dilation=dilation,
        dimension_numbers=("NCH", "OIH", "NCH"), feature_group_count=groups,
    )  # fmt: skip
    if bias:
        y = y + bias[0][:, None]
    return y[0] if unbatched else y


def _conv_transpose(
    x, weight, *bias, stride, padding, output_padding, dilation, groups=1, spatial=2
):
    """PyTorch's transposed convolution (the gradient of a convolution with respect to its
    input) as a convolution of the input dilated by `stride` with the flipped kernel:
    weight (C_in, C_out / groups, k...) becomes (C_out, C_in / groups, k...) per group."""
    unbatched = x.ndim == spatial + 1
    x = x[None] if unbatched else x
    c_in, c_out_g = weight.shape[:2]
    k = weight.shape[2:]
    w = weight.reshape((groups, c_in // groups, c_out_g) + k)
    w = jnp.swapaxes(w, 1, 2).reshape((groups * c_out_g, c_in // groups) + k)
    w = jnp.flip(w, axis=tuple(range(2, 2 + spatial)))
    pads = [
        (d * (kk - 1) - p, d * (kk - 1) - p + op)
        for kk, p, op, d in zip(k, padding, output_padding, dilation)
    ]
    names = "NCH" if spatial == 1 else "NCHW"
    y = jax.lax.conv_general_dilated(
        x, w, (1,) * spatial, pads, lhs_dilation=stride, rhs_dilation=dilation,
        dimension_numbers=(names, "OI" + names[2:], names), feature_group_count=groups,
    )  # fmt: skip
    if bias:
        y = y + bias[0].reshape((-1,) + (1,) * spatial)
    return y[0] if unbatched else y


register(
    "conv1d",
    _conv1d,
    "ConvolutionBackward0",
    (0, 1),
    sample=S((2, 4, 7), (6, 2, 3), (6,), stride=(2,), padding=((1, 1),), dilation=(1,),
             groups=2),
)  # fmt: skip
register(
    "conv_transpose2d",
    _conv_transpose,
    "ConvolutionBackward0",
    (0, 1),
    sample=S((2, 4, 4, 3), (4, 3, 3, 2), (6,), stride=(2, 1), padding=(1, 0),
             output_padding=(1, 0), dilation=(1, 2), groups=2),
)  # fmt: skip
register(
    "conv_transpose1d",
    lambda *a, **k: _conv_transpose(*a, spatial=1, **k),
    "ConvolutionBackward0",
    (0, 1),
    sample=S((2, 4, 5), (4, 3, 3), stride=(2,), padding=(1,), output_padding=(1,),
             dilation=(1,)),
)  # fmt: skip


# ---------------------------------------------------------------- padding
def _pad_constant(x, pads, value=0.0):
    """pads: (low, high) per dim of x, negative to crop (lax.pad crops)."""
    return jax.lax.pad(x, jnp.asarray(value, x.dtype), [(lo, hi, 0) for lo, hi in pads])


def _pad_mode(x, pads, mode):
    """reflect / edge / wrap padding (numpy's names); negative entries crop first."""
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, pads))
    positive = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    return jnp.pad(x[crop], positive, mode=mode)


_PAD_SAMPLE = {"pads": ((0, 0), (0, 0), (1, 2), (2, 0))}
register("pad_constant", _pad_constant, "ConstantPadNdBackward0",
    sample=S((2, 2, 4, 5), value=0.5, pads=((0, 0), (1, -1), (2, 1), (0, 3))))  # fmt: skip
for _dims in (1, 2, 3):  # (PyTorch's reflection and replication pads save their input)
    for _mode, _numpy_mode, _node in (("reflect", "reflect", "Reflection"),
                                      ("replicate", "edge", "Replication")):  # fmt: skip
        register(
            f"pad_{_mode}{_dims}d",
            lambda x, pads, _numpy_mode=_numpy_mode: _pad_mode(x, pads, _numpy_mode),
            f"{_node}Pad{_dims}DBackward0",
            (0,),
            sample=S((2, 2, 4, 5), **_PAD_SAMPLE),
        )
# Circular padding is a series of slice copies in PyTorch; its last node is a CopySlices.
register("pad_circular", lambda x, pads: _pad_mode(x, pads, "wrap"), "CopySlices",
    sample=S((2, 2, 4, 5), **_PAD_SAMPLE))  # fmt: skip


# ---------------------------------------------------------------- resampling
def _source_matrix(in_size, out_size, mode, align_corners, scale):
    """(out_size, in_size) matrix of PyTorch's upsampling weights along one dim.

    scale: the user's scale_factor, or None (then in_size / out_size): PyTorch computes
    source positions from 1 / scale_factor when one was given. Arithmetic in float32, as
    PyTorch's CPU kernels for float inputs."""
    f32 = np.float32
    dst = np.arange(out_size, dtype=f32)
    ratio = f32(1.0 / scale) if scale else f32(in_size / out_size)
    m = np.zeros((out_size, in_size), np.float32)
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and out_size == in_size:
            src = np.arange(out_size)
        else:
            offset = f32(0.5) if mode == "nearest-exact" else f32(0.0)
            src = np.floor((dst + offset) * ratio).astype(np.int64)
        m[np.arange(out_size), np.minimum(src, in_size - 1)] = 1.0
        return m
    if align_corners:
        ratio = f32((in_size - 1) / (out_size - 1)) if out_size > 1 else f32(0.0)
        real = dst * ratio
    else:
        real = np.maximum((dst + f32(0.5)) * ratio - f32(0.5), f32(0.0))
    i0 = np.minimum(np.floor(real).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam = np.clip(real - i0, 0.0, 1.0).astype(np.float32)
    rows = np.arange(out_size)
    np.add.at(m, (rows, i0), 1.0 - lam)
    np.add.at(m, (rows, i1), lam)
    return m


def _upsample(x, size, mode, align_corners=False, scales=None):
    """Separable resampling of the trailing len(size) dims by weight matrices."""
    spatial = len(size)
    scales = scales or (None,) * spatial
    for i, (out, s) in enumerate(zip(size, scales)):
        axis = x.ndim - spatial + i
        m = _source_matrix(x.shape[axis], out, mode, align_corners, s)
        x = jnp.moveaxis(jnp.tensordot(x, jnp.asarray(m, x.dtype), ((axis,), (1,))), -1, axis)
    return x


_UPSAMPLE = {
    ("nearest", 1): "UpsampleNearest1DBackward0",
    ("nearest", 2): "UpsampleNearest2DBackward0",
    ("nearest", 3): "UpsampleNearest3DBackward0",
    ("nearest-exact", 1): "UpsampleNearestExact1DBackward0",
    ("nearest-exact", 2): "UpsampleNearestExact2DBackward0",
    ("linear", 1): "UpsampleLinear1DBackward0",
    ("bilinear", 2): "UpsampleBilinear2DBackward0",
    ("trilinear", 3): "UpsampleTrilinear3DBackward0",
}
for (_mode, _n), _node in _UPSAMPLE.items():
    register(
        f"upsample_{_mode}{_n}d",
        lambda x, size, align_corners=False, scales=None, _mode=_mode: _upsample(
            x, size, _mode, align_corners, scales
        ),
        _node,
        sample=S((2, 3) + (3, 4, 2)[:_n], size=(5, 7, 3)[:_n], scales=None),
    )


# ---------------------------------------------------------------- channel-wise dropout
# ---------------------------------------------------------------- normalisation
def _layer_norm(x, weight, bias, n_dims=1, eps=1e-5):
    axes = tuple(range(x.ndim - n_dims, x.ndim))
    mean = jnp.mean(x, axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axes, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * weight + bias


def _group_norm(x, weight, bias, groups=1, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape((n, groups, -1))
    mean = jnp.mean(g, -1, keepdims=True)
    var = jnp.mean(jnp.square(g - mean), -1, keepdims=True)
    y = ((g - mean) * jax.lax.rsqrt(var + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    w = jnp.reshape(weight, shape) if jnp.ndim(weight) else weight
    b = jnp.reshape(bias, shape) if jnp.ndim(bias) else bias
    return y * w + b


register(
    "layer_norm",
    _layer_norm,
    "NativeLayerNormBackward0",
    "all",
    sample=S((2, 3, 4), (3, 4), (3, 4), n_dims=2),
)
register(
    "group_norm",
    _group_norm,
    "NativeGroupNormBackward0",
    (0, 1),
    sample=S((2, 4, 3, 2), (4,), (4,), groups=2),
)


# ---------------------------------------------------------------- losses
@jax.custom_jvp
def _bce_pointwise(x, target):
    log_x = jnp.maximum(jnp.log(x), -100.0)
    log_1mx = jnp.maximum(jnp.log1p(-x), -100.0)
    return -(target * log_x + (1 - target) * log_1mx)


@_bce_pointwise.defjvp
def _bce_pointwise_jvp(primals, tangents):
    """PyTorch's binary_cross_entropy_backward: (x - t) / max(x (1 - x), 1e-12) for x, and
    log(1 - x) - log(x) (each clamped at -100) for the target."""
    x, target = primals
    dx, dt = tangents
    out = _bce_pointwise(x, target)
    d_x = (x - target) / jnp.maximum((1 - x) * x, 1e-12)
    d_t = jnp.maximum(jnp.log1p(-x), -100.0) - jnp.maximum(jnp.log(x), -100.0)
    return out, d_x * dx + d_t * dt


def _binary_cross_entropy(x, target, *weight, reduction="mean"):
    loss = _bce_pointwise(x, target)
    if weight:
        loss = loss * weight[0]
    return _reduce(loss, reduction)


def _smooth_l1_loss(x, target, reduction="mean", beta=1.0):
    d = jnp.abs(x - target)
    return _reduce(jnp.where(d < beta, 0.5 * jnp.square(d) / beta, d - 0.5 * beta), reduction)


def _huber_loss(x, target, reduction="mean", delta=1.0):
    d = jnp.abs(x - target)
    loss = jnp.where(d <= delta, 0.5 * jnp.square(d), delta * (d - 0.5 * delta))
    return _reduce(loss, reduction)


register(
    "binary_cross_entropy",
    _binary_cross_entropy,
    "BinaryCrossEntropyBackward0",
    "all",
    sample=S((3, 4), (3, 4), (4,), positive=(0.1, 0.9), reduction="sum"),
)
register(
    "smooth_l1_loss",
    _smooth_l1_loss,
    "SmoothL1LossBackward0",
    "all",
    sample=S((3, 4), (3, 4), beta=0.5),
)
register(
    "huber_loss", _huber_loss, "HuberLossBackward0", "all", sample=S((3, 4), (3, 4), delta=0.5)
)
