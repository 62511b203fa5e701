"""`strict=True` of `autograd.functional`: is an output, or a derivative, independent of
an input? And `as_tuple`, the argument check every function of it starts with.

Independence is a property of PyTorch's graph, not of values (a derivative that happens to
be zero is not independent), so these checks run the function once more on the tape, from
fresh leaves that require grad, and walk the graph with `autograd.grad(allow_unused=True)`
in the order PyTorch's `torch/autograd/functional.py` does, raising its errors. The
derivatives returned to the user are computed elsewhere (functional.py, by JAX transforms);
nothing here is returned.
"""

from __future__ import annotations

from .. import errors
from ..creation import ones_like, zeros_like
from ..grad_mode import enable_grad
from ..tensor import Tensor
from . import grad as autograd_grad

__all__ = ["as_tuple", "first_order", "forward", "hessian", "jacobian", "second_order"]

OUTPUTS = "outputs of the user-provided function"


def as_tuple(value, what: str, api: str) -> tuple[bool, tuple]:
    """(whether `value` was a tuple, it as a tuple of tensors), PyTorch's TypeError else."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, x in enumerate(values):
        if not isinstance(x, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {what}"
            raise TypeError(
                errors.FUNCTIONAL_NOT_TENSORS.format(what=what, api=api, where=where, type=type(x))
            )
    return is_tuple, values


def _run(func, inputs, api: str) -> tuple[tuple, tuple]:
    """(fresh leaves, the outputs from them), each output checked to require grad."""
    leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
    _, outputs = as_tuple(func(*leaves), OUTPUTS, api)
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(errors.STRICT_OUTPUT_NO_GRAD.format(i=i))
    return leaves, outputs


def _grads(outputs, inputs, grad_outputs=None, create_graph=False) -> tuple:
    """autograd.grad of the outputs that require grad (None for an unreached input)."""
    grad_outputs = grad_outputs or tuple(ones_like(o) for o in outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return autograd_grad(
        [o for o, _ in pairs],
        list(inputs),
        [g for _, g in pairs],
        retain_graph=True,
        create_graph=create_graph,
        allow_unused=True,
    )


def _none_or_constant(grads, create_graph, none_message, constant_message) -> None:
    """PyTorch's `_fill_in_zeros` checks: a None gradient, or (with create_graph) one
    without a graph."""
    for i, g in enumerate(grads):
        if g is None:
            raise RuntimeError(none_message.format(i=i))
        if create_graph and not g.requires_grad:
            raise RuntimeError(constant_message.format(i=i))


def _jacobian_depends(grads) -> None:
    """PyTorch's check of a gradient taken with create_graph=True: it must have a graph."""
    for i, g in enumerate(grads):
        if g is None:
            raise RuntimeError(errors.STRICT_INDEPENDENT_INPUT.format(i=i))
        if not g.requires_grad:
            raise RuntimeError(errors.STRICT_JACOBIAN_CONSTANT.format(i=i))


def first_order(func, inputs, api: str, create_graph: bool) -> None:
    """vjp's checks."""
    with enable_grad():
        leaves, outputs = _run(func, inputs, api)
        grads = _grads(outputs, leaves, create_graph=create_graph)
    _none_or_constant(
        grads, create_graph, errors.STRICT_INDEPENDENT_INPUT, errors.STRICT_JACOBIAN_CREATE_GRAPH
    )


def forward(func, inputs, create_graph: bool) -> None:
    """jvp's checks. PyTorch's jvp backwards twice (the double-backward trick); its last
    checks ask, per output, whether the output reaches an input and (with create_graph)
    whether its Jacobian depends on one: asked here of each output's gradient directly,
    since the tape records a double backward as one op that keeps all its inputs."""
    with enable_grad():
        leaves, outputs = _run(func, inputs, "jvp")
        grad_outputs = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _grads(outputs, leaves, grad_outputs, create_graph=True)
        for i, g in enumerate(grad_inputs):
            if g is None:
                raise RuntimeError(errors.STRICT_INDEPENDENT_INPUT.format(i=i))
            if not g.requires_grad:
                raise RuntimeError(errors.STRICT_GRAD_INPUT_INDEPENDENT.format(i=i))
        for i, out in enumerate(outputs):
            grads = [g for g in _grads((out,), leaves, create_graph=True) if g is not None]
            if not grads:
                raise RuntimeError(errors.STRICT_BACK_TRICK.format(i=i))
            if create_graph and not any(g.requires_grad for g in grads):
                raise RuntimeError(errors.STRICT_JACOBIAN_CREATE_GRAPH.format(i=i))


def _per_output(outputs, leaves, create_graph: bool) -> None:
    """jacobian's check, output by output: each must depend on every input."""
    for i, out in enumerate(outputs):
        grads = _grads((out,), leaves, create_graph=create_graph)
        for j, g in enumerate(grads):
            if g is not None and create_graph and not g.requires_grad:
                raise RuntimeError(errors.STRICT_JACOBIAN_CREATE_GRAPH.format(i=i))
            if g is None:
                raise RuntimeError(errors.STRICT_OUTPUT_INDEPENDENT_INPUT.format(i=i, j=j))


def jacobian(func, inputs, create_graph: bool, vectorize: bool) -> None:
    """jacobian's checks (reverse mode)."""
    with enable_grad():
        leaves, outputs = _run(func, inputs, "jacobian")
        if vectorize:
            raise RuntimeError(errors.FUNCTIONAL_STRICT_VECTORIZE)
        _per_output(outputs, leaves, create_graph)


def _single(outputs, api: str) -> None:
    if len(outputs) != 1:
        raise RuntimeError(errors.FUNCTIONAL_SINGLE_TENSOR.format(api=api))
    if outputs[0].numel() != 1:
        raise RuntimeError(errors.FUNCTIONAL_SINGLE_ELEMENT.format(api=api))


def _scalar_run(func, inputs, api: str):
    """(leaves, the one output): as `_run`, then PyTorch's single-output checks."""
    leaves = tuple(x.detach().requires_grad_(True) for x in inputs)
    is_tuple, outputs = as_tuple(func(*leaves), OUTPUTS, api)
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(errors.STRICT_OUTPUT_NO_GRAD.format(i=i))
    if is_tuple:
        raise RuntimeError(errors.FUNCTIONAL_SINGLE_TENSOR.format(api=api))
    _single(outputs, api)
    return leaves, outputs[0]


def hessian(func, inputs, create_graph: bool, vectorize: bool) -> None:
    """hessian's checks: the gradient (taken with a graph) must depend on the inputs, and
    each of its parts on every input."""
    with enable_grad():
        leaves, out = _scalar_run(func, inputs, "hessian")
        jac = _grads((out.squeeze(),), leaves, create_graph=True)
        jac = tuple(zeros_like(x) if g is None else g for x, g in zip(leaves, jac))
        for i, g in enumerate(jac):
            if not g.requires_grad:
                raise RuntimeError(errors.STRICT_JACOBIAN_CONSTANT.format(i=i))
        if vectorize:
            raise RuntimeError(errors.FUNCTIONAL_STRICT_VECTORIZE)
        _per_output(jac, leaves, create_graph)


def second_order(api: str, func, inputs, create_graph: bool) -> None:
    """vhp's and hvp's checks."""
    with enable_grad():
        leaves, out = _scalar_run(func, inputs, api)
        jac = _grads((out,), leaves, create_graph=True)
        _jacobian_depends(jac)
        if api == "vhp":
            back = _grads(jac, leaves, create_graph=create_graph)
            messages = (errors.STRICT_JACOBIAN_INDEPENDENT, errors.STRICT_HESSIAN_CREATE_GRAPH)
        else:  # hvp: PyTorch backwards the double backward once more (the trick)
            grad_jac = tuple(zeros_like(x).requires_grad_(True) for x in leaves)
            double_back = _grads(jac, leaves, grad_jac, create_graph=True)
            back = _grads(double_back, grad_jac, create_graph=create_graph)
            messages = (errors.STRICT_HESSIAN_BACK_TRICK, errors.STRICT_HESSIAN_CREATE_GRAPH)
    _none_or_constant(back, create_graph, *messages)
