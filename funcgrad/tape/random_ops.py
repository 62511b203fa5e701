"""Random tensors with PyTorch's signatures: `rand`, `randn`, `randint`, `randperm`, the
`*_like` forms, `normal` and `bernoulli` (the in-place fills, `Tensor.uniform_` and
friends, are in `methods/random.py`).

Values come from a `Generator` (the default one unless `generator=`) through PyTorch's own
CPU samplers (`random/sampling.py`), so a seeded program draws what PyTorch draws. A dtype is
sampled as PyTorch samples it (float64 takes 53-bit draws), then stored in the dtype the
tape holds it in.

What this module does not do: distributions beyond these (`exponential_`, `multinomial`,
`poisson`, ...), or `out=` arguments.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from . import errors
from ._convert import canonical_dtype, is_wide, x64
from .creation import _finish, _size
from .random import sampling
from .random.generator import default_generator
from .tensor import Tensor

__all__ = [
    "bernoulli",
    "normal",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
]


def _requested(dtype, default):
    """The dtype PyTorch would sample in (float64 stays float64 even where JAX stores it in
    float32), and the one the tape stores."""
    wanted = np.dtype(default if dtype is None else dtype)
    return wanted, canonical_dtype(wanted)


def _sized(size: tuple, kwargs: dict) -> tuple:
    """`size` given as positional ints, one tuple, or the `size=` keyword; PyTorch's
    `pin_memory=False` is accepted (other keywords are not)."""
    kwargs.pop("pin_memory", None)
    if "size" in kwargs and not size:
        size = (kwargs.pop("size"),)
    if kwargs:
        raise TypeError(f"got an unexpected keyword argument {next(iter(kwargs))!r}")
    return size


def _make(array, stored, requires_grad, device):
    with x64(is_wide(stored)):  # int64 and float64 results are kept in 64 bits
        array = jnp.asarray(array, stored)
    return _finish(array, requires_grad, device)


def rand(
    *size, generator=None, dtype=None, device=None, requires_grad=False, layout=None, **kwargs
):
    """Uniform samples in [0, 1), PyTorch's stream. Example: `torch.rand(2, 3)`.

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(0)
        >>> torch.rand(3)
        tensor([0.4963, 0.7682, 0.0885])
    """
    shape = _size(_sized(size, kwargs), "rand")
    wanted, stored = _requested(dtype, np.float32)
    sampling.check_float(wanted, "check_uniform_bounds")
    array = sampling.uniform(generator or default_generator, shape, wanted)
    return _make(array, stored, requires_grad, device)


def randn(
    *size, generator=None, dtype=None, device=None, requires_grad=False, layout=None, **kwargs
):
    """Standard normal samples, PyTorch's stream. Example: `torch.randn(2, 3)`.

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(0)
        >>> torch.randn(3)
        tensor([ 1.5410, -0.2934, -2.1788])
    """
    shape = _size(_sized(size, kwargs), "randn")
    wanted, stored = _requested(dtype, np.float32)
    sampling.check_float(wanted, "normal_kernel_cpu")
    array = sampling.normal(generator or default_generator, shape, wanted)
    return _make(array, stored, requires_grad, device)


def _randint_bounds(args, kwargs):
    size = kwargs.pop("size", None)
    high = kwargs.pop("high", None)
    low = kwargs.pop("low", None)
    args = list(args)
    if size is None and args:
        size = args.pop()
    if high is None and args:
        high = args.pop()
    if low is None and args:
        low = args.pop()
    if size is None or high is None or args:
        got = ", ".join(type(a).__name__ for a in [*args, low, high, size] if a is not None)
        raise TypeError(errors.RANDINT_ARGS.format(got=got))
    if not isinstance(size, (tuple, list)):
        raise TypeError(
            "randint(): argument 'size' (position 2) must be tuple of ints, not "
            + type(size).__name__
        )
    return (0 if low is None else int(low)), int(high), tuple(size)


def randint(
    *args, generator=None, dtype=None, device=None, requires_grad=False, layout=None, **kwargs
):
    """Random integers in [low, high): `randint(high, size)` or `randint(low, high, size)`.

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(3)
        >>> torch.randint(0, 10, (6,)).tolist()
        [6, 8, 7, 7, 0, 0]
        >>> torch.randint(10, (2,)).shape
        torch.Size([2])
    """
    low, high, size = _randint_bounds(args, kwargs)
    _sized((), kwargs)
    shape = _size((size,), "randint")
    if low >= high:
        raise RuntimeError(errors.RANDOM_FROM_TO.format(low=low, high=high))
    wanted, stored = _requested(dtype, np.int64)
    array = sampling.random_from_to(generator or default_generator, shape, wanted, low, high)
    return _make(array, stored, requires_grad, device)


def randperm(
    n, *, generator=None, dtype=None, device=None, requires_grad=False, layout=None, **kwargs
):
    """A random permutation of 0..n-1, PyTorch's shuffle. Example: `torch.randperm(5)`.

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(3)
        >>> torch.randperm(8).tolist()
        [2, 4, 3, 5, 1, 0, 6, 7]
    """
    _sized((), kwargs)
    (n,) = _size((n,), "randperm")
    wanted, stored = _requested(dtype, np.int64)
    array = sampling.randperm(generator or default_generator, n)
    return _make(array, stored, requires_grad, device)


def _like(fn, input, dtype, device, requires_grad, generator):
    return fn(
        *input.shape,
        generator=generator,
        dtype=input.dtype if dtype is None else dtype,
        device=device,
        requires_grad=requires_grad,
    )


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """`rand` with the shape (and dtype) of `input`."""
    return _like(rand, input, dtype, device, requires_grad, generator)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False, **kw):
    """`randn` with the shape (and dtype) of `input`."""
    return _like(randn, input, dtype, device, requires_grad, generator)


def randint_like(input, *args, generator=None, dtype=None, device=None, **kwargs):
    """`randint(low=0, high)` with the shape (and dtype) of `input`."""
    dtype = input.dtype if dtype is None else dtype
    kwargs.pop("requires_grad", None)
    return randint(*args, tuple(input.shape), generator=generator, dtype=dtype, device=device)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None, **kwargs):
    """Normal samples: `normal(mean, std, size)` with floats, or with tensors (the result
    has their broadcast shape; PyTorch draws standard normals, then scales and shifts).

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(0)
        >>> torch.normal(2.0, 3.0, size=(2,))
        tensor([6.6230, 1.1197])
    """
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        shapes = [x.shape for x in (mean, std) if isinstance(x, Tensor)]
        like = mean if isinstance(mean, Tensor) else std
        noise = randn(*np.broadcast_shapes(*shapes), generator=generator, dtype=like.dtype)
        return noise * std + mean
    _sized((), kwargs)
    if size is None:
        raise TypeError("normal() missing required argument 'size' (pos 3)")
    wanted, stored = _requested(dtype, np.float32)
    sampling.check_std(std, "normal")
    array = sampling.normal(generator or default_generator, _size((size,)), wanted, mean, std)
    return _make(array, stored, False, device)


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples with probabilities `input` (or the float `p`), in `input`'s dtype.

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(0)
        >>> torch.bernoulli(torch.full((4,), 0.5))
        tensor([1., 0., 1., 1.])
    """
    gen = generator or default_generator
    if p is not None:
        return input.detach().clone().bernoulli_(p, generator=generator)
    probs = np.asarray(input.detach()._data)
    if ((probs < 0) | (probs > 1)).any():
        raise RuntimeError(
            "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)"
        )
    out = sampling.bernoulli_tensor(gen, probs.astype(np.float32))
    return _make(out, input.dtype, False, None)
