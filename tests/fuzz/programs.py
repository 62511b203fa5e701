"""Random tape programs: a small IR, a hypothesis strategy that draws it, and an interpreter.

A program is a list of instructions over numbered *slots* (tensors). It is interpreted
twice, once with `lib = torch` and once with `lib = funcgrad.tape`, from the same NumPy
data, and everything the program can observe is recorded: every instruction's exception
(type and message), `.grad` of every leaf after each backward (so partial updates left by
a failing backward show), what hooks saw, and at the end every slot's value, `.grad`,
`requires_grad`, `is_leaf`, `retains_grad` and `grad_fn` name. `torch_twin.assert_same`
(with `FUZZ_TOLERANCE`) then checks funcgrad's record against PyTorch's. PyTorch is the
only oracle: nothing here knows an expected number.

The generator tracks each slot's shape with a *shadow*: a zero tensor in real torch on
which every op is replayed (cheap, no autograd), so ops are drawn valid for their input
shapes. An op the shadow rejects is kept with a small probability: the program then
checks that both libraries raise the same error. Shapes come from a small fixed set so
that funcgrad's per-shape jit compiles are cached across programs.

Known, intentional differences (not generated or not compared, each on purpose):

- Dtypes: leaves are float32, float64, int32 or int64 (PyTorch's default for integer
  data), and every dtype is compared exactly. Ops take float inputs first; the second
  operand of a binary op is sometimes an integer tensor (mixed-dtype promotion). Integer
  leaves are also drawn with requires_grad=True, to check that they cannot require grad.
- In-place through views is drawn (in-place ops on views, of bases with views, and index
  assignment through chains of views); a write through a view whose base has another
  view of it as the op's other operand is not (the operand always comes from another
  storage group). Multi-output views (split, unbind) are not drawn.
- Strides: funcgrad has no memory layout, so `.view()` is drawn only on tensors that are
  contiguous in PyTorch. A `reshape` (or `flatten`) of a non-contiguous tensor is a copy
  in PyTorch (CloneBackward0 + UnsafeViewBackward0) and a view in funcgrad: its `grad_fn`
  name is not compared, it is not drawn under no_grad (a view made there requires grad, a
  copy does not), and the generator takes every reshape as a view (no in-place op on it).
  A matrix product of shapes that do not fit is drawn only on contiguous operands:
  PyTorch folds a batch into rows only when its strides allow (else it runs bmm), and its
  error message names the kernel it ran; funcgrad always folds.
- Double backward: funcgrad names the nodes of a recorded pullback `XBackwardBackward0`,
  PyTorch names the ops of its backward formula, so `grad_fn` names are not compared on
  tensors made by a backward with `create_graph=True` (values, requires_grad and is_leaf
  are). And `create_graph=True` is not drawn with `retain_graph=False`: PyTorch's backward
  formulas may reuse a forward output (1/x's is -grad * result**2), so differentiating the
  result again goes through the freed forward node and raises; funcgrad's pullbacks are
  functions of the inputs, so its second-order graph does not pass through freed nodes.
  For the same reason no in-place op is drawn after a backward with create_graph=True:
  which tensors PyTorch's double-backward nodes save (and so which in-place changes make
  them fail) depends on each op's formula; funcgrad's recorded pullback keeps its own.
- Aliasing of autograd.grad results: PyTorch may return one tensor object for several
  inputs (AddBackward0 passes its grad through to both sides, a grad w.r.t. an output is
  the grad_output itself), so an in-place change of one result changes the others.
  funcgrad returns the same object only for the same input given twice. No in-place op is
  drawn on a result of autograd.grad.
- In-place changes of a batched matmul's inputs: PyTorch saves them folded, expanded or
  transposed inside matmul (so its version error names another shape, or, for an expanded
  copy, there is no error), and its result may be a view of an internal tensor; funcgrad
  saves the inputs and returns a new tensor. No in-place op is drawn on an input or the
  result of a matmul with a 3-D or larger operand.
- NaN: where an op's gradient branches on a comparison (maximum, max, relu), PyTorch and
  JAX route a NaN differently (PyTorch's maximum passes the grad to both sides, JAX's to
  neither). The programs do not make NaNs: divisions are by |y| + 0.5 and fractional
  powers are of |x| + 0.5.
- `sgn` is not drawn: PyTorch returns its (zero) gradient as a ZeroTensor, which
  `numpy()` refuses, so the observer cannot read it (test_ops_more.py compares it).
- A grad_outputs entry of the wrong shape after the first: PyTorch's `_make_grads` reports
  it with `grads.index(grad)`, which compares tensors with `==` and raises "Boolean value
  of Tensor with more than one value is ambiguous" instead of its shape message (a
  PyTorch bug); funcgrad reports the shapes. Wrong shapes are drawn only at position 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from torch_twin import Raised, observe  # the records the parity tests use

from funcgrad.tape import indexing

# ================================================================ the IR


@dataclasses.dataclass(frozen=True)
class Leaf:
    """`v = lib.tensor(data(shape, seed, kind), requires_grad=...)`; kind "u": uniform in
    (-1, 1); "i": small integers as floats (zeros and ties); "d": uniform, float64; "int":
    an int32 tensor; "long": an int64 tensor."""

    shape: tuple
    seed: int
    requires_grad: bool
    kind: str = "u"


@dataclasses.dataclass(frozen=True)
class Call:
    """`v = OPS[op](lib, *slots, **params)` (optionally under no_grad); ops with several
    outputs fill several slots."""

    op: str
    args: tuple
    params: tuple = ()
    no_grad: bool = False


@dataclasses.dataclass(frozen=True)
class InPlace:
    """`slot.<op>_(...)`; `arg` is a number, a slot (an int wrapped in `Ref`), or None."""

    target: int
    op: str
    arg: Any = None
    no_grad: bool = False


@dataclasses.dataclass(frozen=True)
class Ref:
    slot: int


@dataclasses.dataclass(frozen=True)
class Detach:
    src: int


@dataclasses.dataclass(frozen=True)
class Backward:
    """`root.backward(gradient, retain_graph, create_graph, inputs)`; gradient is a
    (shape, seed) pair drawn from NumPy, or None."""

    root: int
    gradient: Any = None
    retain_graph: Any = None
    create_graph: bool = False
    inputs: Any = None


@dataclasses.dataclass(frozen=True)
class Grad:
    """`autograd.grad(outputs, inputs, grad_outputs, ...)`; results fill len(inputs) slots."""

    outputs: tuple
    inputs: tuple
    grad_outputs: Any = None
    retain_graph: Any = None
    create_graph: bool = False
    allow_unused: bool = False


@dataclasses.dataclass(frozen=True)
class Hook:
    """`slot.register_hook(fn)`; kind "scale": g * 2, "record": log g, return None."""

    target: int
    kind: str


@dataclasses.dataclass(frozen=True)
class Read:
    """Reads a slot's value in the middle of the program, as user code does: kind "repr"
    (`repr(slot)`, as print does), "item" (`slot.item()`, its value recorded; a slot of
    more than one element raises). With lazy segments on, each ends a pending segment."""

    target: int
    kind: str


@dataclasses.dataclass(frozen=True)
class Branch:
    """Control flow on a value: `v = slot * 2 if bool(slot.sum() > 0) else slot - 1`."""

    src: int


@dataclasses.dataclass(frozen=True)
class RetainGrad:
    target: int


@dataclasses.dataclass(frozen=True)
class ClearGrad:
    """`slot.grad = None` ("none") or `slot.grad.zero_()` ("zero"), as zero_grad does."""

    target: int
    how: str = "none"


@dataclasses.dataclass(frozen=True)
class Program:
    instructions: tuple

    def size(self) -> int:
        return len(self.instructions)

    def source(self) -> str:
        """The program as Python-like text, for reading a failure."""
        return "\n".join(_source(i, ins) for i, ins in enumerate(self.instructions))


def _source(i, ins) -> str:
    return f"# {i}: {ins!r}"


# ================================================================ data


def data(shape, seed, kind="u") -> np.ndarray:
    """Deterministic NumPy data, so both libraries see the same numbers."""
    rng = np.random.default_rng(seed)
    if kind == "u":
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    if kind == "i":
        return rng.integers(-2, 3, shape).astype(np.float32)
    if kind == "d":
        return rng.uniform(-1.0, 1.0, shape)  # float64
    return rng.integers(-3, 4, shape).astype(np.int64 if kind == "long" else np.int32)


def mask(shape, seed) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=shape) < 0.5


# ================================================================ the ops
# Each op: run(lib, *tensors, **params). Written once with PyTorch's Tensor API, so the
# same code runs on torch and on funcgrad.tape.


def _safe_log(lib, x):
    return (x.abs() + 1).log()


def _safe_sqrt(lib, x):
    return (x.abs() + 1e-2).sqrt()


def _index(lib, x, key):
    return x[_decode_key(lib, key)]


def _decode_key(lib, key):
    """The fuzzer's index key (index arrays and masks given by value) through the tape's
    index codec, with the index tensors made by `lib`."""
    index, arrays = [], []
    for k in key:
        if isinstance(k, tuple) and k[0] in ("array", "mask"):
            values = np.array(k[1], np.int64) if k[0] == "array" else mask(k[1], k[2])
            index.append(("array", len(arrays)))
            arrays.append(lib.tensor(values))
        else:
            index.append(k)
    return indexing.decode(tuple(index), arrays)


OPS = {
    # unary, elementwise
    "neg": lambda lib, x: -x,
    "exp": lambda lib, x: x.exp(),
    "log": _safe_log,
    "sin": lambda lib, x: x.sin(),
    "cos": lambda lib, x: lib.cos(x),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: lib.sigmoid(x),
    "relu": lambda lib, x: x.relu(),
    "sqrt": _safe_sqrt,
    "abs": lambda lib, x: x.abs(),
    "pow": lambda lib, x, e: x**e if e >= 1 or e == 0 else (x.abs() + 0.5) ** e,
    "add_scalar": lambda lib, x, c: x + c,
    "rsub_scalar": lambda lib, x, c: c - x,
    "mul_scalar": lambda lib, x, c: c * x,
    "div_scalar": lambda lib, x, c: x / c,
    "rdiv_scalar": lambda lib, x, c: c / (x.abs() + 0.5),
    "clamp": lambda lib, x, min, max: x.clamp(min=min, max=max),
    "softmax": lambda lib, x, dim: x.softmax(dim),
    "log_softmax": lambda lib, x, dim: lib.log_softmax(x, dim),
    "detach_op": lambda lib, x: x.detach(),
    "clone": lambda lib, x: x.clone(),
    # binary, broadcasting
    "add": lambda lib, x, y: x + y,
    "sub": lambda lib, x, y: x - y,
    "mul": lambda lib, x, y: x * y,
    "safe_div": lambda lib, x, y: x / (y.abs() + 0.5),
    "pow_tensor": lambda lib, x, y: (x.abs() + 0.5) ** y,
    "maximum": lambda lib, x, y: lib.maximum(x, y),
    "where": lambda lib, x, y: lib.where(x > 0, x, y),
    "matmul": lambda lib, x, y: x @ y,
    # reductions
    "sum": lambda lib, x: x.sum(),
    "sum_dim": lambda lib, x, dim, keepdim: x.sum(dim, keepdim=keepdim),
    "mean": lambda lib, x: x.mean(),
    "mean_dim": lambda lib, x, dim, keepdim: x.mean(dim, keepdim),
    "max": lambda lib, x: x.max(),
    "min": lambda lib, x: x.min(),
    "max_dim": lambda lib, x, dim, keepdim: tuple(x.max(dim, keepdim)),
    "min_dim": lambda lib, x, dim, keepdim: tuple(x.min(dim=dim, keepdim=keepdim)),
    "norm": lambda lib, x: x.norm(),
    "norm_dim": lambda lib, x, dim: x.norm(dim=dim),
    # shapes and views
    "reshape": lambda lib, x, shape: x.reshape(shape),
    "view": lambda lib, x, shape: x.view(*shape),
    "transpose": lambda lib, x, d0, d1: x.transpose(d0, d1),
    "permute": lambda lib, x, dims: x.permute(*dims),
    "t": lambda lib, x: x.t(),
    "squeeze": lambda lib, x: x.squeeze(),
    "squeeze_dim": lambda lib, x, dim: x.squeeze(dim),
    "unsqueeze": lambda lib, x, dim: x.unsqueeze(dim),
    "expand": lambda lib, x, shape: x.expand(*shape),
    "flatten": lambda lib, x, start, end: x.flatten(start, end),
    "index": _index,
    # several tensors
    "cat": lambda lib, *xs, dim: lib.cat(list(xs), dim),
    "stack": lambda lib, *xs, dim: lib.stack(xs, dim=dim),
    # the wider surface: more elementwise math, activations, scans and shapes
    "sinh": lambda lib, x: x.sinh(),
    "atan": lambda lib, x: lib.atan(x),
    "asinh": lambda lib, x: x.asinh(),
    "erfc": lambda lib, x: lib.erfc(x),
    "exp2": lambda lib, x: x.exp2(),
    "trunc": lambda lib, x: (x * 2).trunc(),
    "logsigmoid": lambda lib, x: lib.nn.functional.logsigmoid(x),
    "softplus": lambda lib, x, beta: lib.nn.functional.softplus(x, beta),
    "mish": lambda lib, x: lib.nn.functional.mish(x),
    "hardtanh": lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 0.5),
    "selu": lambda lib, x: lib.selu(x),
    "clamp_min": lambda lib, x, c: x.clamp_min(c),
    "cumprod": lambda lib, x, dim: x.cumprod(dim),
    "logcumsumexp": lambda lib, x, dim: lib.logcumsumexp(x, dim),
    "logaddexp": lambda lib, x, y: lib.logaddexp(x, y),
    "lerp": lambda lib, x, y: x.lerp(y, 0.3),
    "clamp_tensor": lambda lib, x, y: x.clamp(min=y),
    "addcmul": lambda lib, x, y: x.addcmul(y, y, value=0.5),
    "dist": lambda lib, x, y: lib.dist(x, y),
    "nansum": lambda lib, x: x.nansum(),
    "roll": lambda lib, x, shifts, dims: x.roll(shifts, dims),
    "movedim": lambda lib, x, src, dst: x.movedim(src, dst),
    "repeat_interleave": lambda lib, x, n, dim: x.repeat_interleave(n, dim=dim),
    "tril": lambda lib, x, d: x.tril(d),
    "diagonal": lambda lib, x, offset: x.diagonal(offset, 0, -1),
}

UNARY = [
    "neg", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "abs", "pow",
    "add_scalar", "rsub_scalar", "mul_scalar", "div_scalar", "rdiv_scalar", "clamp",
    "softmax", "log_softmax", "detach_op", "clone",
    "sinh", "atan", "asinh", "erfc", "exp2", "trunc", "logsigmoid", "softplus", "mish",
    "hardtanh", "selu", "clamp_min", "cumprod", "logcumsumexp",
]  # fmt: skip
BINARY = ["add", "sub", "mul", "safe_div", "pow_tensor", "maximum", "where", "logaddexp",
          "lerp", "clamp_tensor", "addcmul", "dist"]  # fmt: skip
REDUCE = ["sum", "sum_dim", "mean", "mean_dim", "max", "min", "max_dim", "min_dim", "norm",
          "norm_dim", "nansum"]  # fmt: skip
SHAPE = ["reshape", "view", "transpose", "permute", "t", "squeeze", "squeeze_dim", "unsqueeze",
         "expand", "flatten", "index", "roll", "movedim", "repeat_interleave", "tril",
         "diagonal"]  # fmt: skip
MULTI = ["cat", "stack", "matmul"]

INPLACE = {
    "add_": lambda x, a: x.add_(a),
    "sub_": lambda x, a: x.sub_(a),
    "mul_": lambda x, a: x.mul_(a),
    "div_": lambda x, a: x.div_(a),
    "zero_": lambda x, a: x.zero_(),
    "clamp_": lambda x, a: x.clamp_(min=a),
    "exp_": lambda x, a: x.exp_(),
    "relu_": lambda x, a: x.relu_(),
    "sigmoid_": lambda x, a: x.sigmoid_(),
    "tanh_": lambda x, a: x.tanh_(),
    "neg_": lambda x, a: x.neg_(),
    "pow_": lambda x, a: x.pow_(a),
    "copy_": lambda x, a: x.copy_(a),
    "setitem": lambda x, a: x.__setitem__(0, a),
    "cos_": lambda x, a: x.cos_(),
    "sin_": lambda x, a: x.sin_(),
    "abs_": lambda x, a: x.abs_(),
    "square_": lambda x, a: x.square_(),
    "trunc_": lambda x, a: x.trunc_(),
    "clamp_min_": lambda x, a: x.clamp_min_(a),
    # through views (x[0][0] = a is PyTorch's chained index assignment)
    "setitem_chain": lambda x, a: x[0].__setitem__(0, a),
    "select_mul_": lambda x, a: x.select(-1, 0).mul_(a),
    "transpose_add_": lambda x, a: x.transpose(0, -1).add_(a),
    "slice_fill_": lambda x, a: x[..., :1].fill_(a),
}

# Leaf shapes: few, so funcgrad's per-shape compiles are shared by many programs.
SHAPES = [(), (3,), (1,), (2, 3), (1, 3), (2, 1), (0, 3), (2, 1, 3)]

# ================================================================ the generator


@dataclasses.dataclass
class _Slot:
    shadow: Any  # a torch zero tensor of the slot's shape and dtype, or None if dead
    requires_grad: bool  # best guess, to bias the choices
    is_leaf: bool
    group: int  # slots sharing storage (views, detach aliases) share a group
    is_view: bool
    contiguous: bool
    made_by_leaf: bool = False  # a Leaf instruction's tensor (surely a leaf)


class _State:
    def __init__(self):
        self.slots: list[_Slot] = []
        self.no_inplace_groups: set[int] = set()
        self.created_graph = False  # a backward with create_graph=True has been drawn
        self.nonleaf_hooked = False  # a non-leaf has a hook or retains its grad
        self.next_group = 0

    def new_group(self) -> int:
        self.next_group += 1
        return self.next_group

    def live(self, pred=lambda s: True):
        return [i for i, s in enumerate(self.slots) if s.shadow is not None and pred(s)]


def _float(s: _Slot) -> bool:
    return s.shadow is not None and s.shadow.is_floating_point()


def _broadcastable(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _reshape_targets(shape):
    n = math.prod(shape)
    out = [(n,), (-1,), (1, n), shape + (1,), (n, 1)]
    if len(shape) >= 2:
        out.append(tuple(reversed(shape)))
        out.append((shape[0], -1))
    if n and n % 2 == 0:
        out.append((2, n // 2))
    return [tuple(s) for s in out]


@st.composite
def _params(draw, op, shadows):
    """Static parameters for `op` on inputs of these shapes (valid by construction)."""
    x = shadows[0]
    nd = x.ndim
    dim = st.integers(-max(nd, 1), max(nd, 1) - 1)
    if op == "pow":
        return {"e": draw(st.sampled_from([2, 3, 0, 1, 0.5, 0.0, -1.5]))}
    if op in ("add_scalar", "rsub_scalar", "mul_scalar", "div_scalar", "rdiv_scalar"):
        return {"c": draw(st.sampled_from([2.0, -0.5, 1.0, 3]))}
    if op == "clamp":
        lo, hi = draw(st.sampled_from([(-0.5, 0.5), (0.0, None), (None, 0.25), (0.5, -0.5)]))
        return {"min": lo, "max": hi}
    if op in ("softmax", "log_softmax", "norm_dim", "squeeze_dim", "cumprod", "logcumsumexp"):
        return {"dim": draw(dim)}
    if op == "softplus":
        return {"beta": draw(st.sampled_from([1.0, 2.0]))}
    if op == "clamp_min":
        return {"c": draw(st.sampled_from([0.0, -0.5, 0.25]))}
    if op == "roll":
        return {"shifts": draw(st.integers(-2, 3)), "dims": draw(dim)}
    if op == "movedim":
        return {"src": draw(dim), "dst": draw(dim)}
    if op == "repeat_interleave":
        return {"n": draw(st.integers(1, 3)), "dim": draw(dim)}
    if op in ("tril", "diagonal"):
        return {"d" if op == "tril" else "offset": draw(st.integers(-1, 1))}
    if op in ("sum_dim", "mean_dim", "max_dim", "min_dim"):
        d = draw(dim)
        if op in ("sum_dim", "mean_dim") and nd >= 2 and draw(st.booleans()):
            d = (0, -1)
        return {"dim": d, "keepdim": draw(st.booleans())}
    if op in ("reshape", "view"):
        return {"shape": draw(st.sampled_from(_reshape_targets(tuple(x.shape))))}
    if op == "transpose":
        return {"d0": draw(dim), "d1": draw(dim)}
    if op == "permute":
        return {"dims": tuple(draw(st.permutations(range(nd))))}
    if op == "unsqueeze":
        return {"dim": draw(st.integers(-nd - 1, nd))}
    if op == "expand":
        new = tuple(draw(st.sampled_from([2, 3])) if s == 1 else s for s in x.shape)
        if draw(st.booleans()):
            new = (2,) + new
        if nd and draw(st.booleans()):
            new = new[:-1] + (-1,)
        return {"shape": new}
    if op == "flatten":
        a, b = sorted([draw(dim), draw(dim)], key=lambda d: d % max(nd, 1))
        return {"start": a, "end": b}
    if op == "index":
        return {"key": draw(_index_keys(tuple(x.shape)))}
    if op in ("cat", "stack"):
        return {"dim": draw(st.integers(-max(nd, 1), max(nd, 1) - 1 + (op == "stack")))}
    return {}


@st.composite
def _index_keys(draw, shape):
    nd = len(shape)
    kinds = ["none", "ellipsis_none"]
    if nd and shape[0]:
        kinds += ["int", "slice", "array", "int_neg"]
    if nd >= 2 and shape[1]:
        kinds += ["second", "slice2"]
    if nd:
        kinds += ["mask"]
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return ("None",)
    if kind == "ellipsis_none":
        return ("...", "None")
    if kind == "int":
        return (draw(st.integers(0, shape[0] - 1)),)
    if kind == "int_neg":
        return (-1,)
    if kind == "slice":
        start = draw(st.sampled_from([None, 0, 1]))
        stop = draw(st.sampled_from([None, -1, 2, 5]))
        return (("slice", start, stop, draw(st.sampled_from([None, 2]))),)
    if kind == "array":
        n = draw(st.integers(1, 4))
        return (("array", tuple(draw(st.integers(0, shape[0] - 1)) for _ in range(n))),)
    if kind == "second":
        return (("slice", None, None, None), draw(st.integers(-shape[1], shape[1] - 1)))
    if kind == "slice2":
        return ("...", ("slice", 1, None, None))
    return (("mask", shape, draw(st.integers(0, 2**16))),)


def _pick_inputs(draw, state, op):
    floats = state.live(_float)
    if not floats:
        return None
    grad_first = state.live(lambda s: _float(s) and s.requires_grad) or floats
    a = draw(st.sampled_from(grad_first if draw(st.integers(0, 3)) else floats))
    sa = tuple(state.slots[a].shadow.shape)
    if op in UNARY or op in REDUCE or op in SHAPE:
        return (a,)
    if op in BINARY:
        # sometimes an integer second operand: PyTorch's promotion of mixed dtypes
        others = state.live(lambda s: True) if draw(st.integers(0, 3)) == 0 else floats
        ok = [i for i in others if _broadcastable(sa, tuple(state.slots[i].shadow.shape))]
        pool = ok if ok and draw(st.integers(0, 19)) else floats  # sometimes an invalid pair
        return (a, draw(st.sampled_from(pool)))
    if op == "matmul":
        ok = [i for i in floats if _matmul_ok(sa, tuple(state.slots[i].shadow.shape))]
        pool = ok if ok and draw(st.integers(0, 19)) else floats
        b = draw(st.sampled_from(pool))
        if b not in ok and not (state.slots[a].contiguous and state.slots[b].contiguous):
            return None  # PyTorch's error text depends on strides (module docstring)
        return (a, b)
    # cat / stack: 1-3 tensors of the same shape (cat: equal except maybe dim 0)
    same = [
        i
        for i in floats
        if tuple(state.slots[i].shadow.shape) == sa
        or (op == "cat" and sa and tuple(state.slots[i].shadow.shape)[1:] == sa[1:])
    ]
    return (a,) + tuple(draw(st.sampled_from(same)) for _ in range(draw(st.integers(0, 2))))


def _matmul_ok(a, b) -> bool:
    if not a or not b:
        return False
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        return False
    try:
        np.broadcast_shapes(a[:-2], b[:-2])
        return True
    except ValueError:
        return False


def _shadow_run(op, args, params):
    try:
        with torch.no_grad():
            out = OPS[op](torch, *args, **params)
    except Exception:  # noqa: BLE001 - an invalid op is kept as an error test
        return None
    return out if isinstance(out, tuple) else (out,)


@st.composite
def _call(draw, state):
    family = draw(st.sampled_from(["unary", "binary", "reduce", "shape", "multi"]))
    pool = {"unary": UNARY, "binary": BINARY, "reduce": REDUCE, "shape": SHAPE,
            "multi": MULTI}[family]  # fmt: skip
    op = draw(st.sampled_from(pool))
    args = _pick_inputs(draw, state, op)
    if args is None:
        return None
    slots = [state.slots[i] for i in args]
    shadows = [s.shadow for s in slots]
    if op == "view" and not all(s.contiguous for s in slots):
        op = "reshape"
    params = draw(_params(op, shadows))
    copies = op in ("reshape", "flatten") and not all(s.contiguous for s in slots)
    no_grad = draw(st.integers(0, 9)) == 0 and not copies
    outs = _shadow_run(op, shadows, params)
    rg = any(s.requires_grad for s in slots) and not no_grad and op != "detach_op"
    same = outs is not None and outs[0] is shadows[0]  # e.g. flatten(d, d) returns its input
    # funcgrad's reshape is always a view; PyTorch's copies a non-contiguous tensor.
    if op == "matmul" and max(s.ndim for s in shadows) >= 3:  # see the module docstring
        state.no_inplace_groups.update(s.group for s in slots)
    view = outs is not None and (
        (op in SHAPE and outs[0]._is_view()) or (op in ("reshape", "flatten") and not same)
    )
    group = slots[0].group if view or same or op == "detach_op" else state.new_group()
    if op == "matmul" and max(s.ndim for s in shadows) >= 3:
        state.no_inplace_groups.add(group)  # PyTorch's result may be a view of its own
    n_out = n_outputs(Call(op, ()))
    for o in outs or (None,) * n_out:
        state.slots.append(
            _Slot(
                o,
                rg and (o is None or o.is_floating_point()),
                not rg,
                group,
                view,
                bool(o is not None and o.is_contiguous() and all(s.contiguous for s in slots)),
            )
        )
    return Call(op, tuple(args), tuple(sorted(params.items())), no_grad)


@st.composite
def _leaf(draw, state):
    shape = draw(st.sampled_from(SHAPES))
    kind = draw(st.sampled_from(["u", "u", "u", "i", "d", "int", "long"]))
    integer = kind in ("int", "long")
    rg = draw(st.integers(0, 4)) > 0 if not integer else draw(st.integers(0, 9)) == 0
    seed = draw(st.integers(0, 2**16))
    shadow = torch.tensor(data(shape, seed, kind))
    ok = not (rg and integer)
    state.slots.append(
        _Slot(shadow if ok else None, rg, True, state.new_group(), False, True, True)
    )
    return Leaf(shape, seed, rg, kind)


def _cotangent(draw, shadow, wrong_shape_ok=True):
    """A (shape, seed) cotangent for `shadow`, rarely of a wrong shape."""
    shape = tuple(shadow.shape)
    if wrong_shape_ok and draw(st.integers(0, 19)) == 0:
        shape = draw(st.sampled_from(SHAPES))
    return (shape, draw(st.integers(0, 2**16)))


@st.composite
def _backward(draw, state):
    roots = state.live(lambda s: _float(s) and s.requires_grad)
    if not roots or draw(st.integers(0, 19)) == 0:
        roots = state.live()
    if not roots:
        return None
    root = draw(st.sampled_from(roots))
    shadow = state.slots[root].shadow
    gradient = None
    if shadow.numel() != 1 or draw(st.integers(0, 3)) == 0:
        gradient = _cotangent(draw, shadow) if draw(st.integers(0, 9)) else None
    inputs = None
    candidates = _input_candidates(state)
    if candidates and draw(st.integers(0, 3)) == 0:
        inputs = tuple(draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2)))
        state.nonleaf_hooked |= any(not state.slots[i].made_by_leaf for i in inputs)
    create = draw(st.integers(0, 5)) == 0 and not state.nonleaf_hooked
    retain = draw(st.sampled_from([None, None, True] + ([] if create else [False])))
    state.created_graph |= create
    return Backward(root, gradient, retain, create, inputs)


def _input_candidates(state):
    """Tensors to differentiate with respect to. After a backward with create_graph=True,
    only leaves: PyTorch's double-backward graph may pass through forward nodes (where its
    formula uses a forward output), funcgrad's does not, so the grads (and hooks, and
    retained grads) of non-leaves along it differ; leaf gradients do not."""
    if state.created_graph:
        return state.live(lambda s: _float(s) and s.requires_grad and s.made_by_leaf)
    return state.live(lambda s: _float(s) and s.requires_grad)


@st.composite
def _grad(draw, state):
    cands = state.live(lambda s: _float(s) and s.requires_grad)
    if not cands:
        return None
    outputs = tuple(draw(st.lists(st.sampled_from(cands), min_size=1, max_size=2)))
    cands = _input_candidates(state)
    if not cands:
        return None
    inputs = tuple(draw(st.lists(st.sampled_from(cands), min_size=1, max_size=2)))
    grad_outputs = None
    if any(state.slots[o].shadow.numel() != 1 for o in outputs) or draw(st.booleans()):
        if draw(st.integers(0, 9)):
            grad_outputs = tuple(
                _cotangent(draw, state.slots[o].shadow, wrong_shape_ok=k == 0)
                for k, o in enumerate(outputs)
            )
    create = draw(st.integers(0, 3)) == 0 and not state.nonleaf_hooked
    retain = draw(st.sampled_from([None, None, True] + ([] if create else [False])))
    state.created_graph |= create
    allow_unused = draw(st.booleans())
    for i in inputs:
        shadow = state.slots[i].shadow
        group = state.new_group()
        state.no_inplace_groups.add(group)  # may alias other results in PyTorch
        state.slots.append(_Slot(shadow.clone(), create, not create, group, False, True))
    return Grad(outputs, inputs, grad_outputs, retain, create, allow_unused)


def _inplace_ok(state, i) -> bool:
    s = state.slots[i]
    return _float(s) and s.group not in state.no_inplace_groups


@st.composite
def _inplace(draw, state):
    targets = [i for i in state.live() if _inplace_ok(state, i)]
    if not targets or state.created_graph:
        return None
    t = draw(st.sampled_from(targets))
    op = draw(st.sampled_from(sorted(INPLACE)))
    shape = tuple(state.slots[t].shadow.shape)
    arg = None
    if op in ("add_", "sub_", "mul_", "copy_"):
        fits = [
            i
            for i in state.live(_float)
            if _broadcastable(shape, tuple(state.slots[i].shadow.shape))
            and np.broadcast_shapes(shape, tuple(state.slots[i].shadow.shape)) == shape
            and state.slots[i].group != state.slots[t].group
        ]
        if fits and (op == "copy_" or draw(st.booleans())):
            arg = Ref(draw(st.sampled_from(fits)))
        else:
            arg = draw(st.sampled_from([2.0, -1.0, 0.5]))
    elif op == "div_":
        arg = draw(st.sampled_from([2.0, -1.0, 0.5]))
    elif op in ("clamp_", "clamp_min_"):
        arg = 0.0
    elif op == "pow_":
        arg = 2
    elif op == "setitem":
        if not shape or not shape[0]:
            return None
        arg = 1.5
    elif op == "setitem_chain":
        if len(shape) < 2 or not shape[0] or not shape[1]:
            return None
        arg = -0.5
    elif op in ("select_mul_", "transpose_add_", "slice_fill_"):
        if not shape or (op == "select_mul_" and not shape[-1]):
            return None
        arg = draw(st.sampled_from([2.0, -1.0, 0.5]))
    no_grad = draw(st.integers(0, 2)) == 0
    s = state.slots[t]
    if isinstance(arg, Ref) and state.slots[arg.slot].requires_grad and not no_grad:
        s.requires_grad, s.is_leaf = True, False
    return InPlace(t, op, arg, no_grad)


@st.composite
def _misc(draw, state):
    live = state.live()
    if not live:
        return None
    kind = draw(
        st.sampled_from(["detach", "hook", "hook", "retain", "clear", "read", "read", "branch"])
    )
    t = draw(st.sampled_from(live))
    s = state.slots[t]
    if kind == "read":
        if s.shadow.numel() != 1 and draw(st.integers(0, 4)):
            return Read(t, "repr")
        return Read(t, draw(st.sampled_from(["repr", "item"])))
    if kind == "branch":
        if not _float(s):
            return None
        # Both branches keep the shape; the result is a new tensor (a new storage group).
        state.slots.append(_Slot(s.shadow.clone(), s.requires_grad, not s.requires_grad,
                                 state.new_group(), False, True))  # fmt: skip
        return Branch(t)
    if kind == "detach":
        state.slots.append(_Slot(s.shadow, False, True, s.group, s.is_view, s.contiguous))
        return Detach(t)
    if kind in ("hook", "retain") and not s.made_by_leaf:
        if state.created_graph:
            return None  # see _input_candidates
        state.nonleaf_hooked = True
    if kind == "hook":
        return Hook(t, draw(st.sampled_from(["scale", "record", "record"])))
    if kind == "retain":
        return RetainGrad(t)
    return ClearGrad(t, draw(st.sampled_from(["none", "none", "zero"])))


@st.composite
def programs(draw, max_instructions=14):
    """A random tape program (see the module docstring)."""
    state = _State()
    instructions = [draw(_leaf(state))]
    if draw(st.booleans()):
        instructions.append(draw(_leaf(state)))
    n = draw(st.integers(1, max_instructions))
    kinds = st.sampled_from(
        ["call"] * 8 + ["backward"] * 2 + ["grad", "inplace", "inplace", "misc", "misc", "leaf"]
    )
    while len(instructions) < n + 1:
        kind = draw(kinds)
        strategy = {
            "call": _call,
            "backward": _backward,
            "grad": _grad,
            "inplace": _inplace,
            "misc": _misc,
            "leaf": _leaf,
        }[kind]
        ins = draw(strategy(state))
        if ins is not None:
            instructions.append(ins)
    final = draw(_backward(state)) if draw(st.booleans()) else None
    return Program(tuple(instructions) + ((final,) if final else ()))


# ================================================================ the interpreter


DEAD = "dead"  # a slot whose instruction raised (or was skipped)


def _observe(t, names=True):
    return observe(t, grad_fn_names=names)


def _live(t) -> bool:
    return t is not DEAD and t is not None


def _grad_of(t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return t.grad


def n_outputs(ins) -> int:
    """How many slots an instruction fills."""
    if isinstance(ins, (Leaf, Detach, Branch)):
        return 1
    if isinstance(ins, Call):
        return 2 if ins.op in ("max_dim", "min_dim") else 1
    if isinstance(ins, Grad):
        return len(ins.inputs)
    return 0


class _Skip(Exception):
    """An instruction that uses a dead slot: skipped in both libraries."""


def run(lib, program: Program) -> list:
    """Interprets `program` with `lib` (torch or funcgrad.tape); returns the observations:
    [per-instruction outcomes (with every leaf's .grad after a backward or an error),
    what the hooks saw, the final state of every slot]."""
    slots: list = []
    unnamed: set[int] = set()
    log: list = []
    record: list = []

    def leaf_grad(t):
        try:
            return _observe(_grad_of(t), names=False) if _live(t) and t.is_leaf else None
        except RuntimeError as e:  # a no_grad view whose base was written: is_leaf raises
            return Raised(type(e).__name__, str(e))

    def leaf_grads():
        return [leaf_grad(t) for t in slots]

    for n, ins in enumerate(program.instructions):
        start = len(slots)
        slots.extend([DEAD] * n_outputs(ins))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcome = _step(lib, ins, n, slots, start, unnamed, log)
        except _Skip:
            outcome = "skipped"
        except Exception as e:  # noqa: BLE001 - the point is to record any exception
            outcome = Raised(type(e).__name__, str(e))
        if isinstance(ins, (Backward, Grad)) or isinstance(outcome, Raised):
            record.append((n, outcome, leaf_grads()))
        else:
            record.append((n, outcome))
    final = []
    for i, t in enumerate(slots):
        if not _live(t):
            final.append(t)
        else:
            try:
                grad = _observe(_grad_of(t), names=False)
                final.append((_observe(t, names=i not in unnamed), grad, bool(t.retains_grad)))
            except Exception as e:  # noqa: BLE001 - reading a tensor may raise too
                final.append(Raised(type(e).__name__, str(e)))
    return [record, log, final]


def _step(lib, ins, n, slots, start, unnamed, log):
    def arg(i):
        t = slots[i]
        if t is DEAD or t is None:
            raise _Skip
        return t

    def cot(spec):
        return None if spec is None else lib.tensor(data(spec[0], spec[1]))

    def maybe_no_grad(flag):
        return lib.no_grad() if flag else contextlib.nullcontext()

    if isinstance(ins, Leaf):
        slots[start] = lib.tensor(
            data(ins.shape, ins.seed, ins.kind), requires_grad=ins.requires_grad
        )
    elif isinstance(ins, Call):
        xs = [arg(i) for i in ins.args]
        if ins.op in ("reshape", "flatten") and not all(_contiguous_in_torch(x) for x in xs):
            unnamed.add(start)  # PyTorch copies: CloneBackward0 + UnsafeViewBackward0
        with maybe_no_grad(ins.no_grad):
            out = OPS[ins.op](lib, *xs, **dict(ins.params))
        for k, o in enumerate(out if isinstance(out, tuple) else (out,)):
            slots[start + k] = o
    elif isinstance(ins, Detach):
        slots[start] = arg(ins.src).detach()
    elif isinstance(ins, InPlace):
        x = arg(ins.target)
        a = arg(ins.arg.slot) if isinstance(ins.arg, Ref) else ins.arg
        with maybe_no_grad(ins.no_grad):
            INPLACE[ins.op](x, a)
    elif isinstance(ins, Backward):
        root = arg(ins.root)
        inputs = None if ins.inputs is None else [arg(i) for i in ins.inputs]
        root.backward(
            cot(ins.gradient),
            retain_graph=ins.retain_graph,
            create_graph=ins.create_graph,
            inputs=inputs,
        )
    elif isinstance(ins, Grad):
        outputs = [arg(i) for i in ins.outputs]
        inputs = [arg(i) for i in ins.inputs]
        grad_outputs = None
        if ins.grad_outputs is not None:
            grad_outputs = [cot(g) for g in ins.grad_outputs]
        result = lib.autograd.grad(
            outputs,
            inputs,
            grad_outputs=grad_outputs,
            retain_graph=ins.retain_graph,
            create_graph=ins.create_graph,
            allow_unused=ins.allow_unused,
        )
        for k, g in enumerate(result):
            slots[start + k] = g
            if ins.create_graph:
                unnamed.add(start + k)  # a double-backward node
    elif isinstance(ins, Hook):
        x = arg(ins.target)
        if x.requires_grad:
            # PyTorch 2.13 segfaults in register_hook on a view whose base was written
            # through another view, unless its grad_fn was read first (register_hook makes
            # the hook dict, then reading grad_fn regenerates the view's history and drops
            # it: pytorch/pytorch#196459). Reading it first is what register_hook itself
            # does next (and raises what it would raise), so the program observes the same.
            x.grad_fn  # noqa: B018 - the read is the point
        if ins.kind == "scale":
            x.register_hook(lambda g: g * 2)
        else:

            def hook(g, n=n):
                log.append((n, _observe(g, names=False)))

            x.register_hook(hook)
    elif isinstance(ins, Read):
        x = arg(ins.target)
        if ins.kind == "repr":
            text = repr(x)
            return "ok" if text.startswith("tensor(") else text
        return x.item()
    elif isinstance(ins, Branch):
        x = arg(ins.src)
        taken = bool(x.sum() > 0)
        slots[start] = x * 2 if taken else x - 1
        return taken
    elif isinstance(ins, RetainGrad):
        arg(ins.target).retain_grad()
    elif isinstance(ins, ClearGrad):
        x = arg(ins.target)
        if ins.how == "none":
            x.grad = None
        else:
            g = _grad_of(x)
            if g is None:
                return "no grad"
            g.zero_()
    else:
        raise TypeError(f"unknown instruction {ins!r}")
    return "ok"


def _contiguous_in_torch(x) -> bool:
    """funcgrad tensors have no layout; only torch's run marks such names uncompared."""
    return x.is_contiguous() if isinstance(x, torch.Tensor) else True


# What the fuzz run did, reported at the end of the pytest run (conftest.py).
STATS = dict.fromkeys(
    ["programs", "instructions", "tensor_ops", "backwards", "errors", "mismatches"], 0
)
