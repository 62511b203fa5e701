"""Pytrees as torch.func sees them, for the transforms' arguments and results.

Tuples (and namedtuples), lists and dicts (and OrderedDicts) are containers; everything
else is a leaf, `None` included. Dicts keep their insertion order (JAX's own pytrees sort
dict keys and drop `None`, which would reorder a model's parameter dict and misalign
`in_dims`), so the transforms flatten with this module and hand JAX flat lists of arrays.
`spec_repr` and `spec_pprint` print a structure the way PyTorch's error messages do.

What this module does not do: register custom pytree nodes (PyTorch's
`register_pytree_node`), or know anything about tensors.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any


@dataclasses.dataclass(frozen=True)
class Spec:
    """The structure of a pytree: a container type, its keys (dicts), its children."""

    type: type | None  # None: a leaf
    keys: tuple = ()
    children: tuple = ()

    @property
    def is_leaf(self) -> bool:
        return self.type is None

    @property
    def num_leaves(self) -> int:
        return 1 if self.is_leaf else sum(c.num_leaves for c in self.children)


LEAF = Spec(None)


def is_container(x: Any) -> bool:
    return isinstance(x, (tuple, list, dict))


def flatten(tree: Any) -> tuple[list, Spec]:
    """(leaves, spec), leaves in order (dicts in insertion order).

    Example:
        >>> leaves, spec = flatten({"b": (1, None), "a": [2]})
        >>> leaves, unflatten(spec, [10, 20, 30])
        ([1, None, 2], {'b': (10, 20), 'a': [30]})
    """
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list) -> Spec:
    if isinstance(tree, dict):
        keys = tuple(tree)
        return Spec(type(tree), keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if isinstance(tree, (tuple, list)):
        return Spec(type(tree), (), tuple(_flatten(x, leaves) for x in tree))
    leaves.append(tree)
    return LEAF


def unflatten(spec: Spec, leaves) -> Any:
    """The pytree of structure `spec` with the given leaves (the inverse of `flatten`)."""
    it = iter(leaves)
    return _unflatten(spec, it)


def _unflatten(spec: Spec, it) -> Any:
    if spec.is_leaf:
        return next(it)
    children = [_unflatten(c, it) for c in spec.children]
    if issubclass(spec.type, dict):
        out = OrderedDict() if spec.type is OrderedDict else {}
        out.update(zip(spec.keys, children))
        return out if spec.type in (dict, OrderedDict) else _rebuild(spec.type, out)
    if spec.type is list:
        return children
    if spec.type is tuple:
        return tuple(children)
    if hasattr(spec.type, "_fields"):
        return spec.type(*children)
    return _rebuild(spec.type, children)


def _rebuild(cls, value):
    try:
        return cls(value)
    except TypeError:  # a container subclass without a plain constructor
        return value


def tree_map(fn, tree: Any) -> Any:
    leaves, spec = flatten(tree)
    return unflatten(spec, [fn(x) for x in leaves])


def broadcast_prefix(prefix: Any, spec: Spec) -> list | None:
    """One entry of `prefix` per leaf of `spec`, PyTorch's `_broadcast_to_and_flatten`: a
    non-container in `prefix` (an int, None) applies to a whole subtree; containers must
    match. None if they do not."""
    out: list = []
    return out if _broadcast(prefix, spec, out) else None


def _broadcast(prefix: Any, spec: Spec, out: list) -> bool:
    if not is_container(prefix):
        out.extend([prefix] * spec.num_leaves)
        return True
    if spec.is_leaf or _kind(prefix) != _kind_of_type(spec.type):
        return False
    if isinstance(prefix, dict):
        if set(prefix) != set(spec.keys):
            return False
        return all(_broadcast(prefix[k], c, out) for k, c in zip(spec.keys, spec.children))
    if len(prefix) != len(spec.children):
        return False
    return all(_broadcast(p, c, out) for p, c in zip(prefix, spec.children))


def _kind(x: Any) -> type:
    return _kind_of_type(type(x))


def _kind_of_type(t: type) -> type:
    for base in (dict, list, tuple):
        if issubclass(t, base):
            return base
    return t


# ---------------------------------------------------------------- PyTorch's printing
class _Star:
    def __repr__(self) -> str:
        return "*"


def spec_pprint(spec: Spec) -> str:
    """PyTorch's `treespec_pprint`: the structure with `*` for each leaf, e.g. `(*, {'a': *})`."""
    return repr(unflatten(spec, [_Star()] * spec.num_leaves))


def spec_repr(spec: Spec, indent: int = 0) -> str:
    """PyTorch's `repr(TreeSpec)`, e.g. `TreeSpec(tuple, None, [*,\\n  *])`."""
    if spec.is_leaf:
        return "*"
    if hasattr(spec.type, "_fields"):
        name, context = "namedtuple", repr(spec.type)
    else:
        name = spec.type.__name__
        context = repr(list(spec.keys)) if issubclass(spec.type, dict) else "None"
    children = ""
    if spec.children:
        indent += 2
        children = spec_repr(spec.children[0], indent)
        children += "," if len(spec.children) > 1 else ""
        children += ",".join("\n" + " " * indent + spec_repr(c, indent) for c in spec.children[1:])
    return f"TreeSpec({name}, {context}, [{children}])"
