"""`jit()`: a stateful PyTorch-style step (forward, `backward()`, `optimizer.step()`)
compiled into one `jax.jit` program.

A step reads and writes state that lives outside the call: parameters, their `.grad`s,
optimizer state, module buffers, the tape's random key. `jit` lifts that state into a flat
list of arrays, traces the step once with every state tensor's array swapped for a tracer
(the tape runs as usual on tracers: each op's small `jax.jit` inlines into the outer trace,
the engine's pullbacks run on tracers), and records what the step changed: which tensors got
new values, which `.grad`s appeared or were replaced, which attributes of modules and
optimizers were reassigned. After each call of the compiled program those changes are
written back into the live objects (version counters bumped as the eager step would), so
the Python objects look exactly as they would after running the step eagerly.

The approach is Flax NNX's `split` / `merge` / `update` (and Objax's `Jit`): state found by
walking objects, a pure function of arrays, and the result merged back. What is state:

- objects given as `modules=`, `optimizers=`, `tensors=`;
- tensors, modules and optimizers reachable from the step's closure cells and the globals
  its code names (also through the user functions it calls), and from its arguments;
- the tape's random generator (`funcgrad.tape.random.default_generator`).

Modules are walked through their attributes (parameters, buffers, submodules, `training`);
optimizers through `_state_arrays()` / `_load_state_arrays()` (their optax state and
hyperparameters, as arrays: a new learning rate does not retrace). Python values found in
the state (`training`, a static option) and in the arguments are part of the program's
signature: when one changes, or a shape, a dtype, or the structure (a `.grad` that was None
now is a tensor), the step is traced again and a `RetraceWarning` says which leaf changed.

What this module does not do: run Python side effects of the step more than once (they
happen while tracing), keep the autograd graph of returned tensors (they come back
detached), read values of tensors it was not shown (a tensor neither found nor declared
is a constant of the program; one that the step modifies raises), donate the old state's
buffers to the program (arrays held elsewhere stay valid), or trace steps in two threads
at once.
"""

from __future__ import annotations

import copy
import functools
import gc
import inspect
import logging
import sys
import threading
import types
import warnings
import weakref
from collections.abc import Callable

import jax
import numpy as np

from . import errors
from .grad_mode import is_grad_enabled, is_inference_mode_enabled
from .random import Generator, default_generator
from .tensor import Tensor

logger = logging.getLogger("funcgrad.tape.jit")
_Tracer = jax.core.Tracer


class RetraceWarning(UserWarning):
    """Warned when a compiled step is traced again because its state or arguments changed."""


# ---------------------------------------------------------------- the trace context
class _TraceContext:
    """Consulted by the Tensor hooks (`Tensor._jit_trace`) while a step is traced: records
    the tensors created inside the step and rejects writes to tensors outside its state."""

    def __init__(self, step_name: str, state_ids: set):
        self.step_name = step_name
        self.thread = threading.get_ident()
        self.state_ids = state_ids
        self.created_ids: set = set()
        self.created: list = []

    def created_tensor(self, t: Tensor) -> None:
        if threading.get_ident() == self.thread:
            self.created_ids.add(id(t))
            self.created.append(weakref.ref(t))

    def writing(self, t: Tensor, action: str) -> None:
        """Raises if the step modifies a tensor that is neither state nor made inside it."""
        if threading.get_ident() != self.thread:
            return
        targets = (t, t._base) if getattr(t, "_alias", False) and t._base is not None else (t,)
        for x in targets:
            if id(x) not in self.state_ids and id(x) not in self.created_ids:
                raise RuntimeError(
                    errors.UNDECLARED_STATE.format(
                        step=self.step_name, action=action, desc=_desc(x)
                    )
                )


# ---------------------------------------------------------------- what is state
_STATIC_TYPES = frozenset(
    {
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        type(None),
        np.dtype,
        np.float32,
        np.float64,
        np.int32,
        np.int64,
        np.bool_,
    }
)
_LIBRARY_PACKAGES = frozenset(
    {
        "funcgrad",
        "jax",
        "jaxlib",
        "numpy",
        "optax",
        "flax",
        "torch",
        "scipy",
        "functools",
        "builtins",
        "typing",
        "collections",
        "abc",
    }
)
_MODULE, _PROTOCOL = 1, 2
_kinds: dict = {}


def _kind(cls) -> int:
    """_MODULE: walk the object's attributes; _PROTOCOL: an optimizer exposing its state
    as `_state_arrays()` / `_load_state_arrays()`; 0: not a stateful object."""
    kind = _kinds.get(cls)
    if kind is None:
        if callable(getattr(cls, "_state_arrays", None)) and callable(
            getattr(cls, "_load_state_arrays", None)
        ):
            kind = _PROTOCOL
        elif issubclass(cls, Generator) or callable(getattr(cls, "named_parameters", None)):
            kind = _MODULE
        elif callable(getattr(cls, "step", None)) and callable(getattr(cls, "zero_grad", None)):
            kind = _MODULE  # an optimizer without the state protocol: walk its attributes
        else:
            kind = 0
        _kinds[cls] = kind
    return kind


_pytree_types: dict = {}


def _is_pytree(v) -> bool:
    """Whether v's type is a pytree node (a tuple, a NamedTuple, an optax state, a
    registered dataclass), cached per type: pytree registration is per type."""
    cls = type(v)
    known = _pytree_types.get(cls)
    if known is None:
        treedef = jax.tree_util.tree_structure(v, is_leaf=lambda x: x is not v and _opaque(x))
        known = _pytree_types[cls] = not (treedef.num_nodes == 1 and treedef.num_leaves == 1)
    return known


def _opaque(x) -> bool:
    """Leaves of pytree flattening: tensors and stateful objects are not looked into."""
    return isinstance(x, Tensor) or _kind(type(x)) != 0


def _is_library(fn) -> bool:
    module = getattr(fn, "__module__", None) or ""
    return module.partition(".")[0] in _LIBRARY_PACKAGES


@functools.lru_cache(maxsize=1024)
def _global_names(code: types.CodeType) -> tuple:
    """The global names a code object (and the functions defined inside it) may read."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.extend(_global_names(const))
    return tuple(dict.fromkeys(names))


def _discover(value, where, roots: list, seen: set, depth: int = 0) -> None:
    """Adds the tensors and stateful objects reachable from a closure or global value."""
    if id(value) in seen or depth > 4:
        return
    if isinstance(value, Tensor) or _kind(type(value)):
        seen.add(id(value))
        roots.append((value, where))
    elif isinstance(value, (list, tuple)):
        seen.add(id(value))
        for i, x in enumerate(value):
            _discover(x, (where, i, "[]"), roots, seen, depth + 1)
    elif isinstance(value, dict):
        seen.add(id(value))
        for k, x in value.items():
            _discover(x, (where, k, "[]"), roots, seen, depth + 1)
    elif isinstance(value, types.FunctionType) and not _is_library(value):
        seen.add(id(value))
        _discover_function(value, roots, seen, depth + 1)
    elif isinstance(value, types.MethodType):
        _discover(value.__self__, where, roots, seen, depth)
        _discover(value.__func__, where, roots, seen, depth)
    elif isinstance(value, functools.partial):
        _discover(value.func, where, roots, seen, depth)
        _discover(value.args, where, roots, seen, depth)
        _discover(value.keywords, where, roots, seen, depth)


def _discover_function(fn, roots, seen, depth) -> None:
    code = fn.__code__
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell (a name assigned later in the enclosing function)
            continue
        _discover(value, name, roots, seen, depth)
    globals_ = fn.__globals__
    for name in _global_names(code):
        if name in globals_:
            _discover(globals_[name], name, roots, seen, depth)


def _discover_attributes(obj, where, roots, seen) -> None:
    """A plain object (a trainer holding a model and an optimizer): one level of attributes."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    for name, value in getattr(obj, "__dict__", {}).items():
        _discover(value, (where, name, "."), roots, seen, 1)


def _parameter_names(fn) -> list:
    """The names of fn's positional parameters, to name arguments in retrace messages."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


_REGISTRIES = ("_parameters", "_buffers", "_modules")


def _render(where) -> str:
    """A readable path from the nested (parent, key, separator) tuples of a walk; a
    Module's registries read as PyTorch's names (`model.0.weight`)."""
    if not isinstance(where, tuple):
        return str(where)
    parent, key, sep = where
    if sep == "." and key in _REGISTRIES:
        return _render(parent)
    if sep == "." or (isinstance(parent, tuple) and parent[1] in _REGISTRIES):
        return f"{_render(parent)}.{key}"
    if isinstance(key, Tensor):
        key = f"<tensor {_desc(key)}>"
    return f"{_render(parent)}[{key!r}]"


def _desc(t: Tensor) -> str:
    d = t._data
    shape = ", ".join(str(s) for s in d.shape)
    extra = ", requires_grad=True" if t._requires_grad else ""
    return f"shape [{shape}], dtype {np.dtype(d.dtype).name}{extra}"


def _aval(a) -> tuple:
    return ("a", a.shape, a.dtype, getattr(a, "weak_type", False))


def _hook_ids(hooks) -> tuple:
    return tuple(map(id, hooks)) if hooks else ()


class _Walk:
    """One walk of a call's state and arguments: the live tensors and objects in a fixed
    order, the input arrays, and the signature that selects (or builds) a program.

    Inputs are every tensor's array (in `tensors` order) then `arrays` (array leaves of
    immutable attribute values, optimizer state, array arguments).
    """

    def __init__(self, declared: set):
        self.declared = declared
        self.tensors: list = []
        self.tindex: dict = {}
        self.tpath: list = []  # where each tensor was first found
        self.objects: list = []  # stateful objects and the dicts/lists inside them
        self.oindex: dict = {}
        self.opath: list = []
        self.full: list = []  # per object: walked fully (False: tensors only, protocol)
        self.trees: list = []  # (object index, key, treedef, leaves, array positions)
        self.protocols: list = []  # (object index, treedef, leaves, array positions)
        self.arrays: list = []
        self.sig: list = []
        self.where: list = []
        self.args = None  # (treedef, leaves, array positions) of (args, kwargs)

    def add(self, entry, where) -> None:
        self.sig.append(entry)
        self.where.append(where)

    # ------------------------------------------------------------ tensors
    def tensor(self, t: Tensor, where) -> int:
        i = self.tindex.get(id(t))
        if i is not None:
            self.add(("t", i), where)
            return i
        i = len(self.tensors)
        self.tindex[id(t)] = i
        self.tensors.append(t)
        self.tpath.append(where)
        d, grad = t._data, t._grad
        self.add(
            (
                "T",
                d.shape,
                d.dtype,
                getattr(d, "weak_type", False),
                t._requires_grad,
                t._grad_fn is not None,
                grad is not None,
                _hook_ids(t._hooks),
                _hook_ids(t._post_accumulate_hooks),
            ),
            where,
        )
        if grad is not None:
            self.tensor(grad, (where, "grad", "."))
        return i

    # ------------------------------------------------------------ objects and containers
    def obj(self, o, where, full: bool = True) -> None:
        j = self.oindex.get(id(o))
        if j is not None:
            self.add(("o", j), where)
            return
        j = len(self.objects)
        self.oindex[id(o)] = j
        self.objects.append(o)
        self.opath.append(where)
        self.full.append(full)
        if isinstance(o, dict):
            if not o:
                self.add(("D", type(o), ()), where)
                return
            items = list(o.items())
            self.add(("D", type(o), tuple(self.key(k, where) for k, _ in items)), where)
            sep = "[]"
        elif isinstance(o, list):
            items = list(enumerate(o))
            self.add(("L", type(o), len(items)), where)
            sep = "[]"
        else:
            if full and _kind(type(o)) == _PROTOCOL:
                self.protocol(o, j, where)
                full = self.full[j] = False
            items = list(getattr(o, "__dict__", {}).items())
            self.add(("O", type(o), tuple(k for k, _ in items)), where)
            sep = "."
        for k, v in items:
            self.value(v, (where, k, sep), j, k, full)

    def root(self, value, where) -> None:
        if isinstance(value, Tensor):
            self.tensor(value, where)
        else:
            self.obj(value, where)

    def key(self, k, where):
        if isinstance(k, Tensor):
            return ("t", self.tensor(k, (where, k, "[]")))
        return k if type(k) in _STATIC_TYPES else ("id", id(k))

    def protocol(self, o, j, where) -> None:
        leaves, treedef = jax.tree_util.tree_flatten(o._state_arrays())
        positions = []
        for leaf in leaves:
            positions.append(len(self.arrays))
            self.arrays.append(leaf)
        self.protocols.append((j, treedef, positions))
        self.add(("P", treedef, tuple(_aval(a) for a in leaves)), (where, "_state_arrays()", "."))

    def value(self, v, where, owner: int, key, full: bool) -> None:
        """An attribute, dict value or list item of a walked object."""
        cls = type(v)
        if cls in _STATIC_TYPES:
            if full:
                self.sig.append(("s", cls, v))
                self.where.append(where)
        elif isinstance(v, Tensor):
            self.tensor(v, where)
        elif cls is dict or cls is list or isinstance(v, (dict, list)) or _kind(cls):
            self.obj(v, where, full)
        elif id(v) in self.declared:
            self.obj(v, where, full)
        elif not full:
            if cls is tuple:  # tensors in tuples (e.g. PyTorch's "betas" are floats)
                for i, x in enumerate(v):
                    if isinstance(x, Tensor):
                        self.tensor(x, (where, i, "[]"))
        elif isinstance(v, jax.Array):
            self.tree(v, where, owner, key, [v], None)
        elif _is_pytree(v):
            leaves, treedef = jax.tree_util.tree_flatten(v, is_leaf=_opaque)
            if any(isinstance(x, (jax.Array, Tensor)) or _kind(type(x)) for x in leaves):
                self.tree(v, where, owner, key, leaves, treedef)
            else:
                self.add(("S", treedef, tuple(self.leaf_sig(x) for x in leaves)), where)
        else:
            self.add(("f", id(v)) if callable(v) else ("x", cls), where)

    def leaf_sig(self, x):
        if type(x) in _STATIC_TYPES:
            return ("s", type(x), x)
        return ("f", id(x)) if callable(x) else ("x", type(x))

    def tree(self, v, where, owner, key, leaves, treedef) -> None:
        """An immutable value holding arrays (an optax state, a tuple): its arrays are
        inputs, and the value is rebuilt around tracers while tracing."""
        parts, positions = [], []
        for i, x in enumerate(leaves):
            if isinstance(x, Tensor):
                parts.append(("t", self.tensor(x, (where, i, "[]"))))
            elif _kind(type(x)):
                self.obj(x, (where, i, "[]"))
                parts.append(("o", self.oindex[id(x)]))
            elif isinstance(x, jax.Array):
                positions.append(len(self.arrays))
                self.arrays.append(x)
                parts.append(_aval(x))
            else:
                parts.append(self.leaf_sig(x))
        self.trees.append((owner, key, treedef, leaves, positions))
        self.add(("A", treedef, tuple(parts)), where)

    # ------------------------------------------------------------ arguments
    def arguments(self, args, kwargs, names, step_name, roots, seen) -> None:
        """The call's arguments: tensors and stateful objects join the state, arrays are
        inputs, Python values are part of the signature (one entry each, by name)."""
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_opaque)
        self.add(("args", treedef), "the arguments' structure")
        top = [names[i] if i < len(names) else f"args[{i}]" for i in range(len(args))]
        if len(leaves) == len(args) + len(kwargs):  # no nested containers: name each leaf
            labels = top + list(kwargs)
        else:
            labels = [f"argument leaf {i}" for i in range(len(leaves))]
        positions = []
        for x, where in zip(leaves, labels):
            where = f"argument {where}"
            if isinstance(x, Tensor):
                if x._grad_fn is not None:
                    raise RuntimeError(
                        errors.GRAPH_ARGUMENT.format(
                            where=where, step=step_name, node=x._grad_fn.name()
                        )
                    )
                self.tensor(x, where)
            elif _kind(type(x)):
                self.obj(x, where)
            elif isinstance(x, (jax.Array, np.ndarray)):
                positions.append(len(self.arrays))
                self.arrays.append(x)
                self.add(_aval(x), where)
            elif type(x) in _STATIC_TYPES:
                self.add(("s", type(x), x), where)
            else:
                _discover_attributes(x, where, roots, seen)
                self.add(("id", id(x)), where)
        self.args = (treedef, leaves, positions)

    def inputs(self) -> list:
        return [t._data for t in self.tensors] + self.arrays


# ---------------------------------------------------------------- containers
def _contents(o) -> dict:
    if isinstance(o, dict):
        return dict(o)
    if isinstance(o, list):
        return dict(enumerate(o))
    return dict(o.__dict__)


def _restore(o, contents: dict) -> None:
    if isinstance(o, dict):
        o.clear()
        o.update(contents)
    elif isinstance(o, list):
        o[:] = list(contents.values())
    else:
        o.__dict__.clear()
        o.__dict__.update(contents)


def _set(o, key, value) -> None:
    if isinstance(o, (dict, list)):
        o[key] = value
    else:
        o.__dict__[key] = value


# ---------------------------------------------------------------- the recorded program
class _Program:
    """What one trace recorded: the effects to replay on the live objects after each call.

    Recipes rebuild a value from the call's inputs and outputs: ("in", p), ("out", k),
    ("ref", i) a state tensor, ("obj", j) a walked object, ("new", n) a tensor created by the
    step, ("dict"/"list", template, items), ("tree", treedef, leaves), ("value", v).
    """

    def __init__(self):
        self.data: list = []  # (tensor index, recipe of its new array)
        self.versions: list = []  # (tensor index, version delta)
        self.grads: list = []  # (tensor index, recipe of its new .grad)
        self.requires: list = []  # (tensor index, requires_grad)
        self.containers: list = []  # (object index, "set" | "del" | "list", key, recipe)
        self.protocols: list = []  # (object index, treedef, leaf recipes)
        self.new: list = []  # (data recipe, requires_grad, class, grad recipe)
        self.result = ("value", None)

    def replay(self, walk: _Walk, inputs: list, outputs: list):
        new = [None] * len(self.new)

        def build(r):
            tag = r[0]
            if tag == "out":
                return outputs[r[1]]
            if tag == "in":
                return inputs[r[1]]
            if tag == "ref":
                return walk.tensors[r[1]]
            if tag == "new":
                n = r[1]
                if new[n] is None:
                    data, requires_grad, cls, grad = self.new[n]
                    t = new[n] = cls.__new__(cls)
                    t._init(build(data))
                    t._requires_grad = requires_grad
                    t._grad = None if grad is None else build(grad)
                return new[n]
            if tag == "obj":
                return walk.objects[r[1]]
            if tag == "value":
                return r[1]
            if tag == "tree":
                return r[1].unflatten([build(x) for x in r[2]])
            out = copy.copy(r[1])
            if tag == "dict":
                out.update((build(k), build(v)) for k, v in r[2])
            else:
                out.extend(build(v) for v in r[2])
            return out

        tensors = walk.tensors
        for i, r in self.data:
            tensors[i]._data = build(r)
        counters = {}
        for i, delta in self.versions:
            counters[id(tensors[i]._version)] = (tensors[i]._version, delta)
        for counter, delta in counters.values():
            counter.value += delta
        for i, r in self.grads:
            tensors[i]._grad = build(r)
        for i, requires_grad in self.requires:
            tensors[i]._requires_grad = requires_grad
        for j, op, key, r in self.containers:
            o = walk.objects[j]
            if op == "set":
                _set(o, build(key), build(r))
            elif op == "del":
                k = build(key)
                del (o if isinstance(o, dict) else o.__dict__)[k]
            else:
                o[:] = [build(x) for x in r]
        for j, treedef, leaves in self.protocols:
            walk.objects[j]._load_state_arrays(treedef.unflatten([build(x) for x in leaves]))
        return build(self.result)


class _Recorder:
    """Turns the state after a trace into a `_Program` and the list of output arrays."""

    def __init__(self, walk: _Walk, inputs: list, ctx: _TraceContext, step_name: str):
        self.walk, self.ctx, self.step_name = walk, ctx, step_name
        self.program = _Program()
        self.outputs: list = []
        self.out_ids: dict = {}
        self.in_ids = {id(x): p for p, x in enumerate(inputs)}
        self.new_ids: dict = {}

    def array(self, a):
        p = self.in_ids.get(id(a))
        if p is not None:
            return ("in", p)
        k = self.out_ids.get(id(a))
        if k is None:
            k = self.out_ids[id(a)] = len(self.outputs)
            self.outputs.append(a)
        return ("out", k)

    def recipe(self, v, where, result: bool = False):
        if isinstance(v, Tensor):
            return self.tensor(v, where, result)
        j = self.walk.oindex.get(id(v))
        if j is not None:
            return ("obj", j)
        if isinstance(v, (dict, list)):
            template = copy.copy(v)
            template.clear()
            if isinstance(v, dict):
                items = [
                    (self.recipe(k, where), self.recipe(x, (where, k, "[]"), result))
                    for k, x in v.items()
                ]
                return ("dict", template, items)
            return (
                "list",
                template,
                [self.recipe(x, (where, i, "[]"), result) for i, x in enumerate(v)],
            )
        if isinstance(v, jax.Array):
            return self.array(v)
        if isinstance(v, tuple) or not (type(v) in _STATIC_TYPES or _kind(type(v))):
            leaves, treedef = jax.tree_util.tree_flatten(v, is_leaf=_opaque)
            if not (treedef.num_nodes == 1 and treedef.num_leaves == 1) and any(
                isinstance(x, (jax.Array, Tensor)) for x in leaves
            ):
                return (
                    "tree",
                    treedef,
                    [self.recipe(x, (where, i, "[]"), result) for i, x in enumerate(leaves)],
                )
        return ("value", v)

    def tensor(self, t: Tensor, where, result: bool):
        i = self.walk.tindex.get(id(t))
        if i is not None:
            return ("ref", i)
        n = self.new_ids.get(id(t))
        if n is not None:
            return ("new", n)
        if id(t) not in self.ctx.created_ids and not isinstance(t._data, _Tracer):
            return ("value", t)  # a tensor from outside the step, not modified by it
        if t._grad_fn is not None and not result:
            raise RuntimeError(
                errors.GRAPH_IN_STATE.format(
                    step=self.step_name, where=_render(where), node=t._grad_fn.name()
                )
            )
        n = self.new_ids[id(t)] = len(self.program.new)
        self.program.new.append(None)
        leaf_requires = t._requires_grad and t._grad_fn is None and not result
        grad = None if t._grad is None or result else self.recipe(t._grad, (where, "grad", "."))
        self.program.new[n] = (self.array(t._data), leaf_requires, type(t), grad)
        return ("new", n)

    def record(self, tensor_entry: list, entry: list, result) -> None:
        """Compares the state now (after the step) with the state at entry."""
        walk, program = self.walk, self.program
        for i, t in enumerate(walk.tensors):
            data, grad, requires_grad, version = tensor_entry[i]
            if t._data is not data:
                program.data.append((i, self.array(t._data)))
            if t._version.value != version:
                program.versions.append((i, t._version.value - version))
            if t._grad_fn is not None:
                raise RuntimeError(
                    errors.GRAPH_IN_STATE.format(
                        step=self.step_name, where=_render(walk.tpath[i]), node=t._grad_fn.name()
                    )
                )
            if t._grad is not grad:
                program.grads.append((i, self.recipe(t._grad, (walk.tpath[i], "grad", "."))))
            if t._requires_grad != requires_grad:
                program.requires.append((i, t._requires_grad))
        for j, o in enumerate(walk.objects):
            if not walk.full[j]:
                continue
            before, now = entry[j], _contents(o)
            if isinstance(o, list):
                if len(before) != len(now) or any(before[k] is not now[k] for k in now):
                    program.containers.append(
                        (
                            j,
                            "list",
                            None,
                            [self.recipe(x, (walk.opath[j], k, "[]")) for k, x in now.items()],
                        )
                    )
                continue
            for k, x in now.items():
                if k not in before or before[k] is not x:
                    where = (walk.opath[j], k, "." if not isinstance(o, dict) else "[]")
                    program.containers.append(
                        (j, "set", self.recipe(k, where), self.recipe(x, where))
                    )
            for k in before:
                if k not in now:
                    program.containers.append((j, "del", self.recipe(k, k), None))
        for j, treedef, _ in walk.protocols:
            leaves, treedef = jax.tree_util.tree_flatten(walk.objects[j]._state_arrays())
            where = (walk.opath[j], "_state_arrays()", ".")
            program.protocols.append((j, treedef, [self.recipe(x, where) for x in leaves]))
        program.result = self.recipe(result, "the result", result=True)


# ---------------------------------------------------------------- the compiled step
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
        self._arg_names = _parameter_names(fn)
        self._declared = [*modules, *optimizers]
        self._declared_ids = {id(o) for o in self._declared}
        self._tensors = list(tensors)
        for t in self._tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"tensors= expects funcgrad.tape tensors, got {type(t).__name__}")
        self._cache: dict = {}
        self._last = None  # (signature, paths) of the previous call
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
            _discover_function(fn, roots, seen, 0)
        elif isinstance(fn, types.MethodType):
            if _kind(type(fn.__self__)):
                _discover(fn.__self__, "self", roots, seen)
            else:
                _discover_attributes(fn.__self__, "self", roots, seen)
            _discover(fn.__func__, "self", roots, seen)
        else:  # a Module, a partial, or a callable object holding its state
            _discover(fn, "the step", roots, seen)
            if not (_kind(type(fn)) or id(fn) in self._declared_ids):
                _discover_attributes(fn, "the step", roots, seen)

    def _walk(self, args, kwargs) -> _Walk:
        walk = _Walk(self._declared_ids)
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
        ctx = Tensor._jit_trace
        if ctx is not None and ctx.thread == threading.get_ident():
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
        self._last = (walk.sig, walk.where)
        return entry.program.replay(walk, inputs, outputs)

    def _announce(self, walk: _Walk) -> None:
        if self._last is None:
            logger.info("funcgrad.tape.jit: tracing %s", self._name)
            return
        reason = _difference(self._last, (walk.sig, walk.where))
        message = errors.RETRACE.format(step=self._name, n=len(self._cache) + 1, reason=reason)
        logger.info(message)
        warnings.warn(message, RetraceWarning, stacklevel=3)

    # ------------------------------------------------------------ tracing
    def _trace(self, entry: _Entry, inputs: list):
        """The pure function jax traces: swaps tracers into the live state, runs the step,
        records its effects into `entry.program`, restores the state, returns new arrays."""
        walk = self._pending
        self.trace_count += 1
        ctx = _TraceContext(self._name, set(walk.tindex))
        program, outputs = self._run_traced(walk, inputs, ctx)
        _check_leaks(ctx, self._name)
        entry.program = program
        return outputs

    def _run_traced(self, walk: _Walk, inputs: list, ctx: _TraceContext):
        tensors, n = walk.tensors, len(walk.tensors)
        saved_tensors = [
            (
                t._data,
                t._grad,
                t._grad_fn,
                t._output_nr,
                t._requires_grad,
                t._accumulator,
                t._version.value,
                t._retains_grad,
            )
            for t in tensors
        ]
        saved_objects = [_contents(o) if full else None for o, full in zip(walk.objects, walk.full)]
        saved_protocols = [walk.objects[j]._state_arrays() for j, _, _ in walk.protocols]
        try:
            for t, x in zip(tensors, inputs[:n]):
                t._data = x
                if t._grad_fn is not None:  # a non-leaf in the state enters as a constant
                    t._grad_fn, t._requires_grad = None, False
            arrays = inputs[n:]
            for owner, key, treedef, leaves, positions in walk.trees:
                it = iter(positions)
                new = [arrays[next(it)] if isinstance(x, jax.Array) else x for x in leaves]
                _set(
                    walk.objects[owner], key, new[0] if treedef is None else treedef.unflatten(new)
                )
            for j, treedef, positions in walk.protocols:
                tree = treedef.unflatten([arrays[p] for p in positions])
                walk.objects[j]._load_state_arrays(tree)
            treedef, leaves, positions = walk.args
            it = iter(positions)
            leaves = [
                arrays[next(it)] if isinstance(x, (jax.Array, np.ndarray)) else x for x in leaves
            ]
            args, kwargs = treedef.unflatten(leaves)
            del leaves
            tensor_entry = [(t._data, t._grad, t._requires_grad, t._version.value) for t in tensors]
            entry = [_contents(o) if full else None for o, full in zip(walk.objects, walk.full)]
            Tensor._jit_trace = ctx
            try:
                result = self._fn(*args, **kwargs)
            finally:
                Tensor._jit_trace = None
            del args, kwargs
            recorder = _Recorder(walk, inputs, ctx, self._name)
            recorder.record(tensor_entry, entry, result)
            return recorder.program, recorder.outputs
        finally:
            for t, s in zip(tensors, saved_tensors):
                (
                    t._data,
                    t._grad,
                    t._grad_fn,
                    t._output_nr,
                    t._requires_grad,
                    t._accumulator,
                    t._version.value,
                    t._retains_grad,
                ) = s
            for o, s in zip(walk.objects, saved_objects):
                if s is not None:
                    _restore(o, s)
            for (j, _, _), tree in zip(walk.protocols, saved_protocols):
                walk.objects[j]._load_state_arrays(tree)


def _difference(old, new) -> str:
    """Which leaf of the signature changed between two calls, in words."""
    (old_sig, old_where), (new_sig, new_where) = old, new
    changed = [i for i, (a, b) in enumerate(zip(old_sig, new_sig)) if a != b]
    if changed:
        i = changed[0]
        a, b = old_sig[i], new_sig[i]
        reason = f"{_render(new_where[i])} changed: {_entry_change(a, b)}"
        if len(changed) > 1:
            reason += f" (and {len(changed) - 1} more leaves)"
        if (
            a[0] == b[0] == "s"
            and isinstance(new_where[i], str)
            and new_where[i].startswith("argument")
        ):
            reason += (
                "; a Python number argument is a constant of the compiled program: pass "
                "torch.tensor(value) to make it an input instead"
            )
        return reason
    if len(old_sig) != len(new_sig):
        longer, where = (
            (new_sig, new_where) if len(new_sig) > len(old_sig) else (old_sig, old_where)
        )
        i = min(len(old_sig), len(new_sig))
        what = "appeared" if longer is new_sig else "disappeared"
        return f"{_render(where[i])} {what}"
    return "the signature changed"


def _entry_change(a, b) -> str:
    if a[0] == "T" and b[0] == "T":
        names = (
            "",
            "shape",
            "dtype",
            "weak_type",
            "requires_grad",
            "grad_fn",
            ".grad",
            "hooks",
            "post-accumulate hooks",
        )
        for k in range(1, len(a)):
            if a[k] != b[k]:
                if k in (1, 2):
                    return f"{_tensor_type(a)} -> {_tensor_type(b)}"
                if k == 6:
                    return ".grad None -> a tensor" if b[6] else ".grad a tensor -> None"
                if k == 5:
                    return "grad_fn " + ("None -> set" if b[5] else "set -> None")
                return f"{names[k]} {a[k]} -> {b[k]}"
    if a[0] == "s" and b[0] == "s":
        return f"{a[2]!r} -> {b[2]!r}"
    if a[0] == b[0] == "mode":
        return f"grad enabled {a[1]} -> {b[1]}, inference mode {a[2]} -> {b[2]}"
    return f"{_short(a)} -> {_short(b)}"


def _tensor_type(e) -> str:
    return f"{np.dtype(e[2]).name}[{', '.join(map(str, e[1]))}]"


def _short(e) -> str:
    tag = e[0]
    if tag == "T":
        return f"tensor {_tensor_type(e)}"
    if tag in ("t", "o"):
        return "a shared reference"
    if tag == "s":
        return repr(e[2])
    if tag == "a":
        return f"array {np.dtype(e[2]).name}[{', '.join(map(str, e[1]))}]"
    names = {
        "D": "a dict",
        "L": "a list",
        "O": "an object",
        "A": "arrays",
        "P": "state arrays",
        "args": "arguments",
        "S": "a value",
        "f": "a function",
        "x": "an object",
        "id": "an object",
    }
    return names.get(tag, tag)


def _first_leak(ctx: _TraceContext):
    """A weak reference to a tensor made inside the step that still holds a tracer."""
    for ref in ctx.created:
        t = ref()
        if t is not None and isinstance(t._data, _Tracer):
            return ref
    return None


def _check_leaks(ctx: _TraceContext, step_name: str) -> None:
    """Raises if a tensor made inside the step (holding a tracer) outlives the trace."""
    if _first_leak(ctx) is None:
        return
    gc.collect()  # reference cycles (a hook closing over its tensor) are not leaks
    ref = _first_leak(ctx)
    if ref is not None:
        t = ref()
        raise RuntimeError(
            errors.LEAKED_TENSOR.format(step=step_name, desc=_desc(t), where=_referrers(t))
        )


def _referrers(t: Tensor) -> str:
    """Where a leaked tensor is referenced from, as well as can be told. (No comprehension
    here may mention `t`: it would hold `t` in a closure cell and report it.)"""
    found = []
    for r in gc.get_referrers(t):
        if isinstance(r, types.FrameType):
            continue
        if isinstance(r, dict):
            owner = _dict_owner(r)
            for k, v in r.items():
                if v is t:
                    found.append(f"{owner}{k}" if owner.endswith(".") else f"{owner}{k!r}")
        elif isinstance(r, list):
            found.append("a list")
        elif isinstance(r, tuple):
            found.append("a tuple")
        elif isinstance(r, types.CellType):
            found.append("a closure variable")
        elif isinstance(r, Tensor):
            found.append("another tensor (e.g. its .grad)")
        else:
            found.append(f"a {type(r).__name__} object")
    return ", ".join(dict.fromkeys(found)) or "an object the garbage collector cannot name"


def _dict_owner(d: dict) -> str:
    for name, module in list(sys.modules.items()):
        if getattr(module, "__dict__", None) is d:
            return f"global variable of module {name}: "
    for r in gc.get_referrers(d):
        if getattr(r, "__dict__", None) is d:
            return f"attribute of a {type(r).__name__} object: ."
    return "a dict, key "


# ---------------------------------------------------------------- the public function
def jit(fn: Callable | None = None, *, modules=(), optimizers=(), tensors=()):
    """Compiles a stateful PyTorch-style step (zero_grad, forward, backward, optimizer step)
    into one `jax.jit` program.

    The step's state (parameters, their `.grad`s, optimizer state, module buffers, the
    tape's random key) is found automatically in its closure, in the globals it names and
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
