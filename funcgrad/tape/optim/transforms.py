"""The three optax transformations PyTorch's update rules need and optax does not have.

Everything else in `SGD`/`Adam`/`AdamW`/`RMSprop`/`Adagrad` is an optax building block
(`optax.scale`, `optax.add_decayed_weights`, `optax.scale_by_learning_rate`, `optax.trace`,
`optax.scale_by_rms`, `optax.chain`, ...). These three differ from their optax namesakes
(`optax.trace`, `optax.scale_by_adam`, `optax.scale_by_rss`) in details that move PyTorch's
numbers, so they are written here in optax's style (an `init`/`update` pair over pytrees,
state as a NamedTuple of arrays):

- `torch_momentum`: PyTorch's SGD momentum buffer starts as the first gradient and applies
  `dampening` from the second step on (`optax.trace` starts from zero and has no dampening).
- `scale_by_torch_adam`: PyTorch computes `1 - beta` and the bias corrections in double
  precision (float32 hyperparameters would leave the second moment 1.3e-5 away from
  PyTorch's), and with amsgrad keeps the maximum of the raw second moment
  (`optax.scale_by_amsgrad` takes it over the bias-corrected one).
- `scale_by_torch_rss`: Adagrad's `g / (sqrt(sum) + eps)` (`optax.scale_by_rss` puts eps
  inside the square root).

Hyperparameters may be arrays (they are injected by `optax.inject_hyperparams`), so nothing
here branches in Python on their values.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "scale_by_torch_adam",
    "ScaleByTorchAdamState",
    "scale_by_torch_rss",
    "ScaleByTorchRssState",
    "torch_adam_hyperparams",
    "torch_momentum",
    "TorchMomentumState",
]


class TorchMomentumState(NamedTuple):
    """State of `torch_momentum`: the step count and PyTorch's `momentum_buffer`."""

    count: jax.Array  # int32 scalar: the number of updates so far
    momentum_buffer: optax.Updates


def torch_momentum(momentum, dampening=0.0, nesterov: bool = False) -> optax.GradientTransformation:
    """PyTorch's SGD momentum, as an optax transformation.

    The first update sets the buffer to the gradient; later ones compute
    `buf = momentum * buf + (1 - dampening) * g`. The output is `buf`, or
    `g + momentum * buf` with `nesterov=True`.

    Args:
      momentum: The momentum factor (a float or a scalar array).
      dampening: Optional. The dampening applied to the gradient from the second step on.
      nesterov: Optional, bool. Use Nesterov momentum.

    Returns:
      An `optax.GradientTransformation` whose state is a `TorchMomentumState`.

    Example:
        >>> import jax.numpy as jnp
        >>> from funcgrad.tape.optim import torch_momentum
        >>> tx = torch_momentum(0.9, dampening=0.5)
        >>> state = tx.init(jnp.zeros(2))
        >>> u, state = tx.update(jnp.ones(2), state)  # the buffer starts as the gradient
        >>> u, state = tx.update(jnp.ones(2), state)  # 0.9 * 1 + 0.5 * 1
        >>> u
        Array([1.4, 1.4], dtype=float32)
    """

    def init_fn(params):
        return TorchMomentumState(
            count=jnp.zeros([], jnp.int32), momentum_buffer=optax.tree.zeros_like(params)
        )

    def update_fn(updates, state, params=None):
        del params
        first = state.count == 0

        def new_buffer(g, buf):
            later = momentum * buf + (1 - dampening) * g
            return jnp.where(first, g, later).astype(buf.dtype)

        buf = jax.tree.map(new_buffer, updates, state.momentum_buffer)
        if nesterov:
            updates = jax.tree.map(lambda g, b: (g + momentum * b).astype(g.dtype), updates, buf)
        else:
            updates = buf
        return updates, TorchMomentumState(
            count=optax.safe_increment(state.count), momentum_buffer=buf
        )

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByTorchAdamState(NamedTuple):
    """State of `scale_by_torch_adam`, with PyTorch's Adam buffers."""

    count: jax.Array  # int32 scalar: PyTorch's `step`
    mu: optax.Updates  # exp_avg
    nu: optax.Updates  # exp_avg_sq
    nu_max: optax.Updates  # max_exp_avg_sq (None without amsgrad)


def torch_adam_hyperparams(b1: float, b2: float) -> dict:
    """The scalars `scale_by_torch_adam` takes, computed from the betas in double precision
    as PyTorch computes them (`1 - beta`, and `log(beta)` for the bias corrections).

    Example:
        >>> from funcgrad.tape.optim import torch_adam_hyperparams
        >>> sorted(torch_adam_hyperparams(0.9, 0.999))
        ['b2', 'log_b1', 'log_b2', 'one_minus_b1', 'one_minus_b2']
    """
    b1, b2 = float(b1), float(b2)
    log = lambda b: math.log(b) if b > 0 else -math.inf  # noqa: E731
    return {
        "one_minus_b1": 1.0 - b1,
        "b2": b2,
        "one_minus_b2": 1.0 - b2,
        "log_b1": log(b1),
        "log_b2": log(b2),
    }


def scale_by_torch_adam(
    one_minus_b1, b2, one_minus_b2, log_b1, log_b2, eps=1e-8, *, amsgrad: bool = False
) -> optax.GradientTransformation:
    """PyTorch's Adam rescaling, `mu / (sqrt(nu) / sqrt(1 - b2**t) + eps) / (1 - b1**t)`.

    Unlike `optax.scale_by_adam`, the moments are updated with PyTorch's arithmetic
    (`mu += (1 - b1) * (g - mu)`, `nu = b2 * nu + (1 - b2) * g * g`) and `1 - beta` and the
    bias corrections come from double-precision values (float32 `b2 = 0.999` gives
    `1 - b2 = 0.00099998713`, which would leave `exp_avg_sq` 1.3e-5 away from PyTorch's),
    so the state matches PyTorch's, and PyTorch's state loads and continues exactly. With
    `amsgrad`, the running maximum is taken over the raw `nu` and bias-corrected at each step
    (`optax.scale_by_amsgrad` takes it over the corrected one).

    Args:
      one_minus_b1, b2, one_minus_b2, log_b1, log_b2: Scalars from
        `torch_adam_hyperparams(b1, b2)` (floats or scalar arrays).
      eps: Optional. Added to the denominator.
      amsgrad: Optional, bool. Use the AMSGrad variant.

    Returns:
      An `optax.GradientTransformation` whose state is a `ScaleByTorchAdamState`.

    Example:
        >>> import jax.numpy as jnp
        >>> from funcgrad.tape.optim import scale_by_torch_adam, torch_adam_hyperparams
        >>> tx = scale_by_torch_adam(**torch_adam_hyperparams(0.9, 0.999))
        >>> state = tx.init(jnp.zeros(2))
        >>> u, state = tx.update(jnp.array([1.0, -2.0]), state)  # the first step is sign(g)
        >>> u.round(4)
        Array([ 1., -1.], dtype=float32)
    """

    def init_fn(params):
        zeros = optax.tree.zeros_like(params)
        return ScaleByTorchAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=zeros,
            nu=zeros,
            nu_max=zeros if amsgrad else None,
        )

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        step = count.astype(jnp.float32)
        bias_correction1 = -jnp.expm1(step * log_b1)
        bias_correction2_sqrt = jnp.sqrt(-jnp.expm1(step * log_b2))
        cast = lambda x, like: x.astype(like.dtype)  # noqa: E731
        mu = jax.tree.map(lambda g, m: cast(m + one_minus_b1 * (g - m), m), updates, state.mu)
        nu = jax.tree.map(lambda g, v: cast(v * b2 + one_minus_b2 * g * g, v), updates, state.nu)
        nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu) if amsgrad else None

        def scale(m, v):
            denom = jnp.sqrt(v) / bias_correction2_sqrt + eps
            return cast(m / denom / bias_correction1, m)

        updates = jax.tree.map(scale, mu, nu_max if amsgrad else nu)
        return updates, ScaleByTorchAdamState(count=count, mu=mu, nu=nu, nu_max=nu_max)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByTorchRssState(NamedTuple):
    """State of `scale_by_torch_rss`: PyTorch's Adagrad `sum`."""

    sum_of_squares: optax.Updates


def scale_by_torch_rss(initial_accumulator_value=0.0, eps=1e-10) -> optax.GradientTransformation:
    """PyTorch's Adagrad rescaling, `g / (sqrt(sum) + eps)` with `sum += g * g`.

    `optax.scale_by_rss` computes `g / sqrt(sum + eps)` (and 0 where the sum is 0), which
    differs from PyTorch's wherever the sum is small against eps.

    Args:
      initial_accumulator_value: Optional. The sum's initial value.
      eps: Optional. Added to the square root (a float or a scalar array).

    Returns:
      An `optax.GradientTransformation` whose state is a `ScaleByTorchRssState`.

    Example:
        >>> import jax.numpy as jnp
        >>> from funcgrad.tape.optim import scale_by_torch_rss
        >>> tx = scale_by_torch_rss()
        >>> u, state = tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))
        >>> u
        Array([ 1., -1.], dtype=float32)
    """

    def init_fn(params):
        return ScaleByTorchRssState(
            sum_of_squares=optax.tree.full_like(params, initial_accumulator_value)
        )

    def update_fn(updates, state, params=None):
        del params
        sums = jax.tree.map(lambda g, s: s + g * g, updates, state.sum_of_squares)
        updates = jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps), updates, sums)
        return updates, ScaleByTorchRssState(sum_of_squares=sums)

    return optax.GradientTransformation(init_fn, update_fn)
