"""PyTorch's CPU random engine, mt19937, as two interchangeable word sources.

PyTorch's CPU generator is the 32-bit Mersenne Twister seeded with Matsumoto and
Nishimura's `init_genrand` (only the low 32 bits of the seed reach the engine). Its raw
32-bit words are what every CPU sampler consumes, so reproducing them reproduces
`torch.rand`, `torch.randn`, `torch.randperm`, ... once the samplers (`sampling.py`) are
ported too.

- `HostEngine` draws words on the host with numpy's `MT19937` bit generator (the same
  engine, in C), whose state this module sets itself.
- `TracedEngine` draws the same words from traced arrays (the 624-word state and the read
  position), with the twist written in `jax.numpy`, so that `funcgrad.tape.jit` can lift
  the generator's state into a compiled step and the step draws what eager code draws.

What this module does not do: turn words into numbers (`sampling.py`), or hold seeds and
PyTorch's state layout (`generator.py`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "HostEngine",
    "init_genrand",
    "temper",
    "TracedEngine",
    "twist",
]

N, M = 624, 397  # state words; the offset of the twist's partner word
_MATRIX_A, _UPPER, _LOWER = 0x9908B0DF, 0x80000000, 0x7FFFFFFF


def init_genrand(seed: int) -> np.ndarray:
    """The 624-word state `init_genrand(seed & 0xffffffff)` makes, as PyTorch seeds it.

    Example:
        >>> int(init_genrand(5489)[1])
        1301868182
    """
    state = np.empty(N, np.uint32)
    value = seed & 0xFFFFFFFF
    state[0] = value
    for i in range(1, N):
        value = (1812433253 * (value ^ (value >> 30)) + i) & 0xFFFFFFFF
        state[i] = value
    return state


class HostEngine:
    """mt19937 words on the host. `pos` is the index of the next word to read in `key`;
    624 means the state must twist before the next read (as right after seeding)."""

    def __init__(self, key: np.ndarray, pos: int):
        self._bits = np.random.MT19937()
        self.load(key, pos)

    def load(self, key: np.ndarray, pos: int) -> None:
        state = {"key": np.asarray(key, np.uint32).copy(), "pos": int(pos)}
        self._bits.state = {"bit_generator": "MT19937", "state": state}

    def export(self) -> tuple[np.ndarray, int]:
        state = self._bits.state["state"]
        return np.asarray(state["key"], np.uint32).copy(), int(state["pos"])

    def words(self, n: int) -> np.ndarray:
        """The next n raw 32-bit words, as uint32."""
        return self._bits.random_raw(n).astype(np.uint32)


def _twist_mix(u, v):
    y = (u & np.uint32(_UPPER)) | (v & np.uint32(_LOWER))
    return (y >> 1) ^ jnp.where((v & 1) == 1, np.uint32(_MATRIX_A), np.uint32(0))


def twist(mt):
    """The next 624-word state (mt19937's `next_state`), vectorised in the four runs
    whose partner words are all old or all already new."""
    a = mt[M:N] ^ _twist_mix(mt[0 : N - M], mt[1 : N - M + 1])  # words 0..226: old partners
    b = a ^ _twist_mix(mt[N - M : 2 * (N - M)], mt[N - M + 1 : 2 * (N - M) + 1])  # 227..453
    c = b[: N - 1 - 2 * (N - M)] ^ _twist_mix(mt[2 * (N - M) : N - 1], mt[2 * (N - M) + 1 : N])
    last = b[N - 1 - 2 * (N - M)] ^ _twist_mix(mt[N - 1], a[0])
    return jnp.concatenate([a, b, c, last[None]])


def temper(y):
    """mt19937's output tempering of raw state words."""
    y = y ^ (y >> 11)
    y = y ^ ((y << 7) & np.uint32(0x9D2C5680))
    y = y ^ ((y << 15) & np.uint32(0xEFC60000))
    return y ^ (y >> 18)


class TracedEngine:
    """mt19937 words from a state held in (traced) JAX arrays: `key` uint32[624], `pos`
    int32. Draws replace both with new arrays; the number of words is static."""

    def __init__(self, key, pos):
        self.key = jnp.asarray(key, jnp.uint32)
        self.pos = jnp.asarray(pos, jnp.int32)

    def words(self, n: int, consume=None):
        """The next n words; the state advances by `consume` words (a traced count <= n,
        for samplers whose consumption depends on traced state) or by n."""
        if n == 0:
            return jnp.zeros((0,), jnp.uint32)
        # The stream from the current block on: the block itself, then enough twists for
        # any read position (pos + n <= 624 * (1 + later)). Which block holds the new
        # state, and where its reads start, depend on the traced pos.
        later_count = (n + N - 1) // N

        def step(block, _):
            new = twist(block)
            return new, new

        _, later = jax.lax.scan(step, self.key, None, length=later_count)
        stream = jnp.concatenate([self.key, later.reshape(-1)])
        out = temper(jax.lax.dynamic_slice(stream, (self.pos,), (n,)))
        end = self.pos + (n if consume is None else consume)
        j = jnp.maximum(end - 1, 0) // N  # block j holds reads up to 624 * (j + 1)
        blocks = jnp.concatenate([self.key[None], later])
        self.key = jax.lax.dynamic_index_in_dim(blocks, j, keepdims=False)
        self.pos = (end - N * j).astype(jnp.int32)
        return out
