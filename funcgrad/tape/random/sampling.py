"""PyTorch's CPU samplers, ported: the words of a `Generator` turned into numbers.

Each function reproduces the ATen CPU kernel named in its docstring (word consumption,
order, bit masks and float arithmetic), so that after `manual_seed` the tape draws the
numbers PyTorch draws. The functions return arrays: numpy arrays on the host, or JAX arrays
when the generator's state is traced (inside `funcgrad.tape.jit`), where 64-bit draws use
float32 arithmetic unless JAX's 64-bit mode is on (values then agree to float32 rounding).

What this module does not do: make tensors (`random_ops.py` and the in-place fills in
`methods/random.py` do), or keep the generator's state (`generator.py`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import errors
from . import box_muller

__all__ = [
    "bernoulli_scalar",
    "bernoulli_tensor",
    "check_float",
    "check_std",
    "normal",
    "random_from_to",
    "random_full",
    "random_int64",
    "randperm",
    "uniform",
]

_KERNEL = box_muller.cpu_capability()
_FMA = box_muller.fused_multiply_add(_KERNEL)


def check_float(dtype, kernel: str) -> None:
    """PyTorch's error for a floating-point sampler asked for another dtype."""
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating) and dtype != jnp.bfloat16:
        raise NotImplementedError(
            f"\"{kernel}\" not implemented for '{errors.torch_scalar_type(dtype)}'"
        )


def check_std(std, name: str) -> None:
    """PyTorch's error for a negative standard deviation."""
    if std < 0.0:
        raise RuntimeError(f"{name} expects std >= 0.0, but found std {std}")


def _count(shape) -> int:
    return int(math.prod(shape))


def _wide(xp):
    """The dtype for PyTorch's double arithmetic: float64, or float32 in a trace w/o x64."""
    return np.float64 if xp is np or jax.config.jax_enable_x64 else jnp.float32


def _unit_float(words, xp):
    """`uniform_real_distribution<float>(0, 1)`: the low 24 bits of a word times 2**-24."""
    return (words & np.uint32(0xFFFFFF)).astype(xp.float32) * np.float32(2.0**-24)


def _unit_double(words, xp):
    """`uniform_real_distribution<double>(0, 1)`: 53 bits of `random64()`, whose high word
    is drawn first, times 2**-53. Pairs of words: (hi, lo) = (words[0::2], words[1::2])."""
    hi, lo = words[0::2], words[1::2]
    wide = _wide(xp)
    return (hi & np.uint32(0x1FFFFF)).astype(wide) * 2.0**-21 + lo.astype(wide) * 2.0**-53


def _cast(x, dtype):
    """x in `dtype`; a JAX array in the dtype JAX holds it in (int64 is int32 without x64)."""
    if isinstance(x, np.ndarray):
        return x.astype(dtype)
    return x.astype(jax.dtypes.canonicalize_dtype(dtype))


def _is_double(dtype) -> bool:
    return np.dtype(dtype) == np.float64


def _opmath(dtype):
    """PyTorch's `opmath_type`: half and bfloat16 compute in float32."""
    return np.float64 if _is_double(dtype) else np.float32


def uniform(gen, shape, dtype, low: float = 0.0, high: float = 1.0):
    """`uniform_kernel` (`torch.rand`, `Tensor.uniform_`): U[low, high) in `dtype`.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.random import sampling
        >>> g = torch.Generator().manual_seed(0)
        >>> [round(x, 4) for x in sampling.uniform(g, (3,), "float32").tolist()]
        [0.4963, 0.7682, 0.0885]
    """
    n = _count(shape)
    with gen._lock:
        xp = gen._xp()
        if _is_double(dtype):
            unit = _unit_double(gen._words(2 * n), xp)
            lo, hi = low, high
        else:
            unit = _unit_float(gen._words(n), xp)
            lo, hi = np.float32(low), np.float32(high)
    span = hi - lo
    if low == 0.0 and high == 1.0 and np.dtype(dtype) == unit.dtype:
        return unit.reshape(shape)  # unit * 1 + 0 is exact, and below 1 in its own dtype
    if not _FMA:
        out = unit * span + lo
    elif unit.dtype == np.float32:
        out = box_muller.fma32(unit, span, lo, xp)
    else:
        out = box_muller.fma64(unit, span, lo, xp)
    out = _cast(out, dtype)
    to, start = np.asarray(high).astype(dtype), np.asarray(low).astype(dtype)
    return xp.where(out == to, start, out).reshape(shape)


def normal(gen, shape, dtype, mean: float = 0.0, std: float = 1.0):
    """`normal_kernel` (`torch.randn`, `Tensor.normal_`): N(mean, std**2) in `dtype`.

    16 or more elements take PyTorch's vectorised Box-Muller path (`normal_fill`, see
    `box_muller`); fewer take its scalar path, `normal_distribution<double>`, which draws
    two doubles per pair of values and keeps the second value of a pair in the generator
    for the next call.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.random import sampling
        >>> g = torch.Generator().manual_seed(0)
        >>> [round(x, 4) for x in sampling.normal(g, (2,), "float32").tolist()]
        [1.541, -0.2934]
    """
    n = _count(shape)
    with gen._lock:
        if n >= 16:
            out = _normal_fill(gen, n, dtype, mean, std)
        elif gen._traced():
            out = _normal_scalar_traced(gen, n, mean, std)
        else:
            out = _normal_scalar_host(gen, n, mean, std)
    return _cast(out, dtype).reshape(shape)


def _normal_fill(gen, n: int, dtype, mean: float, std: float):
    xp, opmath = gen._xp(), _opmath(dtype)
    runs = n // 16

    def uniforms(count):
        if opmath == np.float64:
            return _unit_double(gen._words(2 * count), xp)
        return _unit_float(gen._words(count), xp)

    if opmath != np.float32 or np.dtype(dtype) == np.float32:
        data = uniforms(n)  # float and double: every uniform first, then the tail's 16
        body = data[: runs * 16]
    else:  # half and bfloat16 draw 16 uniforms per run, into a float buffer
        body = uniforms(runs * 16)
    out = box_muller.normal16(body.reshape(runs, 16), mean, std, _KERNEL, xp).reshape(-1)
    if n % 16:
        tail = box_muller.normal16(uniforms(16).reshape(1, 16), mean, std, _KERNEL, xp)
        out = xp.concatenate([out[: n - 16], tail.reshape(-1)])
    return out


def _box_muller_double(u1: float, u2: float) -> tuple[float, float]:
    r = math.sqrt(-2.0 * math.log1p(-u2))
    theta = 2.0 * math.pi * u1
    return r * math.cos(theta), r * math.sin(theta)


def _normal_scalar_host(gen, n: int, mean: float, std: float):
    values = []
    for _ in range(n):
        if gen._normal_cache is not None:
            sample, gen._normal_cache = gen._normal_cache, None
        else:
            u = _unit_double(gen._words(4), np)
            sample, gen._normal_cache = _box_muller_double(float(u[0]), float(u[1]))
        values.append(sample)
    values = np.asarray(values, np.float64)
    if _FMA:
        return box_muller.fma64(values, std, mean, np)
    return values * std + mean


def _normal_scalar_traced(gen, n: int, mean: float, std: float):
    """The scalar path with a traced cache: draw enough pairs for n values, use the cached
    value first when there is one, and consume only the words PyTorch would."""
    cached, valid = gen._normal_cache
    pairs = (n + 1) // 2
    fresh = n - valid.astype(jnp.int32)  # values taken from new pairs
    words = gen._words(4 * pairs, consume=4 * ((fresh + 1) // 2))
    u = _unit_double(words, jnp)
    r = jnp.sqrt(-2.0 * jnp.log1p(-u[1::2]))
    theta = 2.0 * math.pi * u[0::2]
    seq = jnp.stack([r * jnp.cos(theta), r * jnp.sin(theta)], axis=1).reshape(-1)
    with_cached = jnp.concatenate([cached[None].astype(seq.dtype), seq])[:n]
    values = jnp.where(valid, with_cached, seq[:n])
    odd = fresh % 2 == 1
    gen._normal_cache = (jnp.where(odd, seq[jnp.minimum(fresh, 2 * pairs - 1)], 0.0), odd)
    return values * std + mean


def random_from_to(gen, shape, dtype, low: int, high: int):
    """`random_from_to_kernel` (`torch.randint`, `Tensor.random_(from, to)`): integers in
    [low, high), `word % range + low`, from `random64()` when the range is 2**28 or more.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.random import sampling
        >>> g = torch.Generator().manual_seed(3)
        >>> sampling.random_from_to(g, (4,), "int32", 0, 10).tolist()
        [6, 8, 7, 7]
    """
    n, span = _count(shape), high - low
    with gen._lock:
        xp = gen._xp()
        if span >= 1 << 28:
            words = gen._words(2 * n)
            if xp is not np and not jax.config.jax_enable_x64:
                raise NotImplementedError(
                    "randint with a range of 2**28 or more inside funcgrad.tape.jit needs "
                    "64-bit integers: enable jax_enable_x64, or draw it outside the step"
                )
            big = (words[0::2].astype(xp.uint64) << 32) | words[1::2].astype(xp.uint64)
            out = (big % np.uint64(span)).astype(xp.int64) + low
        else:
            index_type = np.int64 if xp is np else jnp.int32
            out = (gen._words(n) % np.uint32(span)).astype(index_type) + low
    return _cast(out, dtype).reshape(shape)


def random_int64(gen) -> int:
    """`torch.empty((), dtype=torch.int64).random_()` as a Python int: `random64() % 2**63`
    (how `DataLoader` and `RandomSampler` draw their seeds)."""
    with gen._lock:
        hi, lo = (int(w) for w in gen._words(2))
    return ((hi << 32) | lo) & ((1 << 63) - 1)


def randperm(gen, n: int):
    """`randperm_cpu`: the identity shuffled by swapping position i with i + random() % (n - i),
    for i from 0 to n - 2 (PyTorch's algorithm for n < 2**32 / 20).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.random import sampling
        >>> sampling.randperm(torch.Generator().manual_seed(3), 8).tolist()
        [2, 4, 3, 5, 1, 0, 6, 7]
    """
    if n >= (1 << 32) // 20:
        raise NotImplementedError(
            f"randperm({n}): PyTorch's algorithm for n >= 2**32 / 20 is not ported; use a smaller n"
        )
    with gen._lock:
        xp = gen._xp()
        if n < 2:
            return xp.arange(n)
        offsets = gen._words(n - 1) % xp.arange(n, 1, -1).astype(xp.uint32)
        if xp is np:
            perm = list(range(n))
            for i, z in enumerate(offsets.tolist()):
                j = i + z
                perm[i], perm[j] = perm[j], perm[i]
            return np.asarray(perm, np.int64)

        def swap(i, perm):
            j = i + offsets[i].astype(jnp.int32)
            a, b = perm[i], perm[j]
            return perm.at[i].set(b).at[j].set(a)

        return jax.lax.fori_loop(0, n - 1, swap, jnp.arange(n))


def bernoulli_scalar(gen, shape, p: float):
    """`bernoulli_(p)` with a float p (dropout's mask): `u < p` per element, u a double
    from `random64()`; returns a bool array. Compared on the 53-bit integer, so a traced
    draw gives the same mask without float64.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.random import sampling
        >>> g = torch.Generator().manual_seed(0)
        >>> sampling.bernoulli_scalar(g, (4,), 0.5).tolist()
        [False, False, True, False]
    """
    n = _count(shape)
    # u < p  <=>  m < p * 2**53 for the 53-bit integer m, i.e. m < ceil(p * 2**53).
    threshold = math.ceil(p * 2.0**53)
    t_hi, t_lo = threshold >> 32, threshold & 0xFFFFFFFF
    with gen._lock:
        words = gen._words(2 * n)
    hi, lo = words[0::2] & np.uint32(0x1FFFFF), words[1::2]
    if t_hi > 0x1FFFFF:  # p >= 1: every element
        return (hi <= np.uint32(0x1FFFFF)).reshape(shape)
    below = (hi < np.uint32(t_hi)) | ((hi == np.uint32(t_hi)) & (lo < np.uint32(t_lo)))
    return below.reshape(shape)


def bernoulli_tensor(gen, p):
    """`bernoulli_(p_tensor)` / `torch.bernoulli(p)` with float32 probabilities: a float
    uniform per element (`random()`), `u < p`; returns a bool array of p's shape."""
    with gen._lock:
        unit = _unit_float(gen._words(_count(p.shape)), gen._xp())
    return unit.reshape(p.shape) < p


def random_full(gen, shape, dtype):
    """`random_kernel` (`Tensor.random_()` without bounds): `word % (max + 1)` for integer
    dtypes (`random64()` for int64), `word % (2**digits + 1)` for floats (float64:
    `random64()`), `word & 1` for bool."""
    dtype = np.dtype(dtype)
    wide = dtype in (np.dtype(np.int64), np.dtype(np.float64))
    if dtype == np.bool_:
        span = 2
    elif np.issubdtype(dtype, np.integer):
        span = int(np.iinfo(dtype).max) + 1
    else:
        span = (1 << (np.finfo(dtype).nmant + 1)) + 1
    n = _count(shape)
    with gen._lock:
        if gen._traced():
            raise NotImplementedError(
                "Tensor.random_() without bounds inside funcgrad.tape.jit is not supported: "
                "give from and to, or draw it outside the step"
            )
        words = gen._words(2 * n if wide else n).astype(np.uint64)
    if wide:
        words = (words[0::2] << np.uint64(32)) | words[1::2]
    return (words % np.uint64(span)).astype(dtype).reshape(shape)
