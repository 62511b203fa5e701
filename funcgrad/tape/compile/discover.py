"""What is state: the tensors and stateful objects a step reads, found by walking.

Roots are the objects declared with `modules=`, `optimizers=`, `tensors=`, the tape's random
generator, and what the step's closure cells and the globals its code names hold (also
through the user functions it calls, a few levels deep). A stateful object is a module
(walked through its attributes) or an optimizer that exposes `_state_arrays()` /
`_load_state_arrays()`. Library code (jax, numpy, funcgrad, ...) is not walked.
"""

from __future__ import annotations

import functools
import inspect
import types

import jax
import numpy as np

from ..random import Generator
from ..tensor import Tensor

__all__ = [
    "discover",
    "discover_attributes",
    "discover_function",
    "is_pytree",
    "kind",
    "MODULE",
    "opaque",
    "parameter_names",
    "PROTOCOL",
    "STATIC_TYPES",
]

STATIC_TYPES = frozenset(
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
MODULE, PROTOCOL = 1, 2
_kinds: dict = {}


def kind(cls) -> int:
    """MODULE: walk the object's attributes; PROTOCOL: an optimizer exposing its state
    as `_state_arrays()` / `_load_state_arrays()`; 0: not a stateful object."""
    kind = _kinds.get(cls)
    if kind is None:
        if callable(getattr(cls, "_state_arrays", None)) and callable(
            getattr(cls, "_load_state_arrays", None)
        ):
            kind = PROTOCOL
        elif issubclass(cls, Generator) or callable(getattr(cls, "named_parameters", None)):
            kind = MODULE
        elif callable(getattr(cls, "step", None)) and callable(getattr(cls, "zero_grad", None)):
            kind = MODULE  # an optimizer without the state protocol: walk its attributes
        else:
            kind = 0
        _kinds[cls] = kind
    return kind


_pytree_types: dict = {}


def is_pytree(v) -> bool:
    """Whether v's type is a pytree node (a tuple, a NamedTuple, an optax state, a
    registered dataclass), cached per type: pytree registration is per type."""
    cls = type(v)
    known = _pytree_types.get(cls)
    if known is None:
        treedef = jax.tree_util.tree_structure(v, is_leaf=lambda x: x is not v and opaque(x))
        known = _pytree_types[cls] = not (treedef.num_nodes == 1 and treedef.num_leaves == 1)
    return known


def opaque(x) -> bool:
    """Leaves of pytree flattening: tensors and stateful objects are not looked into."""
    return isinstance(x, Tensor) or kind(type(x)) != 0


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


def discover(value, where, roots: list, seen: set, depth: int = 0) -> None:
    """Adds the tensors and stateful objects reachable from a closure or global value."""
    if id(value) in seen or depth > 4:
        return
    if isinstance(value, Tensor) or kind(type(value)):
        seen.add(id(value))
        roots.append((value, where))
    elif isinstance(value, (list, tuple)):
        seen.add(id(value))
        for i, x in enumerate(value):
            discover(x, (where, i, "[]"), roots, seen, depth + 1)
    elif isinstance(value, dict):
        seen.add(id(value))
        for k, x in value.items():
            discover(x, (where, k, "[]"), roots, seen, depth + 1)
    elif isinstance(value, types.FunctionType) and not _is_library(value):
        seen.add(id(value))
        discover_function(value, roots, seen, depth + 1)
    elif isinstance(value, types.MethodType):
        discover(value.__self__, where, roots, seen, depth)
        discover(value.__func__, where, roots, seen, depth)
    elif isinstance(value, functools.partial):
        discover(value.func, where, roots, seen, depth)
        discover(value.args, where, roots, seen, depth)
        discover(value.keywords, where, roots, seen, depth)


def discover_function(fn, roots, seen, depth) -> None:
    code = fn.__code__
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell (a name assigned later in the enclosing function)
            continue
        discover(value, name, roots, seen, depth)
    globals_ = fn.__globals__
    for name in _global_names(code):
        if name in globals_:
            discover(globals_[name], name, roots, seen, depth)


def discover_attributes(obj, where, roots, seen) -> None:
    """A plain object (a trainer holding a model and an optimizer): one level of attributes."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    for name, value in getattr(obj, "__dict__", {}).items():
        discover(value, (where, name, "."), roots, seen, 1)


def parameter_names(fn) -> list:
    """The names of fn's positional parameters, to name arguments in retrace messages."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
