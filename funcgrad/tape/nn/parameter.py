"""`Parameter`: a leaf tensor that a `Module` registers as one of its weights.

Nothing else: a Parameter is a Tensor that requires grad by default and prints as
PyTorch's does. Ops on it return plain Tensors.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._convert import canonical_dtype, get_default_dtype, to_array
from ..creation import tensor
from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A tensor that is a module parameter (PyTorch's `nn.Parameter`).

    Args:
      data: Optional. The initial value (a tensor, array or nested list); empty by default.
      requires_grad: Optional, bool. Defaults to True.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> w.requires_grad, w.is_leaf
        (True, True)
        >>> w
        Parameter containing:
        tensor([1., 1.], requires_grad=True)
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            array = jnp.zeros((0,), jnp.float32)
        else:
            array = to_array(data)
        self._init(array)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        out = Parameter(self._data, self._requires_grad)
        if self._grad is not None:
            out._grad = Tensor._wrap(self._grad._data)
        memo[id(self)] = out
        return out


def _zeros(*shape, device=None, dtype=None) -> Tensor:
    """Host zeros moved to the device: no per-shape compilation at model construction."""
    dtype = canonical_dtype(dtype) or get_default_dtype()
    return tensor(np.zeros(shape, dtype), dtype=dtype, device=device)


def _empty(*shape, device=None, dtype=None) -> Parameter:
    """A parameter of zeros, for a layer's reset_parameters() to fill."""
    return Parameter(_zeros(*shape, device=device, dtype=dtype))
