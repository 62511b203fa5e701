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

__all__ = ["pack_all", "saved_hooks_active", "saved_tensors_hooks", "unpack_all"]

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

    __slots__ = ("value", "unpack")

    def __init__(self, value, unpack):
        self.value, self.unpack = value, unpack

    def tree_flatten(self):
        array_like = hasattr(self.value, "shape") and hasattr(self.value, "dtype")
        return ((self.value,) if array_like else ()), (
            self.unpack,
            None if array_like else self.value,
        )

    @classmethod
    def tree_unflatten(cls, aux, children):
        unpack, value = aux
        return cls(children[0] if children else value, unpack)


def saved_hooks_active() -> bool:
    return bool(getattr(_state, "stack", None))


def pack_all(arrays: tuple, tensors: tuple) -> tuple:
    """Packs saved values with the innermost active hooks (no hooks: unchanged).

    Args:
      arrays: the values an op saves.
      tensors: per value, the tensor it is the array of (what the pack hook receives), or
        None for a Python number, which is kept as is.
    """
    stack = _stack()
    if not stack:
        return arrays
    hooks = stack[-1]
    return tuple(
        a if t is None else _Packed(hooks.pack_hook(t), hooks.unpack_hook)
        for a, t in zip(arrays, tensors)
    )


def unpack_all(saved: tuple) -> tuple:
    """Inverse of pack_all: the saved arrays, unpacking any packed ones."""
    for s in saved:
        if type(s) is _Packed:
            return tuple(_unpack(s) for s in saved)
    return saved


def _unpack(s):
    if not isinstance(s, _Packed):
        return s
    t = s.unpack(s.value)
    return t._value() if isinstance(t, TensorBase) else t
