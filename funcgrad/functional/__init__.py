"""The functional core: the retained graph as a value you keep, reuse, measure and free.

In PyTorch, ``loss.backward(retain_graph=True)`` keeps the graph's saved tensors so that a
second backward can run. In JAX the same thing is a value: ``jax.vjp(f, x)`` returns
``(y, pullback)``, the pullback holds the residuals (the saved tensors), it can be called
any number of times, and dropping it frees them. This package makes that concrete:

- :class:`Pullback` wraps a ``jax.vjp`` pullback: call it many times, ``free()`` it, read its
  ``residual_bytes``; it is a pytree, so it crosses ``jax.jit``. :func:`vjp` makes one.
- :class:`SavedPullback` is the same value made from saved inputs and a cached, jitted VJP
  rule (:class:`SavedInputVJP`): PyTorch's way of saving tensors, and what each node of
  ``funcgrad.tape``'s graph holds.
- :mod:`funcgrad.functional.saving_output`: relu, sigmoid, tanh, exp, softmax, ... as
  ``jax.custom_vjp`` functions whose pullback keeps only their output, as PyTorch's graph
  does; :class:`SavedOutputVJP` is that rule as the tape's nodes use it.
- :func:`residual_bytes` and :func:`residual_bytes_of` count what a pullback keeps alive.
- :func:`shared_trunk_vjp` reuses one trunk pullback for several loss heads.
- :func:`accumulate_grads` accumulates gradients over micro-batches with ``jax.lax.scan``.

It deliberately knows nothing about the tape (``funcgrad.tape`` builds on it, not the other
way round), holds no global state, and adds no differentiation rules but the output-saving
ones of ``saving_output`` (PyTorch's backward formulas from an op's result, each checked
against ``jax.vjp``): every other gradient here comes from ``jax.vjp`` / ``jax.grad``.
"""

from . import saving_output as saving_output
from ._pullback import (
    BACKWARD_TWICE as BACKWARD_TWICE,
    FREED_PULLBACK_MESSAGE as FREED_PULLBACK_MESSAGE,
    Pullback as Pullback,
    PullbackBase as PullbackBase,
    residual_bytes as residual_bytes,
    residual_bytes_of as residual_bytes_of,
    vjp as vjp,
)
from ._recipes import (
    SharedTrunkGrads as SharedTrunkGrads,
    accumulate_grads as accumulate_grads,
    shared_trunk_vjp as shared_trunk_vjp,
)
from ._saved import (
    SavedInputVJP as SavedInputVJP,
    SavedOutputVJP as SavedOutputVJP,
    SavedPullback as SavedPullback,
    input_type as input_type,
    vjp_reads as vjp_reads,
)

__all__ = [
    "BACKWARD_TWICE",
    "FREED_PULLBACK_MESSAGE",
    "Pullback",
    "PullbackBase",
    "SavedInputVJP",
    "SavedOutputVJP",
    "SavedPullback",
    "SharedTrunkGrads",
    "accumulate_grads",
    "input_type",
    "residual_bytes",
    "residual_bytes_of",
    "saving_output",
    "shared_trunk_vjp",
    "vjp",
    "vjp_reads",
]
