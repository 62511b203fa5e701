"""torch.func.vmap on the tape: `jax.vmap` of the function written with tape ops.

The batched inputs (those whose `in_dims` entry is an int) go through `jax.vmap`; inside,
each is a tensor holding one element's slice (a JAX BatchTracer), so the function sees
unbatched shapes, as in PyTorch. Inputs with `in_dims` None and keyword arguments reach the
function unchanged. Every output comes back from `jax.vmap` at axis 0 and is moved to its
`out_dims` entry; an output with `out_dims` None must not be batched and is returned as is.

Randomness, as PyTorch defines it: 'error' makes random ops raise (the tape's generator
asks the transform stack before each draw), 'same' draws once for the whole batch (the
generator's key is not batched), 'different' gives each element its own draws (the key
entering `jax.vmap` is a batch of keys split from the generator's). `chunk_size` runs the
batch in chunks and concatenates them.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ..random import default_generator
from ..tensor import Tensor
from . import _messages as msg, _pytree
from ._levels import Level, batched_at, check_randomness, entered
from ._tape_link import linked


def _name(func) -> str:
    """How PyTorch's messages name the function (its __name__, else its repr)."""
    if isinstance(func, functools.partial):
        return f"functools.partial(<function {_name(func.func)}>, ...)"
    return getattr(func, "__name__", None) or repr(func)


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """torch.func.vmap: `func` mapped over a dimension of its inputs (`jax.vmap`).

    Args:
      func: a function of tensors (tape ops, modules) returning a tensor or a pytree of
        tensors (a leaf whose `out_dims` entry is None may be any value).
      in_dims: Optional. An int (the mapped dimension of every input), or a tuple with one
        entry per positional argument, nested like the argument (int, or None: not mapped).
        Default 0.
      out_dims: Optional. Where the mapped dimension goes in each output: an int, None (the
        output is not batched), or a structure of them matching the outputs. Default 0.
      randomness: Optional. 'error' (default: random ops raise), 'same' or 'different'.
      chunk_size: Optional, int > 0. Map that many elements at a time.

    Returns:
      The mapped function.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import vmap
        >>> x, w = torch.ones(4, 3), torch.tensor([1.0, 2.0, 3.0])
        >>> vmap(lambda row, w: (row * w).sum(), in_dims=(0, None))(x, w)
        tensor([6., 6., 6., 6.])
        >>> vmap(vmap(lambda a: a * 2))(torch.ones(2, 3)).shape
        torch.Size([2, 3])
    """
    check_randomness(randomness)
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(msg.VMAP_CHUNK.format(chunk_size=chunk_size))

    @functools.wraps(func, updated=())
    def wrapper(*args, **kwargs):
        call = _VmapCall(func, in_dims, out_dims, randomness)
        return linked(lambda: call.run(args, kwargs, chunk_size), (args, kwargs))

    return wrapper


class _VmapCall:
    """One call of a vmapped function."""

    def __init__(self, func, in_dims, out_dims, randomness):
        self.func, self.in_dims, self.out_dims = func, in_dims, out_dims
        self.randomness, self.name = randomness, _name(func)

    # ------------------------------------------------------------ inputs
    def _mapped(self, args):
        """(leaves, spec, dims, size): the inputs, flat, with their in_dims, checked."""
        fields = {"name": self.name, "in_dims": self.in_dims}
        if not isinstance(self.in_dims, (int, tuple)):
            raise ValueError(msg.VMAP_IN_DIMS_TYPE.format(type=type(self.in_dims), **fields))
        if not args:
            raise ValueError(msg.VMAP_NO_INPUTS.format(name=self.name))
        leaves, spec = _pytree.flatten(args)
        dims = _pytree.broadcast_prefix(self.in_dims, spec)
        if dims is None:
            raise ValueError(
                msg.VMAP_IN_DIMS_STRUCTURE.format(
                    dims_spec=_pytree.spec_repr(_pytree.flatten(self.in_dims)[1]),
                    inputs_spec=_pytree.spec_repr(spec),
                    **fields,
                )
            )
        sizes = []
        for i, (leaf, dim) in enumerate(zip(leaves, dims)):
            if dim is None:
                continue
            if not isinstance(dim, int):
                raise ValueError(msg.VMAP_IN_DIM_VALUE.format(dim=dim, **fields))
            if not isinstance(leaf, Tensor):
                raise ValueError(
                    msg.VMAP_IN_DIM_NOT_TENSOR.format(dim=dim, type=type(leaf), **fields)
                )
            if not -leaf.ndim <= dim < leaf.ndim:
                raise ValueError(msg.VMAP_IN_DIM_RANGE.format(dim=dim, ndim=leaf.ndim, **fields))
            dims[i] = dim % leaf.ndim
            sizes.append(leaf.shape[dim])
        if not sizes:
            raise ValueError(msg.VMAP_NOTHING_BATCHED)
        if len(set(sizes)) > 1:
            raise ValueError(msg.VMAP_SIZES.format(sizes=sizes))
        return leaves, spec, dims, sizes[0]

    # ------------------------------------------------------------ calling
    def run(self, args, kwargs, chunk_size):
        leaves, spec, dims, size = self._mapped(args)
        if chunk_size is None or size <= chunk_size:
            out_spec, values, out_dims = self._run_once(leaves, spec, dims, size, kwargs)
            return _pytree.unflatten(out_spec, values)
        chunks = []
        for start in range(0, size, chunk_size):
            stop = min(start + chunk_size, size)
            part = [x if d is None else _slice(x, start, stop, d) for x, d in zip(leaves, dims)]
            chunks.append(self._run_once(part, spec, dims, stop - start, kwargs))
        out_spec, first, out_dims = chunks[0]
        values = [
            first[i] if d is None
            else Tensor._wrap(jnp.concatenate([c[1][i]._value() for c in chunks], axis=d))
            for i, d in enumerate(out_dims)
        ]  # fmt: skip
        return _pytree.unflatten(out_spec, values)

    def _run_once(self, leaves, spec, dims, size, kwargs):
        """(output spec, output values, normalised out_dims) of one jax.vmap call."""
        mapped = [i for i, d in enumerate(dims) if d is not None]
        arrays = [leaves[i]._value() for i in mapped]
        in_axes = [dims[i] for i in mapped]
        if self.randomness == "different":  # one key per element, split from the generator's
            arrays.append(jax.random.split(default_generator.next_key(), size))
            in_axes.append(0)
        found = {}

        def per_element(*arrays):
            level = Level("vmap", False, self.randomness, arrays[0]._trace, size)
            keys = arrays[-1] if self.randomness == "different" else None
            with entered(level), _generator_key(keys):
                inner = list(leaves)
                for i, a in zip(mapped, arrays):
                    inner[i] = Tensor._wrap(a)
                out = self.func(*_pytree.unflatten(spec, inner), **kwargs)
                return self._outputs(out, level, found)

        batched = jax.vmap(per_element, in_axes=tuple(in_axes))(*arrays)
        values, it = [], iter(batched)
        for leaf, dim in zip(found["unbatched"], found["dims"]):
            values.append(leaf if dim is None else self._move(next(it), dim))
        dims_out = [d if d is None else d % values[i].ndim for i, d in enumerate(found["dims"])]
        return found["spec"], values, dims_out

    # ------------------------------------------------------------ outputs
    def _outputs(self, out, level: Level, found: dict) -> tuple:
        """The batched outputs' arrays (for jax.vmap); unbatched ones kept in `found`."""
        leaves, spec = _pytree.flatten(out)
        dims = self._out_dims_for(spec)
        batched, kept = [], []
        for leaf, dim in zip(leaves, dims):
            if dim is None:
                if isinstance(leaf, Tensor):
                    if batched_at(leaf._value(), level):
                        raise ValueError(msg.VMAP_BATCHED_OUT_NONE.format(name=self.name))
                    leaf = Tensor._wrap(leaf._value())
                kept.append(leaf)
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(msg.VMAP_OUTPUT_NOT_TENSOR.format(name=self.name, type=type(leaf)))
            batched.append(leaf._value())
            kept.append(None)
        found.update(spec=spec, dims=dims, unbatched=kept)
        return tuple(batched)

    def _out_dims_for(self, spec) -> list:
        out_dims = self.out_dims
        leaves = _pytree.flatten(out_dims)[0]
        if not all(d is None or isinstance(d, int) for d in leaves):
            raise ValueError(msg.VMAP_OUT_DIMS_TYPE.format(name=self.name, out_dims=out_dims))
        dims = _pytree.broadcast_prefix(out_dims, spec)
        if dims is None:
            raise ValueError(
                msg.VMAP_OUT_DIMS_STRUCTURE.format(
                    name=self.name,
                    out_dims=out_dims,
                    dims_spec=_pytree.spec_repr(_pytree.flatten(out_dims)[1]),
                    outputs_spec=_pytree.spec_repr(spec),
                )
            )
        return dims

    @staticmethod
    def _move(array, dim: int) -> Tensor:
        if not -array.ndim <= dim < array.ndim:
            raise IndexError(msg.DIM_RANGE.format(low=-array.ndim, high=array.ndim - 1, dim=dim))
        return Tensor._wrap(jnp.moveaxis(array, 0, dim))


def _slice(x: Tensor, start: int, stop: int, dim: int) -> Tensor:
    return Tensor._wrap(jax.lax.slice_in_dim(x._value(), start, stop, axis=dim))


class _generator_key:  # noqa: N801 - used like a context manager function
    """Sets the tape generator's key for the body (vmap's 'different': the batch of keys),
    and puts the outer key back after, so no traced key outlives the vmap."""

    def __init__(self, key):
        self.key = key

    def __enter__(self):
        self.saved = default_generator.key
        if self.key is not None:
            default_generator.key = self.key

    def __exit__(self, *exc):
        default_generator.key = self.saved
        return False
