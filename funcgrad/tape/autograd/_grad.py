"""`torch.autograd.grad`: gradients returned instead of accumulated (argument checks in
PyTorch's words, then the engine). Its own module so that `gradcheck` can use it.
"""

from __future__ import annotations

import jax.numpy as jnp

from .. import errors, observe
from ..backward import as_tensors, root_grads
from ..engine import run_backward
from ..grad_mode import set_grad_enabled
from ..tensor import Tensor

__all__ = ["grad"]


def _check_inputs(inputs):
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")


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
    if observe.transforms is not None:  # inside torch.func: no graph to walk
        observe.transforms.backward_called("autograd.grad")
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
    outputs = as_tensors(outputs, "outputs")
    single = isinstance(inputs, Tensor)
    inputs = as_tensors(inputs, "inputs")
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    grad_outputs = (
        [None] * len(outputs)
        if grad_outputs is None
        else list((grad_outputs,) if isinstance(grad_outputs, Tensor) else grad_outputs)
    )
    retain_graph = create_graph if retain_graph is None else retain_graph
    roots = [o._edge() if o._requires_grad else (None, 0) for o in outputs]
    grads = root_grads(outputs, grad_outputs, create_graph)
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
