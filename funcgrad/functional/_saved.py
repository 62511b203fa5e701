"""Pullbacks made from saved inputs: how PyTorch's saved tensors relate to `jax.vjp`.

`jax.vjp(f, *x)` runs the forward and keeps whatever residuals the linearization needs (for
a conv + relu trunk, more bytes than PyTorch keeps). PyTorch's ops instead save a few of their
inputs (or their result) and recompute the rest at backward. `SavedInputVJP` is that rule
as a function of the saved values: the VJP of `fn` w.r.t. the inputs in `diff`, computed at
call time from the inputs in `keep`, with every other input a placeholder the VJP does not
read. One jitted copy serves every call with the same signature; XLA drops the forward work
the VJP does not need. `SavedPullback` binds such a rule to the values one call saved: a
pullback you keep, with the same `__call__`, `free()` and `residual_bytes` as a `jax.vjp`
`Pullback`. The tape's graph nodes each hold one.

`SavedOutputVJP` is the same for ops PyTorch writes in terms of their result: the rule
reads the saved output alone (`saving_output.FROM_OUTPUT`).

Which inputs a VJP may drop is the caller's knowledge (the tape's op table states it per op,
as PyTorch's save rules); nothing here checks it. Every derivative of `SavedInputVJP` comes
from `vjp`; those of `SavedOutputVJP` from the short rules of `saving_output`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.interpreters import partial_eval as pe  # dce_jaxpr: no public equivalent

from ._pullback import FREED_PULLBACK_MESSAGE, PullbackBase, vjp

_INEXACT = frozenset(
    np.dtype(t)
    for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64, jnp.complex64, jnp.complex128)
)
_SCALARS = (bool, int, float)


def input_type(value) -> tuple:
    """How `SavedInputVJP` describes an input: `("scalar", type)` for a Python number, else
    `("array", shape, dtype)`."""
    if isinstance(value, _SCALARS):
        return ("scalar", type(value))
    return ("array", value.shape, value.dtype)


def _placeholder(kind: tuple):
    if kind[0] == "scalar":
        return kind[1](0)
    return jnp.zeros(kind[1], kind[2])


class SavedInputVJP:
    """The VJP of `fn` w.r.t. the inputs in `diff`, computed from the inputs in `keep`.

    Args:
      fn: a function of the inputs (arrays and Python numbers) returning an array, or a
        tuple of arrays when `multi`.
      inputs: per input, its `input_type`: `("array", shape, dtype)` or `("scalar", type)`.
      keep: positions of the inputs whose values the VJP needs; they are what a call saves.
      diff: positions of the inputs to differentiate.
      outputs: per output, `(shape, dtype)`. Outputs that are not inexact (integer indices)
        get no cotangent.
      multi: Optional, bool. Whether `fn` returns a tuple of outputs.

    Calling it, `rule(kept, cotangents)`, runs the jitted VJP: `kept` holds the values of the
    inputs in `keep`, `cotangents` one array (or None, for zeros) per output; it returns one
    cotangent per input in `diff`. `vjp_fn` is the same function, not jitted; `jitted` is
    the jitted one (it takes tuples).

    Example:
        >>> import jax.numpy as jnp
        >>> x, y = jnp.array([1.0, 2.0]), jnp.array([3.0, 4.0])
        >>> types = (input_type(x), input_type(y))
        >>> rule = SavedInputVJP(jnp.multiply, types, keep=(1,), diff=(0,),
        ...                      outputs=((x.shape, x.dtype),))
        >>> pullback = rule.bind((y,))  # d(x * y)/dx needs only y
        >>> pullback((jnp.ones(2),))[0].tolist(), pullback.residual_bytes
        ([3.0, 4.0], 8)
    """

    def __init__(
        self,
        fn: Callable,
        inputs: Sequence[tuple],
        keep: Sequence[int],
        diff: Sequence[int],
        outputs: Sequence[tuple],
        multi: bool = False,
    ):
        self.fn, self.inputs, self.multi = fn, tuple(inputs), multi
        self.keep, self.diff, self.outputs = tuple(keep), tuple(diff), tuple(outputs)
        self.diff_out = tuple(np.dtype(dtype) in _INEXACT for _, dtype in self.outputs)
        # The jitted VJP (compiled at its first call); the tape calls it directly.
        self.jitted = jax.jit(self.vjp_fn)

    def vjp_fn(self, kept: Sequence, cotangents: Sequence) -> tuple:
        """The VJP as a pure function of the kept values and the output cotangents."""
        primals = [_placeholder(kind) for kind in self.inputs]
        for i, v in zip(self.keep, kept):
            primals[i] = v

        def f(*diff_values):
            args = list(primals)
            for i, v in zip(self.diff, diff_values):
                args[i] = v
            outs = self.fn(*args)
            outs = outs if self.multi else (outs,)
            return tuple(o for o, d in zip(outs, self.diff_out) if d)

        _, pullback = vjp(f, *[primals[i] for i in self.diff])
        full = tuple(
            jnp.zeros(shape, dtype) if ct is None else ct.astype(dtype)
            for ct, (shape, dtype), d in zip(cotangents, self.outputs, self.diff_out)
            if d
        )
        return pullback(full)

    def __call__(self, kept: Sequence, cotangents: Sequence) -> tuple:
        return self.jitted(tuple(kept), tuple(cotangents))

    def placeholders(self) -> tuple:
        """Stand-ins for the kept values, for a rule that reads none of them (Python numbers
        the gradient ignores, e.g. `alpha` of `x - alpha * y` w.r.t. `x`)."""
        return tuple(_placeholder(self.inputs[i]) for i in self.keep)

    def bind(self, saved: Sequence, unpack: Callable | None = None) -> SavedPullback:
        """The pullback of one call: this rule and the values it saved (see SavedPullback)."""
        return SavedPullback(self, saved, unpack)


def vjp_reads(fn: Callable, inputs: Sequence[tuple], multi: bool = False) -> tuple:
    """Which inputs' values the VJP of `fn` reads, per input it differentiates: what a
    node that differentiates `fn` must save. JAX's dead-code elimination of the traced VJP
    decides it, so a value needed only for its shape is not read; where the trace fails,
    every input counts as read.

    Args:
      fn: a function of the inputs returning an array, or a tuple of arrays when `multi`.
      inputs: per input, its `input_type`. Python numbers are traced as weak-typed scalars
        and count as read (they cost nothing to keep).
      multi: Optional, bool. Whether `fn` returns a tuple.

    Returns:
      A tuple, per input `j`: the positions of the inputs the VJP w.r.t. input `j` reads
      (empty for an input that is not inexact: it gets no gradient).

    Example:
        >>> import jax.numpy as jnp
        >>> x = input_type(jnp.ones((2, 3)))
        >>> w = input_type(jnp.ones((3, 4)))
        >>> vjp_reads(jnp.matmul, (x, w))  # x's gradient reads w, w's reads x
        ((1,), (0,))
        >>> vjp_reads(lambda a, b: a + b, (x, x))  # the sum's VJP reads no value
        ((), ())
    """
    inputs = tuple(inputs)
    everything = tuple(range(len(inputs)))
    scalars = {i for i, kind in enumerate(inputs) if kind[0] == "scalar"}
    types = [
        jax.ShapeDtypeStruct((), jnp.result_type(kind[1]), weak_type=True)
        if kind[0] == "scalar"
        else jax.ShapeDtypeStruct(kind[1], kind[2])
        for kind in inputs
    ]
    reads = []
    for j, kind in enumerate(inputs):
        if kind[0] != "array" or np.dtype(kind[2]) not in _INEXACT:
            reads.append(())
            continue
        try:
            used = _used_by_vjp(fn, types, j, multi)
        except Exception:  # a trace that needs concrete values: keep everything
            reads.append(everything)
            continue
        reads.append(tuple(i for i in everything if used[i] or i in scalars))
    return tuple(reads)


def _used_by_vjp(fn, types, j, multi) -> list:
    """Per input of `fn`, whether the VJP w.r.t. input `j` reads its value."""

    def inexact(outs):
        outs = outs if multi else (outs,)
        return tuple(o for o in outs if np.dtype(o.dtype) in _INEXACT)

    n = len(types)

    def grad_j(*args):
        values = list(args[:n])

        def f(v):
            values[j] = v
            return inexact(fn(*values))

        _, pullback = jax.vjp(f, args[j])
        return pullback(tuple(args[n:]))

    cotangents = [
        jax.ShapeDtypeStruct(o.shape, o.dtype) for o in inexact(jax.eval_shape(fn, *types))
    ]
    closed = jax.make_jaxpr(grad_j)(*types, *cotangents)
    _, used = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    return used[:n]


class SavedOutputVJP:
    """The VJP of a one-input op computed from its output alone: PyTorch's way for ops it
    writes in terms of their result (relu, tanh, exp, softmax, ...; see `saving_output`).

    Args:
      from_output: `from_output(y, g) -> input cotangent`, e.g. a `saving_output.FROM_OUTPUT`
        rule with its static arguments bound.
      output: `(shape, dtype)` of the op's output.

    Calling it, `rule((y,), (g,))`, runs the jitted rule (a None cotangent is zeros) and
    returns a one-tuple; it has the interface of `SavedInputVJP` with nothing kept from the
    inputs (`keep` is empty: the one saved value is the output).

    Example:
        >>> import jax.numpy as jnp
        >>> from funcgrad.functional.saving_output import FROM_OUTPUT
        >>> y = jnp.tanh(jnp.array([0.0, 1.0]))
        >>> pullback = SavedOutputVJP(FROM_OUTPUT["tanh"], (y.shape, y.dtype)).bind((y,))
        >>> [round(g, 4) for g in pullback((jnp.ones(2),))[0].tolist()]
        [1.0, 0.42]
    """

    keep, diff, diff_out, multi = (), (0,), (True,), False

    def __init__(self, from_output: Callable, output: tuple):
        self.from_output, self.outputs = from_output, (output,)
        self.jitted = jax.jit(self.vjp_fn)

    def vjp_fn(self, kept: Sequence, cotangents: Sequence) -> tuple:
        """The VJP as a pure function of the saved output and its cotangent."""
        ((y,), (g,)), (shape, dtype) = (kept, cotangents), self.outputs[0]
        return (self.from_output(y, jnp.zeros(shape, dtype) if g is None else g.astype(dtype)),)

    def __call__(self, kept: Sequence, cotangents: Sequence) -> tuple:
        return self.jitted(tuple(kept), tuple(cotangents))

    def bind(self, saved: Sequence, unpack: Callable | None = None) -> SavedPullback:
        """The pullback of one call: this rule and the output it saved (see SavedPullback)."""
        return SavedPullback(self, saved, unpack)


@jax.tree_util.register_pytree_node_class
class SavedPullback(PullbackBase):
    """A pullback made from saved values and a VJP rule; the tape's nodes hold these.

    `pullback(cotangents)` returns `rule(values, cotangents)`. Its residuals are the saved
    values (Python numbers among them are constants, not residuals): `residual_bytes` counts
    them, `free()` drops them. Unlike `Pullback` it does not check the cotangents (the tape
    builds them), and a cotangent may be None (zeros).

    Args:
      rule: `rule(values, cotangents) -> input cotangents`, e.g. a `SavedInputVJP`.
      saved: the values the rule reads, in its order.
      unpack: Optional. Turns `saved` into the values the rule reads, when they are stored
        in another form (PyTorch's `saved_tensors_hooks` pack and unpack them).
    """

    __slots__ = ("rule", "unpack", "_residuals", "__weakref__")

    def __init__(self, rule: Callable, saved: Sequence, unpack: Callable | None = None):
        self.rule, self.unpack = rule, unpack
        self._residuals = saved if type(saved) is tuple else tuple(saved)

    @property
    def saved(self) -> tuple:
        """The saved values as stored (empty once freed)."""
        return self._residuals or ()

    def values(self) -> tuple:
        """The saved values as the rule reads them (unpacked)."""
        if self._residuals is None:
            raise RuntimeError(FREED_PULLBACK_MESSAGE)
        return self._residuals if self.unpack is None else self.unpack(self._residuals)

    def replace(self, index: int, value, unpack: Callable) -> None:
        """Stores `value` in place of saved value `index`; from now on the saved values are
        read through `unpack` (a SavedTensor given its own hooks after the node was made)."""
        saved = list(self._residuals)
        saved[index] = value
        self._residuals, self.unpack = tuple(saved), unpack

    def __call__(self, cotangents: Sequence, *, retain: bool = True) -> tuple:
        """Applies the rule to the saved values; frees them after the call if not `retain`."""
        grads = self.rule(self.values(), cotangents)
        if not retain:
            self.free()
        return grads

    def tree_flatten(self):
        saved = self._residuals
        if saved is None:
            return (), (self.rule, self.unpack, None)
        scalars = tuple((i, v) for i, v in enumerate(saved) if isinstance(v, _SCALARS))
        leaves = tuple(v for v in saved if not isinstance(v, _SCALARS))
        return leaves, (self.rule, self.unpack, (len(saved), scalars))

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        rule, unpack, layout = aux
        self = object.__new__(cls)
        self.rule, self.unpack, self._residuals = rule, unpack, None
        if layout is not None:
            n, scalars = layout
            fixed, it = dict(scalars), iter(leaves)
            self._residuals = tuple(fixed[i] if i in fixed else next(it) for i in range(n))
        return self

    def __repr__(self) -> str:
        if self.is_freed:
            return "SavedPullback(freed)"
        n, size = len(self.saved), self.residual_bytes
        return f"SavedPullback({n} saved values, residual_bytes={size})"
