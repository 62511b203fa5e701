"""`RemovableHandle`: what every `register_*hook` of the tape returns (PyTorch's
`torch.utils.hooks.RemovableHandle`).

Hooks are kept in dicts keyed by their handle's id, in registration order; `remove()` drops
the entry. This module holds no hooks itself and runs none.
"""

from __future__ import annotations

import itertools

__all__ = ["add_hook", "RemovableHandle"]

_ids = itertools.count()


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
