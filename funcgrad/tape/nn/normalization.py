"""PyTorch's `LayerNorm` and `GroupNorm`: affine parameters registered as PyTorch's
(weight ones, bias zeros), the math in `nn.functional` (one table op each).

Example:
    >>> import funcgrad.tape as torch
    >>> ln = torch.nn.LayerNorm(4)
    >>> ln
    LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> ln(torch.randn(2, 4)).grad_fn.name()
    'NativeLayerNormBackward0'
"""

from __future__ import annotations

from . import functional as F
from . import init
from .module import Module
from .parameter import _empty

__all__ = ["GroupNorm", "LayerNorm"]


def _affine(module, shape, affine, bias, device, dtype) -> None:
    """Registers weight (ones) and bias (zeros) of `shape`, or None for each, as PyTorch."""
    for name, present in (("weight", affine), ("bias", affine and bias)):
        value = _empty(*shape, device=device, dtype=dtype) if present else None
        module.register_parameter(name, value)
    module.reset_parameters()


class LayerNorm(Module):
    """Normalises over the trailing `normalized_shape` dims, then weight * x + bias."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):  # fmt: skip
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine(self, self.normalized_shape, elementwise_affine, bias, device, dtype)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalises groups of num_channels / num_groups channels (with the spatial dims)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):  # fmt: skip
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups, num_channels, eps, affine
        )  # fmt: skip
        _affine(self, (num_channels,), affine, bias, device, dtype)

    reset_parameters = LayerNorm.reset_parameters

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
