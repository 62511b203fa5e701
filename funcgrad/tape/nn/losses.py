"""Loss modules: thin holders of a reduction (and class weights) around `functional`.

As in PyTorch, class weights (`weight`, `pos_weight`) are registered as buffers.
"""

from __future__ import annotations

from .loss_functions import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .module import Module
from .reduction import legacy_reduction as _legacy_reduction

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:  # else checked when called
            reduction = _legacy_reduction(size_average, reduce, reduction)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error. Example: `nn.MSELoss()(pred, target)`."""

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices, given log-probabilities.

    Example:
        >>> import funcgrad.tape as torch
        >>> logp = torch.zeros(2, 3).log_softmax(1)
        >>> round(torch.nn.NLLLoss()(logp, torch.tensor([0, 2])).item(), 4)
        1.0986
    """

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of logits against class indices (or probabilities).

    Example:
        >>> import funcgrad.tape as torch
        >>> loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
        >>> out = loss(torch.zeros(2, 3, requires_grad=True), torch.tensor([0, 2]))
        >>> round(out.item(), 4)
        1.0986
    """

    def __init__(
        self,
        weight=None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross entropy, numerically stable; optional weight, pos_weight."""

    def __init__(
        self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None
    ):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities (after a sigmoid), logs clamped at -100.

    Example:
        >>> import funcgrad.tape as torch
        >>> p = torch.tensor([0.8, 0.3], requires_grad=True)
        >>> round(torch.nn.BCELoss()(p, torch.tensor([1.0, 0.0])).item(), 4)
        0.2899
    """

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean (or sum) absolute error. Example: `nn.L1Loss()(pred, target)`."""

    def forward(self, input, target):
        return l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below beta, absolute error above (beta = 0: L1)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error below delta, delta * absolute error above."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of the target distribution from the input's (log-probabilities);
    reduction 'batchmean' gives the per-sample divergence, 'mean' (the default) warns as
    in PyTorch.

    Example:
        >>> import funcgrad.tape as torch
        >>> logp = torch.tensor([[0.25, 0.75]]).log()
        >>> loss = torch.nn.KLDivLoss(reduction="batchmean")
        >>> round(loss(logp, torch.tensor([[0.5, 0.5]])).item(), 4)
        0.1438
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False):  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
