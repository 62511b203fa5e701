"""`autograd.graph.saved_tensors_hooks`: pack/unpack what nodes save for backward.

PyTorch users measure or offload a graph's saved tensors with these hooks; on the tape the
same code runs, the packed value is what the node keeps, and unpack runs at backward.
"""

from __future__ import annotations

import threading

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


class _Packed:
    __slots__ = ("value", "unpack")

    def __init__(self, value, unpack):
        self.value, self.unpack = value, unpack

    @property
    def nbytes(self):
        return getattr(self.value, "nbytes", 0)


def saved_hooks_active() -> bool:
    return bool(getattr(_state, "stack", None))


def pack_all(arrays, inputs):
    """Packs saved values with the innermost active hooks (no hooks: unchanged)."""
    stack = _stack()
    if not stack:
        return arrays
    from .tensor import Tensor

    hooks = stack[-1]
    packed = []
    for a, x in zip(arrays, inputs):
        if isinstance(x, Tensor):
            packed.append(_Packed(hooks.pack_hook(x), hooks.unpack_hook))
        else:
            packed.append(a)
    return tuple(packed)


def unpack_all(saved):
    """Inverse of pack_all: the saved arrays, unpacking any packed ones."""
    for s in saved:
        if type(s) is _Packed:
            return tuple(_unpack(s) for s in saved)
    return saved


def _unpack(s):
    if not isinstance(s, _Packed):
        return s
    t = s.unpack(s.value)
    return getattr(t, "_data", t)
