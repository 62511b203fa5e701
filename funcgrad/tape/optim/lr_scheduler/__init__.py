"""`optim.lr_scheduler`: PyTorch's learning-rate schedulers for the tape's optimizers.

A scheduler writes `param_groups[i]["lr"]` (OneCycleLR also the momentum or beta1), as
PyTorch's does, with PyTorch's arithmetic (the recursive "chainable" forms, in double
precision), so the learning rates are PyTorch's to the last bit. The tape's optimizers read
their groups' options at every step (they feed them to optax's injected hyperparameters),
so a new rate takes effect at the next `optimizer.step()`, eager or compiled: a
`funcgrad.tape.jit` step takes the rates as inputs and is not traced again.

`scheduler.step()` itself runs on the host: call it between compiled steps, not inside one
(it raises there, as its Python state would change only while tracing).

The package: `base` (`LRScheduler`), `schedules` (the formulas of the epoch), `one_cycle`,
`cyclic` (`CyclicLR`, `CosineAnnealingWarmRestarts`), `combined` (`SequentialLR`,
`ChainedScheduler`), `plateau` (`ReduceLROnPlateau`): every scheduler of
`torch.optim.lr_scheduler` 2.13.

What this package does not do: step inside a compiled step (see above).

Example:
    >>> import funcgrad.tape as torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    >>> opt.step(); sched.step(); sched.get_last_lr()
    [0.05]
"""

from .base import LRScheduler as LRScheduler
from .combined import ChainedScheduler as ChainedScheduler, SequentialLR as SequentialLR
from .cyclic import (
    CosineAnnealingWarmRestarts as CosineAnnealingWarmRestarts,
    CyclicLR as CyclicLR,
)
from .one_cycle import OneCycleLR as OneCycleLR
from .plateau import ReduceLROnPlateau as ReduceLROnPlateau
from .schedules import (
    ConstantLR as ConstantLR,
    CosineAnnealingLR as CosineAnnealingLR,
    ExponentialLR as ExponentialLR,
    LambdaLR as LambdaLR,
    LinearLR as LinearLR,
    MultiplicativeLR as MultiplicativeLR,
    MultiStepLR as MultiStepLR,
    PolynomialLR as PolynomialLR,
    StepLR as StepLR,
)

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "LRScheduler",
    "MultiplicativeLR",
    "MultiStepLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
