"""The loss functions of `nn.functional` (F): `mse_loss`, `nll_loss`, `cross_entropy`,
`binary_cross_entropy(_with_logits)`, `l1_loss`, `smooth_l1_loss`, `huber_loss`, `kl_div`,
with PyTorch's `reduction` conventions and checks.

`funcgrad.tape.nn.functional` re-exports them. Where PyTorch has one kernel the loss is one
table op (mse, nll, binary cross entropy, smooth L1, Huber); where PyTorch composes, so
does this module, so the nodes match: cross entropy is `log_softmax` and `nll_loss` (its
grad_fn is `NllLossBackward0`), `l1_loss` is MeanBackward0 over AbsBackward0 over
SubBackward0, `kl_div` is xlogy and mul.

Example:
    >>> import funcgrad.tape as torch
    >>> import funcgrad.tape.nn.functional as F
    >>> p = torch.tensor([0.9, 0.2], requires_grad=True)
    >>> loss = F.binary_cross_entropy(p, torch.tensor([1.0, 0.0]))
    >>> round(loss.item(), 4), loss.grad_fn.name()
    (0.1643, 'BinaryCrossEntropyBackward0')
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import errors
from .._convert import is_wide, x64
from ..creation import as_tensor
from ..tensor import Tensor, apply
from .reduction import legacy_reduction as _reduction

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight=None,
) -> Tensor:
    """Mean squared error. Example: `F.mse_loss(pred, target)`."""
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        raise NotImplementedError("mse_loss(weight=) is not supported by funcgrad")
    target = as_tensor(target)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            errors.MSE_TARGET_SIZE.format(target=target.shape, input=input.shape),
            UserWarning,
            stacklevel=2,
        )
    return apply("mse_loss", input, target, reduction=reduction)


def _is_concrete(t: Tensor) -> bool:
    return not isinstance(t._data, jax.core.Tracer)


def _check_targets(target: Tensor, n_classes: int, ignore_index: int) -> None:
    if not _is_concrete(target):
        return  # inside jax.jit: no data-dependent check
    t = np.asarray(target._data)
    bad = t[(t != ignore_index) & ((t < 0) | (t >= n_classes))]
    if bad.size:
        raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices, input (N, C, ...) of log-probabilities."""
    reduction = _reduction(size_average, reduce, reduction)
    target = as_tensor(target)
    if jnp.issubdtype(target.dtype, jnp.floating):
        raise RuntimeError(f"expected scalar type Long but found {np.dtype(target.dtype).name}")
    _check_targets(target, input.shape[0 if input.ndim == 1 else 1], ignore_index)
    inputs = (input, target) if weight is None else (input, target, weight)
    return apply("nll_loss", *inputs, reduction=reduction, ignore_index=int(ignore_index))


def _class_weight(weight, ndim):
    return weight if ndim == 1 else weight.reshape(-1, *([1] * (ndim - 2)))


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy of logits against class indices or class probabilities.

    As in PyTorch: log_softmax over the class dim (1, or 0 for unbatched input), then
    nll_loss; with label_smoothing, the smoothed term is added as PyTorch adds it.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    target = as_tensor(target)
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    if jnp.issubdtype(target.dtype, jnp.floating):  # class probabilities
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if weight is not None:
            prod = prod * _class_weight(weight, input.ndim)
        loss = -prod.sum(class_dim)
        if reduction == "mean":
            return loss.sum() / (input.numel() / n_classes) if input.ndim > 1 else loss
        return loss.sum() if reduction == "sum" else loss
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return nll
    with x64(is_wide(target._data.dtype)):  # int64 class indices
        return _smoothed(input, logp, target, nll, weight, ignore_index, reduction, label_smoothing)


def _smoothed(input, logp, target, nll, weight, ignore_index, reduction, label_smoothing):
    """cross_entropy's label smoothing term, added to its nll term."""
    class_dim = 1 if input.ndim > 1 else 0
    n_classes = input.shape[class_dim]
    valid = target._data != ignore_index
    per_class = logp if weight is None else logp * _class_weight(weight, input.ndim)
    smooth = (-per_class.sum(class_dim)).masked_fill(as_tensor(~valid), 0.0)
    if reduction == "mean":
        if weight is None:
            denom = jnp.sum(valid)
        else:
            denom = jnp.sum(jnp.where(valid, weight._data[jnp.where(valid, target._data, 0)], 0))
        smooth = smooth.sum() / Tensor._wrap(denom.astype(input.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid + binary cross entropy in one numerically stable op (PyTorch's formula)."""
    reduction = _reduction(size_average, reduce, reduction)
    target = as_tensor(target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape!r}) must be the same as input size ({input.shape!r})"
        )
    extra = [t for t in (weight, pos_weight) if t is not None]
    return apply(
        "binary_cross_entropy_with_logits",
        input,
        target,
        *extra,
        reduction=reduction,
        has_weight=weight is not None,
        has_pos_weight=pos_weight is not None,
    )


# ---------------------------------------------------------------- L1 family, BCE, KL
def _warn_on_broadcast(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's warning for a target of another size, then both broadcast to one shape."""
    if tuple(target.shape) == tuple(input.shape):
        return input, target
    warnings.warn(
        errors.MSE_TARGET_SIZE.format(target=target.shape, input=input.shape),
        UserWarning,
        stacklevel=3,
    )
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(target.shape)))
    return input.expand(*shape), target.expand(*shape)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def binary_cross_entropy(input: Tensor, target: Tensor, weight=None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:  # fmt: skip
    """-w (t log(x) + (1 - t) log(1 - x)) of probabilities x, each log clamped at -100 as
    PyTorch does (so a saturated x of exactly 0 or 1 gives a finite loss)."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            errors.BCE_TARGET_SIZE.format(target=repr(target.shape), input=repr(input.shape))
        )
    data = input._value()
    if not isinstance(data, jax.core.Tracer) and bool(((data < 0) | (data > 1)).any()):
        raise RuntimeError(errors.BCE_INPUT_RANGE)
    extra = ()
    if weight is not None:
        shape = tuple(np.broadcast_shapes(tuple(target.shape), tuple(weight.shape)))
        extra = (weight.expand(*shape),)
    return apply("binary_cross_entropy", input, target, *extra, reduction=reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight=None) -> Tensor:  # fmt: skip
    """Mean (or sum) absolute error, composed as PyTorch: (input - target).abs()."""
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        raise NotImplementedError(errors.UNSUPPORTED.format(what="l1_loss(weight=...)"))
    input, target = _warn_on_broadcast(input, target)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:  # fmt: skip
    """0.5 d^2 / beta where abs(d) < beta, else abs(d) - 0.5 beta (d = input - target); beta = 0
    is the L1 loss, as in PyTorch."""
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _warn_on_broadcast(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return _reduce((input - target).abs(), reduction)
    return apply("smooth_l1_loss", input, target, reduction=reduction, beta=float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:  # fmt: skip
    """0.5 d^2 where abs(d) <= delta, else delta (abs(d) - 0.5 delta)."""
    reduction = _reduction(None, None, reduction)
    if weight is not None:
        raise NotImplementedError(errors.UNSUPPORTED.format(what="huber_loss(weight=...)"))
    input, target = _warn_on_broadcast(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return apply("huber_loss", input, target, reduction=reduction, delta=float(delta))


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:  # fmt: skip
    """KL divergence of target from input (log-probabilities), PyTorch's formula:
    xlogy(t, t) - t * input, or exp(t) * (t - input) with log_target. 'batchmean' divides
    the sum by the batch size (the KL divergence per sample); 'mean' (the default) divides
    by the number of elements and warns, as PyTorch does."""
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    else:
        if reduction == "mean":
            warnings.warn(errors.KL_DIV_MEAN_WARNING, UserWarning, stacklevel=2)
        _reduction(None, None, reduction, ("none", "mean", "sum", "batchmean"))
    if log_target:
        pointwise = target.exp() * (target - input)
    else:
        pointwise = target.xlogy(target) - target * input
    if reduction == "batchmean":
        total = pointwise.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(pointwise, reduction)
