"""A transform's result on the tape: one node whose pullback is `jax.vjp` of the transform.

In PyTorch the result of `torch.func.grad(f)(x)` (or of `vmap(model)(x)`) is still part of
autograd's graph when `x`, or a parameter `f` uses, requires grad: `loss.backward()` after
it reaches them (MAML-style code relies on this). Here a transform runs in JAX, so at the
top level (no transform running, grad mode on) `linked` finds the tensors that require
grad among the arguments and among the tensors the function reads from outside
(`_levels` collects those), runs the whole transform once more under `jax.vjp` as a
function of their arrays, and records one `FuncTransformBackward0` node that owns that
pullback: a backward through the result applies it, as for any other node (freed after
the backward unless `retain_graph=True`, counted by `graph_bytes`).

What it does not do: `create_graph=True` through such a node (its backward is a JAX
pullback, not tape ops: nest torch.func transforms instead), or connect the results of
`vjp_fn` / `linearize`'s `jvp_fn` (`guard` gives them a node that raises instead of a
silently missing gradient).
"""

from __future__ import annotations

import weakref

import jax
import jax.numpy as jnp
import numpy as np

from ...functional import SavedPullback
from ..engine import node_class
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import _levels, _messages as msg, _pytree


def _requiring(tree) -> list:
    """The distinct tensors among a pytree's leaves that require grad."""
    out = {}
    for leaf in _pytree.flatten(tree)[0]:
        if isinstance(leaf, Tensor) and leaf.requires_grad:
            out.setdefault(id(leaf), leaf)
    return list(out.values())


def linked(run, inputs):
    """`run()` (a transform's call, returning its result pytree), connected to the tape
    for the tensors that require grad among `inputs` and among those it reads."""
    if _levels.stack() or not is_grad_enabled():
        return run()
    sources = _requiring(inputs)
    if not sources:
        with _levels.collecting() as read:
            result = run()
        if not read:
            return result
        sources = list(read.values())
    while True:
        with _levels.collecting() as read:
            result, pullback, arrays = _run_as_function_of(run, sources)
        missing = [t for t in read.values() if not any(s is t for s in sources)]
        if not missing:
            return _attach(result, arrays, pullback, sources)
        sources += missing


def _run_as_function_of(run, sources: list):
    """jax.vjp of the transform as a function of the sources' arrays (swapped into the
    source tensors for the call): (result structure, pullback, output arrays)."""
    found = {}

    def as_function(*arrays):
        saved = [t._data for t in sources]
        try:
            for t, a in zip(sources, arrays):
                t._data = a
            leaves, spec = _pytree.flatten(run())
        finally:
            for t, data in zip(sources, saved):
                t._data = data
        found["spec"] = spec
        found["others"] = [None if isinstance(x, Tensor) else x for x in leaves]
        return [x._value() for x in leaves if isinstance(x, Tensor)]

    outs, pullback = jax.vjp(as_function, *[t._value() for t in sources])
    return found, pullback, outs


def _attach(found, arrays, pullback, sources):
    tensors = [Tensor._wrap(a) for a in arrays]
    leaves, it = [], iter(tensors)
    for x in found["others"]:
        leaves.append(next(it) if x is None else x)
    residuals, treedef = jax.tree_util.tree_flatten(pullback)
    types = [(a.shape, a.dtype) for a in arrays]

    def rule(saved, cts):  # jax.vjp's pullback, rebuilt from the residuals the node keeps
        return list(jax.tree_util.tree_unflatten(treedef, saved)(cts))

    def run(node, grads, create_graph):
        if create_graph:
            raise NotImplementedError(msg.TAPE_LINK_CREATE_GRAPH)
        cts = [_zero_or(g, shape, dtype) for g, (shape, dtype) in zip(grads, types)]
        return node.pullback(cts)

    _record(sources, tensors, run, SavedPullback(rule, residuals))
    return _pytree.unflatten(found["spec"], leaves)


def _zero_or(grad, shape, dtype):
    if not jnp.issubdtype(dtype, jnp.inexact):
        return np.zeros(shape, jax.dtypes.float0)
    return jnp.zeros(shape, dtype) if grad is None else jnp.asarray(grad, dtype)


def _record(sources, outputs, run, pullback) -> None:
    """One node from the outputs back to the sources (version-checked like saved tensors)."""
    name = "FuncTransformBackward0"
    checks = [(t._vc, t._vc.value, _check_info(t)) for t in sources]
    edges = [t._edge() for t in sources]
    node = node_class(name)(name, edges, run, pullback, checks, len(outputs), saves_tensors=True)
    for i, t in enumerate(outputs):
        if jnp.issubdtype(t.dtype, jnp.inexact):
            t._grad_fn, t._output_nr, t._requires_grad = node, i, True


def _check_info(t: Tensor):
    """What `errors.version_mismatch` prints about a source changed in place since."""
    grad_fn = t._grad_fn._name if t._grad_fn is not None else None
    return (t._data.dtype, t._data.shape, grad_fn, t._output_nr, weakref.ref(t))


def with_sources(run, inputs):
    """(run(), the tensors requiring grad it depends on: among `inputs` and read from
    outside), the latter empty below the top level or under no_grad."""
    if _levels.stack() or not is_grad_enabled():
        return run(), []
    with _levels.collecting() as read:
        result = run()
    sources = _requiring(inputs)
    sources += [t for t in read.values() if not any(s is t for s in sources)]
    return result, sources


def guard(tree, sources, api: str):
    """Gives the tensors of `tree` a node that raises on backward: the results of vjp_fn /
    jvp_fn depend on `sources` (which require grad) but are not connected to them."""
    if not sources or _levels.stack() or not is_grad_enabled():
        return tree
    tensors = [x for x in _pytree.flatten(tree)[0] if isinstance(x, Tensor)]

    def run(node, grads, create_graph):
        raise RuntimeError(msg.TAPE_LINK.format(api=api))

    _record(sources, tensors, run, None)
    return tree
