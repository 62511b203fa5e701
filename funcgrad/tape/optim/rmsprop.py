"""`RMSprop`: PyTorch's RMSprop, as a chain of optax transformations.

For each group: `maximize` negates the gradient (`optax.scale(-1)`), weight decay adds
`weight_decay * p` (`optax.add_decayed_weights`), the gradient is divided by
`sqrt(square_avg) + eps` with `square_avg = alpha * square_avg + (1 - alpha) * g * g`
(`optax.scale_by_rms(eps_in_sqrt=False)`, or `optax.scale_by_stddev` with `centered`,
which subtracts the square of the running mean gradient), momentum keeps PyTorch's buffer
`buf = momentum * buf + update` (`optax.trace`), and the learning rate scales by `-lr`.
The step count PyTorch keeps as `step` is the count of `optax.inject_hyperparams`.
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

__all__ = ["RMSprop"]


def _rmsprop(
    learning_rate, alpha, eps, weight_decay, momentum, *, centered, use_momentum, maximize
):
    parts = [optax.scale(-1.0)] if maximize else []
    parts.append(optax.add_decayed_weights(weight_decay))
    scale = optax.scale_by_stddev if centered else optax.scale_by_rms
    parts.append(scale(decay=alpha, eps=eps, eps_in_sqrt=False))
    if use_momentum:
        parts.append(optax.trace(decay=momentum))
    parts.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*parts)


@functools.cache
def _rmsprop_tx(static: tuple) -> optax.GradientTransformation:
    # The numbers only shape `init`; every step feeds the group's current values.
    return optax.inject_hyperparams(_rmsprop)(0.0, 0.0, 0.0, 0.0, 0.0, **dict(static))


class RMSprop(Optimizer):
    """RMSprop with PyTorch's options, defaults and update rule.

    Args:
      params: Tape tensors to optimize, or dicts defining parameter groups.
      lr: Optional. Learning rate (default 1e-2).
      alpha: Optional. Smoothing constant of the squared-gradient average (default 0.99).
      eps: Optional. Added to the denominator's square root (default 1e-8).
      weight_decay: Optional. L2 penalty added to the gradient (default 0).
      momentum: Optional. Momentum factor (default 0).
      centered: Optional, bool. Normalise by the gradient's estimated variance.
      maximize: Optional, bool. Maximize the objective instead of minimizing it.
      capturable, foreach: Accepted for compatibility; they change nothing here.
      differentiable: Only False: a step is not recorded on the tape.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = torch.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()  # the first step is lr * g / sqrt(0.01 * g**2) = 0.1 * sign(g)
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        for name, value in (
            ("learning rate", lr),
            ("epsilon value", eps),
            ("momentum value", momentum),
            ("weight_decay value", weight_decay),
            ("alpha value", alpha),
        ):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value}")
        if differentiable:
            raise NotImplementedError(errors.DIFFERENTIABLE_OPTIMIZER.format(name="RMSprop"))
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        self._init_groups(params, defaults)

    _STATIC_OPTIONS = {
        "centered": "'centered'",
        "use_momentum": "'momentum' > 0",
        "maximize": "'maximize'",
    }

    def _static_key(self, group):
        return (
            ("centered", bool(group["centered"])),
            ("use_momentum", bool(group["momentum"] > 0)),
            ("maximize", bool(group["maximize"])),
        )

    def _make_tx(self, group):
        return _rmsprop_tx(self._static_key(group))

    def _group_hyperparams(self, group):
        return {
            "learning_rate": _scalar(group["lr"]),
            "alpha": _scalar(group["alpha"]),
            "eps": _scalar(group["eps"]),
            "weight_decay": _scalar(group["weight_decay"]),
            "momentum": _scalar(group["momentum"]),
        }

    def _export_state(self, group, state):
        if int(state.count) == 0:
            return None  # PyTorch creates the state at the first step
        named = {"step": Tensor._wrap(state.count.astype(jnp.float32))}
        if group["centered"]:
            moments = _find_state(state, optax.ScaleByRStdDevState)
            named["square_avg"] = Tensor._wrap(moments.nu)
        else:
            named["square_avg"] = Tensor._wrap(_find_state(state, optax.ScaleByRmsState).nu)
        if group["momentum"] > 0:
            named["momentum_buffer"] = Tensor._wrap(_find_state(state, optax.TraceState).trace)
        if group["centered"]:
            named["grad_avg"] = Tensor._wrap(moments.mu)
        return named

    def _import_state(self, group, p, value):
        state = self._make_tx(group).init(p._value())
        like = lambda key: to_array(value[key], p.dtype)  # noqa: E731
        if group["centered"]:
            moments = optax.ScaleByRStdDevState(mu=like("grad_avg"), nu=like("square_avg"))
            state = _replace_state(state, optax.ScaleByRStdDevState, moments)
        else:
            moments = optax.ScaleByRmsState(nu=like("square_avg"))
            state = _replace_state(state, optax.ScaleByRmsState, moments)
        if group["momentum"] > 0:
            trace = optax.TraceState(trace=like("momentum_buffer"))
            state = _replace_state(state, optax.TraceState, trace)
        count = jnp.asarray(int(float(to_array(value["step"]))), jnp.int32)
        return state._replace(count=count)
