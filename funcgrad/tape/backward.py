"""Starting a backward pass, in PyTorch's terms: check the outputs, make their gradients.

`backward()` is what `Tensor.backward` and `autograd.backward` run: it checks the outputs
and the `gradient=` arguments with PyTorch's errors (`root_grads`), marks `inputs=` to
receive their `.grad`, and hands the root edges to the engine. `autograd.grad` reuses
`as_tensors` and `root_grads`. Tensors are known through `TensorBase`; new ones are made with
the outputs' own class.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from . import errors, lazy, observe
from ._base import TensorBase
from ._convert import is_wide, to_array, x64
from .engine import no_edge, run_backward
from .grad_mode import set_grad_enabled

__all__ = ["as_tensors", "backward", "root_grads"]


def as_tensors(x, what: str) -> tuple:
    """A tensor or a sequence of tensors as a tuple, checked with PyTorch's errors."""
    if isinstance(x, TensorBase):
        return (x,)
    if x is None:
        return ()
    x = tuple(x)
    for t in x:
        if not isinstance(t, TensorBase):
            if what == "inputs":  # PyTorch's words; for outputs it fails an assert
                raise RuntimeError(
                    f"all inputs have to be Tensors or GradientEdges, but got {type(t).__name__}"
                )
            raise TypeError(f"{what} must be Tensors, got {type(t).__name__}")
    return x


# (shape, dtype, JAX's default device) -> the ones array of an implicit root gradient: arrays
# are immutable, so one is shared by every backward (a dispatch saved per backward).
_ones_cache: dict = {}


def _ones(shape, dtype):
    key = (shape, dtype, jax.config.jax_default_device)
    g = _ones_cache.get(key)
    if g is None:
        with x64(is_wide(dtype)):
            g = jnp.ones(shape, dtype)
        if not isinstance(g, jax.core.Tracer) and len(_ones_cache) < 64:
            _ones_cache[key] = g
    return g


def root_grads(outputs, grad_outputs, create_graph) -> list:
    """PyTorch's _make_grads: default ones for scalars, shape checks, one grad per output
    (an array, or a tensor when create_graph)."""
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
            g = _ones(out.shape, out._aval.dtype)  # (_aval: a pending lazy output stays so)
        else:
            if not isinstance(g, TensorBase):
                g = out._wrap(to_array(g, out._aval.dtype))
            if tuple(g.shape) != tuple(out.shape):
                raise RuntimeError(
                    errors.SHAPE_MISMATCH.format(
                        index=i,
                        given=errors.torch_size(g.shape),
                        expected=errors.torch_size(out.shape),
                    )
                )
            if create_graph:  # PyTorch casts a gradient to its output's dtype
                g = g if g._aval.dtype == out._aval.dtype else g.to(out._aval.dtype)
            else:
                with x64(is_wide(out._aval.dtype)):
                    g = g._data.astype(out._aval.dtype)
        if create_graph and not isinstance(g, TensorBase):
            g = out._wrap(g)
        grads.append(g)
    for i, out in enumerate(outputs):
        if not out._requires_grad or out._accumulator is no_edge:
            raise RuntimeError(errors.NO_GRAD_FN.format(index=i) + errors.NO_GRAD_FN_HINT)
    return grads


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
    if observe.transforms is not None:  # inside torch.func: PyTorch's error
        observe.transforms.backward_called("backward")
    outputs = as_tensors(tensors, "tensors")
    grad_tensors = (
        [None] * len(outputs)
        if grad_tensors is None
        else list(
            as_tensors(grad_tensors, "grad_tensors")
            if not isinstance(grad_tensors, (list, tuple))
            else grad_tensors
        )
    )
    retain_graph = create_graph if retain_graph is None else retain_graph
    capture = None
    if inputs is not None:
        inputs = as_tensors(inputs, "inputs")
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    roots = [o._edge() if o._requires_grad else (None, 0) for o in outputs]
    grads = root_grads(outputs, grad_tensors, create_graph)
    if inputs is not None:  # checked after the outputs, in PyTorch's order
        for t in inputs:
            # Like PyTorch: a non-leaf input gets its .grad populated; an input that does
            # not require grad raises here.
            t.retain_grad()
        capture = [t._edge() for t in inputs]
    if create_graph:
        _warn_reference_cycle()
    with set_grad_enabled(create_graph):
        if capture is None and not retain_graph and lazy.switch.on and lazy.backward(roots, grads):
            return  # a pending lazy segment ran as one compiled program
        run_backward(
            roots,
            grads,
            retain_graph=retain_graph,
            create_graph=create_graph,
            capture=capture,
            accumulate=True,
        )


_warned = []  # PyTorch gives the reference-cycle warning once per process


def _warn_reference_cycle() -> None:
    if not _warned:
        _warned.append(True)
        warnings.warn(errors.CREATE_GRAPH_CYCLE, UserWarning, stacklevel=3)
