"""PyTorch's legacy tensor types: `FloatTensor`, `DoubleTensor`, `LongTensor`, `IntTensor`,
`BoolTensor`, ... as constructors (`torch.LongTensor([1, 2])`, `torch.FloatTensor(2, 3)`)
and as types for `isinstance` (true for a tensor of that dtype, as in PyTorch).

They make ordinary `Tensor`s; nothing here is a new kind of tensor. `Tensor(...)` itself is
the default dtype's legacy constructor (tensor.py, `_convert.legacy_array`).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ._convert import legacy_array
from .tensor import Tensor

__all__ = [
    "BFloat16Tensor",
    "BoolTensor",
    "ByteTensor",
    "CharTensor",
    "DoubleTensor",
    "FloatTensor",
    "HalfTensor",
    "IntTensor",
    "LongTensor",
    "ShortTensor",
]


class _LegacyType(type):
    """The metaclass: calling the type constructs, `isinstance` checks the dtype."""

    def __call__(cls, *args, device=None):
        t = Tensor._wrap(legacy_array(args, cls.dtype))
        return t if device is None else t.to(device)

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


def _legacy(name: str, dtype: str) -> type:
    return _LegacyType(name, (), {"dtype": np.dtype(jnp.dtype(dtype))})


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
HalfTensor = _legacy("HalfTensor", "float16")
LongTensor = _legacy("LongTensor", "int64")
IntTensor = _legacy("IntTensor", "int32")
ShortTensor = _legacy("ShortTensor", "int16")
CharTensor = _legacy("CharTensor", "int8")
ByteTensor = _legacy("ByteTensor", "uint8")
BoolTensor = _legacy("BoolTensor", "bool")
BFloat16Tensor = _legacy("BFloat16Tensor", "bfloat16")
