"""Two recipes built on one reused pullback: multi-task heads and micro-batches.

- `shared_trunk_vjp`: one trunk forward with `jax.vjp`, the trunk pullback applied to the
  heads' summed cotangents (what PyTorch's `retain_graph=True` buys in multi-task training);
- `accumulate_grads`: gradients averaged over micro-batches inside `jax.lax.scan` (what
  PyTorch's `.grad` accumulation buys).

They hold no state and add no differentiation rules: every gradient comes from `jax.vjp` /
`jax.grad`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._pullback import _check_callable


class SharedTrunkGrads(NamedTuple):
    """Result of :func:`shared_trunk_vjp` (a pytree, so it can be returned from ``jax.jit``)."""

    losses: tuple  #: one scalar loss per head
    trunk_grads: Any  #: gradient of the summed loss w.r.t. the trunk parameters
    head_grads: tuple  #: one gradient pytree per head, w.r.t. that head's parameters


def shared_trunk_vjp(
    trunk_fn: Callable,
    head_fns: Sequence[Callable],
    trunk_params: Any,
    head_params: Sequence[Any],
    x: Any,
    *,
    sum_cotangents: bool = True,
) -> SharedTrunkGrads:
    """Multi-task gradients from one trunk forward and one reused trunk pullback.

    Runs ``jax.vjp`` on the trunk once, takes each head's loss and its cotangent w.r.t. the
    trunk features, and pulls them back through the single trunk pullback. The result equals
    ``jax.grad`` of the summed loss. Heads that need targets can close over them
    (``functools.partial``).

    Args:
      trunk_fn: ``trunk_fn(trunk_params, x) -> features`` (e.g. a Flax ``module.apply``).
      head_fns: a sequence of ``head_fn(head_params, features) -> scalar loss``.
      trunk_params: the trunk's parameters (any pytree).
      head_params: a sequence with one parameter pytree per head.
      x: the trunk's input (not differentiated).
      sum_cotangents: Optional, bool. If True (default), sum the heads' feature cotangents
        and call the trunk pullback once. If False, call it once per head and sum the
        gradients, as PyTorch's ``loss_i.backward(retain_graph=True)`` does. Both are equal,
        since a pullback is linear.

    Returns:
      A :class:`SharedTrunkGrads` ``(losses, trunk_grads, head_grads)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> trunk = lambda w, x: jnp.tanh(x @ w)
      >>> heads = [lambda v, h: jnp.mean(h @ v), lambda v, h: jnp.mean((h @ v) ** 2)]
      >>> w, vs, x = jnp.ones((3, 4)), [jnp.ones(4), -jnp.ones(4)], jnp.ones((2, 3))
      >>> out = shared_trunk_vjp(trunk, heads, w, vs, x)
      >>> total = lambda w: sum(h(v, trunk(w, x)) for h, v in zip(heads, vs))
      >>> bool(jnp.allclose(out.trunk_grads, jax.grad(total)(w)))
      True
    """
    _check_callable(trunk_fn, "trunk_fn")
    head_fns, head_params = tuple(head_fns), tuple(head_params)
    if not head_fns:
        raise ValueError("shared_trunk_vjp: head_fns is empty; pass at least one head.")
    for i, head_fn in enumerate(head_fns):
        _check_callable(head_fn, f"head_fns[{i}]")
    if len(head_params) != len(head_fns):
        raise ValueError(
            f"shared_trunk_vjp: got {len(head_fns)} head_fns but {len(head_params)} "
            "head_params; pass one parameter pytree per head, in the same order."
        )

    features, trunk_pullback = jax.vjp(lambda p: trunk_fn(p, x), trunk_params)
    losses, head_grads, feature_cts = [], [], []
    for i, (head_fn, params) in enumerate(zip(head_fns, head_params, strict=True)):
        loss, head_pullback = jax.vjp(head_fn, params, features)
        if jnp.shape(loss) != ():
            raise ValueError(
                f"shared_trunk_vjp: head {i} returned a loss of shape {jnp.shape(loss)}; "
                "a head must return a scalar (reduce it, e.g. with jnp.mean)."
            )
        params_ct, features_ct = head_pullback(jnp.ones_like(loss))
        losses.append(loss)
        head_grads.append(params_ct)
        feature_cts.append(features_ct)

    def tree_sum(trees):
        return jax.tree_util.tree_map(lambda *xs: sum(xs[1:], xs[0]), *trees)

    if sum_cotangents:
        (trunk_grads,) = trunk_pullback(tree_sum(feature_cts))
    else:
        trunk_grads = tree_sum([trunk_pullback(ct)[0] for ct in feature_cts])
    return SharedTrunkGrads(tuple(losses), trunk_grads, tuple(head_grads))


def accumulate_grads(
    loss_fn: Callable, params: Any, batch: Any, num_micro_batches: int
) -> tuple[jax.Array, Any]:
    """Mean loss and gradient over ``num_micro_batches`` equal micro-batches, with ``lax.scan``.

    Splits the leading axis of every leaf of ``batch`` into equal micro-batches, computes
    ``jax.value_and_grad(loss_fn)`` on each inside a ``jax.lax.scan`` and averages. For a
    loss that is a mean over examples this equals ``jax.value_and_grad(loss_fn)(params,
    batch)``, while only one micro-batch's activations are alive at a time. Under
    ``jax.jit``, mark ``loss_fn`` and ``num_micro_batches`` static.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``, mean-reduced over the batch.
      params: the parameters to differentiate (a pytree of float arrays).
      batch: a pytree of arrays sharing the same leading (batch) size.
      num_micro_batches: a positive int dividing the batch size.

    Returns:
      ``(mean_loss, grads)``, with ``grads`` structured like ``params``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> loss_fn = lambda w, b: jnp.mean((b["x"] @ w - b["y"]) ** 2)
      >>> w, batch = jnp.ones(3), {"x": jnp.ones((8, 3)), "y": jnp.arange(8.0)}
      >>> loss, g = accumulate_grads(loss_fn, w, batch, num_micro_batches=4)
      >>> full_loss, full_g = jax.value_and_grad(loss_fn)(w, batch)
      >>> bool(jnp.allclose(loss, full_loss)), bool(jnp.allclose(g, full_g))
      (True, True)
    """
    _check_callable(loss_fn, "loss_fn")
    n = num_micro_batches
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"accumulate_grads: num_micro_batches must be a positive int, got {n!r}.")
    leaves = jax.tree_util.tree_leaves(batch)
    sizes = {jnp.shape(leaf)[0] if jnp.ndim(leaf) else None for leaf in leaves}
    if not leaves or None in sizes or len(sizes) != 1:
        raise ValueError(
            "accumulate_grads: every leaf of batch needs the same leading (batch) axis; got "
            f"leaf shapes {[jnp.shape(leaf) for leaf in leaves]}."
        )
    (size,) = sizes
    if size % n:
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        raise ValueError(
            f"accumulate_grads: batch size {size} (the leading axis of every leaf of batch) is "
            f"not divisible by num_micro_batches={n}. Pick a divisor of {size} (e.g. "
            f"{divisors[:6]}), or drop or pad the last {size % n} examples."
        )

    def split(leaf):
        return jnp.reshape(leaf, (n, size // n) + jnp.shape(leaf)[1:])

    micro_batches = jax.tree_util.tree_map(split, batch)
    value_and_grad = jax.value_and_grad(loss_fn)
    first = jax.tree_util.tree_map(operator.itemgetter(0), micro_batches)
    init = jax.tree_util.tree_map(
        lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(value_and_grad, params, first)
    )

    def step(total, micro_batch):
        return jax.tree_util.tree_map(jnp.add, total, value_and_grad(params, micro_batch)), None

    total, _ = jax.lax.scan(step, init, micro_batches)
    loss, grads = jax.tree_util.tree_map(lambda t: t / n, total)
    return loss, grads
