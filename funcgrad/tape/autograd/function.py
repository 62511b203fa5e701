"""`torch.autograd.function`: the custom `Function`, its `FunctionCtx`, and
`once_differentiable`, the decorator for a backward that cannot itself be differentiated.

The classes live in funcgrad/tape/function.py (the tape core uses them); this module is
PyTorch's import path for them.
"""

from __future__ import annotations

import functools

from .. import errors
from ..engine import node_class
from ..function import Function as Function, FunctionCtx as FunctionCtx
from ..grad_mode import is_grad_enabled, no_grad
from ..tensor import Tensor

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


def once_differentiable(fn):
    """Decorates a custom Function's `backward` that is not differentiable: it runs under
    `no_grad`, and with `create_graph=True` its gradients are attached to a node that
    raises PyTorch's error if a second backward reaches it.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.autograd.function import once_differentiable
        >>> class Cube(torch.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x**3
        ...     @staticmethod
        ...     @once_differentiable
        ...     def backward(ctx, g):
        ...         (x,) = ctx.saved_tensors
        ...         return 3 * x**2 * g
        >>> x = torch.tensor([2.0], requires_grad=True)
        >>> Cube.apply(x).backward()
        >>> x.grad
        tensor([12.])
    """

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not is_grad_enabled():
            return outputs
        # With create_graph: if an input gradient requires grad, a second backward through
        # these outputs must fail, as in PyTorch (a DelayedError node on them).
        needs = any(isinstance(a, Tensor) and a.requires_grad for a in args)
        if not needs:
            return outputs
        single = not isinstance(outputs, tuple)
        outs = _error_node((outputs,) if single else outputs)
        return outs[0] if single else outs

    return wrapper


def _raise_once_differentiable(node, grads, create_graph):
    raise RuntimeError(errors.ONCE_DIFFERENTIABLE)


def _error_node(outputs) -> tuple:
    """PyTorch's DelayedError: aliases of `outputs` whose node (named 'Error') raises when
    a backward reaches it; its inputs are detached copies made to require grad."""
    fakes = [None if o is None else o.detach().requires_grad_() for o in outputs]
    edges = tuple((None, 0) if f is None else f._edge() for f in fakes)
    node = node_class("Error")("Error", edges, _raise_once_differentiable, n_outputs=len(fakes))
    aliases = []
    for i, o in enumerate(outputs):
        if o is not None:
            o = o.detach()
            o._grad_fn, o._output_nr, o._requires_grad = node, i, True
        aliases.append(o)
    return tuple(aliases)
