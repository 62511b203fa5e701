"""The backward engine: graph nodes, and the walk that runs their pullbacks.

A `Node` is PyTorch's `grad_fn`: it holds a pullback of the functional core
(`funcgrad.functional.SavedPullback`: the values its backward needs, the saved tensors, and
the rule that uses them) and the edges to the nodes of its inputs. How a pullback computes
is not this module's business: each node is given a `run(node, grads, create_graph)`
callable by `dispatch.py` or `function.py`. This module only does the bookkeeping PyTorch
defines: dependency counting, the order of execution, hooks, `.grad` accumulation,
capturing gradients for `autograd.grad`, and freeing each executed node's pullback unless
`retain_graph`. While anomaly detection is on (anomaly_mode.py), a node keeps the stack of
its forward call, and the walk checks each node's gradients for NaN and shows the forward
stack of a node whose backward raised.

It works on arrays and nodes only: a tensor hook is a callable on whatever gradient flows
(tensor.py registers adapters that wrap it), and a leaf is reached through its
`AccumulateGrad` node's `variable`.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import weakref

import jax.numpy as jnp

from ..functional import residual_bytes
from . import anomaly_mode, errors
from ._convert import x64
from .hook_results import run_node_hooks
from .hooks import NO_HOOKS, add_hook, own

__all__ = [
    "AccumulateGrad",
    "checkpoint_valid",
    "live_graph_bytes",
    "no_edge",
    "Node",
    "node_class",
    "pending_nodes_from",
    "run_backward",
]

_sequence = itertools.count()
# Nodes that still hold saved values: lets `live_graph_bytes()` see every retained graph.
_live_nodes: weakref.WeakSet = weakref.WeakSet()
# Callables giving more such nodes: a lazy segment's pending nodes join `_live_nodes` only
# when their segment runs, so recording one pays no weak reference (funcgrad.tape.lazy).
_pending_sources: list = []
# Per thread, one flag per running backward: whether it captures (autograd.grad, or
# backward(inputs=...)). A reentrant checkpoint refuses to run inside such a backward.
_tasks = threading.local()


def checkpoint_valid() -> bool:
    """PyTorch's `torch.autograd._is_checkpoint_valid`: False while the innermost running
    backward only computes gradients for given inputs (`autograd.grad`, `inputs=`), where a
    nested `.backward()` would accumulate into every leaf instead."""
    stack = getattr(_tasks, "stack", None)
    return not stack or not stack[-1]


class Node:
    """One recorded op: its pullback and the edges to its inputs' nodes.

    Args:
      name: PyTorch's node name, e.g. 'MulBackward0'.
      next_functions: per input, `(node, output_nr)` of the node its gradient flows into,
        or `(None, 0)`.
      run: `run(node, grads, create_graph)` -> one gradient (or None) per input.
      pullback: Optional. What the node keeps for its backward (a `SavedPullback`).
      checks: Optional. `(version counter, version, info)` per saved tensor: backward
        fails if a tensor was changed in place since.
      n_outputs: Optional, int. How many outputs the op has.
      saves_tensors: Optional, bool. Whether PyTorch's node would hold saved tensors: only
        then is a second backward through it an error (AddBackward0 saves none, so it may
        run again). Defaults to whether the pullback saved anything.
    """

    def __init__(
        self,
        name,
        next_functions,
        run,
        pullback=None,
        checks=(),
        n_outputs=1,
        saves_tensors=None,
    ):
        self._name = name
        self.next_functions = tuple(next_functions)  # (Node | None, output_nr) per input
        self._run = run
        self._pullback = pullback
        self._checks = tuple(checks)
        saved = pullback is not None and bool(pullback.saved)
        self._saves_tensors = saved if saves_tensors is None else saves_tensors
        if n_outputs != 1:
            self._n_outputs = n_outputs
        self._sequence_nr = next(_sequence)
        if saved:
            _live_nodes.add(self)
        # The one cost of anomaly detection while it is off. A leaf's node keeps no stack:
        # errors in its hooks are shown without one.
        if anomaly_mode._state[0] and name != "AccumulateGrad":
            self._forward_stack = anomaly_mode.forward_stack()

    # The stack of the forward call that recorded this node, kept only in anomaly mode.
    _forward_stack = None
    _released = False
    _n_outputs = 1
    # Hook registries, read on every backward and written rarely: a node shares these empty
    # read-only ones until a hook is registered (`_own`), so recording makes no dicts.
    _tensor_pre_hooks = NO_HOOKS  # output_nr -> tensor hooks
    _retains_grad = NO_HOOKS  # output_nr -> retain_grad's hook
    _pre_hooks = NO_HOOKS
    _hooks = NO_HOOKS

    def _own(self, registry: str) -> dict:
        """This node's own dict for hook registry `registry` (e.g. '_hooks')."""
        return own(self, registry)

    @property
    def metadata(self) -> dict:
        """PyTorch's `grad_fn.metadata`: a dict for the user's own data, empty at first."""
        data = self.__dict__.get("_metadata")
        if data is None:
            data = self._metadata = {}
        return data

    def name(self) -> str:
        return self._name

    # What a recorded op saved, by PyTorch's names (`_saved_self`, `_raw_saved_self`, ...):
    # dispatch.py sets `_attrs_spec` to `(make, args)`; `make(*args)` builds the answer
    # object (saved_attrs.SavedInfo) on the first such read, so recording pays nothing.
    _attrs_spec = None
    _attrs_info = None

    def __getattr__(self, attr):
        if attr.startswith(("_saved_", "_raw_saved_")) and self._attrs_spec is not None:
            return self._attrs_answers().get(self, attr)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{attr}'")

    def __dir__(self):
        names = list(super().__dir__())
        if self._attrs_spec is not None:
            names += self._attrs_answers().attributes()
        return names

    def _attrs_answers(self):
        if self._attrs_info is None:
            make, args = self._attrs_spec
            self._attrs_info = make(*args)
        return self._attrs_info

    def __repr__(self) -> str:
        return f"<{self._name} object at {hex(id(self))}>"

    @property
    def pullback(self):
        """The pullback this node holds (a `funcgrad.functional.SavedPullback`; freed by a
        backward without retain_graph), or None for a node that keeps nothing.

        Example:
            >>> import funcgrad.tape as torch
            >>> x = torch.ones(3, requires_grad=True)
            >>> y = x.sin()
            >>> y.grad_fn.pullback.residual_bytes  # SinBackward0 saved x
            12
            >>> y.sum().backward()
            >>> y.grad_fn.pullback.is_freed
            True
        """
        pullback = self._pullback
        resolve = getattr(pullback, "resolve", None)  # a pending lazy op's: run it first
        return pullback if resolve is None else resolve()

    def register_hook(self, fn):
        """Registers fn(grad_inputs, grad_outputs) called after this node runs."""
        return add_hook(self._own("_hooks"), fn)

    def register_prehook(self, fn):
        """Registers fn(grad_outputs) called before this node runs; may return new grads."""
        return add_hook(self._own("_pre_hooks"), fn)

    def saved_arrays(self) -> tuple:
        """The values this node keeps alive for its backward (empty once freed)."""
        return self._pullback.saved if self._pullback is not None else ()

    def _check_saved(self) -> None:
        """Raises PyTorch's errors if the saved values are gone or were changed in place."""
        if self._released and self._saves_tensors:
            raise RuntimeError(
                errors.BACKWARD_TWICE + errors.BACKWARD_TWICE_HINT.format(node=self._name)
            )
        for counter, version, info in self._checks:
            saved = info[4]() if info[4] is not None else None
            if saved is not None and info[2] is not None and saved._grad_fn is None:
                raise RuntimeError(errors.DETACHED_SAVED)  # a non-leaf detach_()ed since
            if counter.value != version:
                raise RuntimeError(
                    errors.version_mismatch(info, counter.value, version, anomaly_mode._state[0])
                    + errors.VERSION_HINT.format(node=self._name)
                )

    def _moved_result(self, result_counter, counter, old_version, written, view=None) -> None:
        """An in-place op moved this node's result (version counter `result_counter`) into
        the tensor `written`, whose counter is `counter`: the saved result is that tensor
        now, at its new version (or, for a write through a view, that view: `view`, as
        `(dtype, shape, tensor)`), and the written tensor's own check at `old_version` (its
        value before, which the op keeps) is void. Other tensors sharing the counter (views
        of the same base) keep their checks, as in PyTorch."""
        checks = []
        for c, v, info in self._checks:
            if c is counter and v == old_version and (info[4] is None or info[4]() is written):
                continue
            if c is result_counter:
                c, v = counter, counter.value
                if view is not None:
                    info = (view[0], view[1], None, 0, view[2])
            checks.append((c, v, info))
        self._checks = tuple(checks)

    def apply(self, grads, create_graph=False):
        """Runs the pullback on the output grads; returns one grad (or None) per input."""
        self._check_saved()
        return self._run(self, grads, create_graph)

    def release(self) -> None:
        """Frees the pullback's saved values, as a backward without retain_graph does."""
        if self._pullback is not None:
            self._pullback.free()
        self._released = True
        _live_nodes.discard(self)


class AccumulateGrad(Node):
    """The node of a leaf tensor: gradients reaching it are added into `variable.grad`."""

    def __init__(self, variable):
        super().__init__("AccumulateGrad", (), None)
        self.variable = variable
        self._sequence_nr = float("inf")  # like PyTorch: accumulate as soon as ready


@functools.cache
def node_class(name: str) -> type:
    """A Node subclass per PyTorch node name, so `type(y.grad_fn).__name__` reads
    'MulBackward0' as it does in PyTorch."""
    return type(name, (Node,), {})


def no_edge():
    """The `_accumulator` of a leaf that requires grad but has no grad edge: a view made
    under no_grad of a tensor that requires grad (PyTorch drops gradients reaching it)."""


def live_graph_bytes() -> int:
    """Bytes of the unique arrays saved by every node not yet freed (all live graphs).

    Example:
        >>> import funcgrad.tape as torch
        >>> before = torch.live_graph_bytes()  # graphs other code keeps alive
        >>> x = torch.ones(1000, requires_grad=True)
        >>> y = (x.exp() * x).sum()  # exp saves x, mul saves exp(x) and x: 2 buffers
        >>> torch.live_graph_bytes() - before
        8000
        >>> y.backward()
        >>> torch.live_graph_bytes() - before
        0
    """
    nodes = _live_nodes_snapshot()
    for source in _pending_sources:
        nodes.extend(source())
    return residual_bytes([node._pullback for node in nodes])


def pending_nodes_from(source) -> None:
    """Makes `live_graph_bytes()` count the nodes `source()` returns too: nodes that will
    hold saved values but are not in the live set yet (lazy segments' pending ones)."""
    _pending_sources.append(source)


def _live_nodes_snapshot() -> list:
    # Other threads may record nodes while we copy the WeakSet, which makes the copy raise
    # "Set changed size during iteration"; retrying is cheaper than a lock on every op.
    while True:
        try:
            return list(_live_nodes)
        except RuntimeError:
            continue


def _graph(roots, targets):
    """Dependency counts of the nodes reachable from `roots`, pruned to those that lead to
    `targets` when targets is not None (like PyTorch's exec_info)."""
    # each root once: a node given twice (two outputs of one node) must not count twice
    deps, seen, stack = {}, set(roots), list(dict.fromkeys(roots))
    while stack:  # iterative: deep graphs must not hit Python's recursion limit
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is not None:
                deps[child] = deps.get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    if targets is None:
        return deps, None
    order, remaining = [], dict(deps)  # topological order: parents before children
    queue = [n for n in seen if n not in deps]
    while queue:
        node = queue.pop()
        order.append(node)
        for child, _ in node.next_functions:
            if child is not None:
                remaining[child] -= 1
                if remaining[child] == 0:
                    queue.append(child)
    needed = {t for t in targets if t in seen}  # a target not reachable from the roots: none
    for node in reversed(order):
        if any(n in needed for n, _ in node.next_functions):
            needed.add(node)
    pruned = {}
    for node in needed:
        for child, _ in node.next_functions:
            if child in needed:
                pruned[child] = pruned.get(child, 0) + 1
    return pruned, needed


def run_backward(roots, root_grads, *, retain_graph, create_graph, capture=None, accumulate=True):
    """Runs the backward pass from the root edges and their grads.

    Args:
      roots: the (node, output_nr) edges of the outputs.
      root_grads: one grad per root (a jax.Array, or a Tensor when create_graph).
      retain_graph: keep each executed node's saved values.
      create_graph: run the pullbacks as recorded ops so the result is differentiable.
      capture: optional list of (node, output_nr) edges whose incoming grads are returned
        (autograd.grad); when given, only nodes that lead to these edges run.
      accumulate: add grads reaching leaves into `.grad` (False for autograd.grad).

    Returns:
      The grads captured for `capture` (None where nothing arrived), or [] without capture.
    """
    if not hasattr(_tasks, "stack"):
        _tasks.stack = []
    _tasks.stack.append(capture is not None)
    try:
        return _run_backward(roots, root_grads, retain_graph, create_graph, capture, accumulate)
    finally:
        _tasks.stack.pop()


def _run_backward(roots, root_grads, retain_graph, create_graph, capture, accumulate):
    targets = None if capture is None else [n for n, _ in capture if n is not None]
    deps, needed = _graph([n for n, _ in roots], targets)
    wanted = {}
    for i, edge in enumerate(capture or ()):
        wanted.setdefault(edge[0], []).append((i, edge[1]))
    captured = [None] * len(capture or ())
    buffers: dict = {}
    for (node, nr), g in zip(roots, root_grads):
        _add_to_buffer(buffers, node, nr, g)
    ready: list = []
    for n in buffers:
        if deps.get(n, 0) == 0:
            heapq.heappush(ready, _Ready(n))
    node = None
    try:
        while ready:
            node = heapq.heappop(ready).node
            grads = buffers.pop(node)
            has_hooks = (
                node._tensor_pre_hooks
                or node._retains_grad
                or (isinstance(node, AccumulateGrad) and node.variable._hooks)
            )
            if needed is not None and node not in needed:
                # Not on a path to the inputs: PyTorch runs neither it nor its hooks, except the
                # tensor hooks of a lone root (its graph task starts there, not at a GraphRoot).
                if has_hooks and len(roots) == 1:
                    _run_tensor_hooks(node, grads)
                continue
            # autograd.grad may want only a node's incoming grad: then it does not run (nor
            # free) it. (backward(inputs=...) runs an input's own node, as PyTorch does.)
            runs = not isinstance(node, AccumulateGrad) and not (
                capture is not None
                and not accumulate
                and node in wanted
                and not any(n in needed for n, _ in node.next_functions)
            )
            # As in PyTorch, a node that runs has its grads captured before its tensor hooks
            # run (they run as part of it); one that does not, after them.
            if runs:
                for i, nr in wanted.get(node, ()):
                    captured[i] = grads[nr]
            if has_hooks:
                _run_tensor_hooks(node, grads)
            if not runs:
                for i, nr in wanted.get(node, ()):
                    captured[i] = grads[nr]
                if isinstance(node, AccumulateGrad) and accumulate and grads[0] is not None:
                    node.variable._accumulate_grad(grads[0], create_graph)
                continue
            if node._pre_hooks:
                grads = run_node_hooks(node._pre_hooks, grads)
            if all(g is None for g in grads):
                input_grads = [None] * len(node.next_functions)
            else:
                input_grads = node.apply(grads, create_graph)
            if node._hooks:
                input_grads = run_node_hooks(node._hooks, input_grads, grads)
            if anomaly_mode._state[0] and anomaly_mode._state[1]:
                anomaly_mode.check_nan(node, input_grads)
            if not retain_graph:
                node.release()
            for (child, nr), g in zip(node.next_functions, input_grads):
                if child is None or (needed is not None and child not in needed):
                    continue
                if g is not None:
                    _add_to_buffer(buffers, child, nr, g)
                else:
                    buffers.setdefault(child, [None] * child._n_outputs)
                deps[child] -= 1
                if deps[child] == 0:
                    heapq.heappush(ready, _Ready(child))
    except BaseException:
        # PyTorch's anomaly mode: show where the failing node was recorded, then re-raise.
        if anomaly_mode._state[0] and node is not None and not isinstance(node, AccumulateGrad):
            anomaly_mode.warn_forward_stack(node)
        raise
    return captured


class _Ready:
    """A ready node, ordered like PyTorch's ready queue: by sequence number only, latest
    first; ties stay in heap order (as in std::priority_queue), which fixes, e.g., the
    order in which the hooks of two leaves of one node run."""

    __slots__ = ("key", "node")

    def __init__(self, node):
        self.key, self.node = -node._sequence_nr, node

    def __lt__(self, other):
        return self.key < other.key


def _add_to_buffer(buffers, node, nr, g):
    slot = buffers.setdefault(node, [None] * node._n_outputs)
    slot[nr] = g if slot[nr] is None else _add(slot[nr], g)


def _add(a, b):
    if hasattr(a, "grad_fn"):
        return a + b
    with x64(a.dtype.itemsize >= 8):
        return jnp.add(a, b)


def _run_tensor_hooks(node, grads):
    """Tensor hooks (`register_hook`) may replace a grad; retain_grad's hooks run last, on
    the result, as in PyTorch."""
    if isinstance(node, AccumulateGrad):
        hooks = {0: node.variable._hooks} if node.variable._hooks else {}
    else:
        hooks = node._tensor_pre_hooks
    for nr, fns in hooks.items():
        if grads[nr] is None:
            continue
        for fn in list(fns.values()):
            new = fn(grads[nr])
            if new is not None:
                grads[nr] = new
    for nr, retain in node._retains_grad.items():
        if grads[nr] is not None:
            retain(grads[nr])
