"""`grad_fn._saved_<name>` and `_raw_saved_<name>`: what a node saved, under PyTorch's names.

PyTorch's nodes expose their saved values as attributes (MulBackward0._saved_self and
_saved_other, PowBackward0._saved_exponent, ExpBackward0._saved_result, SumBackward1's
_saved_dim and _saved_self_sym_sizes, ...). A tape node keeps arrays and the op's static
arguments; `SavedInfo` (attached by dispatch.py when it records a node) answers those
names from them: a saved input as the tensor it was (or None where PyTorch's node did not
save it), the result as a tensor on the node, static arguments and input sizes as Python
values. Reading a tensor after the graph was freed, or after an in-place change, raises
PyTorch's errors. The names are PyTorch's for the nodes listed here; other nodes answer
`self`/`other` and `result` for what they save, and their static arguments where the tape
uses PyTorch's argument name.

What it does not do: the values PyTorch saves that the tape never computes (max's indices,
index's index tensors as one tuple, the result of the ops whose tape rule recomputes it).
"""

from __future__ import annotations

import numpy as np

from .saved_hooks import pack_with, unpack_all, unpack_value

__all__ = ["SavedInfo", "SavedTensor"]

# node name -> the names of its (up to two) tensor inputs, where not ("self", "other")
_INPUT_NAMES = {
    "MmBackward0": ("self", "mat2"),
    "BmmBackward0": ("self", "mat2"),
    "PowBackward0": ("self", "exponent"),
    "PowBackward1": ("self", "exponent"),
    "GatherBackward0": ("self", "index"),
    "WhereBackward0": ("condition",),
    "MaskedFillBackward0": (None, "mask"),
}
# Ops whose node PyTorch builds from other inputs than the tape's (3.0 / x is x * (1/3)
# there; matmul saves reshaped operands; max(dim) and indexing save indices): their tensor
# inputs are not named.
_INPUTS_DIFFER = frozenset(
    ("rdiv", "rpow", "rsub", "square", "matmul", "matmul_t", "matmul_tc", "vm", "max_dim",
     "min_dim", "index")
)  # fmt: skip
# node name -> the inputs whose sizes (and numel, strides) PyTorch's node keeps
_SIZES = {
    name: ("self",)
    for name in (
        "SumBackward0", "SumBackward1", "MeanBackward0", "MeanBackward1", "ViewBackward0",
        "ExpandBackward0", "RepeatBackward0", "SqueezeBackward0", "DiagonalBackward0",
        "SelectBackward0", "SplitBackward0", "SplitWithSizesBackward0", "MaxBackward0",
        "SqueezeBackward1",
    )
}  # fmt: skip
_SIZES["MmBackward0"] = ("self", "mat2")
_NUMEL = frozenset(("MeanBackward0", "MeanBackward1"))
_STRIDES = frozenset(("MmBackward0",))
# Static arguments the tape names as PyTorch's node does (others differ and are left out).
_SAME_NAMED = frozenset(
    ("alpha", "correction", "dim", "keepdim", "dim0", "dim1", "dim2", "dims", "min", "max",
     "offset", "repeats")
)  # fmt: skip
_STATIC_DIFFERS = frozenset(("SqueezeBackward1", "StdBackward0", "LogSoftmaxBackward0"))


def _strides(shape) -> tuple:
    out, step = [], 1
    for n in reversed(shape):
        out.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(out))


class SavedInfo:
    """What one node saved, by PyTorch's attribute names.

    Args:
      cls: the Tensor class (tensors are made of saved arrays).
      plan: the node's recording plan (dispatch.py): its op, static arguments, PyTorch's
        saved positions and the positions its pullback keeps.
      input_types: each input's `functional.input_type`: ("array", shape, dtype) or
        ("scalar", type).
    """

    __slots__ = ("cls", "names")

    def __init__(self, cls, plan, input_types):
        self.cls = cls
        node_name, saved = plan.op.node, plan.torch_saved
        keep = () if plan.keeps_output else plan.rule.keep
        shapes = [t[1] if t[0] == "array" else () for t in input_types]
        names = {}
        tensor_names = _INPUT_NAMES.get(node_name, ("self", "other"))
        named = () if plan.op.name in _INPUTS_DIFFER else tensor_names[: len(shapes)]
        for i, name in enumerate(named):
            scalar_kept = input_types[i][0] == "scalar" and i in keep and bool(saved)
            if name is None:
                continue
            if (i in saved or scalar_kept) and i in keep:
                names[name] = ("input", keep.index(i), i)
            elif saved and not plan.keeps_output:
                names[name] = ("value", None)  # PyTorch's node has the slot, empty here
        if plan.keeps_output:
            names["result"] = ("result",)
        for name in _SIZES.get(node_name, ()):
            i = tensor_names.index(name)
            names[f"{name}_sym_sizes"] = ("value", tuple(int(n) for n in shapes[i]))
            if node_name in _NUMEL:
                names[f"{name}_sym_numel"] = ("value", int(np.prod(shapes[i], dtype=np.int64)))
            if node_name in _STRIDES:
                names[f"{name}_sym_strides"] = ("value", _strides(shapes[i]))
        if node_name not in _STATIC_DIFFERS:
            for k, v in plan.key:
                if k in _SAME_NAMED:
                    names[k] = ("value", v)
        self.names = names

    def attributes(self) -> list:
        return [f"_saved_{n}" for n in self.names] + [
            f"_raw_saved_{n}" for n, s in self.names.items() if s[0] != "value"
        ]

    def get(self, node, attr):
        """The value of `_saved_<name>` / `_raw_saved_<name>` on `node`, or raises
        AttributeError as PyTorch does for a name its node does not have."""
        raw = attr.startswith("_raw_saved_")
        name = attr[len("_raw_saved_") :] if raw else attr[len("_saved_") :]
        source = self.names.get(name)
        if source is None or (raw and source[0] == "value"):
            raise AttributeError(f"'{node.name()}' object has no attribute '{attr}'")
        if source[0] == "value":
            return source[1]
        node._check_saved()
        if raw:
            return SavedTensor(node, source, self)
        return self.tensor(node, source)

    def tensor(self, node, source):
        at = 0 if source[0] == "result" else source[1]
        value = unpack_value(node.saved_arrays()[at])
        if source[0] == "result":
            return self.cls._wrap(value, node, 0)
        for counter, version, info in node._checks:  # the input itself, while it lives
            t = info[4]() if info[4] is not None else None
            if t is not None and t._data is value and counter.value == version:
                return t
        return value if not hasattr(value, "shape") else self.cls._wrap(value)


class SavedTensor:
    """PyTorch's `torch._C._autograd.SavedTensor` (what `_raw_saved_<name>` returns):
    `register_hooks(pack, unpack)` packs the saved value now and unpacks it when read."""

    def __init__(self, node, source, info):
        self._node, self._source, self._info = node, source, info

    def register_hooks(self, pack_hook, unpack_hook) -> None:
        """Packs the saved tensor with `pack_hook` now; `unpack_hook` runs when backward
        (or `_saved_<name>`) reads it."""
        node = self._node
        tensor = self._info.tensor(node, self._source)
        at = 0 if self._source[0] == "result" else self._source[1]
        node.pullback.replace(at, pack_with(tensor, pack_hook, unpack_hook), unpack_all)
