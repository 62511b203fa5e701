"""The stack of running torch.func transforms, and what the tape does differently inside.

Each transform calls the user's function inside a JAX transform (`jax.vjp`, `jax.jvp`,
`jax.vmap`, ...) on tensors that wrap JAX tracers. While it runs, a `Level` is on this
thread's stack, and the tape's hooks (`HOOKS`, installed as `observe.transforms` through
`observe.transforming`) consult it, so that the tape behaves as PyTorch's functorch does:

- no tape graph is recorded (JAX differentiates), and an op run under `no_grad` or a
  `detach()` stops JAX's gradient, as they stop torch.func's;
- `.backward()` raises PyTorch's error; `.item()` and Python control flow give the value
  where one exists (under `grad`, `jvp`) and raise PyTorch's vmap errors under `vmap`;
- in-place writes that functorch refuses raise its errors: to a tensor captured from
  outside a grad-like transform, and of a batched value into an unbatched tensor in `vmap`;
- random ops under `vmap(randomness='error')` raise.

The hooks are installed only while some thread runs a transform, so plain tape code pays
one module-attribute check per op. This module does not run transforms (see `_autodiff`,
`_vmap`) and holds no JAX math.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading

import jax
import jax.extend.core as jax_core

from .. import errors, observe
from ..grad_mode import enable_grad, is_grad_enabled
from ..tensor import Tensor
from . import _messages as msg

_local = threading.local()


@dataclasses.dataclass(eq=False)
class Level:
    """One running transform.

    kind: its name ('grad', 'vjp', 'jvp', 'jacrev', 'jacfwd', 'linearize', 'vmap').
    differentiates: a grad-like transform (captured tensors may not be written).
    randomness: vmap's and jacfwd's mode ('error', 'same', 'different'), else None.
    trace: vmap's JAX BatchTrace, to tell which values are batched at this level.
    batch_size: vmap's batch size (for PyTorch's messages).
    """

    kind: str
    differentiates: bool
    randomness: str | None = None
    trace: object = None
    batch_size: int = 0


def check_randomness(randomness) -> None:
    """vmap's and jacfwd's `randomness` must be one of PyTorch's three modes."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(msg.RANDOMNESS_VALUE.format(value=randomness))


def stack() -> list:
    """This thread's running transforms, outermost first."""
    levels = getattr(_local, "levels", None)
    if levels is None:
        levels = _local.levels = []
    return levels


@contextlib.contextmanager
def entered(level: Level):
    """Runs the body as `level`: pushed on the stack, the tape's hooks installed, and grad
    mode enabled for grad-like transforms (they ignore an outer `no_grad`, as PyTorch's)."""
    levels = stack()
    levels.append(level)
    try:
        with (
            observe.transforming(HOOKS),
            enable_grad() if level.differentiates else contextlib.nullcontext(),
        ):
            yield level
    finally:
        levels.pop()


@contextlib.contextmanager
def collecting():
    """Collects (id -> tensor) the tensors from outside that ops inside transforms read
    while they require grad, during the body (in this thread)."""
    previous = getattr(_local, "read", None)
    _local.read = read = {}
    try:
        yield read
    finally:
        _local.read = previous


def batched_at(value, level: Level) -> bool:
    """Whether `value` (an array or tracer) carries `level`'s batch dimension.

    JAX keeps no public record of which transform a tracer belongs to, so this reads the
    tracers' parts: a BatchTracer's `val`, a JVP or linearize tracer's `primal` and
    `tangent`, down to the BatchTracer of `level.trace`."""
    if level.trace is None:
        return False
    todo = [value]
    while todo:
        x = todo.pop()
        if not isinstance(x, jax.core.Tracer):
            continue
        if getattr(x, "_trace", None) is level.trace:
            return getattr(x, "batch_dim", None) is not None
        for part in ("val", "primal", "tangent"):
            inner = getattr(x, part, None)
            if isinstance(inner, jax.core.Tracer):
                todo.append(inner)
    return False


def _position(levels: list, level) -> int:
    for i, candidate in enumerate(levels):
        if candidate is level:
            return i
    return -1


# In-place ops by the tape's op name -> the ATen overload PyTorch names in its errors.
_ATEN = {
    "add": "add_.Tensor",
    "sub": "sub_.Tensor",
    "mul": "mul_.Tensor",
    "div": "div_.Tensor",
    "pow": "pow_.Scalar",
    "fill": "fill_.Tensor",
    "fill_scalar": "fill_.Scalar",
    "masked_fill": "masked_fill_.Scalar",
    "copy": "copy_",
    "copy_slices": "copy_",
    "index_put": "index_put_",
}
# ... and the name PyTorch's vmap gives it when `self` is not batched but `other` is.
_VMAP_INPLACE_NAME = {"fill": "fill_", "fill_scalar": "fill_", "index_put": "index_put_"}


class _Hooks:
    """What the tape asks while a transform runs (installed as `observe.transforms`).
    Each method is a no-op in a thread that runs no transform."""

    # ------------------------------------------------------------ tensors and ops
    def created_tensor(self, t: Tensor) -> None:
        levels = stack()
        if levels:
            t._func_level = levels[-1]

    def inside(self) -> bool:
        return bool(stack())

    def ran_op(self, inputs, results) -> None:
        """After an op inside a transform (nothing was recorded): under `no_grad`, JAX's
        gradient stops at its results, as torch.func's does. Tensors from outside the
        transform that require grad are collected (for `_tape_link`)."""
        levels = stack()
        read = getattr(_local, "read", None)
        if read is not None:
            for x in inputs:
                if isinstance(x, Tensor) and x._requires_grad:
                    if _position(levels, getattr(x, "_func_level", None)) < 0:
                        read.setdefault(id(x), x)
        if not is_grad_enabled() and _differentiating():
            for r in results:
                r._data = jax.lax.stop_gradient(r._data)

    def detached(self, array):
        """`detach()` / `.data` inside a grad-like transform: a constant for JAX too."""
        return jax.lax.stop_gradient(array) if _differentiating() else array

    def backward_called(self, api: str) -> None:
        if not stack():
            return
        if api == "backward":
            raise RuntimeError(msg.BACKWARD_INSIDE + msg.BACKWARD_INSIDE_HINT)
        raise RuntimeError(msg.AUTOGRAD_GRAD_INSIDE)

    def custom_function(self, name: str, has_setup_context: bool) -> None:
        """An `autograd.Function` inside a transform: PyTorch's error without
        `setup_context`; with it PyTorch would use its backward, which funcgrad cannot."""
        if not stack():
            return
        if not has_setup_context:
            raise RuntimeError(msg.FUNCTION_SETUP_CONTEXT)
        raise NotImplementedError(msg.CUSTOM_FUNCTION_INSIDE.format(name=name))

    def random_draw(self) -> None:
        if any(level.randomness == "error" for level in stack()):
            raise RuntimeError(msg.RANDOM_IN_VMAP)

    # ------------------------------------------------------------ reading values
    def concrete(self, data, what: str):
        """The value of a traced tensor where one exists (inside `grad` or `jvp` the primal
        is concrete, as PyTorch's is); PyTorch's vmap error if it is batched; else `data`
        unchanged (inside `tape.jit`: the caller raises the jit's error)."""
        levels = stack()
        if not levels:
            return data
        try:
            return jax_core.concrete_or_error(None, data)
        except jax.errors.ConcretizationTypeError:
            pass
        if any(batched_at(data, level) for level in levels):
            if what.startswith("bool"):
                raise RuntimeError(msg.VMAP_CONTROL_FLOW + msg.VMAP_VALUE_HINT)
            if what in (".tolist()", ".numpy()"):
                raise RuntimeError(msg.VMAP_DATA_POINTER + msg.VMAP_VALUE_HINT)
            raise RuntimeError(msg.VMAP_ITEM + msg.VMAP_VALUE_HINT)
        return data

    # ------------------------------------------------------------ writes
    def writing(self, t: Tensor, op: str, args=(), batch_norm: bool = False) -> None:
        """Before an in-place op `op` on `t` with operands `args`: functorch's refusals."""
        levels = stack()
        if not levels:
            return
        born = _position(levels, getattr(t, "_func_level", None))
        for i in range(len(levels) - 1, -1, -1):
            level = levels[i]
            if level.differentiates and i > born:
                name = "aten::" + _ATEN.get(op, op + "_")
                raise RuntimeError(msg.CAPTURED_INPLACE.format(op=name) + msg.INPLACE_HINT)
            if level.trace is None or batched_at(t._data, level):
                continue
            arrays = [a._data if isinstance(a, Tensor) else a for a in args]
            if any(batched_at(a, level) for a in arrays):
                raise RuntimeError(_vmap_inplace_message(t, op, level, batch_norm))


def _differentiating() -> bool:
    return any(level.differentiates for level in stack())


def _vmap_inplace_message(t: Tensor, op: str, level: Level, batch_norm: bool) -> str:
    if batch_norm:
        return msg.VMAP_BATCH_NORM
    if op == "add":
        shape = tuple(t.shape)
        return (
            errors.INPLACE_SHAPE.format(
                shape=errors.short_shape(shape),
                broadcast=errors.short_shape((level.batch_size, *shape)),
            )
            + msg.INPLACE_HINT
        )
    name = _VMAP_INPLACE_NAME.get(op, "inplace arithmetic")
    return msg.VMAP_INPLACE.format(op=name) + msg.INPLACE_HINT


HOOKS = _Hooks()
