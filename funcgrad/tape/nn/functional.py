"""`nn.functional` (F): PyTorch's functional layers and losses, on the op table.

Each function takes PyTorch's arguments, checks them with PyTorch's error messages,
normalises them into an op's static arguments, and calls `ops.apply` (or composes table
ops where PyTorch composes kernels, so node names match: cross entropy is
`NllLossBackward0` over `LogSoftmaxBackward0`). Backward is always `jax.vjp` of the ops.

Example:
    >>> import funcgrad.tape as torch
    >>> import funcgrad.tape.nn.functional as F
    >>> x = torch.randn(4, 3, requires_grad=True)
    >>> loss = F.cross_entropy(x, torch.tensor([0, 2, 1, 0]))
    >>> loss.grad_fn.name()
    'NllLossBackward0'
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp

from .. import errors, observe
from .._convert import is_wide, x64
from ..creation import as_tensor
from ..tensor import Tensor, apply
from . import functional_activations, functional_layers, loss_functions
from .functional_activations import *  # noqa: F403 - the wider surface, listed in each __all__
from .functional_layers import *  # noqa: F403
from .loss_functions import *  # noqa: F403 - the losses, listed in its __all__

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "dropout",
    "elu",
    "embedding",
    "flatten",
    "gelu",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "relu",
    "relu_",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "tanh",
    *functional_activations.__all__,
    *functional_layers.__all__,
    *loss_functions.__all__,
]


def _pair(v, name="value") -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v}")
    return v


# ---------------------------------------------------------------- linear and convolution
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias, with weight of shape (out_features, in_features).

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> x, w = torch.ones(2, 3, requires_grad=True), torch.ones(4, 3)
        >>> F.linear(x, w, torch.zeros(4)).grad_fn.name()
        'AddmmBackward0'
    """
    if bias is None:
        return input.matmul(weight.t())
    # PyTorch: addmm(bias, input, weight.t()), whose saved weight.t() is a view of the
    # weight (it decides the "modified by an inplace operation" text after an optimizer step)
    if input.ndim == 2:
        return apply("addmm", bias, input, weight.t())
    lead = tuple(input.shape[:-1])
    flat = apply("addmm", bias, input.reshape(-1, input.shape[-1]), weight.t())
    return flat.reshape(*lead, weight.shape[0])


def _conv_padding(padding, kernel, stride, dilation):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding != "same":
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of ['valid', 'same']"
            )
        if stride != (1, 1):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))  # the extra one on the right
        return tuple(pads)
    ph, pw = _pair(padding, "padding")
    return ((ph, ph), (pw, pw))


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution of an NCHW (or CHW) input with an OIHW kernel, like PyTorch's.

    Args:
      input: (N, C_in, H, W) or (C_in, H, W).
      weight: (C_out, C_in / groups, kH, kW).
      bias: Optional. (C_out,).
      stride, dilation: int or (int, int).
      padding: int, (int, int), 'valid' or 'same' (stride 1 only).
      groups: Optional, int. Blocked connections from input to output channels.

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> F.conv2d(torch.ones(1, 3, 8, 8), torch.ones(4, 3, 3, 3), padding="same").shape
        torch.Size([1, 4, 8, 8])
    """
    if input.ndim not in (3, 4):
        raise RuntimeError(
            "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
            f"[{', '.join(str(s) for s in input.shape)}]"
        )
    channels = input.shape[-3]
    if weight.shape[1] * groups != channels:
        raise RuntimeError(
            errors.CONV_GROUPS.format(
                groups=groups,
                weight=errors.short_shape(weight.shape),
                input=errors.short_shape(input.shape),
                expected=weight.shape[1] * groups,
                channels=channels,
            )
        )
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    pads = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return apply(
        "conv2d", *inputs, stride=stride, padding=pads, dilation=dilation, groups=int(groups)
    )


# ---------------------------------------------------------------- pooling
def _pool_args(kernel_size, stride, padding, dilation=1):
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else _pair(stride)
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )
    return kernel, stride, padding, dilation


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    """Max over kH x kW windows of an NCHW input (padding counts as -inf).

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> F.max_pool2d(torch.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    if return_indices:
        raise NotImplementedError("max_pool2d(return_indices=True) is not supported by funcgrad")
    kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding, dilation)
    return apply(
        "max_pool2d",
        input,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=bool(ceil_mode),
    )


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over kH x kW windows of an NCHW input; the divisor follows PyTorch's rules."""
    kernel, stride, padding, _ = _pool_args(kernel_size, stride, padding)
    return apply(
        "avg_pool2d",
        input,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size (None keeps that input size).

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> F.adaptive_avg_pool2d(torch.ones(2, 3, 7, 5), (3, 2)).shape
        torch.Size([2, 3, 3, 2])
    """
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    size = tuple(input.shape[-2 + i] if s is None else int(s) for i, s in enumerate(size))
    if size == (1, 1):  # PyTorch computes this case as a mean
        return input.mean((-2, -1), keepdim=True)
    return apply("adaptive_avg_pool2d", input, output_size=size)


# ---------------------------------------------------------------- activations
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return input.relu_() if inplace else input.relu()


def relu_(input: Tensor) -> Tensor:
    return input.relu_()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return apply("gelu", input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return input._inplace("silu") if inplace else apply("silu", input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if inplace:  # PyTorch's in-place kernel saves the result: LeakyReluBackward1
        return input._inplace("leaky_relu_inplace", negative_slope=float(negative_slope))
    return apply("leaky_relu", input, negative_slope=float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:  # PyTorch's in-place kernel saves the result: EluBackward1
        return input._inplace("elu_inplace", alpha=float(alpha))
    return apply("elu", input, alpha=float(alpha))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return apply("softplus", input, beta=float(beta), threshold=float(threshold))


def _softmax_dim(input, dim, name):
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if input.ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    x = input if dtype is None else input.to(dtype)
    return x.softmax(_softmax_dim(input, dim, "softmax"))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    x = input if dtype is None else input.to(dtype)
    return x.log_softmax(_softmax_dim(input, dim, "log_softmax"))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-input) along dim (a SoftmaxBackward0, as in PyTorch)."""
    x = input if dtype is None else input.to(dtype)
    return (-x).softmax(_softmax_dim(input, dim, "softmin"))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return input.flatten(start_dim, end_dim)


# ---------------------------------------------------------------- dropout and embedding
def dropout(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, generator=None
) -> Tensor:
    """Zeroes elements with probability p and scales the rest by 1 / (1 - p); the identity
    when not training. The mask is PyTorch's on the CPU (`bernoulli_(1 - p)` on the
    generator's stream), so a seeded program drops the elements PyTorch drops.

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> x = torch.ones(1000)
        >>> y = F.dropout(x, 0.5)
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> F.dropout(x, 0.5, training=False) is x
        True
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    # As PyTorch: noise = bernoulli(1 - p) / (1 - p) in the input's dtype, then input * noise.
    noise = functional_layers._dropout_noise(input, input.shape, p, generator)
    return input.mul_(noise) if inplace else input * noise


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm=None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` picked by the integer tensor `input`. With max_norm, the rows used
    are first renormalised in place to norm_type-norm at most max_norm (PyTorch's
    ``embedding_renorm_``); with scale_grad_by_freq, each row's gradient is divided by how
    often its index occurs in `input`.

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> w = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
        >>> F.embedding(torch.tensor([0]), w, max_norm=1.0)
        tensor([[0.6000, 0.8000]])
    """
    if sparse:
        raise NotImplementedError(errors.EMBEDDING_SPARSE)
    input = as_tensor(input)
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    if max_norm is not None:
        _renorm_rows(weight, input, float(max_norm), float(norm_type))
    name = "embedding_scaled" if scale_grad_by_freq else "embedding"
    static = {"scale_grad_by_freq": True} if scale_grad_by_freq else {}
    return apply(name, input, weight, padding_idx=padding_idx, **static)


def _renorm_rows(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> None:
    """PyTorch's embedding_renorm_: the rows used whose norm exceeds max_norm are scaled to
    max_norm / (norm + 1e-7), in place and without a graph (the weight's version bumps)."""
    w = weight._value()
    with x64(is_wide(w.dtype) or is_wide(indices.dtype)):  # int64 indices, as PyTorch's
        used = jnp.zeros(w.shape[0], bool).at[jnp.ravel(indices._value())].set(True)
        norms = jnp.linalg.vector_norm(w, ord=norm_type, axis=1)
        scale = jnp.where(used & (norms > max_norm), max_norm / (norms + 1e-7), 1.0)
        weight._write((w * scale[:, None].astype(w.dtype)).astype(w.dtype))


# ---------------------------------------------------------------- normalisation
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum=0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over all dims but 1 (channels), PyTorch's semantics.

    In training, normalises with the batch mean and biased variance and updates the running
    stats in place: running = (1 - momentum) * running + momentum * batch (the unbiased
    variance for running_var). Otherwise normalises with the running stats.

    Example:
        >>> import funcgrad.tape as torch
        >>> import funcgrad.tape.nn.functional as F
        >>> rm, rv = torch.zeros(3), torch.ones(3)
        >>> y = F.batch_norm(torch.randn(8, 3) + 5, rm, rv, training=True)
        >>> bool((rm > 0.3).all())
        True
    """
    w = 1.0 if weight is None else weight
    b = 0.0 if bias is None else bias
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        return apply("batch_norm_eval", input, running_mean, running_var, w, b, eps=float(eps))
    n = input.numel() // input.shape[1]
    if n <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {input.shape!r}"
        )
    y, mean, var = apply("batch_norm_train", input, w, b, eps=float(eps))
    if running_mean is not None:
        _update(running_mean, mean._data, momentum)
    if running_var is not None:
        with x64(is_wide(var._data.dtype)):
            _update(running_var, var._data * (n / (n - 1)), momentum)
    return y


def _update(buffer: Tensor, batch_stat, momentum) -> None:
    """running = (1 - momentum) * running + momentum * batch, in place without a graph."""
    if observe.transforms is not None:  # functorch's refusals inside torch.func
        observe.transforms.writing(buffer, "add", (batch_stat,), batch_norm=True)
    old = buffer._value()
    with x64(is_wide(old.dtype)):
        new = (old + momentum * (batch_stat.astype(old.dtype) - old)).astype(old.dtype)
    buffer._write(new)
