"""`funcgrad.tape.autograd.graph`: PyTorch's `torch.autograd.graph` module on the tape.

`saved_tensors_hooks` (pack and unpack hooks for what nodes save, from saved_hooks.py) and
`increment_version` (an in-place write's effect on a tensor's version counter, without the
write). Nodes themselves are the tape's (engine.py); this module only gathers PyTorch's
names for them.
"""

from __future__ import annotations

from ..saved_hooks import saved_tensors_hooks as saved_tensors_hooks

__all__ = ["increment_version", "saved_tensors_hooks"]


def increment_version(tensor) -> None:
    """Bumps the version counter of a tensor (or of each tensor in a list or tuple), as an
    in-place write would: graphs that saved it then fail their backward, and its views are
    recomputed (PyTorch's `torch.autograd.graph.increment_version`).

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.ones(2)
        >>> torch.autograd.graph.increment_version(x)
        >>> x._version
        1
    """
    for t in tensor if isinstance(tensor, (list, tuple)) else (tensor,):
        t._vc.value += 1
