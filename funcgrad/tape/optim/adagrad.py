"""`Adagrad`: PyTorch's Adagrad, as a chain of optax transformations.

For each group: `maximize` negates the gradient (`optax.scale(-1)`), weight decay adds
`weight_decay * p` (`optax.add_decayed_weights`), the gradient is divided by
`sqrt(sum) + eps` with `sum += g * g` (`scale_by_torch_rss`: optax's `scale_by_rss` adds
eps inside the square root, PyTorch outside), the decayed rate `lr / (1 + (step - 1) *
lr_decay)` comes from `optax.scale_by_schedule`, and the learning rate scales by `-lr`.

As in PyTorch, every parameter's state (`step` 0 and `sum` filled with
`initial_accumulator_value`) exists from construction.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import optax

from .. import errors
from .._convert import to_array
from ..tensor import Tensor
from ._optax import _find_state, _replace_state, _scalar
from .optimizer import Optimizer
from .transforms import ScaleByTorchRssState, scale_by_torch_rss

__all__ = ["Adagrad"]


def _adagrad(learning_rate, lr_decay, eps, weight_decay, *, initial_sum, maximize):
    parts = [optax.scale(-1.0)] if maximize else []
    parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(scale_by_torch_rss(initial_sum, eps))
    parts.append(optax.scale_by_schedule(lambda count: 1.0 / (1.0 + count * lr_decay)))
    parts.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*parts)


@functools.cache
def _adagrad_tx(static: tuple) -> optax.GradientTransformation:
    # The numbers only shape `init`; every step feeds the group's current values.
    return optax.inject_hyperparams(_adagrad)(0.0, 0.0, 0.0, 0.0, **dict(static))


class Adagrad(Optimizer):
    """Adagrad with PyTorch's options, defaults and update rule.

    Args:
      params: Tape tensors to optimize, or dicts defining parameter groups.
      lr: Optional. Learning rate (default 1e-2).
      lr_decay: Optional. The rate at step t is lr / (1 + (t - 1) * lr_decay) (default 0).
      weight_decay: Optional. L2 penalty added to the gradient (default 0).
      initial_accumulator_value: Optional. The sum of squares starts here (default 0); it
        fixes the state's initial value, so it cannot change after construction.
      eps: Optional. Added to the denominator (default 1e-10).
      maximize: Optional, bool. Maximize the objective instead of minimizing it.
      foreach, fused: Accepted for compatibility; every step is one XLA program anyway.
      differentiable: Only False: a step is not recorded on the tape.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = torch.optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()  # the first step is lr * g / |g| = 0.5 * sign(g)
        >>> w
        tensor([ 0.5000, -1.5000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        for name, value in (
            ("learning rate", lr),
            ("lr_decay value", lr_decay),
            ("weight_decay value", weight_decay),
            ("initial_accumulator_value value", initial_accumulator_value),
            ("epsilon value", eps),
        ):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value}")
        if differentiable:
            raise NotImplementedError(errors.DIFFERENTIABLE_OPTIMIZER.format(name="Adagrad"))
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        self._init_groups(params, defaults)
        self._init_state()

    _STATIC_OPTIONS = {
        "initial_sum": "'initial_accumulator_value'",
        "maximize": "'maximize'",
    }

    def _static_key(self, group):
        return (
            ("initial_sum", float(group["initial_accumulator_value"])),
            ("maximize", bool(group["maximize"])),
        )

    def _make_tx(self, group):
        return _adagrad_tx(self._static_key(group))

    def _group_hyperparams(self, group):
        return {
            "learning_rate": _scalar(group["lr"]),
            "lr_decay": _scalar(group["lr_decay"]),
            "eps": _scalar(group["eps"]),
            "weight_decay": _scalar(group["weight_decay"]),
        }

    def _export_state(self, group, state):
        return {
            "step": Tensor._wrap(state.count.astype(jnp.float32)),
            "sum": Tensor._wrap(_find_state(state, ScaleByTorchRssState).sum_of_squares),
        }

    def _import_state(self, group, p, value):
        state = self._make_tx(group).init(p._value())
        loaded = ScaleByTorchRssState(sum_of_squares=to_array(value["sum"], p.dtype))
        state = _replace_state(state, ScaleByTorchRssState, loaded)
        count = jnp.asarray(int(float(to_array(value["step"]))), jnp.int32)
        schedule = optax.ScaleByScheduleState(count=count)
        return _replace_state(state, optax.ScaleByScheduleState, schedule)._replace(count=count)
