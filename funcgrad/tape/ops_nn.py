"""The op table's neural-network section: registered into `ops.OPS` on import.

Same rules as ops.py: one entry per op naming a JAX function; backward is `jax.vjp`.
"""

from __future__ import annotations

from .ops import S, _op  # noqa: F401
