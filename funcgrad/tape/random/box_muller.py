"""PyTorch's Box-Muller kernel for `randn` / `normal_` of 16 or more elements, op by op.

PyTorch fills such a tensor with uniforms, then turns each run of 16 into 16 normals:
`u1 = 1 - data[j]`, `u2 = data[j + 8]`, `r = sqrt(-2 log u1)`, `theta = 2 pi u2`,
`data[j] = r cos(theta) * std + mean`, `data[j + 8] = r sin(theta) * std + mean`. The
float32 arithmetic depends on the CPU kernel PyTorch dispatched to:

- `"avx2"` (x86 CPUs with AVX2 and FMA, but not AVX-512): 8-wide intrinsics with the Cephes
  polynomial `log` and `sincos` of `avx_mathfun.h`, reproduced here operation by operation
  in float32, so the values are bit-identical.
- `"avx512"` and `"default"` (ARM, older x86, `ATEN_CPU_CAPABILITY=default`): the C library's
  `logf`, `cosf`, `sinf`; here computed in float64 and rounded, which agrees except where
  the C library is not correctly rounded (rare last-bit differences).

float64 uses the C library's double functions in every kernel (numpy's here).

Every function takes the array namespace `xp` (numpy on the host, `jax.numpy` inside a
compiled step), so a compiled step computes the same formulas as eager code.
What this module does not do: draw the uniforms (`sampling.py`).
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "cpu_capability",
    "fma32",
    "fma64",
    "fused_multiply_add",
    "normal16",
]

_f32 = np.float32


def cpu_capability() -> str:
    """The CPU kernel PyTorch dispatches to here: "avx512", "avx2" or "default".

    PyTorch honours `ATEN_CPU_CAPABILITY`; otherwise it takes AVX-512 when the CPU has
    avx512vl/bw/dq and FMA, then AVX2 with FMA. The AVX2 kernel has its own float32
    Box-Muller math; the AVX2 and AVX-512 kernels are compiled with FMA, so GCC fuses
    `a * b + c` in the samplers (`fused_multiply_add`).

    Example:
        >>> cpu_capability() in ("avx512", "avx2", "default")
        True
    """
    forced = os.environ.get("ATEN_CPU_CAPABILITY", "").lower()
    if forced in ("avx512", "avx2", "default"):
        return forced
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return "default"
    if {"avx512vl", "avx512bw", "avx512dq", "fma"} <= flags:
        return "avx512"
    return "avx2" if {"avx2", "fma"} <= flags else "default"


def fused_multiply_add(kernel: str) -> bool:
    """Whether PyTorch's kernel computes `a * b + c` with one rounding (FMA builds)."""
    return kernel in ("avx2", "avx512")


def _int_view(x, xp):
    return x.view(np.int32) if xp is np else jax.lax.bitcast_convert_type(x, jnp.int32)


def _float_view(i, xp):
    return i.view(np.float32) if xp is np else jax.lax.bitcast_convert_type(i, jnp.float32)


def _c(value):
    return _f32(value)


def fma32(a, b, c, xp):
    """float32 fused multiply-add: the product is exact in float64, one rounding after
    (barring a double rounding, about once in 2**29). Inside a trace without JAX's 64-bit
    mode it is a plain multiply-add."""
    if xp is np or jax.config.jax_enable_x64:
        return (a.astype(np.float64) * b + c).astype(np.float32)
    return a * b + c


def _cephes_log(x, xp):
    """`log256_ps`: the natural log of float32 x in (0, 1], as PyTorch's AVX2 kernel runs
    it: GCC fuses a product into the sum that is its only use, so those steps are FMAs."""
    x = xp.maximum(x, _float_view(np.array(0x00800000, np.int32), np))
    bits = _int_view(x, xp)
    exponent = ((bits >> 23) - 0x7F).astype(xp.float32) + _c(1)
    x = _float_view((bits & np.int32(~0x7F800000)) | np.int32(0x3F000000), xp)
    small = x < _c(0.707106781186547524)
    tmp = xp.where(small, x, _c(0))
    x = x - _c(1)
    exponent = exponent - xp.where(small, _c(1), _c(0))
    x = x + tmp
    z = x * x
    y = xp.full_like(x, _c(7.0376836292e-2))
    for p in (
        -1.1514610310e-1,
        1.1676998740e-1,
        -1.2420140846e-1,
        1.4249322787e-1,
        -1.6668057665e-1,
        2.0000714765e-1,
        -2.4999993993e-1,
        3.3333331174e-1,
    ):
        y = fma32(y, x, _c(p), xp)
    y = fma32(y * x, z, exponent * _c(-2.12194440e-4), xp)
    y = y - z * _c(0.5)
    return fma32(exponent, _c(0.693359375), x + y, xp)


def _cephes_sincos(x, xp):
    """`sincos256_ps`: (sin x, cos x) of float32 x >= 0, as PyTorch's AVX2 kernel runs it
    (with GCC's fused multiply-adds)."""
    j = (x * _c(1.27323954473516)).astype(xp.int32)
    j = (j + 1) & np.int32(~1)
    y = j.astype(xp.float32)
    sin_sign = (j & 4) << 29
    use_sin_poly = (j & 2) == 0
    x = fma32(y, _c(-0.78515625), x, xp)
    x = fma32(y, _c(-2.4187564849853515625e-4), x, xp)
    x = fma32(y, _c(-3.77489497744594108e-8), x, xp)
    cos_sign = (~(j - 2) & 4) << 29
    z = x * x
    c = fma32(xp.full_like(z, _c(2.443315711809948e-005)), z, _c(-1.388731625493765e-003), xp)
    c = fma32(c, z, _c(4.166664568298827e-002), xp)
    c = fma32(c * z, z, -(z * _c(0.5)), xp)
    c = c + _c(1)
    s = fma32(xp.full_like(z, _c(-1.9515295891e-4)), z, _c(8.3321608736e-3), xp)
    s = fma32(s, z, _c(-1.6666654611e-1), xp)
    s = fma32(s * z, x, x, xp)
    s_part = xp.where(use_sin_poly, s, _c(0))
    c_part = xp.where(use_sin_poly, _c(0), c)
    sin = c_part + s_part
    cos = (c - c_part) + (s - s_part)
    sin = _float_view(_int_view(sin, xp) ^ sin_sign, xp)
    cos = _float_view(_int_view(cos, xp) ^ cos_sign, xp)
    return sin, cos


def fma64(a, b: float, c: float, xp):
    """float64 fused multiply-add of an array and two scalars (exact product via Dekker's
    split, then one compensated sum); a plain multiply when b is 1 and c is 0."""
    if b == 1.0 and c == 0.0:
        return a
    split = 134217729.0  # 2**27 + 1

    def halves(v):
        t = split * v
        hi = t - (t - v)
        return hi, v - hi

    ah, al = halves(a)
    bh, bl = halves(xp.asarray(b, a.dtype))
    p = a * b
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    bb = s - p
    t = (p - (s - bb)) + (c - bb)
    return s + (t + e)


def normal16(u, mean: float, std: float, kernel: str, xp):
    """Box-Muller over runs of 16 uniforms: u has shape (runs, 16) and the dtype of the
    kernel's arithmetic (float32 or float64); returns normals of that shape and dtype."""
    u1, u2 = 1 - u[:, :8], u[:, 8:]
    if u.dtype == np.float64:
        radius = xp.sqrt(-2 * xp.log(u1))
        theta = (2.0 * math.pi) * u2
        first = fma64(radius * xp.cos(theta), std, mean, xp)
        second = fma64(radius * xp.sin(theta), std, mean, xp)
        return xp.concatenate([first, second], axis=1)
    if kernel == "avx2":
        radius = xp.sqrt(_c(-2) * _cephes_log(u1, xp))
        sin, cos = _cephes_sincos(_c(2.0 * math.pi) * u2, xp)
    else:  # the C library's float functions, approximated by rounding the double ones
        wide = xp.float64 if xp is np or jax.config.jax_enable_x64 else xp.float32
        log = xp.log(u1.astype(wide)).astype(xp.float32)
        radius = xp.sqrt(_c(-2) * log)
        theta = ((2.0 * math.pi) * u2.astype(wide)).astype(xp.float32)
        sin = xp.sin(theta.astype(wide)).astype(xp.float32)
        cos = xp.cos(theta.astype(wide)).astype(xp.float32)
    first = fma32(radius * cos, _c(std), _c(mean), xp)
    second = fma32(radius * sin, _c(std), _c(mean), xp)
    return xp.concatenate([first, second], axis=1)
