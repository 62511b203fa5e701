"""`nn.functional` losses of the wider PyTorch surface: binary cross entropy, L1, smooth
L1, Huber and KL divergence.

Binary cross entropy, smooth L1 and Huber are one table op each (ops_layers.py), as in
PyTorch; L1 and KL divergence are composed of table ops as PyTorch composes them, so their
nodes match (`l1_loss` is MeanBackward0 over AbsBackward0 over SubBackward0). Re-exported
by `nn.functional`.

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
import numpy as np

from .. import errors
from ..ops import apply
from ..tensor import Tensor
from .reduction import legacy_reduction

__all__ = ["binary_cross_entropy", "huber_loss", "kl_div", "l1_loss", "smooth_l1_loss"]


def _warn_on_broadcast(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's warning for a target of another size, then both broadcast to one shape."""
    if tuple(target.shape) == tuple(input.shape):
        return input, target
    warnings.warn(
        f"Using a target size ({target.shape!r}) that is different to the input size "
        f"({input.shape!r}). This will likely lead to incorrect results due to "
        "broadcasting. Please ensure they have the same size.",
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
    reduction = legacy_reduction(size_average, reduce, reduction)
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
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        raise NotImplementedError(errors.UNSUPPORTED.format(what="l1_loss(weight=...)"))
    input, target = _warn_on_broadcast(input, target)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:  # fmt: skip
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0
    is the L1 loss, as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    input, target = _warn_on_broadcast(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return _reduce((input - target).abs(), reduction)
    return apply("smooth_l1_loss", input, target, reduction=reduction, beta=float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:  # fmt: skip
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta)."""
    reduction = legacy_reduction(None, None, reduction)
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
        reduction = legacy_reduction(size_average, reduce, reduction)
    else:
        if reduction == "mean":
            warnings.warn(errors.KL_DIV_MEAN_WARNING, UserWarning, stacklevel=2)
        legacy_reduction(None, None, reduction, ("none", "mean", "sum", "batchmean"))
    if log_target:
        pointwise = target.exp() * (target - input)
    else:
        pointwise = target.xlogy(target) - target * input
    if reduction == "batchmean":
        total = pointwise.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(pointwise, reduction)
