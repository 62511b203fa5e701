"""Custom `autograd.Function`: a user-written forward and backward as one tape node.

This is the one place where a backward is written by hand, and it is the user's: funcgrad
calls `backward(ctx, *grad_outputs)` with the node's saved tensors, exactly as PyTorch does.
The node holds a `funcgrad.functional.SavedPullback` like every other node: the tensors of
`ctx.save_for_backward` are its residuals, its rule is the user's backward. So a backward
without `retain_graph` frees them, and `live_graph_bytes()` counts them while they live;
`ctx` itself keeps only a weak reference to them. Under saved-tensor hooks
(`autograd.graph.saved_tensors_hooks`, `save_on_cpu`, non-reentrant checkpoint) they are
packed when the node is made and unpacked at each read of `ctx.saved_tensors`, as PyTorch
does.
"""

from __future__ import annotations

import weakref

import jax.numpy as jnp

from ..functional import SavedPullback
from . import errors, observe
from .engine import node_class
from .grad_mode import is_grad_enabled, is_recording, no_grad, set_grad_enabled
from .saved_hooks import pack_all, saved_hooks_active, unpack_tensors
from .tensor import Tensor

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """The `ctx` passed to forward/backward: saved tensors and flags."""

    def __init__(self):
        self.to_save = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self.non_differentiable = set()
        self.dirty_tensors = ()
        self._pullback = None  # once the node exists: a weak reference to its pullback

    def save_for_backward(self, *tensors):
        self.to_save = tensors

    @property
    def saved_tensors(self):
        if self._pullback is None:
            return self.to_save
        pullback = self._pullback()
        if pullback is None or pullback.is_freed:
            raise RuntimeError(errors.BACKWARD_TWICE)
        return pullback.values()  # through the unpack hooks, if it was packed

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = value

    def mark_dirty(self, *tensors):
        """Marks inputs that forward modified in place; forward must return them."""
        self.dirty_tensors = tensors


class Function:
    """Base class for custom differentiable functions (PyTorch's `autograd.Function`).

    Example:
        >>> import funcgrad.tape as torch
        >>> class Square(torch.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return 2 * x * grad
        >>> x = torch.tensor([3.0], requires_grad=True)
        >>> Square.apply(x).backward()
        >>> x.grad
        tensor([6.])
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        custom_setup = cls.setup_context is not Function.setup_context
        if observe.transforms is not None:  # inside torch.func: refused, see func/
            observe.transforms.custom_function(cls.__name__, custom_setup)
        with no_grad():
            out = (
                cls.forward(*args, **kwargs) if custom_setup else cls.forward(ctx, *args, **kwargs)
            )
        if custom_setup:
            cls.setup_context(ctx, args, out)
        outs = out if isinstance(out, tuple) else (out,)
        record = is_recording() and any(ctx.needs_input_grad)
        _check_dirty(ctx.dirty_tensors, outs, record)
        # An input returned unchanged comes back as a new tensor (a view of it when grad
        # mode is on), never as the input itself; one marked dirty comes back as itself.
        given, outs = outs, tuple(_output_of_input(o, ctx.dirty_tensors, args) for o in outs)
        ctx.non_differentiable |= {
            id(o) for o, g in zip(outs, given) if id(g) in ctx.non_differentiable
        }
        out = outs if isinstance(out, tuple) else outs[0]
        if not record:
            return out
        # One edge per tensor argument, as PyTorch's next_functions: other arguments have
        # none (their gradient, None, is still among what backward returns).
        edges = tuple(
            (a._edge() if a.requires_grad else (None, 0)) for a in args if isinstance(a, Tensor)
        )
        rule = _CustomBackward(cls, ctx, args, outs, edges)
        # The saved tensors move from ctx to the node's pullback: freeing it frees them.
        pullback = SavedPullback(rule, ctx.to_save)
        ctx.to_save, ctx._pullback = (), weakref.ref(pullback)
        name = f"{cls.__name__}Backward"
        node = node_class(name)(
            name,
            edges,
            _run,
            pullback,
            n_outputs=len(outs),
            saves_tensors=any(isinstance(t, Tensor) for t in pullback.saved),
        )
        for i, o in enumerate(outs):
            if (
                isinstance(o, Tensor)
                and id(o) not in ctx.non_differentiable
                and jnp.issubdtype(o.dtype, jnp.inexact)
            ):
                # A dirty input's history is rewritten: this node is its grad_fn now.
                o._grad_fn, o._output_nr, o._requires_grad = node, i, True
        if saved_hooks_active():  # PyTorch packs them now, an output with its grad_fn set
            saved = pullback.saved
            packed = pack_all(saved, tuple(t if isinstance(t, Tensor) else None for t in saved))
            for i, value in enumerate(packed):
                pullback.replace(i, value, unpack_tensors)
        return out


def _check_dirty(dirty, outs, record) -> None:
    """PyTorch's checks of `ctx.mark_dirty`, then the version bump it makes (on top of the
    in-place op's own): graphs that saved the old value fail their backward."""
    returned = {id(o) for o in outs}
    if any(id(t) not in returned for t in dirty):
        raise RuntimeError(errors.DIRTY_NOT_RETURNED)
    for t in dirty:
        if record and t._grad_fn is None and t._requires_grad:
            raise RuntimeError(errors.DIRTY_LEAF + errors.LEAF_INPLACE_HINT)
        if record and t._base is not None:
            raise NotImplementedError(errors.DIRTY_VIEW)
    for t in dirty:
        t._vc.value += 1
        if t._base is None:
            t._view_version = t._vc.value


def _output_of_input(out, dirty, args):
    if not isinstance(out, Tensor) or not any(out is a for a in args):
        return out
    if any(out is t for t in dirty):
        return out
    if not is_grad_enabled():
        return out.detach()
    with no_grad():
        alias = out.view(out.shape)
    # A view made under no_grad is marked as such; this one is the Function's output.
    alias._view_meta, alias._accumulator, alias._requires_grad = None, None, False
    return alias


def _run(node, grads, create_graph):
    pullback = node._pullback
    return pullback.rule(pullback.saved, grads, create_graph)


class _CustomBackward:
    """The rule of a custom Function's pullback: the user's `backward(ctx, *grads)`, with
    PyTorch's checks of what it returns. It keeps the inputs' shapes, not the inputs."""

    def __init__(self, cls, ctx, args, outs, edges):
        self.cls, self.ctx, self.n_args = cls, ctx, len(args)
        # (argument index, shape, has an edge) per tensor argument, in the edges' order.
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.other_args = tuple(i for i, a in enumerate(args) if not isinstance(a, Tensor))
        self.tensor_args = tuple(
            (i, tuple(args[i].shape), node is not None) for i, (node, _) in zip(positions, edges)
        )
        self.metas = tuple((o.shape, o.dtype) if isinstance(o, Tensor) else None for o in outs)

    def __call__(self, saved, grads, create_graph=False):
        cls, ctx = self.cls, self.ctx
        wrapped = []
        for g, meta in zip(grads, self.metas):
            if g is None and ctx.materialize_grads and meta is not None:
                g = jnp.zeros(meta[0], meta[1])
            wrapped.append(g if g is None or isinstance(g, Tensor) else Tensor._wrap(g))
        with set_grad_enabled(create_graph):
            result = cls.backward(ctx, *wrapped)
        result = result if isinstance(result, tuple) else (result,)
        if len(result) > self.n_args and all(g is None for g in result[self.n_args :]):
            result = result[: self.n_args]  # trailing Nones are allowed, as in PyTorch
        if len(result) != self.n_args:
            raise RuntimeError(
                f"function {cls.__name__}Backward returned an incorrect number of gradients "
                f"(expected {self.n_args}, got {len(result)})"
            )
        for i in self.other_args:
            if result[i] is not None:
                raise RuntimeError(
                    errors.FUNCTION_GRAD_FOR_NON_TENSOR.format(name=cls.__name__, position=i + 1)
                )
        out = []
        for i, shape, has_edge in self.tensor_args:
            g = result[i]
            if g is None or not has_edge:
                out.append(None)
                continue
            if tuple(g.shape) != shape:
                raise RuntimeError(
                    errors.FUNCTION_GRAD_SHAPE.format(
                        name=cls.__name__,
                        index=i,
                        got=errors.short_shape(g.shape),
                        expected=errors.short_shape(shape),
                    )
                )
            out.append(g if create_graph else g._data)
        return out
