"""`Adam` and `AdamW`: PyTorch's Adam rules, as chains of optax transformations.

For each group: `maximize` negates the gradient (`optax.scale(-1)`); L2 weight decay adds
`weight_decay * p` to the gradient before the moments (`optax.add_decayed_weights`), while
decoupled weight decay (AdamW) adds it to the Adam direction, so that the step is
`p -= lr * (adam + weight_decay * p)`, PyTorch's `p *= 1 - lr * weight_decay` followed by the
Adam step; the moments and bias corrections are `scale_by_torch_adam` (PyTorch's arithmetic,
see `transforms`); the learning rate scales by `-lr` (`optax.scale_by_learning_rate`).
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
from .transforms import ScaleByTorchAdamState, scale_by_torch_adam, torch_adam_hyperparams

__all__ = ["Adam", "AdamW"]


def _adam(
    learning_rate,
    one_minus_b1,
    b2,
    one_minus_b2,
    log_b1,
    log_b2,
    eps,
    weight_decay,
    *,
    amsgrad,
    maximize,
    decoupled,
):
    parts = [optax.scale(-1.0)] if maximize else []
    if not decoupled:
        parts.append(optax.add_decayed_weights(weight_decay))
    betas = (one_minus_b1, b2, one_minus_b2, log_b1, log_b2)
    parts.append(scale_by_torch_adam(*betas, eps, amsgrad=amsgrad))
    if decoupled:
        parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*parts)


@functools.cache
def _adam_tx(static: tuple) -> optax.GradientTransformation:
    # The numbers only shape `init`; every step feeds the group's current values.
    return optax.inject_hyperparams(_adam)(*[0.0] * 8, **dict(static))


class Adam(Optimizer):
    """Adam with PyTorch's options, defaults and update rule (bias correction included).

    Args:
      params: Tape tensors to optimize, or dicts defining parameter groups.
      lr: Optional. Learning rate (default 1e-3).
      betas: Optional. Decay rates of the moment estimates (default (0.9, 0.999)).
      eps: Optional. Added to the denominator (default 1e-8).
      weight_decay: Optional. L2 penalty added to the gradient (default 0), or decoupled
        with `decoupled_weight_decay=True` (which is AdamW).
      amsgrad: Optional, bool. Use the AMSGrad variant.
      maximize: Optional, bool. Maximize the objective instead of minimizing it.
      foreach, capturable, fused: Accepted for compatibility; they change nothing here.
      differentiable: Only False: a step is not recorded on the tape.
      decoupled_weight_decay: Optional, bool. AdamW's weight decay.

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = torch.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()  # the first Adam step moves each weight by lr
        >>> w
        tensor([ 0.9000, -1.9000], requires_grad=True)
        >>> opt.state_dict()["state"][0]["step"]
        tensor(1.)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not (
            (isinstance(betas[0], float) and isinstance(betas[1], float))
            or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))
        ):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, beta in enumerate(betas):
            if isinstance(beta, Tensor) and beta.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        if differentiable:
            raise NotImplementedError(
                errors.DIFFERENTIABLE_OPTIMIZER.format(name=type(self).__name__)
            )
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        self._init_groups(params, defaults)

    _STATIC_OPTIONS = {
        "amsgrad": "'amsgrad'",
        "maximize": "'maximize'",
        "decoupled": "'decoupled_weight_decay'",
    }

    def _static_key(self, group):
        return (
            ("amsgrad", bool(group["amsgrad"])),
            ("maximize", bool(group["maximize"])),
            ("decoupled", bool(group["decoupled_weight_decay"])),
        )

    def _make_tx(self, group):
        return _adam_tx(self._static_key(group))

    def _group_hyperparams(self, group):
        b1, b2 = (float(b) for b in group["betas"])  # double precision, as in PyTorch
        return {
            "learning_rate": _scalar(group["lr"]),
            **torch_adam_hyperparams(b1, b2),
            "eps": _scalar(group["eps"]),
            "weight_decay": _scalar(group["weight_decay"]),
        }

    def _export_state(self, group, state):
        moments = _find_state(state, ScaleByTorchAdamState)
        if moments is None or int(moments.count) == 0:
            return None  # PyTorch creates the state at the first step
        named = {
            "step": Tensor._wrap(moments.count.astype(jnp.float32)),
            "exp_avg": Tensor._wrap(moments.mu),
            "exp_avg_sq": Tensor._wrap(moments.nu),
        }
        if group["amsgrad"]:
            named["max_exp_avg_sq"] = Tensor._wrap(moments.nu_max)
        return named

    def _import_state(self, group, p, value):
        with x64(is_wide(p._data.dtype)):
            state = self._make_tx(group).init(p._value())
        count = jnp.asarray(int(float(to_array(value["step"]))), jnp.int32)
        mu = to_array(value["exp_avg"], p.dtype)
        nu = to_array(value["exp_avg_sq"], p.dtype)
        nu_max = None
        if group["amsgrad"]:
            # PyTorch may lack max_exp_avg_sq when amsgrad was switched on later: start at 0.
            nu_max = value.get("max_exp_avg_sq")
            nu_max = jnp.zeros_like(nu) if nu_max is None else to_array(nu_max, p.dtype)
        loaded = ScaleByTorchAdamState(count=count, mu=mu, nu=nu, nu_max=nu_max)
        return _replace_state(state, ScaleByTorchAdamState, loaded)


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (`p *= 1 - lr * weight_decay` each step).

    Takes `Adam`'s arguments with `weight_decay` defaulting to 1e-2 (PyTorch's defaults).

    Example:
        >>> import funcgrad.tape as torch
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = torch.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()  # w * (1 - 0.1 * 0.5), then the Adam step of lr
        >>> w
        tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict) -> None:
        # As PyTorch's AdamW.__setstate__: loaded groups always decouple the weight decay.
        groups = [{**g, "decoupled_weight_decay": True} for g in state_dict["param_groups"]]
        super().load_state_dict({**state_dict, "param_groups": groups})
