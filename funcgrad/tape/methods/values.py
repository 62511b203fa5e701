"""What a `Tensor` is, read from the outside: shape, dtype, device, and its values.

Metadata (`shape`, `dtype`, `numel()`, `device`, ...) and the ways values leave the tape
(`item()`, `tolist()`, `numpy()`, `float(x)`, `bool(x)`, iteration). Inside
`funcgrad.tape.jit` a tensor holds a tracer: reading its values raises PyTorch-worded
guidance instead of JAX's concretization error.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import devices, dtypes, errors, observe
from .._base import TensorBase
from ..grad_mode import is_grad_enabled

__all__ = ["Size", "ValuesMixin"]


class Size(tuple):
    """PyTorch's torch.Size: a tuple that prints as `torch.Size([2, 3])`."""

    def __repr__(self):
        return errors.torch_size(self)

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


class ValuesMixin(TensorBase):
    """Metadata and values."""

    __slots__ = ()

    @property
    def _aval(self):
        """The array, or for a pending lazy result (funcgrad.tape.lazy) its abstract value:
        metadata reads do not run pending ops."""
        pending = self._pending
        return self._data if pending is None else pending.aval

    @property
    def shape(self) -> Size:
        return Size(self._aval.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self._aval.shape[dim]

    @property
    def dtype(self):
        return dtypes.of(self._aval.dtype)

    @property
    def ndim(self) -> int:
        return self._aval.ndim

    def dim(self) -> int:
        return self._aval.ndim

    def numel(self) -> int:
        return int(self._aval.size)

    def nelement(self) -> int:
        return self.numel()

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def element_size(self) -> int:
        return self._aval.dtype.itemsize

    def _jax_device(self):
        if self._pending is not None:  # lazy segments run only with one device
            return jax.devices()[0]
        if isinstance(self._data, jax.core.Tracer):  # inside jit(): placed with the program
            return jax.devices()[0]
        return next(iter(self._data.devices()))

    @property
    def device(self):
        """PyTorch's device of this tensor: `device(type='cpu')`, `device(type='cuda', index=0)`."""
        return devices.of(self._jax_device())

    @property
    def is_cuda(self) -> bool:
        return self._jax_device().platform == "gpu"

    @property
    def is_meta(self) -> bool:
        """False: funcgrad has no meta tensors (`device="meta"` raises NotImplementedError)."""
        return False

    @property
    def is_cpu(self) -> bool:
        return self._jax_device().platform == "cpu"

    def get_device(self) -> int:
        """The device index (-1 on the CPU), as PyTorch's."""
        d = self.device
        return -1 if d.type == "cpu" else d.index

    def is_floating_point(self) -> bool:
        return bool(jnp.issubdtype(self._aval.dtype, jnp.floating))

    def is_complex(self) -> bool:
        """False, always: the tape refuses complex dtypes where they would enter."""
        return False

    def __len__(self) -> int:
        if self._aval.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._aval.shape[0]

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar"
            )
        return self._concrete(".item()").item()

    def _concrete(self, what: str):
        """The array, which must hold values: inside jit() it is a tracer, and `what` (e.g.
        `.item()`) raises in PyTorch terms instead of JAX's concretization error."""
        data = self._value()
        if isinstance(data, jax.core.Tracer) and observe.transforms is not None:
            data = observe.transforms.concrete(data, what)  # or PyTorch's vmap error
        if isinstance(data, jax.core.Tracer):
            raise errors.traced_value_error(what)
        return data

    def tolist(self):
        return np.asarray(self._concrete(".tolist()")).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a NumPy array. As in PyTorch, refused for a tensor that requires
        grad while grad mode is on, unless force=True."""
        if self._requires_grad and not force and is_grad_enabled():
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return np.asarray(self._concrete(".numpy()"))

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __float__(self):
        self._concrete("float()")
        return float(self.item())

    def __int__(self):
        self._concrete("int()")
        return int(self.item())

    def __index__(self):
        if jnp.issubdtype(self._data.dtype, jnp.integer):
            self._concrete("using a tensor as an index (__index__)")
            return int(self.item())
        raise TypeError("only integer tensors of a single element can be converted to an index")

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        self._concrete("bool() (a Python `if`, `while`, `and`, `or` or `not` on a tensor)")
        return bool(self.item())

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))
