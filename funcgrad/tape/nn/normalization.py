"""PyTorch's batch normalization layers: `nn.BatchNorm1d`, `nn.BatchNorm2d`.

Parameters (`weight`, `bias`) and buffers (`running_mean`, `running_var`,
`num_batches_tracked`) have PyTorch's names and initialisation; the math and the
running-statistics update are `nn.functional.batch_norm`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._convert import x64
from ..creation import tensor
from ..tensor import Tensor
from . import functional as F, init
from .module import Module
from .parameter import _empty, _zeros

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    _dims: tuple = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = _empty(num_features, device=device, dtype=dtype)
            if bias:
                self.bias = _empty(num_features, device=device, dtype=dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", _zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(np.int64(0), dtype=jnp.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"expected {want} input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            count = self.num_batches_tracked
            with x64():  # an int64 counter, as PyTorch's
                count._write(count._data + 1)
                if self.momentum is None:  # cumulative moving average
                    momentum = 1.0 / count._data.astype(jnp.float32)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep_stats else None,
            self.running_var if keep_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of NCHW input; running_mean, running_var and
    num_batches_tracked are buffers, updated in training mode as PyTorch does.

    Example:
        >>> import funcgrad.tape as torch
        >>> bn = torch.nn.BatchNorm2d(3)
        >>> [name for name, _ in bn.named_buffers()]
        ['running_mean', 'running_var', 'num_batches_tracked']
    """

    _dims = (4,)
