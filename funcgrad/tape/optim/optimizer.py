"""`Optimizer`: PyTorch's optimizer interface over an optax `GradientTransformation`.

The math stays in optax: a step is `updates, state = tx.update(grads, state, params)` then
`optax.apply_updates`. This module keeps PyTorch's bookkeeping around it: param groups with
their options, reading each parameter's `.grad`, writing the new values into the parameters
in place (bumping their version counters, never recording on the tape), `zero_grad`, and
`state_dict` / `load_state_dict`.

State is kept per parameter, as PyTorch does: each parameter has its own optax state (its
own step count), created at its first step, and a parameter whose `.grad` is None is skipped
(its state is not updated). Consequently `tx` sees one parameter at a time: elementwise
transformations (every `torch.optim` rule) behave as in PyTorch, but a transformation that
couples parameters (`optax.clip_by_global_norm`) would act per parameter; clip the `.grad`s
before `step()` instead, as in PyTorch.

A group's numeric options (`lr`, `betas`, ...) are read at every step and written into the
optax state's injected hyperparameters (`optax.inject_hyperparams`), so changing
`param_groups[i]["lr"]` between steps takes effect without rebuilding anything.

State for `funcgrad.tape.jit`: everything a step reads besides the parameters and their
`.grad`s, and everything it writes besides the parameters, is `_state_arrays()`:

- `"state"`: `opt_state`, a list (one per group) of lists (one per parameter) of optax
  states: NamedTuples and dicts of JAX arrays, step counts included (int32 arrays);
- `"hyperparams"`: a list (one per group) of dicts of scalar arrays, the numeric options the
  step reads. They are inputs only: the step never changes them.

`_load_state_arrays(tree)` puts such a tree back: while its hyperparameters are tracers
(inside a trace), steps read them instead of `param_groups`, so one compiled step serves any
learning rate; concrete values release that binding (`param_groups` stay the source of
truth). The step itself has no host synchronisation and no Python branching on values.

What this module does not do: differentiate through a step (PyTorch's `differentiable=True`),
step hooks, or learning-rate schedulers.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import errors
from .._convert import is_wide, to_array, x64
from ..grad_mode import enable_grad, no_grad
from ..tensor import Tensor
from ._optax import (
    _is_injected,
    _python_number,
    _scalar,
    _update_fn,
)

__all__ = ["Optimizer"]


def _typename(obj) -> str:
    """`torch.typename`: a tensor's legacy type name, else the module-qualified class."""
    if isinstance(obj, Tensor):
        return errors.torch_type_name(obj.dtype)
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", None) else f"{module}.{cls.__qualname__}"


class Optimizer:
    """PyTorch's `torch.optim.Optimizer`, with the update rule given as an optax transformation.

    Args:
      params: An iterable of tape tensors (leaves), or of dicts defining parameter groups:
        `{"params": [...], "lr": 0.1}` (PyTorch's format; `(name, tensor)` pairs also work).
      tx: An `optax.GradientTransformation`, applied to each parameter. If it was made by
        `optax.inject_hyperparams`, its numeric hyperparameters become the groups' options
        (`learning_rate` is called `lr`, as in PyTorch), read at every step.

    Attributes:
      param_groups: list of dicts, PyTorch's groups: `"params"` and the options.
      defaults: dict, the options a group gets when it does not set them.
      opt_state: list (per group) of lists (per parameter) of optax states, None until the
        parameter's first step.

    Example:
        >>> import optax
        >>> import funcgrad.tape as torch
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = torch.optim.Optimizer([w], optax.inject_hyperparams(optax.sgd)(learning_rate=0.5))
        >>> opt.param_groups[0]["lr"]
        0.5
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, params, tx: optax.GradientTransformation):
        if not isinstance(tx, optax.GradientTransformation):
            raise TypeError(f"tx must be an optax.GradientTransformation, but got {_typename(tx)}")
        self._tx = tx
        try:
            probe = tx.init(jnp.zeros((), jnp.float32))
        except Exception:  # e.g. a transformation with a mask tree: no group options then
            probe = None
        self._hyperparam_keys = {}  # optax hyperparameter name -> group option name
        defaults = {}
        if _is_injected(probe):
            for name, value in probe.hyperparams.items():
                if name in probe.hyperparams_states:
                    continue  # a schedule drives it, not the group
                key = "lr" if name == "learning_rate" else name
                self._hyperparam_keys[name] = key
                defaults[key] = _python_number(value)
        self._init_groups(params, defaults)

    # ------------------------------------------------------------------ hooks for subclasses
    _STATIC_OPTIONS: dict = {}  # static key name -> how the group option reads in errors

    def _static_key(self, group: dict):
        """The group options that select the transformation (compared at every step)."""
        return None

    def _make_tx(self, group: dict) -> optax.GradientTransformation | None:
        """The optax transformation for a group."""
        return self._tx

    def _group_hyperparams(self, group: dict) -> dict:
        """The group's numeric options, by the transformation's hyperparameter names."""
        return {name: _scalar(group[key]) for name, key in self._hyperparam_keys.items()}

    def _export_state(self, group: dict, state):
        """A parameter's state as it appears in `state_dict()["state"]` (None: omitted)."""
        return state

    def _import_state(self, group: dict, p: Tensor, value):
        """The optax state for `p` from a `state_dict()["state"]` entry."""
        with x64(is_wide(p._data.dtype)):
            template = self._make_tx(group).init(p._value())
        given = jax.tree.structure(value)
        if given != jax.tree.structure(template):
            raise ValueError(
                f"loaded state for a parameter of shape {tuple(p.shape)} has the structure "
                f"{given}, but this optimizer's transformation has {jax.tree.structure(template)}"
            )
        return jax.tree.map(lambda t, v: to_array(v, t.dtype), template, value)

    # ------------------------------------------------------------------ param groups
    def _init_groups(self, params, defaults: dict) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got " + _typename(params)
            )
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.opt_state: list[list[Any]] = []
        self._txs: list[Any] = []
        self._tx_keys: list[Any] = []
        self._bound_hyperparams = None
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Adds a parameter group (a dict with `"params"` and options), as in PyTorch.

        Example:
            >>> import funcgrad.tape as torch
            >>> a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
            >>> opt = torch.optim.SGD([a], lr=0.1)
            >>> opt.add_param_group({"params": [b], "lr": 0.01})
            >>> [g["lr"] for g in opt.param_groups]
            [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(errors.PARAMS_IN_A_SET)
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            param_group.setdefault(name, default)

        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn(errors.DUPLICATE_PARAMS, stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self._check_group_options(param_group)

        self.param_groups.append(param_group)
        self.opt_state.append([None] * len(tensors))
        self._txs.append(self._make_tx(param_group))
        self._tx_keys.append(self._static_key(param_group))

    def _check_group_options(self, group: dict) -> None:
        if type(self) is not Optimizer:
            return
        known = set(self._hyperparam_keys.values()) | {"params", "param_names"}
        for key in group:
            if key not in known:
                name = "learning_rate" if key == "lr" else key
                raise ValueError(errors.UNUSED_GROUP_OPTION.format(key=key, name=name))

    def _group_tx(self, index: int):
        """The group's transformation, after checking its structural options did not change."""
        group = self.param_groups[index]
        key = self._static_key(group)
        if key != self._tx_keys[index]:
            old = dict(self._tx_keys[index])
            for k, v in key:
                if old.get(k) != v:
                    option = self._STATIC_OPTIONS.get(k, repr(k))
                    raise ValueError(
                        errors.STRUCTURAL_OPTION_CHANGED.format(
                            group=index, option=option, old=old.get(k), new=v
                        )
                    )
        return self._txs[index]

    # ------------------------------------------------------------------ the step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the `.grad` of every parameter: to None, or to zeros in place.

        Args:
          set_to_none: Optional, bool. Set `.grad` to None (the default) instead of zeroing
            it. A step skips parameters whose `.grad` is None, but not those with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if grad.grad_fn is not None:
                        grad.detach_()
                    else:
                        grad.requires_grad_(False)
                    grad.zero_()

    def step(self, closure=None):
        """Performs one optimization step: reads `.grad`s, runs `tx.update`, writes params.

        Args:
          closure: Optional. A function that re-evaluates the model and returns the loss;
            it runs under `enable_grad()` before the update.

        Returns:
          The closure's loss, or None without a closure.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for index in range(len(self.param_groups)):
                self._step_group(index)
        return loss

    def _step_group(self, index: int) -> None:
        group = self.param_groups[index]
        params = group["params"]
        live = [i for i, p in enumerate(params) if p._grad is not None]
        if not live:
            return
        tx = self._group_tx(index)
        states = self.opt_state[index]
        # float64 parameters: their state and step are computed in JAX's 64-bit mode.
        with x64(any(is_wide(params[i]._data.dtype) for i in live)):
            for i in live:
                if states[i] is None:
                    states[i] = tx.init(params[i]._value())
            new_params, new_states = _update_fn(tx)(
                [params[i]._grad._value() for i in live],
                [states[i] for i in live],
                [params[i]._value() for i in live],
                self._step_hyperparams(index),
            )
        for i, array, state in zip(live, new_params, new_states):
            states[i] = state
            self._write_param(params[i], array)

    @staticmethod
    def _write_param(p: Tensor, array) -> None:
        """Sets a parameter's values in place and off the tape, as `p.copy_(x)` under
        no_grad: its version is bumped, so a graph that saved the old value fails its
        backward with PyTorch's "modified by an inplace operation" error."""
        p._write(array)

    def _step_hyperparams(self, index: int) -> dict:
        if self._bound_hyperparams is not None:
            return self._bound_hyperparams[index]
        return self._group_hyperparams(self.param_groups[index])

    # ------------------------------------------------------------------ state for tape.jit
    def _init_state(self) -> None:
        """Creates every parameter's state now (a step would create it lazily), so that the
        state's structure is fixed before a step is traced."""
        for index, group in enumerate(self.param_groups):
            tx = self._group_tx(index)
            states = self.opt_state[index]
            for i, p in enumerate(group["params"]):
                if states[i] is None:
                    with x64(is_wide(p._data.dtype)):
                        states[i] = tx.init(p._value())

    def _hyperparams(self) -> list[dict]:
        """The numeric options each group's step reads, as scalar arrays (one dict a group)."""
        if self._bound_hyperparams is not None:
            return self._bound_hyperparams
        dtype = jnp.result_type(float)
        return [  # numpy scalars: jnp.asarray costs ~50 us each, on every compiled call
            {
                name: np.asarray(value, dtype=dtype)
                for name, value in self._group_hyperparams(group).items()
            }
            for group in self.param_groups
        ]

    def _state_arrays(self) -> dict:
        """All state a step reads or writes besides parameters and grads, as a pytree of
        arrays: `{"state": opt_state, "hyperparams": [...]}` (see the module docstring)."""
        self._init_state()
        return {
            "state": [list(states) for states in self.opt_state],
            "hyperparams": self._hyperparams(),
        }

    def _load_state_arrays(self, tree: dict) -> None:
        """Puts back a tree made by `_state_arrays()`, e.g. tracers or a compiled step's output.

        While its hyperparameters are tracers, steps read them instead of `param_groups`.
        """
        state = tree["state"]
        if len(state) != len(self.param_groups) or any(
            len(s) != len(g["params"]) for s, g in zip(state, self.param_groups)
        ):
            raise ValueError("the optimizer state does not match the optimizer's param groups")
        self.opt_state = [list(states) for states in state]
        hyperparams = tree["hyperparams"]
        traced = any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(hyperparams))
        self._bound_hyperparams = [dict(h) for h in hyperparams] if traced else None

    # ------------------------------------------------------------------ state dicts
    @property
    def state(self) -> defaultdict:
        """PyTorch's `optimizer.state`: parameter -> its state (read-only view)."""
        out = defaultdict(dict)
        for group, states in zip(self.param_groups, self.opt_state):
            for p, state in zip(group["params"], states):
                value = None if state is None else self._export_state(group, state)
                if value is not None:
                    out[p] = value
        return out

    def _packed_state(self, index_of: dict) -> dict:
        packed = {}
        for group, states in zip(self.param_groups, self.opt_state):
            for p, state in zip(group["params"], states):
                value = None if state is None else self._export_state(group, state)
                if value is not None:
                    packed[index_of[id(p)]] = value
        return packed

    def state_dict(self) -> dict:
        """The optimizer's state as `{"state": {index: ...}, "param_groups": [...]}`.

        As in PyTorch, parameters are replaced by their index over all groups, and a
        parameter appears in `"state"` once it has been stepped. `SGD`/`Adam`/`AdamW` use
        PyTorch's names (`momentum_buffer`; `step`, `exp_avg`, `exp_avg_sq`, ...); a plain
        `Optimizer` stores each parameter's optax state.
        """
        index_of: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index_of.setdefault(id(p), i)
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        return {"state": self._packed_state(index_of), "param_groups": groups}

    def _load_packed_state(self, state: dict, id_map: dict) -> None:
        for key, value in state.items():
            if key in id_map:
                index, i = id_map[key]
                group = self.param_groups[index]
                self.opt_state[index][i] = self._import_state(group, group["params"][i], value)

    def load_state_dict(self, state_dict: dict) -> None:
        """Loads a state dict from `state_dict()`, or a PyTorch one with its tensors converted
        to arrays (`SGD`/`Adam`/`AdamW` read PyTorch's names)."""
        groups = self.param_groups
        saved_groups = [dict(g) for g in state_dict["param_groups"]]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = {}
        for index, saved in enumerate(saved_groups):
            for i, key in enumerate(saved["params"]):
                id_map[key] = (index, i)
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.param_groups = saved_groups
        self.opt_state = [[None] * len(g["params"]) for g in saved_groups]
        self._txs = [self._make_tx(g) for g in saved_groups]
        self._tx_keys = [self._static_key(g) for g in saved_groups]
        self._load_packed_state(state_dict["state"], id_map)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"
