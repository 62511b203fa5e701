"""What an op-table entry is: `Op`, the registry `OPS`, and PyTorch's save rules.

`ops.py` and `ops_nn.py` fill `OPS` with `register(...)` at import; `dispatch.py` runs the
entries. This module holds no entries and runs nothing. `result_rule` ties an op that
saves only its result to its output-saving VJP rule in `funcgrad.functional.saving_output`.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field

from ..functional import vjp_reads
from ..functional.saving_output import FROM_OUTPUT


@dataclass(frozen=True, eq=False)  # identity hash: ops are cache keys on the hot path
class Op:
    """One table entry.

    name: the table key. fn: the JAX function of the input arrays (static keyword
    arguments are hashable values). node: PyTorch's grad_fn name. saves: which tensors
    PyTorch saves ("none", "all", "cross" (operands 0 and 1, each for the other's
    gradient; a bias after them never), "result", "all+result", "div", "indices" (the
    last output only), "hidden" (an internal value: the inputs are kept but never
    version-checked), a tuple of input positions, or {position: positions}: an input saved
    only when one of those requires grad, as PyTorch's addmm saves mat1 only for mat2's
    gradient). differentiable: False for comparisons and integer results.
    multi: the op returns a tuple of outputs. view: the output is a view of input 0 in
    PyTorch (shares its version counter). sample: inputs for the table-wide gradient test.
    wide: the op makes int64 values from any input (indices, as PyTorch's are), so it
    always runs in JAX's 64-bit mode.
    """

    name: str
    fn: Callable
    node: str
    saves: str | tuple | dict = "none"
    differentiable: bool = True
    multi: bool = False
    view: bool = False
    wide: bool = False
    sample: dict = field(default_factory=dict, compare=False)


OPS: dict[str, Op] = {}
# What PyTorch's (values, indices) ops return: max(dim), topk, sort, median(dim).
ReturnTypes = namedtuple("ReturnTypes", ["values", "indices"])


def register(name, fn, node, saves="none", *, sample=None, **kw) -> None:
    """Adds the entry `name` to `OPS` (see `Op` for the arguments)."""
    OPS[name] = Op(name, fn, node, saves, sample=sample or {}, **kw)


def S(*inputs, positive=False, **static):
    """A test sample: input shapes (tuples), python scalars, or ("bool"|"int", shape, high)."""
    return {"inputs": inputs, "static": static, "positive": positive}


def saved_positions(saves, n, requires) -> tuple[tuple, bool]:
    """Input positions whose values PyTorch saves, and whether the result is saved.

    Args:
      saves: the op's `saves` rule.
      n: the number of inputs.
      requires: per input, whether it requires grad.

    Example:
        >>> saved_positions("cross", 2, (True, False))  # x * c saves c, not x
        ((1,), False)
    """
    if saves == "none":
        return (), False
    if saves == "hidden":
        return tuple(range(n)), False
    if saves in ("all", "result", "all+result", "indices"):
        return tuple(range(n)), saves != "all"
    if saves == "cross":  # x @ w saves x only if w requires grad, and w only if x does
        return tuple(i for i in (0, 1) if i < n and requires[1 - i]), False
    if saves == "div":
        return tuple(i for i in range(n) if i == 1 or requires[1]), False
    if isinstance(saves, dict):  # {position: the positions whose grads need it}
        return tuple(i for i, users in saves.items() if any(requires[u] for u in users)), False
    return tuple(i for i in saves if i < n), False


def backward_saves(backward_fn: Callable, input_types: tuple) -> dict:
    """What the recorded backward of a node (create_graph) saves, as an `Op.saves` dict:
    each input (the node's kept values, then the incoming grads) for the gradients whose
    VJP reads it (`functional.vjp_reads`), as PyTorch's double-backward nodes save: the
    backward of `x @ w` w.r.t. `x` is `g @ w.T`, whose VJP needs `g` only for `w`'s
    gradient and `w` only for `g`'s; an add's backward saves nothing.

    Example:
        >>> import jax.numpy as jnp
        >>> g = ("array", (2, 4), jnp.dtype("float32"))
        >>> w = ("array", (3, 4), jnp.dtype("float32"))
        >>> backward_saves(lambda w, g: (g @ w.T,), (w, g))  # w for g's grad, g for w's
        {0: (1,), 1: (0,)}
    """
    reads = vjp_reads(backward_fn, input_types, multi=True)
    return {i: tuple(j for j, r in enumerate(reads) if i in r) for i in range(len(input_types))}


# The names PyTorch's nodes give the saved inputs of these ops (by position): a backward
# checks the saved tensors in the order of their names, so when several were changed in
# place, the error names the first in that order. (Single-input ops that also save their
# result call the input "self": the result, "result", is checked first.)
SAVED_NAMES = {
    **dict.fromkeys(
        "mul div atan2 maximum minimum remainder hypot logaddexp fmod xlogy dist cross "
        "vdot".split(),
        ("self", "other"),
    ),
    # vm: PyTorch computes a.unsqueeze(0).mm(b).squeeze_(0), so its node is an mm's.
    **dict.fromkeys("mm bmm matmul matmul_t matmul_tc vm".split(), ("self", "mat2")),
    "pow_tensor": ("self", "exponent"),
    "gather": ("self", "index"),
    "take": ("self", "index"),
    "masked_select": ("self", "mask"),
    "lerp_tensor": ("self", "end", "weight"),
    "clamp_tensor": ("self", "min", "max"),
    "clamp_min_tensor": ("self", "min"),
    "clamp_max_tensor": ("self", "max"),
    "cdist": ("x1", "x2"),
    "det": ("A",),
}


# Ops whose PyTorch node saves its second operand before its first (the order its
# formulas name them: MulBackward0's gradient of self uses other first), so that
# saved-tensor pack hooks see `other` (or `mat2`, the index) first and unpack it first.
PACKS_SECOND_FIRST = frozenset(
    (
        "mul", "div", "remainder", "maximum", "minimum", "atan2", "pow_tensor",
        "mm", "bmm", "matmul", "gather",
    )
)  # fmt: skip


def pack_order(op: Op, positions: tuple) -> tuple:
    """The order in which PyTorch's node packs the saved input `positions` (indices into
    them), for saved-tensor hooks.

    Example:
        >>> from funcgrad.tape.ops import OPS
        >>> pack_order(OPS["mul"], (0, 1)), pack_order(OPS["sin"], (0,))
        ((1, 0), (0,))
    """
    order = tuple(range(len(positions)))
    if op.name in PACKS_SECOND_FIRST and positions[:2] == (0, 1):
        return (1, 0, *order[2:])
    return order


def result_rule(op: Op, key: tuple) -> Callable | None:
    """How the node of `op` computes its gradient from the op's result alone, when PyTorch
    saves only the result (relu, tanh, exp, softmax, ...): the functional core's rule
    (`saving_output.FROM_OUTPUT`, looked up by op name) with the static arguments `key`
    bound, so the node keeps the result instead of the input. None for every other op.

    Example:
        >>> from funcgrad.tape.ops import OPS
        >>> result_rule(OPS["sin"], ()) is None, callable(result_rule(OPS["relu"], ()))
        (True, True)
    """
    if op.saves != "result" or op.multi or op.name not in FROM_OUTPUT:
        return None
    rule = FROM_OUTPUT[op.name]
    return functools.partial(rule, **dict(key)) if key else rule
