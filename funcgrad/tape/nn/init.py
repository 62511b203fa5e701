"""`nn.init`: PyTorch's initialisation functions, drawing from the tape's generator.

Each function fills a tensor in place (its array is rebound, its version bumped, no graph
is recorded) with the distribution PyTorch uses, and returns it. As in PyTorch, the random
ones are `Tensor.uniform_` / `Tensor.normal_` under `no_grad`, drawing from the default
generator (or `generator=`) with PyTorch's samplers on the host: after `manual_seed`,
`nn.Linear(...)` gets PyTorch's initial weights. Layers call these in `reset_parameters()`
exactly as PyTorch's layers do.
"""

from __future__ import annotations

import math
import warnings

import jax.numpy as jnp
import numpy as np

from .. import errors
from .._convert import is_wide, refuse_complex, x64
from ..creation import zeros_like
from ..functions import where
from ..grad_mode import no_grad
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _fill(tensor: Tensor, array) -> Tensor:
    if isinstance(array, np.ndarray):  # cast on the host, then one transfer
        array = array.astype(np.dtype(tensor.dtype))
    with x64(is_wide(tensor.dtype)):
        array = jnp.asarray(array, tensor.dtype)
    tensor._write(array)
    return tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    Example:
        >>> from funcgrad.tape import nn
        >>> round(nn.init.calculate_gain("relu"), 4)
        1.4142
    """
    linear = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
    )
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fills with U(a, b), PyTorch's values after the same seed.

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(0)
        >>> torch.nn.init.uniform_(torch.empty(3), -0.1, 0.1)
        tensor([-0.0007,  0.0536, -0.0823])
    """
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fills with N(mean, std^2), PyTorch's values after the same seed."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator=None,
) -> Tensor:
    """Fills with N(mean, std^2) truncated to [a, b] (absolute bounds), by PyTorch's
    rejection sampling: redraw out-of-range values from N(mean, std^2) when [a, b] holds
    more than 30% of the mass, else accept uniform proposals by the density's ratio.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.nn.init.trunc_normal_(torch.empty(100), std=0.02, a=-0.04, b=0.04)
        >>> bool((w.abs() <= 0.04).all())
        True
    """
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(errors.TRUNC_NORMAL_MEAN, stacklevel=2)
    cdf = lambda x: (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0  # noqa: E731
    with no_grad():
        if cdf((b - mean) / std) - cdf((a - mean) / std) > 0.3:
            lo, hi = (float(np.asarray(v, np.dtype(tensor.dtype))) for v in (a, b))
            result = tensor.normal_(mean, std, generator=generator)
            while True:
                outside = (result < lo) | (result > hi)
                if not outside.any():
                    break
                redraw = zeros_like(result).normal_(mean, std, generator=generator)
                result = where(outside, redraw, result)
            return tensor.copy_(result) if result is not tensor else tensor
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2

        def log_density(x):
            return ((x - mean) / std).pow(2).mul(-0.5).sub(log_peak)

        result = tensor.uniform_(a, b, generator=generator).clone()
        pending = zeros_like(result).uniform_(generator=generator).log().gt(log_density(result))
        while pending.any():
            candidates = zeros_like(result).uniform_(a, b, generator=generator)
            result = where(pending, candidates, result)
            accept = zeros_like(result).uniform_(generator=generator).log()
            pending = where(pending, accept.gt(log_density(candidates)), pending)
        return tensor.copy_(result)


def constant_(tensor: Tensor, val: float) -> Tensor:
    refuse_complex(val)
    return _fill(tensor, np.full(tuple(tensor.shape), val))


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan). With a=sqrt(5) this is the
    default init of Linear and Conv weights: b = 1 / sqrt(fan_in).

    Example:
        >>> import math, funcgrad.tape as torch
        >>> w = torch.nn.init.kaiming_uniform_(torch.empty(4, 25), a=math.sqrt(5))
        >>> bool((w.abs() <= 1 / math.sqrt(25)).all())
        True
    """
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def _reset_linear_like(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default init of Linear and convolution layers: kaiming_uniform_(a=sqrt(5))
    for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
