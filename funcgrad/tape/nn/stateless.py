"""`functional_call`: a module called with its parameters and buffers replaced.

PyTorch's `torch.func.functional_call` (and `torch.nn.utils.stateless`), the bridge from a
stateful module to a function of its weights: for the call, the module's parameters and
buffers named in the dict(s) are swapped for the given tensors (tied weights follow
`tie_weights`), the module runs, and the originals are put back. The graph is recorded as
usual, so gradients reach the given tensors; inside `funcgrad.tape.func` transforms they
are the transform's traced tensors.

The same function serves JAX code: when the values and arguments are jax (or numpy)
arrays and no tape tensor is among them, e.g. inside `jax.grad` / `jax.jit`, the module
runs without recording, the outputs come back as jax arrays, and the module's own
tensors (a BatchNorm's running stats) and the tape's random key are left as they were.

What this module does not do: swap plain attributes (a key that is neither a parameter
nor a buffer is ignored unless `strict=True`), or run anything but the module's forward.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import errors, state
from ..grad_mode import no_grad
from ..random import default_generator
from ..tensor import Tensor
from .module import Module

__all__ = ["functional_call"]


def functional_call(
    module: Module,
    parameter_and_buffer_dicts,
    args=None,
    kwargs: dict | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
):
    """Calls `module(*args, **kwargs)` with its parameters and buffers replaced.

    Args:
      module: a tape module.
      parameter_and_buffer_dicts: a dict name -> tensor (names as in `named_parameters()` /
        `named_buffers()`), or a sequence of such dicts (e.g. `(params, buffers)`). Names
        left out keep the module's own tensors.
      args: Optional. The positional arguments: a tuple, or a single value.
      kwargs: Optional, dict. The keyword arguments.
      tie_weights: Optional, bool. A value given for one of several tied names (one tensor
        registered twice) replaces all of them. Default True.
      strict: Optional, bool. Every parameter and buffer must be given, and nothing else.

    Returns:
      The module's output. With jax arrays instead of tensors (inside `jax.grad` /
      `jax.jit`), the output's tensors come back as jax arrays and nothing is recorded.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape import nn
        >>> lin = nn.Linear(3, 1)
        >>> params = {"weight": torch.ones(1, 3), "bias": torch.zeros(1)}
        >>> nn.functional_call(lin, params, (torch.ones(2, 3),))
        tensor([[3.],
                [3.]])
        >>> import jax, jax.numpy as jnp
        >>> arrays = {k: v.detach().array for k, v in lin.named_parameters()}
        >>> jax.grad(lambda p: nn.functional_call(lin, p, jnp.ones((2, 3))).sum())(arrays)["bias"]
        Array([2.], dtype=float32)
    """
    values = _merged(parameter_and_buffer_dicts)
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    kwargs = {} if kwargs is None else kwargs
    arrays_mode = _is_jax_call(values, args, kwargs)
    for name, value in values.items():
        if not isinstance(value, (Tensor, jax.Array, np.ndarray)):
            raise TypeError(errors.FUNCTIONAL_CALL_NOT_A_TENSOR.format(value=value))
        if not isinstance(value, Tensor):
            values[name] = Tensor._wrap(jnp.asarray(value))
    if tie_weights:
        values = _untied(module, values)
    if strict:
        _check_keys(module, values)
    if arrays_mode:
        return _call_on_arrays(module, values, args, kwargs)
    return _call(module, values, args, kwargs)


def _merged(dicts) -> dict:
    if isinstance(dicts, dict):
        return dict(dicts)
    if not isinstance(dicts, Sequence) or isinstance(dicts, str):
        raise ValueError(errors.FUNCTIONAL_CALL_NOT_DICTS.format(type=type(dicts)))
    if not all(isinstance(d, dict) for d in dicts):
        raise ValueError(errors.FUNCTIONAL_CALL_NOT_ALL_DICTS)
    counts: dict = {}
    for d in dicts:
        for k in d:
            counts[k] = counts.get(k, 0) + 1
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated:
        raise ValueError(errors.FUNCTIONAL_CALL_MULTIPLE_DICTS.format(keys=repeated))
    return {k: v for d in dicts for k, v in d.items()}


def _is_jax_call(values: dict, args, kwargs) -> bool:
    """JAX code calls with arrays and no tape tensor (see the module docstring)."""
    leaves = jax.tree_util.tree_leaves(
        (list(values.values()), args, kwargs), is_leaf=lambda x: isinstance(x, Tensor)
    )
    if any(isinstance(x, Tensor) for x in leaves):
        return False
    return any(isinstance(x, (jax.Array, np.ndarray)) for x in leaves)


def _named_tensors(module: Module) -> dict:
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _untied(module: Module, values: dict) -> dict:
    """PyTorch's `_untie_named_tensors_map`: a value given for a tied name goes to all."""
    groups: dict = {}
    for name, t in _named_tensors(module).items():
        groups.setdefault(id(t), set()).add(name)
    tied = {name: names for names in groups.values() if len(names) > 1 for name in names}
    given = [name for name in values if name in tied]
    out = dict(values)
    for name in given:
        names = tied[name]
        chosen = {id(values[n]) for n in names if n in values}
        if len(chosen) != 1:
            raise ValueError(errors.FUNCTIONAL_CALL_TIED_VALUES.format(keys=sorted(names)))
        for other in names:
            out[other] = values[name]
    return out


def _check_keys(module: Module, values: dict) -> None:
    valid = set(_named_tensors(module))
    missing, unexpected = sorted(valid - set(values)), sorted(set(values) - valid)
    problems = []
    if unexpected:
        problems.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        problems.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if problems:
        raise RuntimeError(
            errors.FUNCTIONAL_CALL_STRICT_KEYS.format(
                module=module._get_name(), errors="\n\t".join(problems)
            )
        )


def _slots(module: Module, values: dict) -> list:
    """(registry dict, key, new tensor) for each given name that is a parameter or buffer."""
    slots = []
    for name, value in values.items():
        path, _, attr = name.rpartition(".")
        try:
            owner = module.get_submodule(path)
        except AttributeError:
            continue
        for registry in (owner._parameters, owner._buffers):
            if attr in registry:
                slots.append((registry, attr, value))
                break
    return slots


def _call(module: Module, values: dict, args, kwargs):
    """PyTorch's functional_call: swap the tensors in, call, swap the originals back."""
    slots = _slots(module, values)
    originals = [registry[key] for registry, key, _ in slots]
    try:
        for registry, key, value in slots:
            registry[key] = value
        return module(*args, **kwargs)
    finally:
        for (registry, key, _), original in zip(slots, originals):
            registry[key] = original


def _call_on_arrays(module: Module, values: dict, args, kwargs):
    """The JAX form: nothing recorded, outputs as arrays, the module's own tensors and the
    random key restored (a traced value must not outlive the jax transform)."""
    own = list(_named_tensors(module).values())
    key = default_generator.key
    args, kwargs = jax.tree_util.tree_map(
        lambda a: Tensor._wrap(jnp.asarray(a)) if isinstance(a, (jax.Array, np.ndarray)) else a,
        (args, kwargs),
    )
    try:
        with state.bound(own, [t._data for t in own]), no_grad():
            out = _call(module, values, args, kwargs)
    finally:
        if isinstance(default_generator.key, jax.core.Tracer):
            default_generator.key = key
    return jax.tree_util.tree_map(
        lambda t: t._value() if isinstance(t, Tensor) else t,
        out,
        is_leaf=lambda t: isinstance(t, Tensor),
    )
