"""PyTorch's `Conv1d`, `ConvTranspose1d` and `ConvTranspose2d`, on the functional ops.

They keep PyTorch's constructor arguments and checks, weight layouts ((C_out, C_in / g, k)
for a convolution, (C_in, C_out / g, k) for a transposed one), default initialisation
(kaiming_uniform_(a=sqrt(5)) and the fan-in bound for the bias), `repr`, and the
transposed convolution's `output_size=` argument of `forward`. Padding modes other than
zeros pad with `F.pad` first, as PyTorch does. (`Conv2d`, in layers.py, is a `_ConvNd`
too.)

Example:
    >>> import funcgrad.tape as torch
    >>> up = torch.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, bias=False)
    >>> up
    ConvTranspose2d(8, 4, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)
    >>> up(torch.ones(1, 8, 5, 5)).shape
    torch.Size([1, 4, 10, 10])
"""

from __future__ import annotations

from ..tensor import Size
from . import functional as F, init
from .functional_layers import _reversed_conv_padding
from .module import Module
from .parameter import _empty

__all__ = ["Conv1d", "ConvTranspose1d", "ConvTranspose2d"]


def _ntuple(v, n) -> tuple:
    return (v,) * n if isinstance(v, int) else tuple(v)


class _ConvNd(Module):
    """The parameters, checks, init and repr PyTorch's convolutions share."""

    _spatial = 1
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
        output_padding=0,
    ):
        super().__init__()
        n = self._spatial
        stride, dilation = _ntuple(stride, n), _ntuple(dilation, n)
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            valid_padding_strings = {"same", "valid"}  # printed as PyTorch prints its set
            if padding not in valid_padding_strings:
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {valid_padding_strings}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        valid_padding_modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in valid_padding_modes:
            raise ValueError(
                f"padding_mode must be one of {valid_padding_modes}, but got "
                f"padding_mode='{padding_mode}'"
            )
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _ntuple(kernel_size, n), stride
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n)
        self.dilation, self.groups, self.padding_mode = dilation, groups, padding_mode
        self.transposed, self.output_padding = self._transposed, _ntuple(output_padding, n)
        shape = (
            (in_channels, out_channels // groups) if self._transposed
            else (out_channels, in_channels // groups)
        )  # fmt: skip
        self.weight = _empty(*shape, *self.kernel_size, device=device, dtype=dtype)
        if bias:
            self.bias = _empty(out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._reset_linear_like(self.weight, self.bias)

    def _padded(self, input):
        """(input, padding) for the convolution: padding modes other than zeros pad with
        F.pad first and convolve without padding, as PyTorch does."""
        if self.padding_mode == "zeros":
            return input, self.padding
        amounts = _reversed_conv_padding(self.padding, self.kernel_size, self.dilation)
        return F.pad(input, amounts, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        n = self._spatial
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) input.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular")(torch.ones(1, 2, 6)).shape
        torch.Size([1, 3, 6])
    """

    def forward(self, input):
        input, padding = self._padded(input)
        return F.conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)  # fmt: skip


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)  # fmt: skip

    def _output_padding(self, input, output_size) -> tuple:
        """output_padding, or the one that gives `output_size` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._spatial
        non_spatial = 2 if input.ndim == n + 2 else 1
        output_size = list(output_size)
        if len(output_size) == non_spatial + n:
            output_size = output_size[non_spatial:]
        if len(output_size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or "
                f"{non_spatial + n} elements (got {len(output_size)})"
            )
        low, high = [], []
        for d in range(n):
            size = (
                (input.shape[d + non_spatial] - 1) * self.stride[d]
                - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1)
                + 1
            )
            low.append(size)
            high.append(size + self.stride[d] - 1)
        for size, lo, hi in zip(output_size, low, high):
            if size < lo or size > hi:
                raise ValueError(
                    f"requested an output size of {output_size}, but valid sizes range from "
                    f"{low} to {high} (for an input of {Size(input.shape[non_spatial:])!r})"
                )
        return tuple(s - lo for s, lo in zip(output_size, low))

    def forward(self, input, output_size=None):
        if isinstance(self.padding, str):
            raise ValueError(f"{type(self).__name__} does not support padding={self.padding!r}")
        conv = F.conv_transpose2d if self._spatial == 2 else F.conv_transpose1d
        return conv(input, self.weight, self.bias, self.stride, self.padding,
                    self._output_padding(input, output_size), self.groups,
                    self.dilation)  # fmt: skip


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C, L) input, weight (C_in, C_out / g, k)."""


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution ("deconvolution", a DCGAN generator's upsampling) over
    NCHW input, weight (C_in, C_out / groups, kH, kW)."""

    _spatial = 2
