"""`LRScheduler`, the base of the schedulers, and the helpers that read and write the
optimizer's param groups as PyTorch's schedulers do (tensor options copied, never aliased).

What this module does not do: any schedule (the subclasses in this package do).
"""

from __future__ import annotations

import warnings
import weakref
from functools import wraps
from typing import Any

from ... import errors, observe
from ...tensor import Tensor
from ..optimizer import Optimizer

__all__ = ["LRScheduler"]


def _check_not_traced() -> None:
    """Schedulers keep Python state, which a compiled step would change only while tracing."""
    if observe.current() is not None:  # only tape.jit's trace installs an observer
        raise RuntimeError(errors.SCHEDULER_IN_JIT)


def _value(x):
    return x.clone() if isinstance(x, Tensor) else x


def _group_values(optimizer, key: str) -> list:
    """`group[key]` of every group (tensors copied, so they never alias the group's)."""
    return [_value(group[key]) for group in optimizer.param_groups]


def _set_group_value(group: dict, key: str, value) -> None:
    if isinstance(group[key], Tensor):
        group[key].fill_(float(value))
    else:
        group[key] = value


def _per_group(name: str, optimizer, value) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. {name} has "
                f"{len(value)} values, param_groups has {len(optimizer.param_groups)}."
            )
        return [_value(v) for v in value]
    return [_value(value)] * len(optimizer.param_groups)


def _track_optimizer_steps(optimizer) -> None:
    """Wraps `optimizer.step` (once) so the scheduler can tell whether it ran, as PyTorch
    does, to warn when the scheduler steps first."""
    if hasattr(optimizer.step, "_wrapped_by_lr_sched"):
        return
    owner = weakref.ref(optimizer)
    method = optimizer.step.__func__

    @wraps(method)
    def step(*args, **kwargs):
        opt = owner()
        opt._opt_called = True
        return method(opt, *args, **kwargs)

    step._wrapped_by_lr_sched = True
    optimizer.step = step


class LRScheduler:
    """Base class of the schedulers: `step()`, `get_last_lr()`, `state_dict()`.

    Subclasses implement `get_lr()` from `last_epoch`, `base_lrs` and the current groups.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.zeros(2, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.1)
        >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for _ in range(4):
        ...     opt.step()
        ...     sched.step()
        ...     lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.1, 0.05, 0.05, 0.025]
    """

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", _value(group["lr"]))
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(errors.NO_INITIAL_LR.format(i=i))
        self.base_lrs = _group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _track_optimizer_steps(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        """The step every scheduler takes when it is built (epoch -1 -> 0)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The learning rates for the epoch `last_epoch` (called by `step`)."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates the last `step()` set, one per param group."""
        return self._last_lr

    def _warn_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn(errors.GET_LR_OUTSIDE_STEP, UserWarning, stacklevel=3)

    def step(self, epoch: int | None = None) -> None:
        """Advances the schedule by one epoch (or to `epoch`, deprecated) and writes the new
        learning rates into the optimizer's param groups."""
        _check_not_traced()
        if self._step_count == 1:
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn(errors.STEP_OVERRIDDEN, UserWarning, stacklevel=2)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn(errors.SCHEDULER_BEFORE_OPTIMIZER, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(errors.EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        """Moves to the next epoch (or to `epoch`, by the closed form where there is one) and
        writes the rates; `SequentialLR` calls it directly at a milestone."""
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            _set_group_value(group, "lr", lr)
        self._last_lr = _group_values(self.optimizer, "lr")

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer, as PyTorch's schedulers save themselves."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class _CyclesMomentum(LRScheduler):
    """What OneCycleLR and CyclicLR share: the momentum (or Adam's beta1) they cycle
    against the rate, kept in each group's `max_momentum` / `base_momentum`."""

    def _init_momentum(self, optimizer, base_momentum, max_momentum, last_epoch) -> tuple:
        """Checks the optimizer has a momentum, starts each group at its maximum (when not
        resuming), and returns the per-group (base, max) lists."""
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError(
                "optimizer must support momentum or beta1 with `cycle_momentum` option enabled"
            )
        self.use_beta1 = "betas" in optimizer.defaults
        highs = _per_group("max_momentum", optimizer, max_momentum)
        lows = _per_group("base_momentum", optimizer, base_momentum)
        if last_epoch == -1:
            for high, low, group in zip(highs, lows, optimizer.param_groups):
                self._set_momentum(group, high)
                group["max_momentum"], group["base_momentum"] = high, low
        return lows, highs

    def _set_momentum(self, group: dict, value) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value
