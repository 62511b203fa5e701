"""One walk of a call's state and arguments: flatten them into input arrays plus the
signature that selects (or builds) a compiled program (Flax NNX's `split`).

The signature is a flat list of hashable entries, one per leaf, tagged: "T" a tensor (its
shape, dtype, requires_grad, whether it has a grad_fn or a .grad, its hooks), "t" / "o" a
second reference to a tensor / an object already walked, "D" / "L" / "O" a dict / list /
object and its keys, "P" an optimizer's state arrays, "A" an immutable value holding
arrays, "S" a static value, "s" a Python scalar, "f" a function, "x" / "id" an object by
type / identity, "a" an array argument, "args" the arguments' structure, "mode" the grad
mode. A parallel "grad-blind" signature leaves out the `.grad`s, so that the first step of
a training loop (where the `.grad`s appear) can be told from a real change of structure.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from .. import errors
from ..tensor import Tensor
from .discover import PROTOCOL, STATIC_TYPES, discover_attributes, is_pytree, kind, opaque

__all__ = ["aval", "desc", "render", "Signature", "Walk"]

_REGISTRIES = ("_parameters", "_buffers", "_modules")


def render(where) -> str:
    """A readable path from the nested (parent, key, separator) tuples of a walk; a
    Module's registries read as PyTorch's names (`model.0.weight`)."""
    if not isinstance(where, tuple):
        return str(where)
    parent, key, sep = where
    if sep == "." and key in _REGISTRIES:
        return render(parent)
    if sep == "." or (isinstance(parent, tuple) and parent[1] in _REGISTRIES):
        return f"{render(parent)}.{key}"
    if isinstance(key, Tensor):
        key = f"<tensor {desc(key)}>"
    return f"{render(parent)}[{key!r}]"


def desc(t: Tensor) -> str:
    d = t._data
    shape = ", ".join(str(s) for s in d.shape)
    extra = ", requires_grad=True" if t._requires_grad else ""
    return f"shape [{shape}], dtype {np.dtype(d.dtype).name}{extra}"


def aval(a) -> tuple:
    return ("a", a.shape, a.dtype, getattr(a, "weak_type", False))


def _hook_ids(hooks: dict) -> tuple:
    return tuple(hooks) if hooks else ()


class Signature(NamedTuple):
    sig: list  # the entries that select a program
    where: list  # where each entry was found, to name it in messages
    blind: list  # the entries without the .grads
    blind_where: list
    grads: tuple  # which tensors (numbered without the .grads) have a .grad


class Walk:
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
        # The signature without the .grads: their entries are left out, a tensor's own
        # entry does not say whether it has one, and tensors are numbered without them.
        self.blind: list = []
        self.blind_where: list = []
        self.blind_index: dict = {}
        self.grads: list = []  # blind numbers of the tensors that have a .grad
        self._in_grad = 0

    def add(self, entry, where, blind=None) -> None:
        self.sig.append(entry)
        self.where.append(where)
        if not self._in_grad:
            self.blind.append(entry if blind is None else blind)
            self.blind_where.append(where)

    def signature(self) -> Signature:
        """What later calls compare against (it holds no tensor and no array)."""
        return Signature(self.sig, self.where, self.blind, self.blind_where, tuple(self.grads))

    # ------------------------------------------------------------ tensors
    def tensor(self, t: Tensor, where) -> int:
        i = self.tindex.get(id(t))
        if i is not None:
            self.add(("t", i), where, ("t", self.blind_index.get(id(t), "grad")))
            return i
        i = len(self.tensors)
        self.tindex[id(t)] = i
        self.tensors.append(t)
        self.tpath.append(where)
        if not self._in_grad:
            self.blind_index[id(t)] = len(self.blind_index)
        d, grad = t._data, t._grad
        entry = (
            "T",
            d.shape,
            d.dtype,
            getattr(d, "weak_type", False),
            t._requires_grad,
            t._grad_fn is not None,
            grad is not None,
            _hook_ids(t._hooks),
            _hook_ids(t._post_accumulate_hooks),
        )
        self.add(entry, where, entry[:6] + (None,) + entry[7:])
        if grad is not None:
            if not self._in_grad:
                self.grads.append(self.blind_index[id(t)])
            self._in_grad += 1
            try:
                self.tensor(grad, (where, "grad", "."))
            finally:
                self._in_grad -= 1
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
            if full and kind(type(o)) == PROTOCOL:
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
        return k if type(k) in STATIC_TYPES else ("id", id(k))

    def protocol(self, o, j, where) -> None:
        leaves, treedef = jax.tree_util.tree_flatten(o._state_arrays())
        positions = []
        for leaf in leaves:
            positions.append(len(self.arrays))
            self.arrays.append(leaf)
        self.protocols.append((j, treedef, positions))
        self.add(("P", treedef, tuple(aval(a) for a in leaves)), (where, "_state_arrays()", "."))

    def value(self, v, where, owner: int, key, full: bool) -> None:
        """An attribute, dict value or list item of a walked object."""
        cls = type(v)
        if cls in STATIC_TYPES:
            if full:
                self.add(("s", cls, v), where)
        elif isinstance(v, Tensor):
            self.tensor(v, where)
        elif cls is dict or cls is list or isinstance(v, (dict, list)) or kind(cls):
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
        elif is_pytree(v):
            leaves, treedef = jax.tree_util.tree_flatten(v, is_leaf=opaque)
            if any(isinstance(x, (jax.Array, Tensor)) or kind(type(x)) for x in leaves):
                self.tree(v, where, owner, key, leaves, treedef)
            else:
                self.add(("S", treedef, tuple(self.leaf_sig(x) for x in leaves)), where)
        else:
            self.add(("f", id(v)) if callable(v) else ("x", cls), where)

    def leaf_sig(self, x):
        if type(x) in STATIC_TYPES:
            return ("s", type(x), x)
        return ("f", id(x)) if callable(x) else ("x", type(x))

    def tree(self, v, where, owner, key, leaves, treedef) -> None:
        """An immutable value holding arrays (an optax state, a tuple): its arrays are
        inputs, and the value is rebuilt around tracers while tracing."""
        parts, positions = [], []
        for i, x in enumerate(leaves):
            if isinstance(x, Tensor):
                parts.append(("t", self.tensor(x, (where, i, "[]"))))
            elif kind(type(x)):
                self.obj(x, (where, i, "[]"))
                parts.append(("o", self.oindex[id(x)]))
            elif isinstance(x, jax.Array):
                positions.append(len(self.arrays))
                self.arrays.append(x)
                parts.append(aval(x))
            else:
                parts.append(self.leaf_sig(x))
        self.trees.append((owner, key, treedef, leaves, positions))
        self.add(("A", treedef, tuple(parts)), where)

    # ------------------------------------------------------------ arguments
    def arguments(self, args, kwargs, names, step_name, roots, seen) -> None:
        """The call's arguments: tensors and stateful objects join the state, arrays are
        inputs, Python values are part of the signature (one entry each, by name)."""
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=opaque)
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
            elif kind(type(x)):
                self.obj(x, where)
            elif isinstance(x, (jax.Array, np.ndarray)):
                positions.append(len(self.arrays))
                self.arrays.append(x)
                self.add(aval(x), where)
            elif type(x) in STATIC_TYPES:
                self.add(("s", type(x), x), where)
            else:
                discover_attributes(x, where, roots, seen)
                self.add(("id", id(x)), where)
        self.args = (treedef, leaves, positions)

    def inputs(self) -> list:
        return [t._data for t in self.tensors] + self.arrays
