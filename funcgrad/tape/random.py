"""The tape's random number state: one JAX PRNG key, split on every draw.

PyTorch has a hidden global generator; JAX has explicit keys. The tape keeps one key in
`default_generator` so PyTorch code (`manual_seed`, `rand`, dropout) runs unchanged, and
`tape.jit` can lift the key into a compiled step's state like any other buffer.
"""

from __future__ import annotations

import threading

import jax

from . import observe

__all__ = ["default_generator", "Generator", "manual_seed"]


class Generator:
    """Holds a PRNG key; `next_key()` returns a fresh subkey and advances the state."""

    def __init__(self, seed: int = 0):
        self._lock = threading.Lock()
        self.manual_seed(seed)

    def manual_seed(self, seed: int) -> Generator:
        if not isinstance(seed, int):
            raise TypeError(f"manual_seed expected an int seed, got {type(seed).__name__}")
        self.key = jax.random.key(seed)
        return self

    def next_key(self):
        if observe.transforms is not None:  # torch.func: vmap(randomness='error') raises
            observe.transforms.random_draw()
        with self._lock:
            self.key, sub = jax.random.split(self.key)
        return sub


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seeds the tape's global generator (PyTorch's `torch.manual_seed`).

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(0); a = torch.rand(2)
        >>> _ = torch.manual_seed(0); b = torch.rand(2)
        >>> bool((a == b).all())
        True
    """
    return default_generator.manual_seed(int(seed))
