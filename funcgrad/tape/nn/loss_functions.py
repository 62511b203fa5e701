"""The loss functions of `nn.functional` (F): `mse_loss`, `nll_loss`, `cross_entropy`,
`binary_cross_entropy_with_logits`, with PyTorch's `reduction` conventions and checks.

`funcgrad.tape.nn.functional` re-exports them; cross entropy is PyTorch's composition of
`log_softmax` and `nll_loss` (so its grad_fn is `NllLossBackward0`).
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

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "mse_loss", "nll_loss"]


def _reduction(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use "
            f"reduction='{reduction}' instead.",
            UserWarning,
            stacklevel=3,
        )
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


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
