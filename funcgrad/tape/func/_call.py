"""A tape function as a JAX function of arrays: the bridge every transform uses.

`TapeCall(func, args, kwargs, positions, level)` is a function of the flat arrays of the
positional arguments at `positions`: called (by `jax.vjp`, `jax.jvp`, `jax.vmap`, ...), it
wraps the arrays (JAX tracers) as tensors, rebuilds the arguments around them, runs `func`
on the tape inside a transform level (`_levels`), and returns the outputs' arrays, flat,
with the structures kept on the side for the results. Arguments at other positions and
keyword arguments reach `func` unchanged, as in torch.func.

Also here: the checks PyTorch makes on `argnums`, on the tensors passed to a transform and
on what the function returns, with PyTorch's texts. Nothing here differentiates.
"""

from __future__ import annotations

import jax.numpy as jnp

from .. import errors
from ..saved_hooks import saved_hooks_active
from ..tensor import Tensor
from . import _messages as msg, _pytree
from ._levels import Level, entered


# ---------------------------------------------------------------- arguments
def positions_of(argnums, n_args: int) -> tuple[int, ...]:
    """The positions `argnums` names, normalised, checked as PyTorch checks them."""
    if isinstance(argnums, int):
        return (_position(argnums, n_args),)
    if not isinstance(argnums, tuple):
        raise RuntimeError(msg.ARGNUMS_TYPE.format(type=type(argnums)))
    if not argnums:
        raise RuntimeError(msg.ARGNUMS_EMPTY)
    for a in argnums:
        if not isinstance(a, int):
            raise RuntimeError(msg.ARGNUM_TYPE.format(type=type(a)))
    if len(set(argnums)) != len(argnums):
        raise RuntimeError(msg.ARGNUMS_UNIQUE.format(argnums=argnums))
    return tuple(_position(a, n_args) for a in argnums)


def _position(argnum: int, n_args: int) -> int:
    if not -n_args <= argnum < n_args:
        raise RuntimeError(msg.ARGNUM_RANGE.format(argnum=argnum, n=n_args))
    return argnum % n_args


def tensors_in(tree, *, floating: str | None = None) -> tuple[list, _pytree.Spec]:
    """The tensors of a pytree passed to a transform (PyTorch's `ValueError` for anything
    else). floating: 'grad' (PyTorch's requires_grad error) or 'jvp' (its primal error)
    to require floating-point tensors."""
    leaves, spec = _pytree.flatten(tree)
    for t in leaves:
        if not isinstance(t, Tensor):
            raise ValueError(msg.NOT_A_TENSOR.format(type=type(t)))
        if floating and not jnp.issubdtype(t.dtype, jnp.inexact):
            if floating == "grad":
                raise RuntimeError(
                    errors.INTEGER_REQUIRES_GRAD + errors.INTEGER_HINT.format(dtype=t.dtype)
                )
            raise ValueError(msg.FLOAT_PRIMAL.format(dtype=f"torch.{t.dtype}"))
    return leaves, spec


def arrays_of(tensors) -> list:
    return [t._value() for t in tensors]


def wrap(arrays) -> list:
    """Results as tape tensors (no graph)."""
    return [Tensor._wrap(a) for a in arrays]


# ---------------------------------------------------------------- outputs
def split_aux(out, has_aux: bool, api: str):
    """(output, aux) of a function called with has_aux, PyTorch's error otherwise."""
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(msg.HAS_AUX.format(api=api))
    return out


def tensor_leaves(tree, message: str, **fields) -> tuple[list, _pytree.Spec]:
    """The arrays of an output pytree whose leaves must all be tensors."""
    leaves, spec = _pytree.flatten(tree)
    for t in leaves:
        if not isinstance(t, Tensor):
            raise RuntimeError(message.format(type=type(t), **fields))
    return arrays_of(leaves), spec


def outputs_of(api: str, has_aux: bool):
    """The output rule of vjp, jacrev (api=VJP_API) and jvp, jacfwd (JVP_API): a pytree of
    tensors, and with has_aux a pair (output, aux)."""

    def process(call, out):
        out, aux = split_aux(out, has_aux, api)
        arrays, call.out_spec = tensor_leaves(out, msg.OUTPUT_NOT_TENSOR, api=api)
        return tuple(arrays), call.keep_aux(aux) if has_aux else []

    return process


# ---------------------------------------------------------------- the bridge
class TapeCall:
    """`func` as a function of the flat arrays of `args[positions]` (see module docstring).

    After a call, `out_spec` / `aux_spec` describe the outputs. `arrays` holds the input
    arrays to transform, `specs` the structure of each argument at `positions`.
    """

    def __init__(self, func, args, kwargs, positions, level: Level, process, *,
                 floating: str | None = None, requires_grad: bool = False):  # fmt: skip
        if not callable(func):
            raise TypeError(f"'{type(func).__name__}' object is not callable")
        if requires_grad and saved_hooks_active():  # grad, vjp, jacrev, as in PyTorch
            raise RuntimeError(msg.SAVED_TENSORS_HOOKS + msg.SAVED_TENSORS_HOOKS_HINT)
        self.func, self.args, self.kwargs = func, tuple(args), kwargs
        self.positions = positions
        self.level, self.process, self.requires_grad = level, process, requires_grad
        self.specs, self.arrays = [], []
        for p in positions:
            leaves, spec = tensors_in(self.args[p], floating=floating)
            self.specs.append(spec)
            self.arrays.extend(arrays_of(leaves))
        self.out_spec = self.aux_spec = None

    def __call__(self, *arrays):
        with entered(self.level):
            tensors = wrap(arrays)  # made inside the level: not "captured"
            if self.requires_grad:  # as in PyTorch, the inputs of grad / vjp require grad
                for t in tensors:
                    t._requires_grad = True
            args = list(self.args)
            for p, tree in zip(self.positions, self.inputs_like_args(tensors)):
                args[p] = tree
            return self.process(self, self.func(*args, **self.kwargs))

    def inputs_like_args(self, leaves) -> list:
        """Flat per-input values (tensors, gradients) regrouped as the arguments were."""
        out, start = [], 0
        for spec in self.specs:
            out.append(_pytree.unflatten(spec, leaves[start : start + spec.num_leaves]))
            start += spec.num_leaves
        return out

    def keep_aux(self, aux):
        """The aux output's arrays (its leaves must be tensors, as PyTorch's)."""
        arrays, self.aux_spec = tensor_leaves(aux, msg.AUX_NOT_TENSOR)
        return arrays

    def aux_result(self, arrays):
        return _pytree.unflatten(self.aux_spec, wrap(arrays))

    def output_result(self, arrays):
        return _pytree.unflatten(self.out_spec, wrap(arrays))

    def per_argnum(self, leaves, single: bool):
        """Per-input results (gradients) shaped like the differentiated arguments: one
        argument's structure if `argnums` was an int, else a tuple of them."""
        grouped = self.inputs_like_args(leaves)
        return grouped[0] if single else tuple(grouped)
