"""What one trace of a step recorded, and how it is written back after each call.

`Recorder` compares the state after the traced step with the state before it (Flax NNX's
`extract.get_updates`): new arrays of state tensors, version bumps, `.grad`s that appeared or
changed, reassigned attributes and container items, optimizer state. It turns them into a
`Program` of recipes over the compiled program's inputs and outputs, which `Program.replay`
writes into the live objects after every call (NNX's `update`).
"""

from __future__ import annotations

import copy

import jax

from .. import errors
from ..tensor import Tensor
from .discover import STATIC_TYPES, kind, opaque
from .walk import Walk, render

__all__ = ["contents", "Program", "Recorder", "restore_contents", "set_item"]

_Tracer = jax.core.Tracer


def contents(o) -> dict:
    if isinstance(o, dict):
        return dict(o)
    if isinstance(o, list):
        return dict(enumerate(o))
    return dict(o.__dict__)


def restore_contents(o, contents: dict) -> None:
    if isinstance(o, dict):
        o.clear()
        o.update(contents)
    elif isinstance(o, list):
        o[:] = list(contents.values())
    else:
        o.__dict__.clear()
        o.__dict__.update(contents)


def set_item(o, key, value) -> None:
    if isinstance(o, (dict, list)):
        o[key] = value
    else:
        o.__dict__[key] = value


# ---------------------------------------------------------------- the recorded program
class Program:
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

    def replay(self, walk: Walk, inputs: list, outputs: list):
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
            counters[id(tensors[i]._vc)] = (tensors[i]._vc, delta)
        for counter, delta in counters.values():
            counter.value += delta
        for i, r in self.grads:
            tensors[i]._grad = build(r)
        for i, requires_grad in self.requires:
            tensors[i]._requires_grad = requires_grad
        for j, op, key, r in self.containers:
            o = walk.objects[j]
            if op == "set":
                set_item(o, build(key), build(r))
            elif op == "del":
                k = build(key)
                del (o if isinstance(o, dict) else o.__dict__)[k]
            else:
                o[:] = [build(x) for x in r]
        for j, treedef, leaves in self.protocols:
            walk.objects[j]._load_state_arrays(treedef.unflatten([build(x) for x in leaves]))
        return build(self.result)


class Recorder:
    """Turns the state after a trace into a `Program` and the list of output arrays."""

    def __init__(self, walk: Walk, inputs: list, ctx, step_name: str):
        self.walk, self.ctx, self.step_name = walk, ctx, step_name
        self.program = Program()
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
        if isinstance(v, tuple) or not (type(v) in STATIC_TYPES or kind(type(v))):
            leaves, treedef = jax.tree_util.tree_flatten(v, is_leaf=opaque)
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
                    step=self.step_name, where=render(where), node=t._grad_fn.name()
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
            if t._vc.value != version:
                program.versions.append((i, t._vc.value - version))
            if t._grad_fn is not None:
                raise RuntimeError(
                    errors.GRAPH_IN_STATE.format(
                        step=self.step_name, where=render(walk.tpath[i]), node=t._grad_fn.name()
                    )
                )
            if t._grad is not grad:
                program.grads.append((i, self.recipe(t._grad, (walk.tpath[i], "grad", "."))))
            if t._requires_grad != requires_grad:
                program.requires.append((i, t._requires_grad))
        for j, o in enumerate(walk.objects):
            if not walk.full[j]:
                continue
            before, now = entry[j], contents(o)
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
