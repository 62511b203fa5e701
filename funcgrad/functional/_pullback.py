"""Pullbacks as values: the `jax.vjp` pullback you keep, reuse, measure and free.

- `PullbackBase`: what every pullback you keep offers, however it was made: call it, `free()`
  it, read its `residual_bytes`;
- `Pullback`: one made by `jax.vjp` (`vjp(f, *primals)` makes it); a pytree, so it crosses
  `jax.jit`;
- `residual_bytes` / `residual_bytes_of`: THE byte counter of what a pullback keeps alive
  (the tape counts its graphs with it too), each device buffer once.

Nothing here knows the tape; the messages are PyTorch's words where PyTorch has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

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


class PullbackBase:
    """What every pullback you keep offers, however it was made.

    A retained graph is a pullback you keep: call it once per cotangent (`__call__`), drop
    its residuals when done (`free()`, what PyTorch's `backward()` does to a graph without
    `retain_graph`), and measure what it holds (`residual_bytes`). `Pullback` is made by
    `jax.vjp`; `SavedPullback` from saved inputs and a VJP rule (the tape's nodes hold
    those). Subclasses are pytrees whose leaves are their residuals, and keep them in
    `_residuals` (None once freed).
    """

    __slots__ = ()

    def __call__(self, cotangent: Any, *, retain: bool = True) -> tuple:
        raise NotImplementedError

    @property
    def is_freed(self) -> bool:
        """Whether :meth:`free` has dropped the residuals."""
        return self._residuals is None

    @property
    def residual_bytes(self) -> int:
        """Bytes of the unique arrays this pullback keeps alive (0 once freed)."""
        return residual_bytes(self)

    def free(self) -> None:
        """Drops the reference to the residuals. Idempotent.

        The memory is released once nothing else (e.g. the raw ``jax.vjp`` pullback, or an
        array also held by the caller) refers to it.
        """
        self._residuals = None


@jax.tree_util.register_pytree_node_class
class Pullback(PullbackBase):
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
        self._residuals = pullback  # jax.vjp's pullback: a pytree of its residuals
        leaves, self._out_tree = jax.tree_util.tree_flatten(outputs)
        self._out_types = tuple(_type_of(leaf) for leaf in leaves)

    def tree_flatten(self):
        return (self._residuals,), (self._out_tree, self._out_types)

    @classmethod
    def tree_unflatten(cls, aux, children):
        self = object.__new__(cls)  # no validation: JAX may unflatten with placeholder leaves
        self._out_tree, self._out_types = aux
        (self._residuals,) = children
        return self

    def __call__(self, cotangent: Any, *, retain: bool = True) -> tuple:
        """Applies the pullback: returns the cotangents of the primal inputs, as ``jax.vjp``.

        Args:
          cotangent: a pytree with the structure, shapes and dtypes of the outputs.
          retain: Optional, bool. If False, free the pullback after this call, as PyTorch's
            ``backward()`` without ``retain_graph`` does. Defaults to True.

        Returns:
          A tuple with one cotangent per primal input of ``f``.
        """
        if self._residuals is None:
            raise RuntimeError(FREED_PULLBACK_MESSAGE)
        self._check_cotangent(cotangent)
        grads = self._residuals(cotangent)
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
