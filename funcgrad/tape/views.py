"""Views as functions of their base: PyTorch's view semantics on immutable arrays.

In PyTorch a view shares memory with its base: a write through the view changes the base,
and every view of the base sees later writes. JAX arrays are immutable, so here a view is a
*function of its base and its version*: each view keeps the chain of view ops that made it
from its base (`chain`: `(op name, static key, output index)` steps), and when the shared
version counter has moved since it last looked, its value is recomputed from the base
(`replay`). A write through a view is a write of the whole base: the view's new value is
scattered into the base's array (`scatter`, exact: it moves values, no arithmetic), and on
the tape the base's `grad_fn` becomes PyTorch's `CopySlices` (`write_op`: one recorded op,
base and the in-place op's other inputs in, new base out, its VJP from JAX). A stale view
gets PyTorch's `AsStridedBackward0` node (`AS_STRIDED`) on the base's new history.

It also holds PyTorch's creation rules of a view (`creation_meta`: made under no_grad, or
by a multi-output op), the in-place checks that follow from them (`check_inplace`), and
the overlap check of a written view (an expanded view).

What it does not do: know the Tensor class (tensor.py and methods/inplace.py drive it),
or record nodes itself (they call `dispatch.apply` with the ops made here).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import errors
from ._convert import is_wide, x64
from ._op import Op
from .ops import OPS

__all__ = [
    "AS_STRIDED",
    "MULTI",
    "NO_GRAD",
    "check_inplace",
    "rebase_error",
    "creation_meta",
    "edges_kept",
    "replay",
    "scatter",
    "step",
    "write_op",
]

# How a view was made, when PyTorch restricts writing through it (else None).
NO_GRAD = "no_grad"  # made under no_grad of a tensor that requires grad
MULTI = "multi"  # an output of an op that returns several views (split, unbind, chunk)


def step(op, key, nr=0) -> tuple:
    """One link of a view chain: table op `op` (an Op) with static `key`, output `nr`."""
    return (op.name, key, nr)


def _replay_raw(array, chain):
    for name, key, nr in chain:
        out = OPS[name].fn(array, **dict(key))
        array = out[nr] if OPS[name].multi else out
    return array


@functools.cache
def _replay_jit(chain):
    return jax.jit(functools.partial(_replay_raw, chain=chain))


def replay(array, chain):
    """The view `chain` of `array` (a jax.Array): how a view's value follows its base."""
    return _replay_jit(chain)(array) if chain else array


def _scatter_raw(base, value, chain):
    # Which element of the base each element of the view is: the view ops are pure
    # rearrangements, so replaying them on the positions gives the positions.
    positions = _replay_raw(jnp.arange(base.size, dtype=jnp.int32).reshape(base.shape), chain)
    flat = base.reshape(-1).at[positions.reshape(-1)].set(value.astype(base.dtype).reshape(-1))
    return flat.reshape(base.shape)


@functools.cache
def _scatter_jit(chain):
    return jax.jit(functools.partial(_scatter_raw, chain=chain))


def scatter(base, value, chain):
    """`base` with its view `chain` replaced by `value` (the write through a view)."""
    # In JAX's 64-bit mode for a 64-bit base: outside it, astype(float64) would truncate
    # to float32 (a write through a detach() alias of a float64 tensor changed its dtype).
    with x64(is_wide(base.dtype)):
        return _scatter_jit(chain)(base, value) if chain else value.astype(base.dtype)


@functools.cache
def _overlaps(shape, chain) -> bool:
    positions = np.asarray(_replay_raw(np.arange(int(np.prod(shape))).reshape(shape), chain))
    return len(np.unique(positions)) != positions.size


# The node a stale view gets: its value recomputed from the base's new history.
AS_STRIDED = Op(
    "as_strided_view",
    lambda x, chain: _replay_raw(x, chain),
    "AsStridedBackward0",
)


@functools.cache
def write_op(inner: Op) -> Op:
    """The op of an in-place `inner` through a view: (base, *inner's other inputs) -> the
    new base, with the view's part replaced by `inner(view, ...)`; PyTorch's CopySlices.

    Example:
        >>> import funcgrad.tape as torch
        >>> y = torch.zeros(2, 3, requires_grad=True) * 1
        >>> y[0].add_(1)
        tensor([1., 1., 1.], grad_fn=<AsStridedBackward0>)
        >>> y.grad_fn.name()
        'CopySlices'
    """

    def fn(base, *args, chain, **static):
        view = _replay_raw(base, chain)
        return _scatter_raw(base, inner.fn(view, *args, **static), chain)

    # The inner op's save rule keeps its positions: the base takes the view's place.
    return Op(f"{inner.name}_through_view", fn, "CopySlices", inner.saves, inner.differentiable)


# Ops whose Python-number operand PyTorch wraps as a tensor input (an edge of the node).
_WRAPS_NUMBERS = frozenset(("add", "sub", "mul", "div", "copy"))


def edges_kept(name, args) -> int:
    """How many inputs of CopySlices PyTorch lists in `next_functions`: the base, then the
    in-place op's leading differentiable inputs (a float tensor; a Python number only for
    add/sub/mul/div and copy); masks, index tensors and other numbers have no edge."""
    n = 1
    for a in args:
        if hasattr(a, "_data"):
            if not jnp.issubdtype(a._data.dtype, jnp.inexact):
                break
        elif name not in _WRAPS_NUMBERS:
            break
        n += 1
    return n


def creation_meta(source_meta, op, made_in_no_grad: bool):
    """How a new view is marked (PyTorch's propagate_creation_meta): a restriction of the
    view it was made from carries over; else no_grad views and multi-output ops are."""
    if source_meta is not None:
        return source_meta
    if made_in_no_grad:
        return NO_GRAD
    return MULTI if op.multi else None


def rebase_error(view, node_name, indirect: bool) -> RuntimeError:
    """PyTorch's error for a restricted view written in place (or, `indirect`, read after
    its base or another view of it was)."""
    message = errors.view_rebase(view._view_meta == NO_GRAD, view._output_nr, node_name, indirect)
    return RuntimeError(message)


def check_inplace(view, base, grad_enabled: bool, node_name) -> None:
    """PyTorch's errors for writing `view` (of `base`) in place, in PyTorch's order."""
    if grad_enabled and view._requires_grad:
        if view._view_meta is not None:
            raise rebase_error(view, node_name, indirect=False)
        if base._grad_fn is None and base._requires_grad:
            raise RuntimeError(errors.LEAF_VIEW_INPLACE + errors.LEAF_INPLACE_HINT)
    if _overlaps(tuple(base._data.shape), view._view_chain):
        raise RuntimeError(errors.INTERNAL_OVERLAP + errors.INTERNAL_OVERLAP_HINT)
