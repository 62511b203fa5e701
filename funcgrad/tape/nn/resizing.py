"""PyTorch's parameter-free modules that change a tensor's size: `Upsample` (and the
deprecated `UpsamplingNearest2d` / `UpsamplingBilinear2d`), the padding modules
(`ZeroPad*d`, `ConstantPad*d`, `ReflectionPad*d`, `ReplicationPad*d`, `CircularPad*d`) and
`Unflatten`. Each holds PyTorch's arguments (and `repr`) around `nn.functional`.

Example:
    >>> import funcgrad.tape as torch
    >>> up = torch.nn.Upsample(scale_factor=2, mode="nearest")
    >>> up
    Upsample(scale_factor=2.0, mode='nearest')
    >>> up(torch.ones(1, 3, 4, 4)).shape
    torch.Size([1, 3, 8, 8])
"""

from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = [
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
    "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "Unflatten", "Upsample",
    "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]  # fmt: skip


# ---------------------------------------------------------------- upsampling
class Upsample(Module):
    """Resizes the spatial dims by `size` or `scale_factor` (F.interpolate's modes)."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):  # fmt: skip
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)  # fmt: skip

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """Upsample(mode='nearest') (deprecated in PyTorch in favour of it)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample(mode='bilinear', align_corners=True)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------- padding
class _PadNd(Module):
    """Pads with F.pad; `padding` an int (all sides) or a 2 * n tuple, last dim first."""

    _dims = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * (2 * self._dims) if isinstance(padding, int) else tuple(padding)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


class _CircularPadNd(_PadNd):
    _mode = "circular"


class ConstantPad1d(_ConstantPadNd):
    """Pads with a constant value."""

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads with a constant value."""

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads with a constant value."""

    _dims = 3


class ZeroPad1d(_ZeroPadNd):
    """Pads with zeros."""

    _dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads with zeros."""

    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads with zeros."""

    _dims = 3


class ReflectionPad1d(_ReflectionPadNd):
    """Pads with the input reflected at its edge."""

    _dims = 1


class ReflectionPad2d(_ReflectionPadNd):
    """Pads with the input reflected at its edge."""

    _dims = 2


class ReflectionPad3d(_ReflectionPadNd):
    """Pads with the input reflected at its edge."""

    _dims = 3


class ReplicationPad1d(_ReplicationPadNd):
    """Pads by repeating the input's edge values."""

    _dims = 1


class ReplicationPad2d(_ReplicationPadNd):
    """Pads by repeating the input's edge values."""

    _dims = 2


class ReplicationPad3d(_ReplicationPadNd):
    """Pads by repeating the input's edge values."""

    _dims = 3


class CircularPad1d(_CircularPadNd):
    """Pads by wrapping the input around."""

    _dims = 1


class CircularPad2d(_CircularPadNd):
    """Pads by wrapping the input around."""

    _dims = 2


class CircularPad3d(_CircularPadNd):
    """Pads by wrapping the input around."""

    _dims = 3


# ---------------------------------------------------------------- unflatten
class Unflatten(Module):
    """Splits dim into `unflattened_size` (the inverse of Flatten)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                "unflattened_size must be a tuple of ints, but found type "
                f"{type(unflattened_size).__name__}"
            )
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(
                    "unflattened_size must be tuple of ints, but found element of type "
                    f"{type(elem).__name__} at pos {idx}"
                )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
