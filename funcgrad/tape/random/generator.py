"""`Generator`: PyTorch's CPU random generator, with its stream and its state.

`Generator` is `torch.Generator` for the CPU: an mt19937 engine seeded as PyTorch seeds it
(`manual_seed`, `seed`, `initial_seed`) plus the cached second value of the scalar normal
sampler, so that after `manual_seed(s)` the tape's `rand`, `randn`, `randint`,
`randperm`, `bernoulli`, dropout and `nn.init` draw exactly what PyTorch draws (the
samplers are in `sampling.py`, the engine in `mt19937.py`). `get_state` / `set_state` use
PyTorch's 5056-byte layout, so a state saved by either library loads in the other.

Inside `funcgrad.tape.jit` the generator's state is lifted into the compiled step
(`_state_arrays` / `_load_state_arrays`): draws then run the same engine and samplers on
traced arrays, and the step leaves the generator where eager code would have.

What this module does not do: CUDA generators (PyTorch's CUDA stream is Philox; the tape
has one CPU-style stream whatever JAX's device), offsets (`set_offset`), or graph-safe
states.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading

import jax
import jax.numpy as jnp
import numpy as np

from .. import errors, observe
from .._base import TensorBase
from .mt19937 import HostEngine, N, TracedEngine, init_genrand

__all__ = [
    "default_generator",
    "fork_rng",
    "Generator",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
    "use_tensor_class",
]

DEFAULT_SEED = 67280421310721  # PyTorch's `default_rng_seed_val`
STATE_BYTES = 5056  # sizeof(CPUGeneratorImplState)
# CPUGeneratorImplState: the_initial_seed u64, left i32, seeded i32, next u64, state u64[624],
# normal_x/y/rho f64, normal_is_valid i32 (+4 padding), next_float_normal_sample f32,
# is_next_float_normal_sample_valid bool (+3 padding).
_LAYOUT = struct.Struct(f"<QiiQ{N}QdddiifB3x")

# `get_state` returns a tape tensor, a class from above this module: tensor.py hands it
# over with `use_tensor_class` (injection, as for the method mixins' `TensorBase`).
_tensor_class: list[type[TensorBase]] = []


def use_tensor_class(cls: type[TensorBase]) -> None:
    """Makes `get_state` return states as tensors of `cls` (called once, by tensor.py)."""
    _tensor_class[:] = [cls]


def _seed_value(seed) -> int:
    """A seed as PyTorch's `Generator.manual_seed` takes it: an int in [-2**63, 2**64),
    negative values wrapping to unsigned."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise RuntimeError(errors.SEED_TYPE.format(type=type(seed).__name__))
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError(errors.SEED_OVERFLOW)
    return seed % (1 << 64)


class Generator:
    """PyTorch's `torch.Generator` on the CPU: the mt19937 stream and its state.

    Args:
      device: Optional. Only "cpu" (PyTorch's CUDA generators draw another stream).

    Example:
        >>> import funcgrad.tape as torch
        >>> g = torch.Generator().manual_seed(0)
        >>> torch.rand(3, generator=g)
        tensor([0.4963, 0.7682, 0.0885])
        >>> g.initial_seed()
        0
    """

    def __init__(self, device="cpu"):
        if str(device).partition(":")[0] != "cpu":
            raise NotImplementedError(errors.GENERATOR_DEVICE.format(device=str(device)))
        self._lock = threading.RLock()
        self._host = HostEngine(init_genrand(DEFAULT_SEED), N)
        self._traced_engine = None
        self._set_seed(DEFAULT_SEED)

    @property
    def device(self):
        """The device the generator's stream is PyTorch's for: the CPU."""
        return jax.devices("cpu")[0]

    # ------------------------------------------------------------------ seeds
    def _set_seed(self, seed: int) -> None:
        with self._lock:
            self._seed = seed
            self._host.load(init_genrand(seed), N)
            self._fresh = True  # PyTorch's `next` is 0 until the first draw
            self._normal_cache = None
            self._float_normal_cache = None
            self._traced_engine = None

    def manual_seed(self, seed) -> Generator:
        """Seeds the generator (the engine sees the seed's low 32 bits) and returns it."""
        self._set_seed(_seed_value(seed))
        return self

    def seed(self) -> int:
        """Seeds the generator from the OS's entropy and returns the seed."""
        value = int.from_bytes(os.urandom(8), "little")
        self._set_seed(value)
        return value

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._seed

    # ------------------------------------------------------------------ PyTorch's state
    def get_state(self):
        """The state as PyTorch's 5056-byte `torch.ByteTensor` (uint8 tensor)."""
        key, pos = self._host.export()
        double, valid = (0.0, 0) if self._normal_cache is None else (self._normal_cache, 1)
        floats = self._float_normal_cache
        packed = _LAYOUT.pack(
            self._seed,
            N + 1 - pos,  # left
            1,  # seeded
            0 if self._fresh else pos,  # next
            *key.astype(np.uint64).tolist(),
            0.0,
            double,
            0.0,
            valid,
            0,
            0.0 if floats is None else floats,
            floats is not None,
        )
        return _tensor_class[0]._wrap(jnp.asarray(np.frombuffer(packed, np.uint8)))

    def set_state(self, new_state) -> Generator:
        """Restores a state from `get_state` (this library's or PyTorch's, as uint8 data)."""
        data = getattr(new_state, "_data", None)
        if data is None and type(new_state).__module__.startswith("torch"):
            data = new_state.detach().cpu().numpy()  # a real torch.ByteTensor
        if data is None:
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        array = np.asarray(data)
        if array.dtype != np.uint8:
            raise TypeError(errors.RNG_STATE_NOT_BYTES)
        if array.size != STATE_BYTES:
            raise RuntimeError(errors.RNG_STATE_SIZE.format(n=array.size))
        fields = _LAYOUT.unpack(array.tobytes())
        seed, left, seeded, next_, key = fields[0], fields[1], fields[2], fields[3], fields[4:-7]
        normal_y, normal_valid, float_sample, float_valid = (
            fields[-6],
            fields[-4],
            fields[-2],
            fields[-1],
        )
        if not (seeded and 0 < left <= N and next_ <= N):
            raise RuntimeError(errors.RNG_STATE_INVALID)
        with self._lock:
            self._seed = seed
            self._host.load(np.asarray(key, np.uint64).astype(np.uint32), N + 1 - left)
            self._fresh = next_ == 0 and left == 1
            self._normal_cache = normal_y if normal_valid else None
            self._float_normal_cache = float_sample if float_valid else None
            self._traced_engine = None
        return self

    # ------------------------------------------------------------------ for the samplers
    def _traced(self) -> bool:
        return self._traced_engine is not None

    def _xp(self):
        return jnp if self._traced() else np

    def _words(self, n: int, consume=None):
        """The next n raw 32-bit words (numpy, or JAX arrays while traced)."""
        if observe.transforms is not None:  # torch.func: vmap(randomness='error') raises
            observe.transforms.random_draw()
        if self._traced_engine is not None:
            return self._traced_engine.words(n, consume)
        if n:
            self._fresh = False
        return self._host.words(n)

    # ------------------------------------------------------------------ JAX keys (torch.func)
    @property
    def key(self):
        """A JAX key the draws come from instead of the mt19937 stream, or None (the
        stream). torch.func's `vmap(randomness='different')` installs one key per batch
        element, so each element draws differently (not PyTorch's values: JAX's bits)."""
        return getattr(self, "_key", None)

    @key.setter
    def key(self, value) -> None:
        with self._lock:
            if value is None:
                if self.key is not None:  # back to the stream, as it was
                    self._traced_engine, self._normal_cache = self._stream_state
                self._key = None
                return
            if self.key is None:
                self._stream_state = (self._traced_engine, self._normal_cache)
            self._key = value
            self._traced_engine = _KeyedWords(value)
            self._normal_cache = (jnp.zeros((), jnp.float32), jnp.asarray(False))

    def next_key(self):
        """A fresh JAX key made from the next two words of the stream."""
        return jax.random.wrap_key_data(jnp.asarray(self._words(2)).astype(jnp.uint32))

    # ------------------------------------------------------------------ state for tape.jit
    def _state_arrays(self) -> dict:
        """The state a compiled step reads and writes, as arrays: the engine's 624 words and
        read position, and the cached normal value (float32 while lifted)."""
        if self._traced_engine is not None:
            cached, valid = self._normal_cache
            engine = self._traced_engine
            return {"key": engine.key, "pos": engine.pos, "normal": cached, "valid": valid}
        key, pos = self._host.export()
        cached = self._normal_cache
        return {
            "key": key,
            "pos": np.asarray(pos, np.int32),
            "normal": np.asarray(0.0 if cached is None else cached, np.float32),
            "valid": np.asarray(cached is not None),
        }

    def _load_state_arrays(self, tree: dict) -> None:
        """Puts back a tree from `_state_arrays()`: tracers make draws run traced, concrete
        arrays (a compiled step's output) become the host state again."""
        leaves = jax.tree.leaves(tree)
        with self._lock:
            if any(isinstance(x, jax.core.Tracer) for x in leaves):
                self._traced_engine = TracedEngine(tree["key"], tree["pos"])
                self._normal_cache = (jnp.asarray(tree["normal"]), jnp.asarray(tree["valid"]))
                return
            key, pos = np.asarray(tree["key"], np.uint32), int(tree["pos"])
            old_key, old_pos = self._host.export()
            self._fresh = self._fresh and pos == old_pos and np.array_equal(key, old_key)
            self._host.load(key, pos)
            self._traced_engine = None
            if not bool(tree["valid"]):
                self._normal_cache = None
            elif not isinstance(self._normal_cache, float) or np.float32(
                self._normal_cache
            ) != np.float32(tree["normal"]):
                self._normal_cache = float(tree["normal"])  # a traced draw made it


class _KeyedWords:
    """Words from a JAX key (split at every draw), in the traced engine's interface."""

    def __init__(self, key):
        self.key = key

    def words(self, n: int, consume=None):
        self.key, sub = jax.random.split(self.key)
        return jax.random.bits(sub, (n,), jnp.uint32)


default_generator = Generator()
default_generator.seed()  # PyTorch seeds its default generator from the OS at start-up


def manual_seed(seed) -> Generator:
    """Seeds the default generator (PyTorch's `torch.manual_seed`) and returns it.

    Example:
        >>> import funcgrad.tape as torch
        >>> _ = torch.manual_seed(0)
        >>> torch.rand(2)  # what PyTorch prints
        tensor([0.4963, 0.7682])
    """
    return default_generator.manual_seed(int(seed))


def seed() -> int:
    """Seeds the default generator from the OS's entropy and returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's last seed (PyTorch's `torch.initial_seed`)."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state as PyTorch's 5056-byte uint8 tensor.

    Example:
        >>> import funcgrad.tape as torch
        >>> state = torch.get_rng_state()
        >>> a = torch.randn(3)
        >>> torch.set_rng_state(state)
        >>> bool((torch.randn(3) == a).all())
        True
    """
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restores the default generator's state from `get_rng_state()`."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, **_device_options):
    """Restores the default generator's state when the block ends (PyTorch's
    `torch.random.fork_rng`; there is one stream for every device here).

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.random.fork_rng():
        ...     inside = torch.rand(2)
        >>> bool((torch.rand(2) == inside).all())
        True
    """
    if not enabled:
        yield
        return
    state = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(state)
