"""`autograd.graph.saved_tensors_hooks`: pack/unpack what nodes save for backward.

PyTorch users measure or offload a graph's saved tensors with these hooks; on the tape the
same code runs, the packed value is what the node's pullback keeps, and unpack runs at
backward. The op dispatcher packs (`pack_all`) and hands `unpack_all` to the pullback; this
module knows tensors only through `TensorBase`.

Without hooks, a saved tensor that is a view keeps its storage, as in PyTorch: the node
holds the root's array and the view chain (`SavedView`, made by `keep_roots`), and the
view's value is recomputed from them when backward reads it. A JAX view is a new buffer,
so saving it would hold its values twice (`features` and `features.t()` of a Gram matrix,
a linear layer's `weight.t()`), where PyTorch's views share one storage.
"""

from __future__ import annotations

import threading
import weakref

import jax

from . import errors
from ._base import TensorBase
from .views import replay

__all__ = [
    "SavedView",
    "keep_roots",
    "stamp_of",
    "pack_all",
    "pack_with",
    "saved_hooks_active",
    "saved_tensors_hooks",
    "unpack_all",
    "unpack_tensors",
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


@jax.tree_util.register_pytree_node_class
class SavedView:
    """A saved view as its storage: the root tensor's array and the view chain from it
    (views.py), so the graph holds the root's buffer once, as PyTorch holds the storage."""

    __slots__ = ("root", "chain")

    def __init__(self, root, chain):
        self.root, self.chain = root, chain

    def value(self):
        """The view's value, recomputed from the root (a rearrangement: exact)."""
        return replay(self.root, self.chain)

    def tree_flatten(self):
        return (self.root,), self.chain

    @classmethod
    def tree_unflatten(cls, chain, children):
        return cls(children[0], chain)


def stamp_of(root):
    """What a view made from `root` (a tensor that is no view nor alias) records of it: a
    weak reference to its array, so that a saved view is replayed from the root only while
    the root still holds the array the view's value came from (`.data = ...` and
    `functional_call` rebind it without a version bump). None for anything else."""
    if root._base is not None or root._storage is not None:
        return None
    data = root.__dict__.get("_data")
    return None if data is None else weakref.ref(data)


def keep_roots(saved: tuple, tensors: tuple) -> tuple | None:
    """`saved` with each current view among `tensors` (per value, its tensor or None)
    replaced by a `SavedView` of its root; None when there is none (nothing to unpack)."""
    out = None
    for i, t in enumerate(tensors):
        if t is None or t._base is None and t._storage is None:
            continue
        stamp, data = t._root_stamp, t._root().__dict__.get("_data")
        if stamp is None or data is None or stamp() is not data or t._view_version != t._vc.value:
            continue  # not known to be the root's current array: saved as it is
        if out is None:
            out = list(saved)
        out[i] = SavedView(data, t._view_chain)
    return None if out is None else tuple(out)


def unpack_all(saved: tuple) -> tuple:
    """Inverse of pack_all (and of keep_roots): the saved arrays, unpacking any packed ones
    and recomputing saved views."""
    if not any(type(s) is SavedView or type(s) is _Packed for s in saved):
        return saved
    out = [s.value() if type(s) is SavedView else s for s in saved]
    for i in _in_pack_order(saved):
        out[i] = _unpack(saved[i])
    return tuple(out)


def unpack_tensors(saved: tuple) -> tuple:
    """Inverse of pack_all for a custom Function's `ctx.save_for_backward`: the tensors
    the unpack hooks return (each read unpacks again, as PyTorch's `ctx.saved_tensors`)."""
    out = list(saved)
    for i in _in_pack_order(saved):
        out[i] = _checked(saved[i].unpack(saved[i].value))
    return tuple(out)


def _in_pack_order(saved: tuple) -> list:
    """The positions of the packed values, in the order they were packed: PyTorch's node
    unpacks them in that order."""
    packed = (i for i, s in enumerate(saved) if type(s) is _Packed)
    return sorted(packed, key=lambda i: saved[i].rank)


def _checked(t):
    if not isinstance(t, TensorBase):
        raise TypeError(errors.UNPACK_NOT_TENSOR.format(type=type(t).__name__))
    return t


def pack_with(tensor, pack_hook, unpack_hook):
    """One saved value packed with a given pair of hooks (a SavedTensor's register_hooks)."""
    return _Packed(pack_hook(tensor), unpack_hook)


def unpack_value(s):
    """One saved value as the rule reads it (its unpack hook run if it was packed)."""
    return _unpack(s)


def _unpack(s):
    if type(s) is SavedView:
        return s.value()
    if not isinstance(s, _Packed):
        return s
    return _checked(s.unpack(s.value))._value()
