"""Dtype and device conversions of `Tensor`: `to`, `float()`, `long()`, `cpu()`, ...

Each is the recorded op `to_dtype` or `to_device` (differentiable, as in PyTorch), or the
tensor itself when nothing changes.
"""

from __future__ import annotations

import numpy as np

from .. import errors
from .._base import TensorBase
from .._convert import dtype_name, to_arguments
from ..devices import parse_device

__all__ = ["ConvertMixin"]


class ConvertMixin(TensorBase):
    """Dtype and device conversion."""

    __slots__ = ()

    def to(self, *args, **kwargs):
        """Converts dtype and/or device, PyTorch style: `x.to(torch.float64)`, `x.to("cpu")`."""
        dtype, device = to_arguments(args, kwargs)
        out = self
        if dtype is not None and dtype_name(dtype) != np.dtype(self.dtype).name:
            out = self._apply("to_dtype", out, dtype=dtype_name(dtype))
        if device is not None:
            target, source = parse_device(device), out._jax_device()
            if target != source:
                out = self._apply("to_device", out, device=target, source=source)
        if kwargs.get("copy") and out is self:
            out = self.clone()
        return out

    def type(self, dtype=None, non_blocking=False):
        """`x.type()` is PyTorch's type name ('torch.FloatTensor'); `x.type(torch.float64)`
        or `x.type('torch.DoubleTensor')` converts, as `x.to(dtype)`."""
        if dtype is None:
            return errors.torch_type_name(self._data.dtype)
        if isinstance(dtype, str) and dtype.startswith("torch."):
            names = {v: k for k, v in errors.TYPE_NAMES.items()}
            if dtype not in names:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = names[dtype]
        elif hasattr(dtype, "dtype") and isinstance(dtype.dtype, np.dtype):
            dtype = dtype.dtype  # a legacy type (torch.LongTensor) or a tape dtype
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    def bfloat16(self):
        return self.to("bfloat16")

    def long(self):
        return self.to("int64")

    def int(self):
        return self.to("int32")

    def bool(self):
        return self.to("bool")

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}")
