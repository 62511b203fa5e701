"""`SGD`: PyTorch's stochastic gradient descent, as a chain of optax transformations.

For each group: `maximize` negates the gradient (`optax.scale(-1)`), weight decay adds
`weight_decay * p` to it (`optax.add_decayed_weights`, L2 as in PyTorch), momentum keeps
PyTorch's buffer (`torch_momentum`), and the learning rate scales by `-lr`
(`optax.scale_by_learning_rate`). The numeric options are injected hyperparameters, read from
the group at every step.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import optax

from .. import errors
from .._convert import is_wide, to_array, x64
from ..tensor import Tensor
from ._optax import _find_state, _replace_state, _scalar
from .optimizer import Optimizer
from .transforms import TorchMomentumState, torch_momentum

__all__ = ["SGD"]


def _sgd(learning_rate, momentum, dampening, weight_decay, *, use_momentum, nesterov, maximize):
    parts = [optax.scale(-1.0)] if maximize else []
    parts.append(optax.add_decayed_weights(weight_decay))
    if use_momentum:
        parts.append(torch_momentum(momentum, dampening, nesterov))
    parts.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*parts)


@functools.cache
def _sgd_tx(static: tuple) -> optax.GradientTransformation:
    # The numbers only shape `init`; every step feeds the group's current values.
    return optax.inject_hyperparams(_sgd)(0.0, 0.0, 0.0, 0.0, **dict(static))


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's options and update rule.

    Args:
      params: Tape tensors to optimize, or dicts defining parameter groups.
      lr: Optional. Learning rate (default 1e-3).
      momentum: Optional. Momentum factor (default 0).
      dampening: Optional. Dampening for momentum (default 0).
      weight_decay: Optional. L2 penalty added to the gradient (default 0).
      nesterov: Optional, bool. Nesterov momentum (needs momentum > 0 and zero dampening).
      maximize: Optional, bool. Maximize the objective instead of minimizing it.
      foreach, fused: Accepted for compatibility; every step is one XLA program anyway.
      differentiable: Only False: a step is not recorded on the tape.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
        >>> w
        tensor([0.4600, 0.9200], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if differentiable:
            raise NotImplementedError(errors.DIFFERENTIABLE_OPTIMIZER.format(name="SGD"))
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self._init_groups(params, defaults)

    _STATIC_OPTIONS = {
        "use_momentum": "'momentum' != 0",
        "nesterov": "'nesterov'",
        "maximize": "'maximize'",
    }

    def _static_key(self, group):
        return (
            ("use_momentum", bool(group["momentum"] != 0)),
            ("nesterov", bool(group["nesterov"])),
            ("maximize", bool(group["maximize"])),
        )

    def _make_tx(self, group):
        return _sgd_tx(self._static_key(group))

    def _group_hyperparams(self, group):
        return {
            "learning_rate": _scalar(group["lr"]),
            "momentum": _scalar(group["momentum"]),
            "dampening": _scalar(group["dampening"]),
            "weight_decay": _scalar(group["weight_decay"]),
        }

    def _export_state(self, group, state):
        momentum = _find_state(state, TorchMomentumState)
        if momentum is None or int(momentum.count) == 0:
            return None  # PyTorch keeps no state without momentum, or before the first step
        return {"momentum_buffer": Tensor._wrap(momentum.momentum_buffer)}

    def _import_state(self, group, p, value):
        with x64(is_wide(p._data.dtype)):
            state = self._make_tx(group).init(p._value())
        buffer = value.get("momentum_buffer") if isinstance(value, dict) else None
        if buffer is None or _find_state(state, TorchMomentumState) is None:
            return state
        loaded = TorchMomentumState(
            count=jnp.ones([], jnp.int32), momentum_buffer=to_array(buffer, p.dtype)
        )
        return _replace_state(state, TorchMomentumState, loaded)
