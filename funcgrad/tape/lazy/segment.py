"""Recording a lazy segment: tape ops that make a node, kept as records instead of run.

With lazy segments on (`switch.py`), `dispatch.apply` first offers each op to `record`.
An op it takes gets its result tensor and its autograd node at once, as on the eager path
(same `grad_fn`, edges, version checks), but no value: the result is *pending* (its
`_data` is absent and `_pending` names the record), its shape and dtype come from a cached
`jax.eval_shape`, and the node holds a `PendingPullback`. Reading a pending value
(`Tensor._data` is looked up and missing) runs the whole segment op by op with the same
jitted kernels as the eager path (`materialize`): that is the fallback for everything the
fast path does not cover (printing, `.item()`, an in-place write, a hook, a backward with
`retain_graph`, `autograd.grad`, ...).

Each segment keeps a structure key built as it records (hash-consing: the key of the
segment so far and the new record give the next key through one dict lookup), so that at
backward `program.py` finds the segment's compiled program in O(1).

`record` declines (returns None: the eager path runs the op) whatever it cannot defer with
PyTorch's exact behaviour: ops that record no node, views, multi-output and 64-bit ops,
inputs of mixed or non-float32/16 dtypes (PyTorch's promotion stays in dispatch),
views and `.detach()` aliases as inputs, tensors of another thread's segment, and any
mode that watches ops (jit tracing, torch.func, saved-tensor hooks, inference mode). An op
whose shapes do not fit is declined too, so the eager path raises PyTorch's error there.

What it does not do: compile (program.py), or decide when lazy is on (switch.py).
"""

from __future__ import annotations

import functools
import itertools
import threading
import weakref

import jax

from ...functional import PullbackBase, SavedPullback
from .. import errors, observe
from .._convert import Defaults
from ..engine import _live_nodes, no_edge, pending_nodes_from
from ..grad_mode import is_recording
from ..saved_hooks import saved_hooks_active

__all__ = [
    "lock",
    "PendingPullback",
    "Segment",
    "close",
    "current",
    "materialize",
    "node_of",
    "record",
    "use_forward",
]

_local = threading.local()
# Held while a segment changes: recording into it, running it (here or in program.py). A
# thread may read another thread's pending tensor (or count the bytes of its graph).
lock = threading.RLock()
_interned: dict = {}  # (segment key so far, new leaf) -> segment key
# (segment key so far, record) -> (segment key after it, its output's abstract value, its
# plan), or False: a record that runs eagerly. The segment key fixes every input's shape
# and dtype, so this one lookup replaces jax.eval_shape and the plan's lookup on a repeat.
_records: dict = {}
_INTERNED_MAX = 200_000
_deferrable: dict = {}  # op -> whether a record of it may be deferred (its static kind)
_ids = itertools.count(1)
_SCALARS = (bool, int, float)
# A segment that grows this long without a flush (a loop that records and never reads a
# value or calls backward) is run op by op, so that it cannot grow without end.
MAX_RECORDS = 5000

# Only with several devices can a segment's leaves sit on different ones.
_MULTI_DEVICE = jax.device_count() > 1


def _on_segment_device(seg, array) -> bool:
    """Whether `array` sits where the segment's leaves do. A segment runs on one device;
    an op mixing devices takes the eager path, which raises PyTorch's error at that op."""
    devices = array.devices()
    if seg.devices is None:
        seg.devices = devices
    return devices == seg.devices


def _intern(previous: int, record: tuple) -> int:
    """The structure key of a segment after `record`, from its key before (hash-consing).
    Keys are never reused, so clearing the table only costs new lookups."""
    k = (previous, record)
    key = _interned.get(k)
    if key is None:
        if len(_interned) >= _INTERNED_MAX:
            _interned.clear()
        key = _interned[k] = next(_ids)
    return key


class Segment:
    """The pending records of one thread since its last flush, in recording order (a
    topological order), with the leaves (concrete arrays) and Python scalars they read.

    `key` is the structure key: equal keys mean the same ops, static arguments, shapes,
    dtypes, wiring, leaves needing grad and scalar types (not scalar values)."""

    def __init__(self):
        self.entries: list = []
        self.leaves: list = []  # per slot: (tensor, array)
        self.accumulators: list = []  # per slot: its AccumulateGrad node, or None
        self.slots: dict = {}  # id(tensor) -> slot
        self.scalars: list = []
        self.devices = None  # the devices of its leaves, with several devices (see below)
        self.key = 0
        self.closed = False
        self.thread = threading.get_ident()
        _open.add(self)

    def saving_nodes(self) -> list:
        """The live nodes of its records that will hold saved values once run."""
        nodes = []
        for entry in self.entries:
            node = node_of(entry)
            if node is not None and (entry.plan.keeps_output or entry.plan.rule.keep):
                nodes.append(node)
        return nodes


# The open segments of all threads: their pending nodes count in `live_graph_bytes()`
# through this, instead of each joining the engine's set of live nodes as it records.
_open: weakref.WeakSet = weakref.WeakSet()


def _pending_nodes() -> list:
    with lock:
        segments = list(_open)
        return [node for seg in segments if not seg.closed for node in seg.saving_nodes()]


pending_nodes_from(_pending_nodes)


def current() -> Segment:
    """This thread's open segment (a new one after a flush)."""
    seg = getattr(_local, "segment", None)
    if seg is None or seg.closed:
        seg = _local.segment = Segment()
    return seg


def record(cls, op, key, inputs, record_node):
    """Records table op `op` lazily, or returns None to let the eager path run it.

    `record_node(cls, op, key, inputs, values, requires, results, outs, plan, pending)` is
    dispatch's node recorder (injected: this package sits below dispatch); `values` are the
    input arrays or abstract values, `outs` the output abstract values. It returns the op
    signature's plan. Returns the pending result tensor.
    """
    deferrable = _deferrable.get(op)
    if deferrable is None:
        deferrable = _deferrable[op] = not (
            op.multi or op.view or op.wide or not op.differentiable or op.name == "to_device"
        )
    if (
        not deferrable
        or Defaults.wide
        or observe.active
        or not is_recording()
        or saved_hooks_active()
    ):
        return None
    with lock:
        return _record(cls, op, key, inputs, record_node)


def _record(cls, op, key, inputs, record_node):
    seg = current()
    if len(seg.entries) >= MAX_RECORDS:
        _run(seg)
        seg = current()
    refs, values, requires, new_leaves = [], [], [], None
    key_now, n_scalars = seg.key, len(seg.scalars)
    for x in inputs:
        if isinstance(x, cls):
            pending = x._pending
            if pending is not None:
                entry = pending
                if entry.segment is not seg:
                    return None  # another thread's segment
                values.append(entry.aval)
                refs.append(("e", entry.index))
                requires.append(True)
                continue
            if x._base is not None or x._storage is not None or x._accumulator is no_edge:
                return None
            a = x._data
            if not isinstance(a, jax.Array) or isinstance(a, jax.core.Tracer):
                return None
            if _MULTI_DEVICE and not _on_segment_device(seg, a):
                return None
            slot = seg.slots.get(id(x))
            if slot is None or seg.leaves[slot][1] is not a:
                new_leaves = new_leaves if new_leaves is not None else {}
                slot = new_leaves.get(id(x))
                if slot is None:
                    slot = len(seg.leaves) + len(new_leaves)
                    new_leaves[id(x)] = slot
                    leaf = ("leaf", a.shape, a.dtype, a.weak_type, x._requires_grad)
                    key_now = _intern(key_now, leaf)
            values.append(a)
            refs.append(("l", slot))
            requires.append(x._requires_grad)
        elif type(x) in _SCALARS:
            refs.append(("s", n_scalars, type(x)))
            n_scalars += 1
            values.append(x)
            requires.append(False)
        else:
            return None
    rec = (op, key, tuple(refs))
    known = _records.get((key_now, rec))
    if known is None:
        known = _first_sight(op, key, values, requires, rec[2])
        if len(_records) >= _INTERNED_MAX:
            _records.clear()
        _records[(key_now, rec)] = known
    if known is False:
        return None
    next_key, aval, plan, refs = known  # (the stored refs: fewer objects kept per op)
    result = cls._wrap(None)
    del result._data
    requires = tuple(requires)
    plan = record_node(cls, op, key, inputs, values, requires, [result], (aval,), plan, True)
    if known[2] is None:
        _records[(key_now, rec)] = (next_key, aval, plan, refs)
    node = result._grad_fn
    # One object is the record, the node's pullback until the segment runs, and the
    # segment's (weak) reference to the node.
    entry = node._pullback = PendingPullback(node, op, key, refs, aval, plan, result, seg)
    result._pending = entry
    # Commit: new leaves, scalars, the record, and the structure key.
    if new_leaves:
        edges = node.next_functions
        for i, x in enumerate(inputs):
            if isinstance(x, cls) and x._pending is None and id(x) in new_leaves:
                del new_leaves[id(x)]
                seg.slots[id(x)] = len(seg.leaves)
                seg.leaves.append((x, x._data))
                seg.accumulators.append(edges[i][0] if requires[i] else None)
    for r, x in zip(refs, inputs):
        if r[0] == "s":
            seg.scalars.append(x)
    seg.entries.append(entry)
    seg.key = next_key
    return result


def _first_sight(op, key, values, requires, refs):
    """(structure key, output abstract value, None, refs) for a record not seen before, or
    False when it cannot be deferred exactly (its inputs' dtypes, or shapes that do not
    fit: the eager path then raises PyTorch's error at this op)."""
    if True not in requires:
        return False
    dtypes = {v.dtype for v in values if type(v) not in _SCALARS}
    if len(dtypes) != 1:
        return False  # mixed dtypes: PyTorch's promotion rules stay in dispatch
    dtype = dtypes.pop()
    if dtype.kind != "f" or dtype.itemsize > 4:
        return False
    args = [
        v if type(v) in _SCALARS else jax.ShapeDtypeStruct(v.shape, v.dtype, weak_type=v.weak_type)
        for v in values
    ]
    try:
        out = jax.eval_shape(functools.partial(op.fn, **dict(key)), *args)
    except Exception:
        return False
    if not isinstance(out, jax.ShapeDtypeStruct) or out.dtype.kind != "f":
        return False
    return next(_ids), out, None, refs


class PendingPullback(weakref.ref, PullbackBase):
    """One recorded op of a segment, which is also its node's pullback until the segment
    runs, and the segment's weak reference to that node (`node_of(record)` gives the node,
    or None once the graph is dropped): one object per op instead of three.

    It holds what the op runs (op, static key, input references), its output's abstract
    value, its plan (dispatch's), its result tensor (weakly) and its place in the segment.
    Reading it as a pullback (its values, its bytes, its pytree leaves) runs the segment
    (`materialize`) and answers for the real one."""

    __slots__ = ("op", "key", "refs", "aval", "plan", "out", "index", "segment", "freed")

    def __new__(cls, node, op, key, refs, aval, plan, result, segment):
        self = weakref.ref.__new__(cls, node)
        self.op, self.key, self.refs, self.aval, self.plan = op, key, refs, aval, plan
        self.out, self.index, self.segment = weakref.ref(result), len(segment.entries), segment
        self.freed = False
        return self

    def __init__(self, *args):  # (weakref.ref's own takes a referent and a callback)
        pass

    def resolve(self):
        """The real pullback (the segment runs first), or this one once freed (a compiled
        backward released the node)."""
        return self if self.freed else self._real()

    def _real(self):
        materialize(self.segment)
        node = node_of(self)
        real = None if node is None else node._pullback
        if real is self:  # (cannot happen: a segment runs all its records under the lock)
            raise RuntimeError(errors.LAZY_NOT_RUN)
        return real

    @property
    def _residuals(self):
        return None if self.freed else ()

    @property
    def saved(self) -> tuple:
        real = None if self.freed else self._real()
        return () if real is None or real is self else real.saved

    def values(self) -> tuple:
        return self._real().values()

    def __call__(self, cotangents, *, retain: bool = True) -> tuple:
        return self._real()(cotangents, retain=retain)

    def free(self) -> None:
        self.freed = True

    def tree_flatten(self):
        real = None if self.freed else self._real()
        if real is None or real is self:
            return (), None
        return (real,), None

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        return leaves[0] if leaves else None


jax.tree_util.register_pytree_node_class(PendingPullback)
# A record's node, or None (calling a PendingPullback is calling the pullback).
node_of = weakref.ref.__call__


def materialize(seg: Segment) -> None:
    """Runs a segment's records op by op with the eager path's jitted kernels: every live
    pending tensor gets its value, every node its real pullback. Closes the segment."""
    with lock:
        if not seg.closed:
            _run(seg)


def _run(seg: Segment) -> None:
    from_leaves = [a for _, a in seg.leaves]
    values = []
    for entry in seg.entries:
        args = [_resolve(r, values, from_leaves, seg.scalars) for r in entry.refs]
        out = _forward(entry.op, entry.key)(*args)
        values.append(out)
        t = entry.out()
        if t is not None and t._pending is not None:
            t._data, t._pending = out, None
        node = node_of(entry)
        if node is not None and node._pullback is entry:
            plan = entry.plan
            if node._pullback.freed:
                saved = None
            elif plan.keeps_output:
                saved = (out,)
            else:
                saved = tuple(args[i] for i in plan.rule.keep)
            pullback = SavedPullback(plan.rule, saved or ())
            if saved is None:
                pullback.free()
            elif saved:
                _live_nodes.add(node)
            node._pullback = pullback
    close(seg)


def close(seg: Segment) -> None:
    """Drops what a flushed segment held (its records keep tensors and nodes weakly)."""
    seg.closed = True
    _open.discard(seg)
    seg.entries, seg.leaves, seg.accumulators, seg.slots, seg.scalars = [], [], [], {}, []


def _resolve(ref, values, leaves, scalars):
    kind = ref[0]
    if kind == "e":
        return values[ref[1]]
    if kind == "l":
        return leaves[ref[1]]
    return scalars[ref[1]]


_forward_fn = None


def _forward(op, key):
    return _forward_fn(op, key)


def use_forward(forward) -> None:
    """Installs dispatch's cached jitted forward `forward(op, key)` (injection: dispatch
    imports this package, not the other way round)."""
    global _forward_fn
    _forward_fn = forward
