"""The op table's neural-network section: registered into `OPS` (_op.py) on import.

Same rules as ops.py: one entry per op naming a JAX function; backward is `jax.vjp`.
Arguments arrive already in PyTorch's conventions normalised by `nn.functional`: static
arguments are hashable tuples (a 2-D conv's `stride=(1, 1)`, `padding=((1, 1), (1, 1))`),
optional tensor inputs (a bias, a class weight) are trailing positional inputs, and an
absent affine weight is the Python scalar 1.0. Layouts are PyTorch's: NCHW activations,
OIHW convolution kernels, `(out_features, in_features)` linear weights.

Ops that PyTorch builds from several kernels keep PyTorch's node name for the last one.
Ops that PyTorch writes as compositions of existing table ops (cross entropy =
log_softmax + nll_loss, adaptive pooling to 1x1 = mean, dropout = input * noise) are
composed in `nn.functional`, not added here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._op import S, register

__all__ = []


# ---------------------------------------------------------------- convolution
# (linear layers are ops_math.py's addmm of the transposed weight, as in PyTorch)
def _conv2d(x, weight, *bias, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    y = jax.lax.conv_general_dilated(
        x,
        weight,
        stride,
        padding,
        rhs_dilation=dilation,
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        feature_group_count=groups,
    )
    if bias:
        y = y + bias[0][:, None, None]
    return y[0] if unbatched else y


register(
    "conv2d",
    _conv2d,
    "ConvolutionBackward0",
    (0, 1),
    sample=S(
        (2, 4, 5, 5),
        (6, 2, 3, 3),
        (6,),
        stride=(2, 1),
        padding=((1, 1), (0, 0)),
        dilation=(1, 2),
        groups=2,
    ),
)


# ---------------------------------------------------------------- pooling
def _pool_padding(size, kernel, stride, pad, dilation, ceil_mode):
    """(low, high) padding of one spatial dim: PyTorch's output size, incl. ceil_mode."""
    span = dilation * (kernel - 1) + 1
    num = size + 2 * pad - span
    out = (-(-num // stride) if ceil_mode else num // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # the last window must start inside the input or the left padding
    return pad, max(pad, (out - 1) * stride + span - size - pad)


def _window(x, kernel, stride, padding, dilation, ceil_mode):
    """reduce_window arguments over the last two dims of an NCHW (or CHW) array."""
    lead = (1,) * (x.ndim - 2)
    pads = [
        _pool_padding(x.shape[-2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
        for i in range(2)
    ]
    return (
        lead + tuple(kernel),
        lead + tuple(stride),
        [(0, 0)] * len(lead) + pads,
        lead + tuple(dilation),
    )


def _max_pool2d(x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
    window, strides, pads, dil = _window(x, kernel_size, stride, padding, dilation, ceil_mode)
    if dilation == (1, 1):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, pads)
    # JAX has no VJP for a dilated max window: take the max over the stacked window slices
    # (argmax picks the first maximum in window order, as PyTorch's kernel does).
    xp = jnp.pad(x, pads, constant_values=-jnp.inf)
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    oh = (xp.shape[-2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[-1] - dw * (kw - 1) - 1) // sw + 1
    stack = jnp.stack(
        [
            xp[
                ...,
                i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                j * dw : j * dw + (ow - 1) * sw + 1 : sw,
            ]
            for i in range(kh)
            for j in range(kw)
        ]
    )
    first = jnp.argmax(stack, axis=0)[None]
    return jnp.take_along_axis(stack, first, axis=0)[0]


def _avg_pool2d(
    x,
    kernel_size,
    stride,
    padding=(0, 0),
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    window, strides, pads, dil = _window(x, kernel_size, stride, padding, (1, 1), ceil_mode)
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pads)
    if divisor_override is not None:
        return total / divisor_override
    # The divisor counts the window's cells inside the input, plus (count_include_pad) those
    # in the symmetric padding, never those added on the right by ceil_mode: PyTorch's rule.
    h, w = x.shape[-2:]
    ones = np.ones((h, w), np.float32)
    if count_include_pad:
        ones = np.pad(ones, [(p, p) for p in padding], constant_values=1.0)
        pads = [(0, hi - lo) for lo, hi in pads[-2:]]
    count = jax.lax.reduce_window(
        jnp.asarray(ones), 0.0, jax.lax.add, window[-2:], strides[-2:], pads[-2:]
    )
    return total / count.astype(x.dtype)


def _adaptive_matrix(size, out):
    """(out, size) averaging matrix of PyTorch's adaptive pooling windows
    [floor(i * size / out), ceil((i + 1) * size / out))."""
    m = np.zeros((out, size), np.float32)
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _adaptive_avg_pool2d(x, output_size):
    ph = _adaptive_matrix(x.shape[-2], output_size[0]).astype(x.dtype)
    pw = _adaptive_matrix(x.shape[-1], output_size[1]).astype(x.dtype)
    return jnp.einsum("...hw,oh,pw->...op", x, ph, pw)


register(
    "max_pool2d",
    _max_pool2d,
    "MaxPool2DWithIndicesBackward0",
    (0,),
    sample=S((2, 2, 6, 5), kernel_size=(3, 2), stride=(2, 2), padding=(1, 0), ceil_mode=True),
)
register(
    "avg_pool2d",
    _avg_pool2d,
    "AvgPool2DBackward0",
    (0,),
    sample=S(
        (2, 2, 6, 5),
        kernel_size=(3, 2),
        stride=(2, 2),
        padding=(1, 1),
        ceil_mode=True,
        count_include_pad=True,
    ),
)
register(
    "adaptive_avg_pool2d",
    _adaptive_avg_pool2d,
    "AdaptiveAvgPool2DBackward0",
    (0,),
    sample=S((2, 3, 5, 7), output_size=(2, 3)),
)


# ---------------------------------------------------------------- normalisation
def _per_channel(v, ndim):
    """A (C,) vector shaped to broadcast over an (N, C, ...) array; scalars unchanged."""
    v = jnp.asarray(v)
    return v.reshape((1, -1) + (1,) * (ndim - 2)) if v.ndim == 1 else v


def _batch_norm_train(x, weight, bias, eps=1e-5):
    """Normalises with the batch statistics; also returns them (mean, biased variance)."""
    axes = (0,) + tuple(range(2, x.ndim))
    mean = jnp.mean(x, axes)
    centered = x - _per_channel(mean, x.ndim)
    var = jnp.mean(jnp.square(centered), axes)
    y = centered * _per_channel(jax.lax.rsqrt(var + eps), x.ndim)
    return y * _per_channel(weight, x.ndim) + _per_channel(bias, x.ndim), mean, var


def _batch_norm_eval(x, running_mean, running_var, weight, bias, eps=1e-5):
    scale = _per_channel(weight * jax.lax.rsqrt(running_var + eps), x.ndim)
    return (x - _per_channel(running_mean, x.ndim)) * scale + _per_channel(bias, x.ndim)


register(
    "batch_norm_train",
    _batch_norm_train,
    "NativeBatchNormBackward0",
    (0, 1),
    multi=True,
    sample=S((4, 3, 2, 2), (3,), (3,)),
)
register(
    "batch_norm_eval",
    _batch_norm_eval,
    "NativeBatchNormBackward0",
    (0, 1, 2, 3),
    sample=S((4, 3, 2, 2), (3,), (3,), (3,), (3,), positive=True),
)


# ---------------------------------------------------------------- embedding
def _embedding(indices, weight, padding_idx=None, scale_grad_by_freq=False):
    if padding_idx is not None:  # that row gets no gradient, as in PyTorch
        weight = weight.at[padding_idx].set(jax.lax.stop_gradient(weight[padding_idx]))
    rows = jnp.take(weight, indices, axis=0)
    if not scale_grad_by_freq:
        return rows
    # PyTorch divides each row's gradient by how often its index occurs in the batch: the
    # same value, with gradient 1 / count through the first term only.
    count = jnp.zeros(weight.shape[0], weight.dtype).at[indices].add(1.0)
    scale = jnp.expand_dims(1.0 / jnp.take(count, indices), -1)
    return rows * scale + jax.lax.stop_gradient(rows * (1.0 - scale))


register("embedding", _embedding, "EmbeddingBackward0", (0,), sample=S(("int", (2, 3), 6), (6, 4)))
register(
    "embedding_scaled",
    _embedding,
    "EmbeddingBackward0",
    (0,),
    sample=S(("int", (2, 5), 4), (6, 4), scale_grad_by_freq=True),
)


# ---------------------------------------------------------------- losses
def _reduce(loss, reduction):
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _mse_loss(x, target, reduction="mean"):
    return _reduce(jnp.square(x - target), reduction)


def _nll_loss(x, target, *weight, reduction="mean", ignore_index=-100):
    """Negative log-likelihood of class indices; x is (N, C, ...) or (C,)."""
    unbatched = x.ndim == 1
    if unbatched:
        x, target = x[None], jnp.reshape(target, (1,))
    valid = target != ignore_index
    safe = jnp.where(valid, target, 0)
    picked = jnp.take_along_axis(x, jnp.expand_dims(safe, 1), axis=1)[:, 0]
    w = jnp.take(weight[0], safe) if weight else jnp.ones(safe.shape, x.dtype)
    w = jnp.where(valid, w, 0).astype(x.dtype)
    loss = -picked * w
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(w)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss[0] if unbatched else loss


def _bce_with_logits(x, target, *extra, reduction="mean", has_weight=False, has_pos_weight=False):
    """PyTorch's formula: (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), times weight."""
    extra = list(extra)
    weight = extra.pop(0) if has_weight else None
    pos_weight = extra.pop(0) if has_pos_weight else None
    log_weight = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * target
    loss = (1.0 - target) * x + log_weight * jax.nn.softplus(-x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


register("mse_loss", _mse_loss, "MseLossBackward0", "all", sample=S((3, 4), (3, 4)))
register(
    "nll_loss",
    _nll_loss,
    "NllLossBackward0",
    "all",
    sample=S((4, 5), ("int", (4,), 5), (5,), reduction="mean"),
)
register(
    "binary_cross_entropy_with_logits",
    _bce_with_logits,
    "BinaryCrossEntropyWithLogitsBackward0",
    "all",
    sample=S((3, 4), (3, 4), (4,), (4,), has_weight=True, has_pos_weight=True),
)
