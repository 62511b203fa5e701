"""What `funcgrad compare` measures in one paradigm: a `Workload`, and the values it returns.

A workload is the same unit of work written in one paradigm (PyTorch eager, the tape, the
tape under `jit`, functional JAX): its first-step gradients, a step to time, the graph a
step backwards through, and optionally its own training loop. Every example form provides
one as a dict from `workload()` (see examples/README.md); `compare_model` builds them for a
user's module. This module also reads the values those callables return, whatever their
framework: waiting for them, and turning them into NumPy arrays and floats.

It measures nothing itself (that is `measure.py`) and imports no framework at load time:
PyTorch is looked up only if a form already imported it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import jax
import numpy as np

from ..functional import residual_bytes
from ..tape import Tensor, graph_bytes

__all__ = [
    "NO_GRAPH_UNDER_JIT",
    "WORKLOAD_KEYS",
    "Unavailable",
    "Workload",
    "wait",
    "to_numpy",
    "to_float",
    "framework",
    "retained_bytes",
]

NO_GRAPH_UNDER_JIT = (
    "inside one XLA program: XLA decides what the backward keeps and frees it when the "
    "program returns"
)
WORKLOAD_KEYS = "unit, grads, step, graph, graph_bytes, losses, produced (the last four optional)"


class Unavailable(Exception):
    """A paradigm that cannot run here; its message is shown in its column instead."""


@dataclass
class Workload:
    """One unit of work in one paradigm.

    Attributes:
      unit: what one `step()` is, e.g. "Adam step, batch 64".
      grads: `grads() -> {name: gradient}`: the gradients of the first step at the initial
        weights, by PyTorch parameter name. It must not change the weights.
      step: `step() -> loss`: one unit of work (a training step, or one loss-and-gradient
        evaluation); may update the weights.
      graph: Optional. `graph() -> tensors or pullback`: the forward alone, returning what a
        backward would run through: PyTorch or tape tensors (their saved tensors are
        counted), or a JAX pullback (its residuals are counted).
      graph_bytes: Optional. `graph_bytes(graph()) -> (bytes, how)`: the form counts what
        its `graph()` returned itself, which is then called without saved-tensor hooks
        (torch.func refuses them: its forms walk the graph a `vjp_fn` keeps).
      losses: Optional. `losses(steps, step) -> [loss, ...]`: the form's own loop of `steps`
        units driven by the `step` it is given (e.g. L-BFGS calling it as its closure);
        by default `step()` called `steps` times.
      no_graph: Optional. Why `graph` is missing, shown in its place.
      produced: Optional. `produced() -> what a step leaves behind`: after `step()`, the
        arrays or tensors it computed or updated besides the loss it returns (the
        parameters and optimizer state after the step, the gradients), in a pytree (dicts,
        lists, tuples). A step is timed until these and its loss are computed:
        JAX dispatches work asynchronously, so a tape step returns while its backward and
        update still run. Without it only the returned loss is waited for.
    """

    unit: str
    grads: Callable[[], Mapping[str, Any]]
    step: Callable[[], Any]
    graph: Callable[[], Any] | None = None
    graph_bytes: Callable[[Any], tuple[int, str]] | None = None
    losses: Callable[[int, Callable], Sequence[float]] | None = None
    no_graph: str = "the form defines no graph()"
    produced: Callable[[], Any] | None = None

    @classmethod
    def of(cls, value: Any, where: str) -> Workload:
        """A `Workload` from what a form's `workload()` returned (a dict or a Workload)."""
        if isinstance(value, cls):
            return value
        names = {f.name for f in fields(cls)}
        if not isinstance(value, Mapping) or not {"unit", "grads", "step"} <= set(value):
            raise TypeError(
                f"{where}: workload() must return a dict with the keys {WORKLOAD_KEYS}; got "
                f"{type(value).__name__} {sorted(value) if isinstance(value, Mapping) else ''}"
            )
        unknown = sorted(set(value) - names)
        if unknown:
            raise TypeError(f"{where}: workload() returned unknown keys {unknown}")
        return cls(**value)

    def compiled(self, jit: Callable) -> Workload:
        """The same workload with `grads` and `step` compiled by `jit` (`funcgrad.tape.jit`)."""
        return Workload(
            unit=self.unit,
            grads=jit(self.grads),
            step=jit(self.step),
            losses=self.losses,
            no_graph=NO_GRAPH_UNDER_JIT,
            produced=self.produced,
        )


# ---------------------------------------------------------------- values of any framework
def _torch():
    return sys.modules.get("torch")  # only a form that uses PyTorch imports it


def _is_torch(value) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def wait(*values) -> None:
    """Blocks until `values` (losses; pytrees of JAX arrays, tape or PyTorch tensors, e.g.
    dicts, lists and tuples of them) are computed.

    JAX arrays (a tape tensor's too) are waited for with `jax.block_until_ready`. PyTorch
    runs synchronously on the CPU; its CUDA kernels are waited for with
    `torch.cuda.synchronize()`.
    """
    arrays, cuda = [], False
    for leaf in jax.tree.leaves(values):  # tape and PyTorch tensors are leaves: no pytrees
        if isinstance(leaf, jax.Array):
            arrays.append(leaf)
        elif isinstance(leaf, Tensor):
            arrays.append(leaf.array)
        elif _is_torch(leaf):
            cuda = cuda or leaf.is_cuda
    if cuda:
        _torch().cuda.synchronize()
    jax.block_until_ready(arrays)


def to_numpy(value) -> np.ndarray:
    """A PyTorch tensor, tape tensor or JAX array as a NumPy array."""
    if _is_torch(value):
        return value.detach().cpu().numpy()
    if isinstance(value, Tensor):
        return np.asarray(value.array)
    return np.asarray(value)


def to_float(value) -> float:
    return float(to_numpy(value).reshape(()))


def framework(value) -> str:
    """'torch', 'tape' or 'jax': which framework computed `value` (a tensor or an array)."""
    return "torch" if _is_torch(value) else "tape" if isinstance(value, Tensor) else "jax"


def retained_bytes(
    graph: Callable[[], Any], count: Callable[[Any], tuple[int, str]] | None = None
) -> tuple[int, str]:
    """(bytes, how they were counted) of what the graph built by `graph()` keeps for backward.

    PyTorch tensors: the unique tensors its nodes save, seen through saved-tensor hooks;
    tape tensors: `funcgrad.tape.graph_bytes`; anything else is a JAX pullback:
    `funcgrad.functional.residual_bytes`. With `count` (a workload's `graph_bytes`), the
    form counts: `count(graph())`, with no hooks installed.
    """
    if count is not None:
        nbytes, how = count(graph())
        return int(nbytes), how
    torch, saved = _torch(), {}

    def pack(t):  # one tensor saved by several nodes is kept once
        saved[(t.data_ptr(), t.numel(), t.element_size())] = t.numel() * t.element_size()
        return t

    if torch is not None:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = graph()
    else:
        out = graph()
    outputs = out if isinstance(out, tuple | list) else (out,)
    if any(_is_torch(o) for o in outputs):
        return sum(saved.values()), "PyTorch saved tensors (saved_tensors_hooks)"
    if any(isinstance(o, Tensor) for o in outputs):
        return graph_bytes(*outputs), "funcgrad.tape.graph_bytes"
    return residual_bytes(out), "funcgrad.functional.residual_bytes (pullback residuals)"
