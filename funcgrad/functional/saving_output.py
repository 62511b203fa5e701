"""Activations whose VJP keeps only their output, as PyTorch's autograd does.

PyTorch writes the backward of relu, sigmoid, tanh, exp, softmax, ... in terms of the op's
result: the node keeps `y = f(x)`, which the next layer usually keeps anyway (a conv or a
matmul saves its input), so the two share one buffer. `jax.vjp` keeps what its
linearization needs instead: for `jax.nn.relu` a boolean mask beside the output the next
layer keeps, for a conv + relu trunk about 1.7x PyTorch's saved bytes. The functions here
are `jax.custom_vjp` versions of those activations whose residual is the output alone, so
a pullback through a model built from them is as small as PyTorch's graph:

    >>> import jax, jax.numpy as jnp
    >>> from funcgrad.functional import residual_bytes, saving_output
    >>> x = jnp.linspace(-1.0, 1.0, 8)
    >>> _, plain = jax.vjp(lambda v: jax.nn.relu(v) * 2.0, x)
    >>> _, small = jax.vjp(lambda v: saving_output.relu(v) * 2.0, x)
    >>> residual_bytes(small) < residual_bytes(plain)
    True

`FROM_OUTPUT` is the one table of these rules, name -> `rule(y, g, **static)` giving the
input's cotangent from the output `y` and its cotangent `g`. Each rule is PyTorch's
backward formula for the op (torch 2.13's `derivatives.yaml`: `threshold_backward(grad,
result, 0)`, `tanh_backward(grad, result)`, ...) written with JAX ops: `jax.vjp` cannot
give a rule from the output alone, since what it keeps is its own choice. The tape's nodes
for these ops use the same rules (`funcgrad.tape` looks them up by op name); the tests check
every rule against `jax.vjp` of the forward and against PyTorch's gradient.

What this module does not do: rules for ops PyTorch writes from their input (sin, gelu,
silu, ...: `jax.vjp` already keeps about what PyTorch keeps), or anything about the tape.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = [
    "FROM_OUTPUT",
    "exp",
    "expm1",
    "log_softmax",
    "reciprocal",
    "relu",
    "rsqrt",
    "sigmoid",
    "softmax",
    "sqrt",
    "tan",
    "tanh",
]


def _hashable(axis):
    return axis if isinstance(axis, int) else tuple(axis)


def _axis(y, dim):
    return dim if y.ndim else ()  # a 0-d softmax is 1: no axis to reduce


# name -> rule(y, g, **static): PyTorch's backward formula from the result, in JAX ops.
FROM_OUTPUT: dict[str, Callable] = {
    # threshold_backward(grad, result, 0): grad where the result is not <= 0 (NaN passes)
    "relu": lambda y, g: jnp.where(y <= 0, jnp.zeros((), g.dtype), g),
    "sigmoid": lambda y, g: g * (1 - y) * y,
    "tanh": lambda y, g: g * (1 - y * y),
    "exp": lambda y, g: g * y,
    "expm1": lambda y, g: g * (y + 1),
    "sqrt": lambda y, g: g / (2 * y),
    "rsqrt": lambda y, g: -0.5 * g * (y * y * y),
    "reciprocal": lambda y, g: -g * (y * y),
    "tan": lambda y, g: g * (1 + y * y),
    "softmax": lambda y, g, dim: y * (g - jnp.sum(g * y, _axis(y, dim), keepdims=True)),
    "log_softmax": lambda y, g, dim: g - jnp.exp(y) * jnp.sum(g, _axis(y, dim), keepdims=True),
}


def _saving_output(name: str, forward: Callable):
    """`forward` as a `jax.custom_vjp` whose residual is its output and whose backward is
    `FROM_OUTPUT[name]`. Static arguments are passed as a tuple of (name, value) pairs."""
    rule = FROM_OUTPUT[name]

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
    def f(x, static=()):
        return forward(x, **dict(static))

    def fwd(x, static):
        y = forward(x, **dict(static))
        return y, y

    def bwd(static, y, g):
        return (rule(y, g, **dict(static)),)

    f.defvjp(fwd, bwd)
    return f


_relu = _saving_output("relu", jax.nn.relu)
_sigmoid = _saving_output("sigmoid", jax.nn.sigmoid)
_tanh = _saving_output("tanh", jnp.tanh)
_exp = _saving_output("exp", jnp.exp)
_expm1 = _saving_output("expm1", jnp.expm1)
_sqrt = _saving_output("sqrt", jnp.sqrt)
_rsqrt = _saving_output("rsqrt", jax.lax.rsqrt)
_reciprocal = _saving_output("reciprocal", jnp.reciprocal)
_tan = _saving_output("tan", jnp.tan)
_softmax = _saving_output("softmax", lambda x, dim: jax.nn.softmax(x, axis=_axis(x, dim)))
_log_softmax = _saving_output(
    "log_softmax", lambda x, dim: jax.nn.log_softmax(x, axis=_axis(x, dim))
)


def relu(x: jax.Array) -> jax.Array:
    """`jax.nn.relu` whose VJP keeps only the output (PyTorch's gradient: NaN passes).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> jax.grad(lambda v: relu(v).sum())(jnp.array([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 1.0]
    """
    return _relu(x)


def sigmoid(x: jax.Array) -> jax.Array:
    """`jax.nn.sigmoid` whose VJP keeps only the output: `g * (1 - y) * y`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(sigmoid)(jnp.float32(0.0)))
        0.25
    """
    return _sigmoid(x)


def tanh(x: jax.Array) -> jax.Array:
    """`jnp.tanh` whose VJP keeps only the output: `g * (1 - y * y)`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(tanh)(jnp.float32(0.0)))
        1.0
    """
    return _tanh(x)


def exp(x: jax.Array) -> jax.Array:
    """`jnp.exp` whose VJP keeps only the output: `g * y`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(exp)(jnp.float32(0.0)))
        1.0
    """
    return _exp(x)


def expm1(x: jax.Array) -> jax.Array:
    """`jnp.expm1` whose VJP keeps only the output: `g * (y + 1)`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(expm1)(jnp.float32(0.0)))
        1.0
    """
    return _expm1(x)


def sqrt(x: jax.Array) -> jax.Array:
    """`jnp.sqrt` whose VJP keeps only the output: `g / (2 * y)`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(sqrt)(jnp.float32(4.0)))
        0.25
    """
    return _sqrt(x)


def rsqrt(x: jax.Array) -> jax.Array:
    """`jax.lax.rsqrt` whose VJP keeps only the output: `-0.5 * g * y ** 3`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(rsqrt)(jnp.float32(4.0)))
        -0.0625
    """
    return _rsqrt(x)


def reciprocal(x: jax.Array) -> jax.Array:
    """`jnp.reciprocal` whose VJP keeps only the output: `-g * y * y`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(reciprocal)(jnp.float32(2.0)))
        -0.25
    """
    return _reciprocal(x)


def tan(x: jax.Array) -> jax.Array:
    """`jnp.tan` whose VJP keeps only the output: `g * (1 + y * y)`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> float(jax.grad(tan)(jnp.float32(0.0)))
        1.0
    """
    return _tan(x)


def softmax(x: jax.Array, axis: int | tuple[int, ...] = -1) -> jax.Array:
    """`jax.nn.softmax` whose VJP keeps only the output: `y * (g - sum(g * y))` over `axis`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = jnp.array([0.0, 1.0, 2.0])
        >>> [round(g, 4) for g in jax.grad(lambda v: softmax(v)[0])(x).tolist()]
        [0.0819, -0.022, -0.0599]
    """
    return _softmax(x, (("dim", _hashable(axis)),))


def log_softmax(x: jax.Array, axis: int | tuple[int, ...] = -1) -> jax.Array:
    """`jax.nn.log_softmax` whose VJP keeps only the output: `g - exp(y) * sum(g)` over
    `axis`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = jnp.array([0.0, 1.0, 2.0])
        >>> [round(g, 4) for g in jax.grad(lambda v: log_softmax(v)[0])(x).tolist()]
        [0.91, -0.2447, -0.6652]
    """
    return _log_softmax(x, (("dim", _hashable(axis)),))
