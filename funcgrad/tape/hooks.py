"""`RemovableHandle`: what every `register_*hook` of the tape returns (PyTorch's
`torch.utils.hooks.RemovableHandle`).

Hooks are kept in dicts keyed by their handle's id, in registration order; `remove()` drops
the entry. Nodes and tensors share one empty read-only registry (`NO_HOOKS`) until a hook is
registered (`own`), so making one makes no dicts. This module holds no hooks itself and runs
none.
"""

from __future__ import annotations

import itertools
import types

__all__ = ["add_hook", "NO_HOOKS", "own", "RemovableHandle"]

_ids = itertools.count()
NO_HOOKS = types.MappingProxyType({})  # every object's hook registries until one is written


def own(obj, registry: str) -> dict:
    """`obj`'s own dict for its hook registry named `registry` (e.g. '_hooks'), made on the
    first write (until then the attribute is the shared `NO_HOOKS`).

    Example:
        >>> class Holder:
        ...     _hooks = NO_HOOKS
        >>> h = Holder()
        >>> own(h, "_hooks")[0] = print
        >>> h._hooks, Holder._hooks
        ({0: <built-in function print>}, mappingproxy({}))
    """
    hooks = getattr(obj, registry)
    if hooks is NO_HOOKS:
        hooks = {}
        setattr(obj, registry, hooks)
    return hooks


class RemovableHandle:
    """Removes a registered hook: `handle.remove()`, or leave a `with handle:` block.

    Example:
        >>> hooks = {}
        >>> handle = add_hook(hooks, print)
        >>> list(hooks.values()) == [print]
        True
        >>> handle.remove()
        >>> hooks
        {}
    """

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = next(_ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks: dict, fn) -> RemovableHandle:
    """Registers `fn` in `hooks` (after the hooks already there) and returns its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle
