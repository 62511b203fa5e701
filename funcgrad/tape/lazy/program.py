"""A lazy segment's backward as one compiled program, cached by the segment's structure.

`backward(roots, grads)` is offered each plain `backward()` (no `retain_graph`, no
`create_graph`, no `inputs=`). It takes it when the roots are pending results of this
thread's open segment and the backward would touch nothing observable between nodes: every
record of the segment is reached from the roots, no node or leaf has a hook, every version
check passes, every leaf needing grad is a leaf (an `AccumulateGrad`). Then one jitted
program computes the segment's forward, its pullback at the root gradients, and the values
of the pending tensors still alive; the gradients are accumulated into `.grad` as the
engine would, and the nodes are released. Anything else returns False and the engine runs
(reading the pullbacks runs the segment op by op first).

First sight runs op by op: a structure is compiled the second time it is seen, so a
program that never repeats a graph never pays a compile. The cache is bounded (least
recently used out) and counts hits, misses, compiles and compile seconds
(`cache_info()`); a loop that keeps compiling (shapes that change every step) gets one
warning.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import threading
import time
import warnings

import jax
import numpy as np

from .. import errors
from ..engine import AccumulateGrad
from .segment import PendingPullback, close, lock, node_of

__all__ = [
    "backward",
    "cache_info",
    "clear_cache",
    "compile_first_sight",
    "first_sight",
    "set_cache_size",
]

_cache: collections.OrderedDict = collections.OrderedDict()  # structure -> program
_seen: collections.OrderedDict = collections.OrderedDict()  # structures seen once
_UNSUPPORTED = object()  # a structure whose backward the engine must run
_RECOMPILES_BEFORE_WARNING = 10
_stats = {"hits": 0, "misses": 0, "compiles": 0, "compile_seconds": 0.0, "op_by_op": 0}
_limits = {"size": 64, "compile_first_sight": False}
_compiles_without_hit = 0
_warned = False

try:  # Marks an array weakly typed, as a Python scalar argument is (JAX has no public way).
    from jax._src.lax.lax import _convert_element_type

    def _weak(array):
        return _convert_element_type(array, weak_type=True)

except ImportError:  # another JAX: the scalars go in one by one, as before
    _weak = None


def cache_info() -> dict:
    """The compiled-segment cache's counters.

    Returns:
      A dict: `hits`, `misses` (backward calls whose structure had no program),
      `compiles`, `compile_seconds`, `op_by_op` (backward calls that ran the segment op by
      op: first sight, or not covered), `size` and `maxsize`.

    Example:
        >>> import funcgrad.tape as torch
        >>> sorted(torch.lazy.cache_info())[:3]
        ['compile_seconds', 'compiles', 'hits']
    """
    return dict(_stats, size=len(_cache), maxsize=_limits["size"])


def clear_cache() -> None:
    """Empties the compiled-segment cache and resets its counters.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.lazy.clear_cache()
        >>> torch.lazy.cache_info()["compiles"]
        0
    """
    global _compiles_without_hit, _warned
    _cache.clear()
    _seen.clear()
    _stats.update(hits=0, misses=0, compiles=0, compile_seconds=0.0, op_by_op=0)
    _compiles_without_hit, _warned = 0, False


@contextlib.contextmanager
def first_sight():
    """Inside the `with`, the cache of compiled segments and the record of structures
    seen are set aside (empty), so every backward runs as at first sight; they are put
    back after it. The counters keep counting. For benchmarks of a graph seen once.

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.lazy.first_sight():
        ...     torch.lazy.cache_info()["size"]
        0
    """
    with lock:
        cache, seen = _cache.copy(), _seen.copy()
        _cache.clear()
        _seen.clear()
    try:
        yield
    finally:
        with lock:
            _cache.clear()
            _seen.clear()
            _cache.update(cache)
            _seen.update(seen)


def compile_first_sight(enabled: bool) -> None:
    """Makes backward compile a segment's program the first time its structure is seen
    (default False: first sight runs op by op, the second compiles). For tests that want
    every segment through the compiled path.

    Args:
      enabled: bool.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.lazy.compile_first_sight(False)
    """
    _limits["compile_first_sight"] = bool(enabled)


def set_cache_size(size: int) -> None:
    """Sets how many compiled segment programs are kept (least recently used dropped).

    Args:
      size: int, at least 1.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.lazy.set_cache_size(64)
    """
    if size < 1:
        raise ValueError(errors.LAZY_CACHE_SIZE.format(size=size))
    _limits["size"] = int(size)
    while len(_cache) > size:
        _cache.popitem(last=False)


def _segment_of(roots):
    seg = None
    for node, _ in roots:
        pullback = node._pullback if node is not None else None
        if type(pullback) is not PendingPullback or pullback.freed:
            return None
        if seg is None:
            seg = pullback.segment
        elif pullback.segment is not seg:
            return None
    return seg


def _scan(seg):
    """One pass over the segment: (its nodes, the indices of the records whose result
    tensor is alive and pending, whether the backward may run as one program): no hook,
    retained grad, freed node or failed version check in the segment, and every input
    needing grad is a leaf. Nodes is None when one is gone."""
    nodes, alive, untouched = [], [], True
    for entry in seg.entries:
        node = node_of(entry)
        if node is None:
            return None, (), False
        nodes.append(node)
        t = entry.out()
        if t is not None and t._pending is not None:
            alive.append(entry.index)
        if untouched and (
            node._released
            or node._tensor_pre_hooks
            or node._retains_grad
            or node._pre_hooks
            or node._hooks
        ):
            untouched = False
        for counter, version, _ in node._checks:
            if counter.value != version:
                untouched = False
    return nodes, tuple(alive), untouched and _leaves_untouched(seg)


def _leaves_untouched(seg) -> bool:
    for acc in seg.accumulators:
        if acc is not None:
            if type(acc) is not AccumulateGrad:  # a tensor with a history of its own
                return False
            if acc._pre_hooks or acc._hooks or acc._retains_grad or acc._tensor_pre_hooks:
                return False
            variable = acc.variable
            if variable._hooks or variable._post_accumulate_hooks:
                return False
    return True


def backward(roots, grads) -> bool:
    """Runs a plain backward over a pending segment as one compiled program; False when
    it does not apply (the engine then runs it)."""
    with lock:
        return _backward(roots, grads)


def _backward(roots, grads) -> bool:
    seg = _segment_of(roots)
    if seg is None or seg.closed or seg.thread != threading.get_ident() or not seg.entries:
        return False
    for g in grads:
        if not isinstance(g, jax.Array):
            return False
    root_refs = tuple(node._pullback.index for node, _ in roots)
    nodes, alive, untouched = _scan(seg)
    if nodes is None:
        return False
    structure = (seg.key, root_refs, alive)
    program = _cache.get(structure)
    if program is None:
        _stats["misses"] += 1
        if structure not in _seen and not _limits["compile_first_sight"]:
            # First sight: op by op (a compile may never pay off).
            _seen[structure] = None
            if len(_seen) > 8 * _limits["size"]:
                _seen.popitem(last=False)
            _stats["op_by_op"] += 1
            return False
        if not untouched:
            _stats["op_by_op"] += 1
            return False
        program, results = _compile(seg, structure, root_refs, alive, grads)
        if program is _UNSUPPORTED:
            _stats["op_by_op"] += 1
            return False
    else:
        _cache.move_to_end(structure)
        if program is _UNSUPPORTED or not untouched:
            _stats["op_by_op"] += 1
            return False
        _stats["hits"] += 1
        _hit()
        results = program(tuple(a for _, a in seg.leaves), seg.scalars, tuple(grads))
    values, leaf_grads = results
    entries = seg.entries
    for i, v in zip(alive, values):
        t = entries[i].out()
        if t is not None and t._pending is not None:
            t._data, t._pending = v, None
    for node in nodes:  # node.release(), inline: a pending node is in no live set yet
        node._pullback.freed = True
        node._released = True
    accumulators = [a for a in seg.accumulators if a is not None]
    close(seg)
    total: dict = {}
    for acc, g in zip(accumulators, leaf_grads):
        total[acc] = g if acc not in total else total[acc] + g
    for acc, g in total.items():
        acc.variable._accumulate_grad(g, False)
    return True


def _reaches_all(seg, root_refs) -> bool:
    reached = [False] * len(seg.entries)
    for i in root_refs:
        reached[i] = True
    for entry in reversed(seg.entries):
        if reached[entry.index]:
            for r in entry.refs:
                if r[0] == "e":
                    reached[r[1]] = True
    return all(reached)


def _compile(seg, structure, root_refs, alive, grads):
    """Builds, compiles, caches and runs the structure's program: (program, its results),
    or (_UNSUPPORTED, None) when the backward does not reach the whole segment."""
    global _compiles_without_hit, _warned
    results = None
    if not _reaches_all(seg, root_refs):
        program = _UNSUPPORTED
    else:
        records = tuple((e.op, e.key, e.refs) for e in seg.entries)
        diff = tuple(i for i, a in enumerate(seg.accumulators) if a is not None)
        floats = tuple(type(v) is float for v in seg.scalars)  # (fixed by the structure)
        # Called through jax.jit (its fast C++ dispatch); the first call compiles.
        program = _packing(jax.jit(_program(records, diff, root_refs, alive, floats)), floats)
        start = time.perf_counter()
        results = program(tuple(a for _, a in seg.leaves), seg.scalars, tuple(grads))
        _stats["compiles"] += 1
        _stats["compile_seconds"] += time.perf_counter() - start
        _compiles_without_hit += 1
        if _compiles_without_hit >= _RECOMPILES_BEFORE_WARNING and not _warned:
            _warned = True
            warnings.warn(
                errors.LAZY_RECOMPILES.format(n=_compiles_without_hit), UserWarning, stacklevel=4
            )
    _cache[structure] = program
    while len(_cache) > _limits["size"]:
        _cache.popitem(last=False)
    return program, results


def _hit() -> None:
    global _compiles_without_hit
    _compiles_without_hit = 0


def _packing(jitted, floats):
    """The program as called with the segment's scalars: its Python floats go in as one
    array (JAX converts each Python scalar argument on its own, some microseconds each: a
    100-op chain reads 50), the other scalars (ints, bools) as they are."""
    if _weak is None:
        return lambda leaves, scalars, grads: jitted(leaves, (), tuple(scalars), grads)

    def call(leaves, scalars, grads):
        packed = np.array([v for v, f in zip(scalars, floats) if f], np.float64)
        others = tuple([v for v, f in zip(scalars, floats) if not f])
        return jitted(leaves, packed, others, grads)

    return call


def _program(records, diff, root_refs, alive, floats):
    """The segment as one function: (leaves, floats, other scalars, root cotangents) ->
    (values of the live pending tensors, gradients of the leaves in `diff`). `floats`
    marks the scalars that come packed in one array (see `_packing`)."""
    fns = tuple(functools.partial(op.fn, **dict(key)) for op, key, _ in records)
    wiring = tuple(refs for _, _, refs in records)

    def forward(diff_values, leaves, scalars):
        leaves = list(leaves)
        for slot, v in zip(diff, diff_values):
            leaves[slot] = v
        values = []
        for fn, refs in zip(fns, wiring):
            args = [
                values[r[1]] if r[0] == "e" else leaves[r[1]] if r[0] == "l" else scalars[r[1]]
                for r in refs
            ]
            values.append(fn(*args))
        return tuple(values[i] for i in root_refs), tuple(values[i] for i in alive)

    def program(leaves, packed, others, cotangents):
        if _weak is None:
            scalars = others
        else:
            # Each float as JAX makes a Python float argument: weakly typed, so `x * 0.5`
            # keeps a float16 x's dtype.
            packed, others, n = _weak(packed), iter(others), itertools.count()
            scalars = [packed[next(n)] if f else next(others) for f in floats]
        diff_values = tuple(leaves[slot] for slot in diff)
        _, pullback, kept = jax.vjp(
            lambda d: forward(d, leaves, scalars), diff_values, has_aux=True
        )
        (leaf_grads,) = pullback(cotangents)
        return kept, leaf_grads

    return program
