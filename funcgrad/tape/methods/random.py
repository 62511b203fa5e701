"""`Tensor`'s in-place random fills: `uniform_`, `normal_`, `random_`, `bernoulli_`.

A mixin of `TensorMethods`: each fill draws from a `Generator` (the default one unless
`generator=`) with PyTorch's CPU samplers (`random/sampling.py`), then writes the values as
`copy_` does (in place, version counter bumped, PyTorch's check for leaves that require
grad). `nn.init` is built on `uniform_` and `normal_`, as in PyTorch.

What this module does not do: record a backward for the fill (PyTorch's `UniformBackward0`
and friends give zero gradients; here the node is `copy_`'s), or other distributions.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .. import errors
from .._base import TensorBase
from .._convert import is_wide, x64
from ..random import sampling
from ..random.generator import default_generator

__all__ = ["RandomMixin"]


class RandomMixin(TensorBase):
    """The in-place random fills."""

    __slots__ = ()

    def _fill_sampled(self, array):
        with x64(is_wide(self.dtype)):
            array = jnp.asarray(array, self.dtype)
        return self.copy_(self._wrap(array))

    def uniform_(self, from_: float = 0.0, to: float = 1.0, *, generator=None):
        """Fills with U[from, to) from PyTorch's stream.

        Example:
            >>> import funcgrad.tape as torch
            >>> _ = torch.manual_seed(0)
            >>> torch.empty(3).uniform_(-1, 1)
            tensor([-0.0075,  0.5364, -0.8230])
        """
        if from_ > to:
            raise RuntimeError(
                f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}"
            )
        sampling.check_float(self.dtype, "check_uniform_bounds")
        gen = generator or default_generator
        return self._fill_sampled(sampling.uniform(gen, tuple(self.shape), self.dtype, from_, to))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        """Fills with N(mean, std**2) from PyTorch's stream.

        Example:
            >>> import funcgrad.tape as torch
            >>> _ = torch.manual_seed(0)
            >>> torch.empty(2).normal_(0.0, 2.0)
            tensor([ 3.0820, -0.5869])
        """
        sampling.check_std(std, "normal")
        sampling.check_float(self.dtype, "normal_kernel_cpu")
        gen = generator or default_generator
        return self._fill_sampled(sampling.normal(gen, tuple(self.shape), self.dtype, mean, std))

    def random_(self, from_: int = 0, to: int | None = None, *, generator=None):
        """Fills with integers in [from, to), or over the dtype's range without bounds."""
        gen = generator or default_generator
        if to is None and from_ == 0:
            return self._fill_sampled(sampling.random_full(gen, tuple(self.shape), self.dtype))
        if to is None:
            from_, to = 0, from_  # random_(to)
        if from_ >= to:
            raise RuntimeError(errors.RANDOM_FROM_TO.format(low=from_, high=to))
        shape = tuple(self.shape)
        return self._fill_sampled(sampling.random_from_to(gen, shape, np.int64, from_, to))

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fills with 1 with probability p (a float, or a tensor of probabilities), else 0.

        Example:
            >>> import funcgrad.tape as torch
            >>> _ = torch.manual_seed(0)
            >>> torch.empty(4).bernoulli_(0.5)
            tensor([0., 0., 1., 0.])
        """
        gen = generator or default_generator
        if isinstance(p, TensorBase):
            probs = jnp.broadcast_to(p.detach()._data.astype(jnp.float32), tuple(self.shape))
            return self._fill_sampled(sampling.bernoulli_tensor(gen, probs))
        if not 0.0 <= p <= 1.0:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        return self._fill_sampled(sampling.bernoulli_scalar(gen, tuple(self.shape), float(p)))
