"""PyTorch's dtype names (`torch.float32`, `torch.long`, ...) as JAX dtypes.

Without `jax_enable_x64`, JAX computes 64-bit requests in 32 bits; these names still exist
so PyTorch code that mentions them runs.
"""

import jax.numpy as jnp

__all__ = [
    "bfloat16",
    "bool",
    "double",
    "float",
    "float16",
    "float32",
    "float64",
    "half",
    "int",
    "int16",
    "int32",
    "int64",
    "int8",
    "long",
    "short",
    "uint8",
]

float16 = half = jnp.float16
bfloat16 = jnp.bfloat16
float32 = float = jnp.float32  # noqa: A001 - PyTorch's names
float64 = double = jnp.float64
int8 = jnp.int8
uint8 = jnp.uint8
int16 = short = jnp.int16
int32 = int = jnp.int32  # noqa: A001
int64 = long = jnp.int64
bool = jnp.bool_  # noqa: A001
