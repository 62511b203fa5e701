"""`nn.functional` layers of the wider PyTorch surface: 1-D and transposed convolution,
padding, interpolation, channel-wise dropout, layer and group normalisation.

Each function checks PyTorch's arguments with PyTorch's messages, normalises them into
static arguments and calls one table op (ops_layers.py). Re-exported by `nn.functional`.

Example:
    >>> import funcgrad.tape as torch
    >>> import funcgrad.tape.nn.functional as F
    >>> x = torch.ones(1, 2, 3, 3, requires_grad=True)
    >>> F.interpolate(x, scale_factor=2, mode="bilinear").grad_fn.name()
    'UpsampleBilinear2DBackward0'
    >>> F.conv_transpose2d(x, torch.ones(2, 4, 3, 3), stride=2).shape
    torch.Size([1, 4, 7, 7])
"""

from __future__ import annotations

import math
import warnings

import jax.numpy as jnp

from .. import errors
from .._convert import refuse_complex
from ..random import default_generator, sampling
from ..tensor import Tensor, apply

__all__ = [
    "conv1d", "conv_transpose1d", "conv_transpose2d", "dropout1d", "dropout2d", "dropout3d",
    "group_norm", "interpolate", "layer_norm", "pad", "upsample", "upsample_bilinear",
    "upsample_nearest",
]  # fmt: skip


def _ntuple(v, n, name="value") -> tuple:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v}")
    return v


def _size(t) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


# ---------------------------------------------------------------- convolution
def _same_padding(kernel, dilation):
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))  # the extra one on the right
    return tuple(pads)


def _reversed_conv_padding(padding, kernel_size, dilation) -> tuple:
    """F.pad's amounts (last dim first, both sides) for a convolution's padding: ints,
    'valid', or 'same' (the extra one on the right), for padding modes other than zeros.

    Example:
        >>> from funcgrad.tape.nn.functional_layers import _reversed_conv_padding
        >>> _reversed_conv_padding((1, 2), (3, 5), (1, 1))
        (2, 2, 1, 1)
    """
    if padding == "valid":
        return (0, 0) * len(kernel_size)
    if padding == "same":
        pads = _same_padding(kernel_size, dilation)
    else:
        pads = [(p, p) for p in padding]
    return tuple(side for pair in reversed(pads) for side in pair)


def conv1d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:  # fmt: skip
    """1-D convolution of an NCL (or CL) input with an OIK kernel, like PyTorch's.

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> F.conv1d(torch.ones(1, 2, 5), torch.ones(3, 2, 3), padding=1).shape
        torch.Size([1, 3, 5])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(
            "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
            + _size(input)
        )
    channels = input.shape[-2]
    if weight.shape[1] * groups != channels:
        shown = _size(input) if input.ndim == 3 else "[1, " + _size(input)[1:]
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_size(weight)}, expected input{shown} to "
            f"have {weight.shape[1] * groups} channels, but got {channels} channels instead"
        )
    stride, dilation = _ntuple(stride, 1, "stride"), _ntuple(dilation, 1, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of ['valid', 'same']"
            )
        if padding == "same" and stride != (1,):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pads = _same_padding(weight.shape[2:], dilation) if padding == "same" else ((0, 0),)
    else:
        p = _ntuple(padding, 1, "padding")[0]
        pads = ((p, p),)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return apply("conv1d", *inputs, stride=stride, padding=pads, dilation=dilation,
                 groups=int(groups))  # fmt: skip


def _conv_transpose(name, n, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):  # fmt: skip
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got "
            f"input of size: {_size(input)}"
        )
    channels = input.shape[-n - 1]
    if weight.shape[0] != channels:
        shown = _size(input) if input.ndim == n + 2 else "[1, " + _size(input)[1:]
        raise RuntimeError(
            f"Given transposed=1, weight of size {_size(weight)}, expected input{shown} to "
            f"have {weight.shape[0]} channels, but got {channels} channels instead"
        )
    stride, padding = _ntuple(stride, n, "stride"), _ntuple(padding, n, "padding")
    output_padding = _ntuple(output_padding, n, "output_padding")
    dilation = _ntuple(dilation, n, "dilation")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        axes = ("height", "width") if n == 2 else ("width",)
        parts = [f"output_padding_{a}: {v}" for a, v in zip(axes, output_padding)]
        parts += [f"stride_{a}: {v}" for a, v in zip(axes, stride)]
        parts += [f"dilation_{a}: {v}" for a, v in zip(axes, dilation)]
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join(parts)
        )
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return apply(name, *inputs, stride=stride, padding=padding, output_padding=output_padding,
                 dilation=dilation, groups=int(groups))  # fmt: skip


def conv_transpose2d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:  # fmt: skip
    """2-D transposed convolution ("deconvolution") of NCHW input with a
    (C_in, C_out / groups, kH, kW) weight: output size (H - 1) * stride - 2 * padding
    + dilation * (kH - 1) + output_padding + 1, as in PyTorch."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)  # fmt: skip


def conv_transpose1d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:  # fmt: skip
    """1-D transposed convolution of NCL input with a (C_in, C_out / groups, k) weight."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)  # fmt: skip


# ---------------------------------------------------------------- padding
_PAD_MODES = {"reflect": "pad_reflect", "replicate": "pad_replicate", "circular": "pad_circular"}


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pads the last len(pad) / 2 dims: pad = (left, right, top, bottom, ...), last dim
    first, as PyTorch. Negative amounts crop. Modes: constant (value), reflect, replicate,
    circular.

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> F.pad(torch.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
        tensor([[3., 2., 1., 2., 3., 2.]])
    """
    pad = tuple(int(p) for p in pad)
    refuse_complex(value)
    if mode != "constant" and value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    n = len(pad) // 2
    if n > input.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {input.ndim}"
        )
    pairs = [(0, 0)] * (input.ndim - n) + [(pad[2 * k], pad[2 * k + 1]) for k in reversed(range(n))]
    if mode == "constant":
        return apply("pad_constant", input, pads=tuple(pairs), value=float(value or 0.0))
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if n > 3 or input.ndim not in (n + 1, n + 2):
        raise NotImplementedError(errors.PAD_SIZE.format(size=len(pad), ndim=input.ndim))
    for k in range(n):  # k = 0 is the last dim
        dim = input.ndim - 1 - k
        size, lo, hi = input.shape[dim], pad[2 * k], pad[2 * k + 1]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(
                f"Argument #{4 + 2 * k}: Padding size should be less than the corresponding "
                f"input dimension, but got: padding ({lo}, {hi}) at dimension {dim} of input "
                f"{_size(input)}"
            )
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
    name = _PAD_MODES[mode] + ("" if mode == "circular" else f"{n}d")
    return apply(name, input, pads=tuple(pairs))


# ---------------------------------------------------------------- interpolation
_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
) -> Tensor:
    """Resizes the spatial dims (all but N, C) by `size` or `scale_factor`: modes nearest,
    nearest-exact, linear (3-D), bilinear (4-D), trilinear (5-D), area, with PyTorch's
    source positions (from 1 / scale_factor when one is given) and output size
    (floor(input * scale_factor)).

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> F.interpolate(torch.tensor([[[1.0, 2.0]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
    """
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input.shape[2:])} and output "
                    f"size of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                    "format and output size in (o1, o2, ...,oK) format."
                )
            out_size = tuple(int(s) for s in size)
        else:
            out_size = (int(size),) * dim
        scales = None
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor in "
                    "(N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
                )
            scales = tuple(float(s) for s in scale_factor)
        else:
            scales = (float(scale_factor),) * dim
        out_size = tuple(math.floor(n * s) for n, s in zip(input.shape[2:], scales))
        if recompute_scale_factor or mode == "area":
            scales = None
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if antialias:
        raise NotImplementedError(errors.UNSUPPORTED.format(what="interpolate(antialias=True)"))
    if mode == "area":
        if dim != 2:
            raise NotImplementedError(errors.UNSUPPORTED.format(what=f"area mode on {dim + 2}D"))
        if out_size == (1, 1):  # as F.adaptive_avg_pool2d: PyTorch computes it as a mean
            return input.mean((-2, -1), keepdim=True)
        return apply("adaptive_avg_pool2d", input, output_size=out_size)
    if mode in ("nearest", "nearest-exact"):
        if not 1 <= dim <= 3 or (mode, dim) == ("nearest-exact", 3):
            raise NotImplementedError(_interpolate_dims_error(input, mode))
        return apply(f"upsample_{mode}{dim}d", input, size=out_size, scales=scales)
    if mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != dim:
            want = _LINEAR_MODES[mode] + 2
            raise NotImplementedError(
                f"Got {input.ndim}D input, but {mode} mode needs {want}D input"
            )
        return apply(f"upsample_{mode}{dim}d", input, size=out_size,
                     align_corners=bool(align_corners), scales=scales)  # fmt: skip
    if mode == "bicubic":
        raise NotImplementedError(errors.UNSUPPORTED.format(what="interpolate(mode='bicubic')"))
    raise NotImplementedError(_interpolate_dims_error(input, mode))


def _interpolate_dims_error(input, mode) -> str:
    return (
        "Input Error: Only 3D, 4D and 5D input Tensors supported"
        f" (got {input.ndim}D) for the modes: nearest | linear | bilinear | bicubic | "
        f"trilinear | lanczos | area | nearest-exact (got {mode})"
    )


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (PyTorch warns the same)."""
    warnings.warn(
        "`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------- channel-wise dropout
def _dropout_noise(input: Tensor, shape, p: float, generator) -> Tensor:
    """PyTorch's dropout noise on the CPU: `bernoulli_(1 - p)` of `shape` on the generator's
    stream, divided by 1 - p in the input's dtype (the caller multiplies: MulBackward0)."""
    keep = sampling.bernoulli_scalar(generator or default_generator, tuple(shape), 1.0 - p)
    scale = jnp.asarray(1, input.dtype) / jnp.asarray(1.0 - p, input.dtype)
    return Tensor._wrap(jnp.where(jnp.asarray(keep), scale, jnp.zeros((), input.dtype)))


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool) -> Tensor:
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    # As PyTorch: one draw per (sample, channel), broadcast over the rest.
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    noise = _dropout_noise(input, shape, p, None)
    return input.mul_(noise) if inplace else input * noise


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(errors.DROPOUT1D_DIMS.format(ndim=input.ndim))
    if input.ndim == 3:
        return _feature_dropout(input, p, training, inplace)
    return _feature_dropout(input.unsqueeze(0), p, training, False).squeeze(0)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes whole channels (dim 1) of (N, C, H, W) input with probability p; PyTorch's
    warnings for other ranks (3-D input is taken as (N, C, L)).

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> y = F.dropout2d(torch.ones(1, 8, 2, 2), 0.5)
        >>> sorted(set(y.flatten().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(errors.DROPOUT2D_DIMS_WARNING.format(ndim=input.ndim), stacklevel=2)
    if input.ndim == 3:
        warnings.warn(errors.DROPOUT2D_3D_WARNING, stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zeroes whole channels of (N, C, D, H, W) input with probability p."""
    _check_p(p)
    if input.ndim == 4:
        return _feature_dropout(input.unsqueeze(0), p, training, False).squeeze(0)
    return _feature_dropout(input, p, training, inplace)


# ---------------------------------------------------------------- normalisation
def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalises over the last len(normalized_shape) dims (biased variance), then the
    elementwise affine weight and bias.

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> F.layer_norm(torch.tensor([[1.0, 3.0]]), (2,))
        tensor([[-1.0000,  1.0000]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if n == 0 or tuple(input.shape[input.ndim - n :]) != shape or input.ndim < n:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in shape)}], but got input of size{_size(input)}"
        )
    w = 1.0 if weight is None else weight
    b = 0.0 if bias is None else bias
    return apply("layer_norm", input, w, b, n_dims=n, eps=float(eps))


def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Normalises each group of C / num_groups channels over them and all spatial dims."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {_size(input)} and num_groups={num_groups}"
        )
    w = 1.0 if weight is None else weight
    b = 0.0 if bias is None else bias
    return apply("group_norm", input, w, b, groups=int(num_groups), eps=float(eps))
