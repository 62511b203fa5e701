"""torch.func's module helpers: `stack_module_state` for model ensembling.

`functional_call` itself lives in `funcgrad.tape.nn.stateless` (one implementation, also
`funcgrad.tape.nn.functional_call`); this package re-exports it.
"""

from __future__ import annotations

from ..functions import stack
from . import _messages as msg


def stack_module_state(models) -> tuple[dict, dict]:
    """Stacks the parameters and buffers of same-shaped models along a new first dim.

    The stacked parameters are new leaves that require grad when the models' parameters
    do (as in PyTorch); call one model's structure over them with
    `vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))`.

    Args:
      models: a sequence (or `nn.ModuleList`) of modules of one class, all in training or
        all in eval mode.

    Returns:
      `(params, buffers)`: dicts name -> stacked tensor.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import stack_module_state
        >>> params, buffers = stack_module_state([torch.nn.Linear(3, 2) for _ in range(4)])
        >>> {k: tuple(v.shape) for k, v in params.items()}, buffers
        ({'weight': (4, 2, 3), 'bias': (4, 2)}, {})
    """
    models = list(models)
    if not models:
        raise RuntimeError(msg.STACK_NO_MODELS)
    if len({m.training for m in models}) > 1:
        raise RuntimeError(msg.STACK_MODES)
    if any(type(m) is not type(models[0]) for m in models):
        raise RuntimeError(msg.STACK_CLASSES)
    return (
        _stacked([dict(m.named_parameters()) for m in models]),
        _stacked([dict(m.named_buffers()) for m in models]),
    )


def _stacked(named: list) -> dict:
    out = {}
    for name in named[0]:
        tensors = [d[name] for d in named]
        requires = {t.requires_grad for t in tensors}
        if len(requires) > 1:
            raise RuntimeError(msg.STACK_REQUIRES_GRAD.format(name=name))
        stacked = stack(tensors)
        out[name] = stacked.detach().requires_grad_() if requires == {True} else stacked
    return out
