"""`autograd.backward` and `autograd.grad`: argument checks in PyTorch's words, then the
engine. Also the `autograd` namespace (`Function`, `graph.saved_tensors_hooks`).
"""

from __future__ import annotations

import types

import jax.numpy as jnp

from . import errors
from .engine import no_edge, run_backward
from .function import Function, FunctionCtx  # noqa: F401 - re-exported
from .grad_mode import set_grad_enabled
from .saved_hooks import saved_tensors_hooks
from .tensor import Tensor

graph = types.SimpleNamespace(saved_tensors_hooks=saved_tensors_hooks)


def _as_tuple(x, what):
    if isinstance(x, Tensor):
        return (x,)
    if x is None:
        return ()
    x = tuple(x)
    for t in x:
        if not isinstance(t, Tensor):
            if what == "inputs":  # PyTorch's words; for outputs it fails an assert
                raise RuntimeError(
                    "all inputs have to be Tensors or GradientEdges, but got "
                    f"{type(t).__name__}"
                )
            raise TypeError(f"{what} must be Tensors, got {type(t).__name__}")
    return x


def _root_grads(outputs, grad_outputs, create_graph):
    """PyTorch's _make_grads: default ones for scalars, shape checks, one grad per output."""
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            "grad can be implicitly created only for scalar outputs"
            if not grad_outputs
            else f"Mismatch in number of grad_outputs: got {len(grad_outputs)} for "
            f"{len(outputs)} outputs"
        )
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out._requires_grad and out.numel() != 1:
                raise RuntimeError(
                    errors.IMPLICIT_GRAD_NON_SCALAR
                    + errors.IMPLICIT_GRAD_HINT.format(shape=tuple(out.shape))
                )
            g = jnp.ones(out.shape, out.dtype)
        else:
            if not isinstance(g, Tensor):
                g = Tensor._wrap(jnp.asarray(g, out.dtype))
            if tuple(g.shape) != tuple(out.shape):
                raise RuntimeError(
                    errors.SHAPE_MISMATCH.format(
                        index=i,
                        given=errors.torch_size(g.shape),
                        expected=errors.torch_size(out.shape),
                    )
                )
            g = g if create_graph else g._data.astype(out.dtype)
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._wrap(g)
        grads.append(g)
    for i, out in enumerate(outputs):
        if not out._requires_grad or out._accumulator is no_edge:
            raise RuntimeError(errors.NO_GRAD_FN.format(index=i) + errors.NO_GRAD_FN_HINT)
    return grads


def _check_inputs(inputs):
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates the gradients of `tensors` into the `.grad` of the graph's leaves.

    Args:
      tensors: a tensor or sequence of tensors to differentiate.
      grad_tensors: Optional. One gradient per tensor (None allowed for scalars).
      retain_graph: Optional, bool. Keep saved values for another backward; defaults to
        create_graph. Without it, each node that runs drops its saved values.
      create_graph: Optional, bool. Record the backward pass, for higher-order gradients.
      inputs: Optional. Tensors whose `.grad` receives the gradient; others are untouched.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> torch.autograd.backward([(x ** 2).sum()])
        >>> x.grad
        tensor([2., 4.])
    """
    if Tensor._func_transforms is not None:  # inside torch.func: PyTorch's error
        Tensor._func_transforms.backward_called("backward")
    outputs = _as_tuple(tensors, "tensors")
    grad_tensors = (
        [None] * len(outputs)
        if grad_tensors is None
        else list(
            _as_tuple(grad_tensors, "grad_tensors")
            if not isinstance(grad_tensors, (list, tuple))
            else grad_tensors
        )
    )
    retain_graph = create_graph if retain_graph is None else retain_graph
    capture = None
    if inputs is not None:
        inputs = _as_tuple(inputs, "inputs")
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    roots = [o._edge() if o._requires_grad else (None, 0) for o in outputs]
    grads = _root_grads(outputs, grad_tensors, create_graph)
    if inputs is not None:  # checked after the outputs, in PyTorch's order
        for t in inputs:
            # Like PyTorch: a non-leaf input gets its .grad populated; an input that does
            # not require grad raises here.
            t.retain_grad()
        capture = [t._edge() for t in inputs]
    with set_grad_enabled(create_graph):
        run_backward(
            roots,
            grads,
            retain_graph=retain_graph,
            create_graph=create_graph,
            capture=capture,
            accumulate=True,
        )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Returns the gradients of `outputs` w.r.t. `inputs` without touching any `.grad`.

    Args:
      outputs: a tensor or sequence of tensors to differentiate.
      inputs: a tensor or sequence of tensors to differentiate with respect to.
      grad_outputs: Optional. One gradient per output (None allowed for scalars).
      retain_graph: Optional, bool. Defaults to create_graph.
      create_graph: Optional, bool. Make the result differentiable (double backward).
      allow_unused: Optional, bool. Return None for inputs the outputs do not depend on,
        instead of raising.
      materialize_grads: Optional, bool. Return zeros instead of None for unused inputs.

    Returns:
      A tuple with one gradient tensor (or None) per input.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([3.0], requires_grad=True)
        >>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
        >>> (h,) = torch.autograd.grad(g, x)
        >>> g.item(), h.item()
        (27.0, 18.0)
    """
    if Tensor._func_transforms is not None:  # inside torch.func: no graph to walk
        Tensor._func_transforms.backward_called("autograd.grad")
    if is_grads_batched:
        raise NotImplementedError(
            "autograd.grad(is_grads_batched=True) is not supported; "
            "use jax.vmap over funcgrad.functional pullbacks instead"
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, "
            "but got: allow_unused=False."
        )
    outputs = _as_tuple(outputs, "outputs")
    single = isinstance(inputs, Tensor)
    inputs = _as_tuple(inputs, "inputs")
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    grad_outputs = (
        [None] * len(outputs)
        if grad_outputs is None
        else list((grad_outputs,) if isinstance(grad_outputs, Tensor) else grad_outputs)
    )
    retain_graph = create_graph if retain_graph is None else retain_graph
    roots = [o._edge() if o._requires_grad else (None, 0) for o in outputs]
    grads = _root_grads(outputs, grad_outputs, create_graph)
    _check_inputs(inputs)  # after the outputs, in PyTorch's order
    with set_grad_enabled(create_graph):
        captured = run_backward(
            roots,
            grads,
            retain_graph=retain_graph,
            create_graph=create_graph,
            capture=[t._edge() for t in inputs],
            accumulate=False,
        )
    result, wrapped = [], {}  # an input given twice gets one tensor twice, as in PyTorch
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(errors.UNUSED_INPUT.format(index=i))
            g = Tensor._wrap(jnp.zeros(t.shape, t.dtype)) if materialize_grads else None
        elif not isinstance(g, Tensor):
            if id(g) not in wrapped:
                wrapped[id(g)] = Tensor._wrap(g)
            g = wrapped[id(g)]
        result.append(g)
    del single
    return tuple(result)
