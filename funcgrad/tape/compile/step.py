"""`CompiledStep`: the compiled step's pipeline: walk, look up or trace, run, write back.

Each call walks the state and arguments (walk.py), looks the signature up in a cache of
jitted programs, and on a miss traces the step: the live state tensors get tracers for
arrays (`state.bound`), the step runs with jit's tensor observer installed, and the
`Recorder` records its effects (program.py). The compiled program's outputs are then
written back with `Program.replay`. (Flax NNX's `SimpleJitFn.__call__` has the same shape.)
"""

from __future__ import annotations

import functools
import logging
import types
import warnings
import weakref
from collections.abc import Callable

import jax
import numpy as np

from .. import errors, observe, state
from ..grad_mode import is_grad_enabled, is_inference_mode_enabled
from ..random import default_generator
from ..tensor import Tensor
from .diagnostics import RetraceWarning, check_leaks, difference, only_grads_appeared
from .discover import discover, discover_attributes, discover_function, kind, parameter_names
from .program import Recorder, contents, restore_contents, set_item
from .walk import Walk, desc

__all__ = ["CompiledStep", "jit", "TraceContext"]

logger = logging.getLogger("funcgrad.tape.jit")


class TraceContext:
    """The tensor observer (observe.py) while a step is traced: records the tensors created
    inside the step and rejects writes to tensors outside its state."""

    def __init__(self, step_name: str, state_ids: set):
        self.step_name = step_name
        self.state_ids = state_ids
        self.created_ids: set = set()
        self.created: list = []

    def created_tensor(self, t: Tensor) -> None:
        self.created_ids.add(id(t))
        self.created.append(weakref.ref(t))

    def writing(self, t: Tensor, action: str) -> None:
        """Raises if the step modifies a tensor that is neither state nor made inside it."""
        root = t._root()  # a view or a detach() alias writes its root's storage
        targets = (t, root) if root is not t else (t,)
        for x in targets:
            if id(x) not in self.state_ids and id(x) not in self.created_ids:
                raise RuntimeError(
                    errors.UNDECLARED_STATE.format(step=self.step_name, action=action, desc=desc(x))
                )


_MAX_PROGRAMS = 64  # programs kept per compiled step (one per signature)


class _Entry:
    __slots__ = ("jitted", "program")

    def __init__(self):
        self.jitted = None
        self.program = None


class CompiledStep:
    """A step function compiled by `funcgrad.tape.jit`; call it like the function.

    Attributes:
      trace_count: int, how many times the step was traced (once per new signature).
      __wrapped__: the original function (call it to run the step eagerly).
    """

    def __init__(self, fn: Callable, modules=(), optimizers=(), tensors=()):
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._name = getattr(fn, "__qualname__", None) or type(fn).__name__
        self._arg_names = parameter_names(fn)
        self._declared = [*modules, *optimizers]
        self._declared_ids = {id(o) for o in self._declared}
        self._tensors = list(tensors)
        for t in self._tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"tensors= expects funcgrad.tape tensors, got {type(t).__name__}")
        self._cache: dict = {}
        self._last = None  # the signature of the previous call (Walk.signature())
        self._pending = None
        self.trace_count = 0

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<funcgrad.tape.jit of {self._name}, {len(self._cache)} program(s)>"

    # ------------------------------------------------------------ state discovery
    def _roots(self, roots: list, seen: set) -> None:
        for i, o in enumerate(self._declared):
            seen.add(id(o))
            roots.append((o, f"modules/optimizers[{i}]"))
        for i, t in enumerate(self._tensors):
            seen.add(id(t))
            roots.append((t, f"tensors[{i}]"))
        seen.add(id(default_generator))
        roots.append((default_generator, "funcgrad.tape.default_generator"))
        fn = self._fn
        if isinstance(fn, types.FunctionType):
            discover_function(fn, roots, seen, 0)
        elif isinstance(fn, types.MethodType):
            if kind(type(fn.__self__)):
                discover(fn.__self__, "self", roots, seen)
            else:
                discover_attributes(fn.__self__, "self", roots, seen)
            discover(fn.__func__, "self", roots, seen)
        else:  # a Module, a partial, or a callable object holding its state
            discover(fn, "the step", roots, seen)
            if not (kind(type(fn)) or id(fn) in self._declared_ids):
                discover_attributes(fn, "the step", roots, seen)

    def _walk(self, args, kwargs) -> Walk:
        walk = Walk(self._declared_ids)
        roots, seen = [], set()
        self._roots(roots, seen)
        for value, where in roots:
            walk.root(value, where)
        extra: list = []  # state held by plain objects among the arguments
        walk.arguments(args, kwargs, self._arg_names, self._name, extra, seen)
        for value, where in extra:
            walk.root(value, where)
        walk.add(("mode", is_grad_enabled(), is_inference_mode_enabled()), "the grad mode")
        return walk

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if isinstance(observe.current(), TraceContext):
            return self._fn(*args, **kwargs)  # inside another compiled step: inline it
        walk = self._walk(args, kwargs)
        key = tuple(walk.sig)
        entry = self._cache.get(key)
        if entry is None:
            self._announce(walk)
            entry = _Entry()
            entry.jitted = jax.jit(functools.partial(self._trace, entry))
            if len(self._cache) >= _MAX_PROGRAMS:  # drop the oldest program
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = entry
        inputs = walk.inputs()
        self._pending = walk
        try:
            outputs = entry.jitted(inputs)
        except BaseException:
            if entry.program is None:
                self._cache.pop(key, None)
            raise
        finally:
            self._pending = None
        self._last = walk.signature()
        return entry.program.replay(walk, inputs, outputs)

    def _announce(self, walk: Walk) -> None:
        """Logs each trace; warns of a retrace unless only `.grad`s appeared since the last
        call (see `only_grads_appeared`)."""
        if self._last is None:
            logger.info("funcgrad.tape.jit: tracing %s", self._name)
            return
        if only_grads_appeared(self._last, walk.signature()):
            logger.info(
                "funcgrad.tape.jit: tracing %s again, now that the .grads of its state exist "
                "(compilation %d)",
                self._name,
                len(self._cache) + 1,
            )
            return
        old, new = self._last, walk.signature()
        if set(old.grads) <= set(new.grads):  # .grads may have appeared too: name the rest
            reason = difference((old.blind, old.blind_where), (new.blind, new.blind_where))
        else:
            reason = difference((old.sig, old.where), (new.sig, new.where))
        message = errors.RETRACE.format(step=self._name, n=len(self._cache) + 1, reason=reason)
        logger.info(message)
        warnings.warn(message, RetraceWarning, stacklevel=3)

    # ------------------------------------------------------------ tracing
    def _trace(self, entry: _Entry, inputs: list):
        """The pure function jax traces: swaps tracers into the live state, runs the step,
        records its effects into `entry.program`, restores the state, returns new arrays."""
        walk = self._pending
        self.trace_count += 1
        ctx = TraceContext(self._name, set(walk.tindex))
        program, outputs = self._run_traced(walk, inputs, ctx)
        check_leaks(ctx, self._name)
        entry.program = program
        return outputs

    def _run_traced(self, walk: Walk, inputs: list, ctx: TraceContext):
        n = len(walk.tensors)
        saved_objects = [contents(o) if full else None for o, full in zip(walk.objects, walk.full)]
        saved_protocols = [walk.objects[j]._state_arrays() for j, _, _ in walk.protocols]
        with state.bound(walk.tensors, inputs[:n]):
            try:
                args, kwargs = _bind_arrays(walk, inputs[n:])
                tensor_entry = [
                    (t._data, t._grad, t._requires_grad, t._vc.value) for t in walk.tensors
                ]
                entry = [contents(o) if full else None for o, full in zip(walk.objects, walk.full)]
                with observe.observing(ctx):
                    result = self._fn(*args, **kwargs)
                del args, kwargs
                recorder = Recorder(walk, inputs, ctx, self._name)
                recorder.record(tensor_entry, entry, result)
                return recorder.program, recorder.outputs
            finally:
                for o, s in zip(walk.objects, saved_objects):
                    if s is not None:
                        restore_contents(o, s)
                for (j, _, _), tree in zip(walk.protocols, saved_protocols):
                    walk.objects[j]._load_state_arrays(tree)


def _bind_arrays(walk: Walk, arrays: list) -> tuple:
    """Puts the traced arrays into the immutable values and optimizer states of the walked
    objects, and into the arguments; returns the arguments `(args, kwargs)`."""
    for owner, key, treedef, leaves, positions in walk.trees:
        it = iter(positions)
        new = [arrays[next(it)] if isinstance(x, jax.Array) else x for x in leaves]
        set_item(walk.objects[owner], key, new[0] if treedef is None else treedef.unflatten(new))
    for j, treedef, positions in walk.protocols:
        walk.objects[j]._load_state_arrays(treedef.unflatten([arrays[p] for p in positions]))
    treedef, leaves, positions = walk.args
    it = iter(positions)
    leaves = [arrays[next(it)] if isinstance(x, (jax.Array, np.ndarray)) else x for x in leaves]
    return treedef.unflatten(leaves)


def jit(fn: Callable | None = None, *, modules=(), optimizers=(), tensors=()):
    """Compiles a stateful PyTorch-style step (zero_grad, forward, backward, optimizer step)
    into one `jax.jit` program.

    The step's state (parameters, their `.grad`s, optimizer state, module buffers, the
    random generator's state) is found automatically in its closure, in the globals it names and
    in its arguments, or declared with `modules=`, `optimizers=`, `tensors=`. The step is
    traced once per signature (structure, shapes and dtypes of state and arguments, and the
    Python values among them); each call runs the compiled program and writes the new state
    back into the live tensors, modules and optimizers, as running the step eagerly would.
    Tensors in the result come back as concrete tensors without a graph.

    Args:
      fn: The step. Optional: without it, `jit(...)` returns a decorator.
      modules: Optional. Modules (or any objects) whose attributes are state.
      optimizers: Optional. Optimizers whose state is part of the step's state.
      tensors: Optional. Further tensors the step reads or writes.

    Returns:
      A `CompiledStep`, called like `fn`; its `trace_count` says how often it was traced.
      A retrace warns with a `RetraceWarning` that names the leaf that changed.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> @torch.jit
        ... def step(x):
        ...     w.grad = None
        ...     loss = ((w * x).sum() - 1.0) ** 2
        ...     loss.backward()
        ...     with torch.no_grad():
        ...         w.sub_(0.1 * w.grad)
        ...     return loss
        >>> step(torch.ones(2))
        tensor(4.)
        >>> w
        tensor([ 1.4000, -1.6000], requires_grad=True)
        >>> step.trace_count
        1
    """
    if fn is None:
        return lambda f: CompiledStep(f, modules, optimizers, tensors)
    return CompiledStep(fn, modules, optimizers, tensors)
