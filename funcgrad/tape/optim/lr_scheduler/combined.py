"""Schedules of schedulers: `SequentialLR` (one after another, switching at milestones) and
`ChainedScheduler` (all of them at every step, their factors multiplied).

Both hold schedulers of one optimizer and save them inside their own `state_dict`, as
PyTorch's do.

What this module does not do: hold `ReduceLROnPlateau` (its `step` needs the metric; PyTorch
refuses it too).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from ... import errors
from ..optimizer import Optimizer
from .base import LRScheduler, _check_not_traced, _group_values, _set_group_value
from .plateau import ReduceLROnPlateau

__all__ = ["ChainedScheduler", "SequentialLR"]


def _check_schedulers(owner: str, optimizer, schedulers) -> None:
    """PyTorch's checks of the schedulers a combined scheduler holds."""
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{owner} at index {i} should have `optimizer` as its attribute.")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(errors.COMBINED_PLATEAU.format(cls=owner, i=i))
        if optimizer != scheduler.optimizer:
            raise ValueError(
                errors.COMBINED_OTHER_OPTIMIZER.format(
                    cls=owner,
                    name=type(scheduler).__name__,
                    i=i,
                    optimizer=scheduler.optimizer,
                    expected=type(optimizer).__name__,
                )
            )


class _Combined(LRScheduler):
    """What both combined schedulers share: the held schedulers' states in `state_dict`."""

    def state_dict(self) -> dict[str, Any]:
        skip = ("optimizer", "_schedulers")
        state = {key: value for key, value in self.__dict__.items() if key not in skip}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        schedulers = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        state_dict["_schedulers"] = schedulers
        for scheduler, saved in zip(self._schedulers, schedulers):
            scheduler.load_state_dict(saved)


class SequentialLR(_Combined):
    """Runs `schedulers[0]` until `milestones[0]`, then `schedulers[1]`, ... (a warm-up
    followed by a decay, usually). At a milestone the next scheduler starts from its own
    epoch 0.

    Example:
        >>> import funcgrad.tape as torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> s = torch.optim.lr_scheduler
        >>> warmup = s.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = s.ExponentialLR(opt, gamma=0.5)
        >>> sched = s.SequentialLR(opt, [warmup, decay], milestones=[2])
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(4):
        ...     opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 4))
        >>> lrs
        [0.05, 0.075, 0.1, 0.05, 0.025]
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: list, milestones: list, last_epoch: int = -1
    ) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler, but got no scheduler.")
        _check_schedulers(name, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                errors.SEQUENTIAL_MILESTONES.format(n=len(schedulers), m=len(milestones))
            )
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # As PyTorch: undo the steps the schedulers took when they were built, then start
        # the first one again.
        for group in optimizer.param_groups:
            _set_group_value(group, "lr", group["initial_lr"])
        self.recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched=None) -> None:
        """Steps every held scheduler (and theirs) back by one epoch."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:
        """Steps the scheduler of the current epoch (restarting it at its milestone)."""
        _check_not_traced()
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Combined):
    """Steps every scheduler at each `step()`, so their changes compound.

    Example:
        >>> import funcgrad.tape as torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> s = torch.optim.lr_scheduler
        >>> sched = s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=2),
        ...                             s.ExponentialLR(opt, gamma=0.9)])
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(3):
        ...     opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 4))
        >>> lrs
        [0.5, 0.45, 0.81, 0.729]
    """

    def __init__(self, schedulers, optimizer: Optimizer | None = None) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(
                f"{name} expects at least one scheduler to be chained, but got no scheduler."
            )
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers(name, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")

    def step(self) -> None:
        """Steps each held scheduler once."""
        _check_not_traced()
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")
