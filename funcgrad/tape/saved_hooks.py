"""`autograd.graph.saved_tensors_hooks`: pack/unpack what nodes save for backward.

PyTorch users measure or offload a graph's saved tensors with these hooks; on the tape the
same code runs, the packed value is what the node's pullback keeps, and unpack runs at
backward. The op dispatcher packs (`pack_all`) and hands `unpack_all` to the pullback; this
module knows tensors only through `TensorBase`.
"""

from __future__ import annotations

import threading

import jax

from ._base import TensorBase

__all__ = [
    "pack_all",
    "pack_with",
    "saved_hooks_active",
    "saved_tensors_hooks",
    "unpack_all",
    "unpack_value",
]

_state = threading.local()


def _stack() -> list:
    if not hasattr(_state, "stack"):
        _state.stack = []
    return _state.stack


class saved_tensors_hooks:  # noqa: N801 - PyTorch's name
    """Context manager: `pack_hook(tensor)` runs when an op saves a tensor for backward,
    `unpack_hook(packed)` when backward needs it again.

    Example:
        >>> import funcgrad.tape as torch
        >>> sizes = []
        >>> def pack(t):
        ...     sizes.append(t.numel())
        ...     return t
        >>> x = torch.ones(3, requires_grad=True)
        >>> with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        ...     y = (x * x).sum()
        >>> sizes
        [3, 3]
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        _stack().append(self)
        return self

    def __exit__(self, *exc):
        _stack().pop()
        return False


@jax.tree_util.register_pytree_node_class
class _Packed:
    """A saved value as a pack hook returned it, with the unpack hook to restore it. A pytree
    whose leaf is the packed value when that is an array (or a tensor), so that the byte
    counters see what the hook kept; an index or a file name counts nothing."""

    __slots__ = ("value", "unpack", "rank")

    def __init__(self, value, unpack, rank=0):
        self.value, self.unpack, self.rank = value, unpack, rank  # rank: when it was packed

    def tree_flatten(self):
        array_like = hasattr(self.value, "shape") and hasattr(self.value, "dtype")
        return ((self.value,) if array_like else ()), (
            self.unpack,
            None if array_like else self.value,
            self.rank,
        )

    @classmethod
    def tree_unflatten(cls, aux, children):
        unpack, value, rank = aux
        return cls(children[0] if children else value, unpack, rank)


def saved_hooks_active() -> bool:
    return bool(getattr(_state, "stack", None))


def pack_all(arrays: tuple, tensors: tuple, order: tuple | None = None) -> tuple:
    """Packs saved values with the innermost active hooks (no hooks: unchanged).

    Args:
      arrays: the values an op saves.
      tensors: per value, the tensor it is the array of (what the pack hook receives), or
        None for a Python number, which is kept as is.
      order: Optional. The indices of `arrays` in the order PyTorch's node packs them
        (and unpacks them: `unpack_all` follows the same order). Defaults to as given.
    """
    stack = _stack()
    if not stack:
        return arrays
    hooks = stack[-1]
    packed = list(arrays)
    for rank, i in enumerate(order if order is not None else range(len(arrays))):
        if tensors[i] is not None:
            packed[i] = _Packed(hooks.pack_hook(tensors[i]), hooks.unpack_hook, rank)
    return tuple(packed)


def unpack_all(saved: tuple) -> tuple:
    """Inverse of pack_all: the saved arrays, unpacking any packed ones."""
    for s in saved:
        if type(s) is _Packed:
            out = list(saved)
            # Unpack in the order they were packed, as PyTorch's node does.
            ranked = sorted(
                (i for i, s in enumerate(saved) if type(s) is _Packed), key=lambda i: saved[i].rank
            )
            for i in ranked:
                out[i] = _unpack(saved[i])
            return tuple(out)
    return saved


def pack_with(tensor, pack_hook, unpack_hook):
    """One saved value packed with a given pair of hooks (a SavedTensor's register_hooks)."""
    return _Packed(pack_hook(tensor), unpack_hook)


def unpack_value(s):
    """One saved value as the rule reads it (its unpack hook run if it was packed)."""
    return _unpack(s)


def _unpack(s):
    if not isinstance(s, _Packed):
        return s
    t = s.unpack(s.value)
    return t._value() if isinstance(t, TensorBase) else t
