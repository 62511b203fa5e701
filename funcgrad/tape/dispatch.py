"""The op dispatcher: runs a table op on tensors and records the node of its backward.

`apply(cls, op, *inputs, **static)` is the only place a graph node for a table op is made.
It unwraps the tensors (of class `cls`, handed in by tensor.py, never imported), applies
PyTorch's promotion of 0-d tensors, runs the op's forward through a `jax.jit` cached per
(op, static arguments), and, when grad is recorded, gives the node a pullback of the
functional core: a `SavedInputVJP` rule, built and jitted once per op signature, bound to
the values PyTorch's save rules keep (`funcgrad.functional.SavedPullback`). The node also
gets version checks of what it saved, so an in-place change fails its backward as in
PyTorch. With `create_graph=True`, backward runs the same rule as a recorded op, so
higher-order gradients come from JAX too.

The hot path: every tape op passes through `apply`, every backward step of a table op
through `_run`. Per-signature work is done once and cached in a `_Plan`; what remains per
call is a few attribute reads and two jitted dispatches.

What it does not do: define ops (ops.py), walk the graph (engine.py), or know which Tensor
methods exist (methods/).
"""

from __future__ import annotations

import functools
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from ..functional import SavedInputVJP, SavedOutputVJP, SavedPullback, input_type
from . import errors, lazy, observe, views
from ._convert import Defaults, complex_default, dtype_category, is_wide, refuse_complex
from ._op import (
    SAVED_NAMES,
    Op,
    ReturnTypes,
    backward_saves,
    pack_order,
    result_rule,
    saved_positions,
)
from .engine import AccumulateGrad, no_edge, node_class
from .grad_mode import is_inference_mode_enabled, is_recording
from .lazy import switch as _lazy
from .ops import OPS  # the table, complete once ops.py is imported
from .saved_attrs import SavedInfo
from .saved_hooks import keep_roots, pack_all, saved_hooks_active, stamp_of, unpack_all

__all__ = ["apply", "ReturnTypes"]

_forward_cache: dict = {}
_plans: dict = {}
_backward_ops: dict = {}  # create_graph: each op's pullback, itself an op


def _forward(op, key):
    fn = _forward_cache.get((op, key))
    if fn is None:
        # A complex static argument (clamp(min=1j), addcmul(value=1j)) makes a new key, so
        # checking here, once per signature, refuses it at no cost to the hot path.
        refuse_complex(*(v for _, v in key))
        fn = functools.partial(op.fn, **dict(key))
        # A device move runs eagerly: under jit the result would stay on the input's device.
        fn = _forward_cache[(op, key)] = fn if op.name == "to_device" else jax.jit(fn)
    return fn


def apply(cls, name, *inputs, **static):
    """Runs table op `name` on tensors of class `cls` (and Python scalars); records a node
    if grad is enabled and an input requires grad.

    Tensor methods call it as `self._apply(name, ...)`; other modules through
    `funcgrad.tape.tensor.apply`, this function with `cls` bound to `Tensor`.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.tensor import apply
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> apply("mul", x, 3.0).grad_fn.name()
        'MulBackward0'
    """
    op = name if isinstance(name, Op) else OPS[name]
    key = tuple(sorted(static.items())) if static else ()
    if _lazy.on:  # lazy segments (funcgrad.tape.lazy): record now, run when needed
        pending = lazy.record(cls, op, key, inputs, _record)
        if pending is not None:
            return pending
    wide = op.wide or Defaults.wide
    if not wide:  # the float32 path: one dtype read per tensor input
        int_widening = op.name in _INT_WIDENING
        for x in inputs:
            if isinstance(x, cls):
                dtype = x._data.dtype
            elif isinstance(x, jax.Array):  # index arrays
                dtype = x.dtype
            else:
                continue
            if dtype.itemsize >= 8 or (int_widening and dtype.kind in "biu"):
                wide = True
                break
        else:
            wide = bool(static) and is_wide(static.get("dtype"))
        if not wide:
            return _apply(cls, op, key, inputs, False)
    with jax.enable_x64(True):
        return _apply(cls, op, key, inputs, True)


def _apply(cls, op, key, inputs, wide):
    """`apply` after the choice of JAX's 64-bit mode (`wide`: entered by the caller)."""
    if op.name in _PROMOTING and len(inputs) > 1:
        inputs = _promote_zero_dim(cls, op, inputs)
    arrays, requires = [], []
    for x in inputs:
        if isinstance(x, cls):
            arrays.append(x._data if x._view_version == x._vc.value else x._value())
            requires.append(x._requires_grad)
        else:
            if isinstance(x, complex):  # a Python complex number: PyTorch would go complex
                raise errors.complex_unsupported(complex_default())
            arrays.append(x)
            requires.append(False)
    if _MULTI_DEVICE and len(arrays) > 1:
        _check_devices(arrays)
    try:
        out = _forward(op, key)(*arrays)
    except (TypeError, ValueError) as e:
        raise _input_error(op, arrays, e) from e
    if wide and True not in requires:
        out = _default_float(op, key, arrays, out)
    outs = out if op.multi else (out,)
    results = [cls._wrap(o) for o in outs]
    if is_inference_mode_enabled():
        for r in results:
            r._inference = True
    if observe.transforms is not None and observe.transforms.inside():
        observe.transforms.ran_op(inputs, results)  # torch.func: no node, JAX's gradient
    elif op.differentiable and True in requires and is_recording():
        _record(cls, op, key, inputs, arrays, tuple(requires), results, outs)
    if op.view and isinstance(inputs[0], cls):
        _mark_views(inputs[0], op, key, requires[0], results)
    if not op.multi:
        return results[0]
    if op.name in ("max_dim", "min_dim"):
        return ReturnTypes(*results)
    return tuple(results)


def _mark_views(source, op, key, requires, results):
    """Makes the results of view op `op` views of `source`'s base (views.py): they share
    its version counter and keep the chain of view ops that recomputes them from it."""
    base = source._base if source._base is not None else source
    source._root()._has_views = True
    stamp = source._root_stamp if source._base is not None else stamp_of(source)
    # PyTorch: a view made under no_grad requires grad, as a leaf without a grad edge.
    no_grad = requires and results[0]._grad_fn is None and not is_inference_mode_enabled()
    meta = views.creation_meta(source._view_meta, op, no_grad)
    for nr, r in enumerate(results):
        r._vc, r._base, r._view_version = base._vc, base, base._vc.value
        r._view_chain = source._view_chain + (views.step(op, key, nr),)
        r._root_stamp = stamp
        r._inference = r._inference or source._inference  # a view of an inference tensor is one
        if meta is not None:
            r._view_meta = meta
        if no_grad:
            r._requires_grad, r._accumulator = True, no_edge


# ---------------------------------------------------------------- PyTorch's input rules
# Ops whose integer and bool inputs give int64 in PyTorch (sums; bool + int), where JAX
# without its 64-bit mode gives int32.
_INT_WIDENING = frozenset(
    "sum sum_dim prod cumsum add sub rsub mul floor_divide remainder pow maximum minimum".split()
)


def _default_float(op, key, arrays, out):
    """In 64-bit mode, JAX makes float64 from integers (`int64 / int64`, `int64 * 1.5`,
    `sqrt` of an int64 tensor) where PyTorch makes its default dtype (float32): unless an
    input (or the asked dtype) is float64, float64 outputs are cast to the default dtype."""
    outs = out if op.multi else (out,)
    if not any(getattr(o, "dtype", None) == np.float64 for o in outs):
        return out
    if any(getattr(a, "dtype", None) == np.float64 for a in arrays):
        return out
    if any(k == "dtype" and np.dtype(v) == np.float64 for k, v in key):
        return out
    fixed = tuple(o.astype(Defaults.float) if o.dtype == np.float64 else o for o in outs)
    return fixed if op.multi else fixed[0]


# Elementwise ops whose tensor inputs follow PyTorch's type promotion (where: inputs 1, 2).
_PROMOTING = frozenset(
    "hypot logaddexp fmod xlogy lerp_tensor clamp_tensor clamp_min_tensor clamp_max_tensor "
    "addcmul addcdiv isclose logical_xor "
    "add sub rsub mul div rdiv pow_tensor maximum minimum atan2 remainder where eq ne lt le "
    "gt ge logical_and logical_or floor_divide".split()
)


def _promote_zero_dim(cls, op, inputs):
    """PyTorch's promotion: a 0-d tensor does not raise the dtype of dimensioned tensors of
    its category or a higher one (float16 vector + float32 0-d tensor is float16), where
    JAX's would; such a 0-d input is cast (a recorded op, so its grad comes back in its
    own dtype)."""
    positions = (1, 2) if op.name == "where" else range(len(inputs))
    zero, dims = [], []
    for i in positions:
        x = inputs[i]
        if isinstance(x, cls):
            (dims if x._data.ndim else zero).append(i)
    if not zero or not dims:
        return inputs
    target = np.dtype(jnp.result_type(*(inputs[i]._data.dtype for i in dims)))
    out = list(inputs)
    for i in zero:
        dtype = np.dtype(inputs[i]._data.dtype)
        if dtype != target and dtype_category(dtype) <= dtype_category(target):
            out[i] = apply(cls, "to_dtype", inputs[i], dtype=target.name)
    return out


_MULTI_DEVICE = jax.device_count() > 1  # only then can inputs sit on different devices


def _check_devices(arrays):
    """PyTorch's error for inputs on different devices (JAX would move uncommitted ones)."""
    seen = []
    for a in arrays:
        if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer):
            for d in a.devices():
                if d not in seen:
                    seen.append(d)
    if len(seen) > 1:
        names = [f"{d.platform}:{d.id}" for d in seen[:2]]
        raise RuntimeError(
            errors.DEVICE_MISMATCH.format(a=names[0], b=names[1]) + errors.DEVICE_HINT
        )


def _input_error(op, arrays, error):
    """PyTorch's error for input shapes that do not broadcast; other errors unchanged."""
    if "broadcast" not in str(error).lower():
        return error
    shapes = [tuple(a.shape) for a in arrays if hasattr(a, "shape")]
    message = errors.broadcast_mismatch(shapes) if len(shapes) > 1 else None
    if message is None:
        return error
    return RuntimeError(
        message + errors.BROADCAST_HINT.format(op=op.name, shapes=", ".join(map(str, shapes)))
    )


# ---------------------------------------------------------------- recording a node
class _Plan:
    """What one op signature (op, static args, which inputs require grad, input and output
    types) needs at backward: PyTorch's saved positions and the functional VJP rule.

    `keeps_output`: the node keeps the op's result, not its inputs, and its rule reads that
    alone (`SavedOutputVJP`), as PyTorch's node does for relu, tanh, exp, softmax, ... Then
    the result is one buffer with the next op's input, and the graph holds it once."""

    __slots__ = (
        "op", "key", "requires", "input_types", "torch_saved", "saves_result", "rule", "run",
        "keeps_output", "wide", "attrs_spec", "check_saved", "check_order", "node_cls",
        "saves_tensors",
    )  # fmt: skip

    def __init__(self, cls, op, key, requires, inputs, outputs, edged):
        self.op, self.key, self.requires, self.input_types = op, key, requires, inputs
        # PyTorch saves what the gradients of inputs with a grad edge need (`edged`: a view
        # made under no_grad requires grad but has none).
        self.torch_saved, self.saves_result = saved_positions(op.saves, len(inputs), edged)
        from_output = result_rule(op, key)
        self.keeps_output = from_output is not None
        if self.keeps_output:
            self.rule = SavedOutputVJP(from_output, outputs[0])
        else:
            # Python scalars cost nothing to keep, and the VJP may need them (x ** 3).
            keep = tuple(
                i for i, kind in enumerate(inputs) if i in self.torch_saved or kind[0] == "scalar"
            )
            diff = tuple(i for i, r in enumerate(requires) if r)
            fn = functools.partial(op.fn, **dict(key))
            self.rule = SavedInputVJP(fn, inputs, keep, diff, outputs, multi=op.multi)
        self.run = functools.partial(_run, cls, self)
        # A 64-bit signature runs its backward in JAX's 64-bit mode too.
        self.wide = (
            op.wide
            or any(is_wide(t[2]) for t in inputs if t[0] == "array")
            or any(is_wide(dtype) for _, dtype in outputs)
        )
        self.attrs_spec = (SavedInfo, (cls, self, inputs))  # grad_fn._saved_*, built on read
        # PyTorch version-checks the saved inputs (not a "result", "indices" or "hidden")
        self.check_saved = () if op.saves in ("result", "indices", "hidden") else self.torch_saved
        self.check_order = _check_order(op, self.check_saved, self.saves_result, len(outputs))
        self.node_cls = node_class(op.node)
        # PyTorch's CopySlices drops its view function when freed: a second backward fails.
        self.saves_tensors = bool(self.torch_saved) or self.saves_result or op.node == "CopySlices"


def _check_order(op, check_saved, saves_result, n_results):
    """The order of a node's version checks, static per signature: `(is_result, index)`
    per saved input (in `check_saved`) and saved result, sorted by PyTorch's saved names
    (PyTorch checks a node's saved tensors in the order of their names; stable: an unnamed
    input keeps its place). Inputs that are not tensors are skipped at record time."""
    names = SAVED_NAMES.get(op.name) or (("self",) if op.saves == "all+result" else ())
    order = [(names[i] if i < len(names) else "", (False, i)) for i in check_saved]
    if saves_result:
        saved_results = range(n_results)[-1:] if op.saves == "indices" else range(n_results)
        order.extend(("result", (True, i)) for i in saved_results)
    if names:
        order.sort(key=lambda named: named[0])
    return tuple(where for _, where in order)


def _record(cls, op, key, inputs, arrays, requires, results, outs, plan=None, pending=False):
    """Makes the node of an op that ran (`arrays`: its input values, `outs`: its output
    arrays); returns the op signature's plan. For a pending op of a lazy segment
    (funcgrad.tape.lazy, `pending`) they are abstract values, the plan may be known, and
    the node gets no pullback: the segment gives it a pending one."""
    if plan is None:
        plan = _plan(cls, op, key, inputs, arrays, requires, outs)
    checks = []
    for is_result, i in plan.check_order:
        if is_result:
            checks.append(_version_check(results[i], outs[i], op.node))
            continue
        x = inputs[i]
        if isinstance(x, cls):
            if x._inference:
                raise RuntimeError(errors.INFERENCE_SAVED)
            check = _version_check(x, arrays[i])
            if op.name == "vm" and i == 0:
                check = _unsqueezed_check(check)
            checks.append(check)
    pullback = None if pending else _pullback(cls, plan, inputs, arrays, results, outs)
    edges = tuple([x._edge() if r else (None, 0) for x, r in zip(inputs, requires)])
    node = plan.node_cls(
        op.node, edges, plan.run, pullback, checks, len(results), plan.saves_tensors
    )
    node._attrs_spec = plan.attrs_spec
    for i, r in enumerate(results):
        if plan.rule.diff_out[i]:
            r._grad_fn, r._output_nr, r._requires_grad = node, i, True
    return plan


def _plan(cls, op, key, inputs, arrays, requires, outs):
    """The `_Plan` of an op signature, made once."""
    input_types = tuple(map(input_type, arrays))
    output_types = tuple((o.shape, o.dtype) for o in outs)
    edged = requires
    for x in inputs:
        if isinstance(x, cls) and x._accumulator is no_edge:
            edged = tuple(
                r and not (isinstance(y, cls) and y._accumulator is no_edge)
                for y, r in zip(inputs, requires)
            )
            break
    spec = (op, key, requires, input_types, output_types, edged)
    plan = _plans.get(spec)
    if plan is None:
        plan = _plans[spec] = _Plan(cls, op, key, requires, input_types, output_types, edged)
    return plan


def _pullback(cls, plan, inputs, arrays, results, outs):
    """The node's pullback: PyTorch's saved values (packed by saved-tensor hooks if any)."""
    if plan.keeps_output:
        tensors = results
        saved = (outs[0],)
    else:
        tensors = tuple(inputs[i] if isinstance(inputs[i], cls) else None for i in plan.rule.keep)
        saved = tuple(arrays[i] for i in plan.rule.keep)
    unpack = None
    if saved_hooks_active():
        order = None if plan.keeps_output else pack_order(plan.op, plan.rule.keep)
        saved, unpack = pack_all(saved, tensors, order), unpack_all
    elif not plan.keeps_output:
        roots = keep_roots(saved, tensors)  # a saved view keeps its storage, once
        if roots is not None:
            saved, unpack = roots, unpack_all
    return SavedPullback(plan.rule, saved, unpack)


def _unsqueezed_check(check):
    """The check of a vector @ matrix's vector: PyTorch saves `a.unsqueeze(0)`, a view of
    `a` that only its node holds, so after `a` changes its error names that view as it
    regenerates it: shape (1, n), output 0 of AsStrided."""
    counter, version, (dtype, shape, *_) = check
    return counter, version, (dtype, (1, *shape), "AsStridedBackward0", 0, None)


def _version_check(tensor, value, owner=None):
    """(counter, version, info): backward fails if the tensor was changed in place since.

    A saved input is named in the error by its grad_fn at backward time, as PyTorch does
    (an in-place op may have replaced it), so info holds a weak reference to it."""
    grad_fn = owner or (tensor._grad_fn._name if tensor._grad_fn is not None else None)
    ref = None if owner else weakref.ref(tensor)
    output_nr = tensor._output_nr
    if not owner and tensor._base is not None and tensor._grad_fn is not None:
        # A saved view fails only after its base changed in place; PyTorch then regenerates
        # the view's grad_fn as an AsStridedBackward0 (a linear layer's saved weight.t()
        # after an optimizer step), and names that, also when only the node keeps the view.
        grad_fn, output_nr = "AsStridedBackward0", 0
    info = (value.dtype, value.shape, grad_fn, output_nr, ref)
    return tensor._vc, tensor._vc.value, info


# ---------------------------------------------------------------- running a node
def _run(cls, plan, node, grads, create_graph):
    if plan.wide:
        with jax.enable_x64(True):
            return _run_node(cls, plan, node, grads, create_graph)
    return _run_node(cls, plan, node, grads, create_graph)


def _run_node(cls, plan, node, grads, create_graph):
    pullback = node._pullback
    if pullback.is_freed:
        # Freed, and saves no tensor (only Python scalars the gradient ignores).
        kept = plan.rule.placeholders()
    else:
        kept = pullback.values()
    if create_graph:
        diff_grads = _backward_as_op(cls, plan, node, kept, grads)
    else:
        diff_grads = plan.rule.jitted(kept, tuple(grads))
        if plan.op.name == "to_device":  # ToCopyBackward0: back to the source device
            source = dict(plan.key)["source"]
            diff_grads = tuple(jax.device_put(g, source) for g in diff_grads)
    it = iter(diff_grads)
    return [next(it) if r else None for r in plan.requires]


_SELECTING_BACKWARD = frozenset(
    ["max", "min", "max_dim", "min_dim", "amax", "amin", "maximum", "minimum", "clamp",
     "remainder"]
    + "clamp_min clamp_max clamp_tensor clamp_min_tensor clamp_max_tensor median median_dim "
    "topk sort nansum nan_to_num sgn take masked_select".split()
)  # fmt: skip


def _is_zero(v) -> bool:
    return isinstance(v, (int, float)) and v == 0


def _backward_input_types(plan, kept, present) -> tuple:
    """The input types of a node's recorded backward: its kept values, then its grads."""
    outputs = [("array", *out) for out, p in zip(plan.rule.outputs, present) if p]
    return (*map(input_type, kept), *outputs)


def _backward_as_op(cls, plan, node, kept, grads):
    """create_graph: the pullback runs as a recorded op whose inputs are the saved tensors
    (re-attached to their graph edges) and the incoming grads."""
    name = plan.op.name
    # PyTorch's backward of these only selects or masks the incoming grad (comparisons of
    # the saved values), so its result requires grad only through the grad; x ** 0 too.
    constant = name in _SELECTING_BACKWARD or (name == "pow" and _is_zero(kept[-1]))
    saved_tensors = []
    if plan.keeps_output:  # the kept result is this node's output: its grads flow back here
        edges = ((node, 0),)
    else:  # (CopySlices lists no edge for its trailing non-differentiable inputs.)
        listed = node.next_functions
        edges = tuple(listed[i] if i < len(listed) else (None, 0) for i in plan.rule.keep)
    for (edge_node, nr), value in zip(edges, kept):
        if constant:
            edge_node, nr = None, 0
        if isinstance(edge_node, AccumulateGrad):
            # The saved value, on the leaf's edge: the leaf itself may have changed since
            # (in place under no_grad, legal when PyTorch saved only the result).
            leaf = cls._wrap(value)
            leaf._requires_grad, leaf._accumulator = True, weakref.ref(edge_node)
            saved_tensors.append(leaf)
        elif edge_node is not None:
            saved_tensors.append(cls._wrap(value, grad_fn=edge_node, output_nr=nr))
        else:
            saved_tensors.append(value if isinstance(value, (int, float)) else cls._wrap(value))
    present = tuple(g is not None for g in grads)
    backward_op = _backward_ops.get((plan, present))
    if backward_op is None:
        vjp_fn, n_kept = plan.rule.vjp_fn, len(kept)

        def backward_fn(*args):
            cts = iter(args[n_kept:])
            return tuple(vjp_fn(args[:n_kept], tuple(next(cts) if p else None for p in present)))

        op = plan.op
        backward_op = _backward_ops[(plan, present)] = Op(
            f"{op.name}_backward",
            backward_fn,
            op.node.replace("Backward", "BackwardBackward"),
            backward_saves(backward_fn, _backward_input_types(plan, kept, present)),
            multi=True,
        )
    return tuple(apply(cls, backward_op, *saved_tensors, *[g for g in grads if g is not None]))


lazy.use_forward(_forward)  # a flushed lazy segment runs op by op with these kernels
