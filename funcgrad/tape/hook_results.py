"""What a backward hook is given and may return, checked as PyTorch checks it.

PyTorch hands every backward hook tensors (a tensor hook its gradient; a node's pre-hook
its `grad_outputs`, a node's post-hook `grad_inputs` and `grad_outputs`) and checks what
the hook returns before using it (`check_single_result` and `check_result` in
torch/csrc/autograd/python_hook.cpp): a node hook returns a tuple of the same length, each
value None or a tensor of the original's dtype and shape, and never a value where the
engine had no gradient. A wrong return would otherwise become a wrong gradient, or fail
far from the hook with an error about cotangents.

The engine keeps gradients as jax arrays (tensors under `create_graph`); `run_node_hooks`
shows hooks tensors and gives the engine back its own form. This module does not hold or
order hooks (engine.py and tensor.py do). The tensor class comes from tensor.py by
injection (`use_tensor_class`), as the lower modules never import it.
"""

from __future__ import annotations

from . import errors
from ._base import TensorBase

__all__ = [
    "check_value",
    "hook_name",
    "run_node_hooks",
    "run_tensor_hook",
    "shown",
    "use_tensor_class",
]

_tensor_class: list[type[TensorBase]] = []


def use_tensor_class(cls: type[TensorBase]) -> None:
    """Makes hooks see gradients as tensors of `cls` (called once, by tensor.py)."""
    _tensor_class[:] = [cls]


def hook_name(hook) -> str:
    """The name PyTorch's messages give a hook: its `__name__`, else '<unknown>'."""
    name = getattr(hook, "__name__", None)
    return name if isinstance(name, str) else "<unknown>"


def shown(grad):
    """A gradient as a hook sees it: a tensor (or None), never a raw array."""
    if grad is None or isinstance(grad, TensorBase):
        return grad
    return _tensor_class[0]._wrap(grad)


def check_value(original, result, hook) -> None:
    """Raises PyTorch's error if `result` may not replace gradient `original`.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.hook_results import check_value
        >>> def halve(g):
        ...     return g[:1]
        >>> check_value(torch.ones(2), halve(torch.ones(2)), halve)
        Traceback (most recent call last):
        ...
        RuntimeError: hook 'halve' has changed the size of value
    """
    if result is None:
        return
    if original is None:
        raise RuntimeError(errors.HOOK_REPLACED_NONE)
    if not isinstance(result, TensorBase):
        raise TypeError(errors.HOOK_RETURN_NOT_TENSOR.format(type=type(result).__name__))
    if result.dtype != original.dtype:
        raise RuntimeError(
            errors.HOOK_CHANGED_TYPE.format(
                name=hook_name(hook),
                was=errors.torch_type_name(original._data.dtype),
                got=errors.torch_type_name(result._data.dtype),
            )
        )
    if tuple(result.shape) != tuple(original.shape):
        raise RuntimeError(errors.HOOK_CHANGED_SIZE.format(name=hook_name(hook)))


def _check_values(originals: tuple, results, hook) -> None:
    if not isinstance(results, tuple):
        raise TypeError(errors.HOOK_RETURN_NOT_TUPLE.format(type=type(results).__name__))
    if len(results) != len(originals):
        raise RuntimeError(
            errors.HOOK_RETURN_COUNT.format(
                name=hook_name(hook), got=len(results), expected=len(originals)
            )
        )
    for original, result in zip(originals, results):
        check_value(original, result, hook)


def run_node_hooks(hooks: dict, values: list, *rest: list) -> list:
    """Calls a node's hooks in order, `hook(values, *rest)`, each seeing tensors; a hook
    may return a tuple that replaces `values`. Returns the values in the engine's form
    (an array stays an array, a tensor under `create_graph` a tensor).

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> y = x.exp()
        >>> h = y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0] * 0,))
        >>> y.sum().backward()
        >>> x.grad
        tensor([0., 0.])
    """
    current = tuple(shown(v) for v in values)
    others = tuple(tuple(shown(v) for v in r) for r in rest)
    for hook in list(hooks.values()):
        result = hook(current, *others)
        if result is None:
            continue
        _check_values(current, result, hook)
        current = result
    return [_engine_form(old, new) for old, new in zip(values, current)]


def run_tensor_hook(hook, grad):
    """Calls a tensor hook (`t.register_hook`) on a gradient as the engine keeps it; returns
    the checked replacement in the engine's form, or None to keep the gradient.

    Example:
        >>> import jax.numpy as jnp
        >>> run_tensor_hook(lambda g: g * 2, jnp.ones(2))
        Array([2., 2.], dtype=float32)
    """
    seen = shown(grad)
    new = hook(seen)
    if new is None:
        return None
    check_value(seen, new, hook)
    return _engine_form(grad, new)


def _engine_form(old, new):
    """A hook's value as the engine keeps it: an array where it had one, else the tensor."""
    return None if new is None else (new if isinstance(old, TensorBase) else new._data)
