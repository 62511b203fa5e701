"""The retained graph as a value: pullbacks you keep, reuse, measure and free.

In PyTorch, ``loss.backward(retain_graph=True)`` keeps the graph's saved tensors so that a
second backward can run. In JAX the same thing is a value: ``jax.vjp(f, x)`` returns
``(y, pullback)``, the pullback holds the residuals (the saved tensors), it can be called
any number of times, and dropping it frees them. This module makes that concrete:

- :class:`Pullback` wraps a ``jax.vjp`` pullback: call it many times, ``free()`` it, read its
  ``residual_bytes``; it is a pytree, so it crosses ``jax.jit``. :func:`vjp` makes one.
- :func:`residual_bytes` and :func:`residual_bytes_of` count what a pullback keeps alive.
- :func:`shared_trunk_vjp` reuses one trunk pullback for several loss heads.
- :func:`accumulate_grads` accumulates gradients over micro-batches with ``jax.lax.scan``.

It deliberately knows nothing about the tape (``funcgrad.tape`` builds on it, not the other
way round), holds no global state, and adds no differentiation rules: every gradient here
comes from ``jax.vjp`` / ``jax.grad``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Pullback",
    "SharedTrunkGrads",
    "accumulate_grads",
    "residual_bytes",
    "residual_bytes_of",
    "shared_trunk_vjp",
    "vjp",
]

# PyTorch's own words (torch 2.13), shared with the tape's error of the same name.
BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)
FREED_PULLBACK_MESSAGE = BACKWARD_TWICE + (
    "\nfuncgrad: this Pullback was freed (by .free() or a call with retain=False), so its "
    "residuals are gone. In the functional style the retained graph is the pullback itself: "
    "keep the Pullback (do not free it, call it with the default retain=True) to call it again "
    "- that is the analogue of retain_graph=True - or recompute it with vjp(f, *primals)."
)


def _check_callable(fn: Any, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}: {fn!r}")


def _leaf_nbytes(leaf: Any) -> int:
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return int(np.prod(leaf.shape, dtype=np.int64)) * np.dtype(leaf.dtype).itemsize
    if isinstance(leaf, int | float | complex | bool | np.generic):
        return np.asarray(leaf).nbytes
    raise TypeError(
        f"residual_bytes: a pullback's leaves must be arrays, got a leaf of type "
        f"{type(leaf).__name__}. Pass the pullback returned by jax.vjp or a funcgrad Pullback."
    )


def _type_of(x: Any) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of an array, tracer, ``ShapeDtypeStruct`` or Python/NumPy scalar."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return tuple(x.shape), np.dtype(x.dtype)
    return tuple(np.shape(x)), jax.dtypes.canonicalize_dtype(np.result_type(x))


def _buffer_key(leaf: Any) -> tuple[str, int]:
    """Identity of the memory behind ``leaf``: its device buffer if it has one, else the object."""
    try:
        return ("buffer", leaf.unsafe_buffer_pointer())
    except Exception:  # tracers, sharded or deleted arrays, numpy arrays, ShapeDtypeStructs
        return ("object", id(leaf))


def residual_bytes(pullback: Any) -> int:
    """Counts the bytes of the arrays a pullback keeps alive, each buffer once.

    Args:
      pullback: the pullback returned by ``jax.vjp``, a :class:`Pullback`, or any pytree of
        arrays. Its leaves are its residuals (including saved inputs). Abstract leaves
        (``jax.ShapeDtypeStruct``, tracers) count as ``size * itemsize``.

    Returns:
      An ``int``: the sum of ``nbytes`` over unique leaves. Leaves that alias one buffer
      (residuals often do, e.g. an input saved twice) are counted once; concrete arrays are
      deduplicated by device buffer, other leaves by object identity. A freed
      :class:`Pullback` holds 0 bytes.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> x = jnp.ones(1000, jnp.float32)
      >>> _, pb = jax.vjp(lambda a, b: a * b, x, x)  # each input is saved for the other
      >>> len(jax.tree_util.tree_leaves(pb)), residual_bytes(pb) == x.nbytes
      (2, True)
    """
    seen: dict[tuple[str, int], int] = {}
    for leaf in jax.tree_util.tree_leaves(pullback):
        seen.setdefault(_buffer_key(leaf), _leaf_nbytes(leaf))
    return sum(seen.values())


def residual_bytes_of(f: Callable, *primals: Any, has_aux: bool = False) -> int:
    """Counts the residual bytes ``jax.vjp(f, *primals)`` would hold, without running ``f``.

    Traces ``lambda *p: jax.vjp(f, *p)[1]`` with ``jax.eval_shape``, so nothing is computed
    and ``primals`` may be ``jax.ShapeDtypeStruct``\\ s. Abstract leaves cannot be deduplicated
    by identity, so this is an upper bound: each residual leaf is counted once, even where
    the eager pullback would alias one buffer twice (e.g. the same array passed as two inputs).

    Args:
      f: the function to differentiate, as for ``jax.vjp``.
      *primals: its arguments (arrays or ``jax.ShapeDtypeStruct``\\ s).
      has_aux: Optional, bool. Indicates whether ``f`` returns a pair ``(output, aux)``.

    Returns:
      An ``int``: the bytes of the residual shapes a (jitted) pullback of ``f`` would hold.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> x = jax.ShapeDtypeStruct((1000,), jnp.float32)
      >>> residual_bytes_of(jnp.sin, x)  # the backward of sin saves cos(x)
      4000
    """
    _check_callable(f, "f")
    shapes = jax.eval_shape(lambda *p: jax.vjp(f, *p, has_aux=has_aux)[1], *primals)
    return sum(_leaf_nbytes(leaf) for leaf in jax.tree_util.tree_leaves(shapes))


@jax.tree_util.register_pytree_node_class
class Pullback:
    """A ``jax.vjp`` pullback that can be called many times and explicitly freed.

    The functional form of a retained graph: calling it again is ``retain_graph=True``;
    :meth:`free` is what PyTorch's ``backward()`` does to the graph by default. It is a
    pytree whose leaves are the residuals, so it can be passed into and returned from
    ``jax.jit``. Make one with :func:`vjp`, or wrap an existing pullback with
    ``Pullback(jax_pullback, outputs)``.

    Its tree structure includes the traced backward computation, so each pullback made by an
    eager :func:`vjp` is a new cache key for a jitted function it is passed to (a recompile
    per call). In a loop, make the pullback inside a jitted function too: those share one
    structure.

    Args:
      pullback: the pullback returned by ``jax.vjp``.
      outputs: the primal outputs (or ``jax.ShapeDtypeStruct``\\ s of them), used to check
        the cotangent's structure, shape and dtype.
    """

    def __init__(self, pullback: Callable | None, outputs: Any):
        if pullback is not None:
            _check_callable(pullback, "pullback")
        self._pullback = pullback
        leaves, self._out_tree = jax.tree_util.tree_flatten(outputs)
        self._out_types = tuple(_type_of(leaf) for leaf in leaves)

    def tree_flatten(self):
        return (self._pullback,), (self._out_tree, self._out_types)

    @classmethod
    def tree_unflatten(cls, aux, children):
        self = object.__new__(cls)  # no validation: JAX may unflatten with placeholder leaves
        self._out_tree, self._out_types = aux
        (self._pullback,) = children
        return self

    @property
    def is_freed(self) -> bool:
        """Whether :meth:`free` has dropped the residuals."""
        return self._pullback is None

    @property
    def residual_bytes(self) -> int:
        """Bytes of the unique arrays this pullback keeps alive (0 once freed)."""
        return residual_bytes(self._pullback)

    def free(self) -> None:
        """Drops the reference to the pullback, and so its residuals. Idempotent.

        The memory is released once nothing else (e.g. the raw ``jax.vjp`` pullback, or an
        array also held by the caller) refers to it.
        """
        self._pullback = None

    def __call__(self, cotangent: Any, *, retain: bool = True) -> tuple:
        """Applies the pullback: returns the cotangents of the primal inputs, as ``jax.vjp``.

        Args:
          cotangent: a pytree with the structure, shapes and dtypes of the outputs.
          retain: Optional, bool. If False, free the pullback after this call, as PyTorch's
            ``backward()`` without ``retain_graph`` does. Defaults to True.

        Returns:
          A tuple with one cotangent per primal input of ``f``.
        """
        if self._pullback is None:
            raise RuntimeError(FREED_PULLBACK_MESSAGE)
        self._check_cotangent(cotangent)
        grads = self._pullback(cotangent)
        if not retain:
            self.free()
        return grads

    def _check_cotangent(self, cotangent: Any) -> None:
        leaves, tree = jax.tree_util.tree_flatten(cotangent)
        if tree != self._out_tree:
            raise ValueError(
                f"Pullback: the cotangent's structure {tree} differs from the outputs' "
                f"structure {self._out_tree}. Pass one cotangent per output, e.g. "
                "jax.tree_util.tree_map(jnp.ones_like, outputs)."
            )
        for i, (leaf, (shape, dtype)) in enumerate(zip(leaves, self._out_types, strict=True)):
            given_shape, given_dtype = _type_of(leaf)
            float_output = jnp.issubdtype(dtype, jnp.inexact)
            if given_shape != shape or (float_output and given_dtype != dtype):
                raise ValueError(
                    f"Pullback: cotangent {i} has shape {given_shape} and dtype {given_dtype}, "
                    f"but the output it pairs with has shape {shape} and dtype {dtype}. "
                    "A cotangent must match its output exactly: build it with "
                    "jnp.ones_like(output) or cast it with .astype(output.dtype)."
                )

    def __repr__(self) -> str:
        if self.is_freed:
            return "Pullback(freed)"
        outs = ", ".join(f"{jnp.dtype(d).name}{list(s)}" for s, d in self._out_types)
        return f"Pullback(outputs=({outs}), residual_bytes={self.residual_bytes})"


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """Like ``jax.vjp``, but returns the pullback as a reusable, freeable :class:`Pullback`.

    Args:
      f: the function to differentiate. Its arguments and outputs are arrays or pytrees.
      *primals: the point at which to evaluate ``f`` and linearize it.
      has_aux: Optional, bool. Indicates whether ``f`` returns a pair whose first element is
        the output to differentiate and whose second is auxiliary data. Default False.

    Returns:
      ``(outputs, pullback)``, or ``(outputs, pullback, aux)`` if ``has_aux`` is True, where
      ``pullback`` is a :class:`Pullback`.

    Example:
      >>> import jax.numpy as jnp
      >>> y, pb = vjp(jnp.sin, jnp.array([0.0, 1.0]))
      >>> (g1,) = pb(jnp.ones(2))
      >>> (g2,) = pb(jnp.ones(2))  # call again: the graph is retained
      >>> bool(jnp.allclose(g1, jnp.cos(jnp.array([0.0, 1.0])))), bool((g1 == g2).all())
      (True, True)
      >>> pb.free()
      >>> pb.is_freed, pb.residual_bytes
      (True, 0)
    """
    _check_callable(f, "f")
    out = jax.vjp(f, *primals, has_aux=has_aux)
    pullback = Pullback(out[1], out[0])
    return (out[0], pullback, out[2]) if has_aux else (out[0], pullback)


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
