"""Swapping arrays into live tensors and back: the stateful side of a pure function.

`funcgrad.tape.jit` traces a step with its state tensors holding tracers, and
`nn.functional_call` runs a module with its parameters replaced by given arrays; both bind
arrays into live tensors for the length of a call and must leave every tensor as it was.
`bound` is that one mechanism (Flax NNX's `split`/`merge` for tape tensors): it snapshots
each tensor's autograd state (`Tensor._snapshot`) and restores it on exit, whatever the
call did (new `.grad`s, version bumps, in-place writes). It records nothing on the tape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

__all__ = ["bound"]


@contextlib.contextmanager
def bound(tensors: Sequence, arrays: Sequence) -> Iterator[None]:
    """Inside the block, each tensor holds the matching array; afterwards, all as before.

    A tensor with a grad_fn enters as a constant (a leaf that does not require grad): its
    graph belongs to the world outside the block.

    Example:
        >>> import jax.numpy as jnp
        >>> import funcgrad.tape as torch
        >>> w = torch.ones(2, requires_grad=True)
        >>> with bound([w], [jnp.zeros(2)]):
        ...     (w * 3).sum().backward()
        ...     print(w.detach().tolist(), w.grad)
        [0.0, 0.0] tensor([3., 3.])
        >>> w.detach().tolist(), w.grad
        ([1.0, 1.0], None)
    """
    snapshots = [t._snapshot() for t in tensors]
    try:
        for t, array in zip(tensors, arrays):
            t._data = array
            if t._grad_fn is not None:
                t._grad_fn, t._requires_grad = None, False
        yield
    finally:
        for t, snapshot in zip(tensors, snapshots):
            t._restore(snapshot)
