"""funcgrad.tape.optim: PyTorch's optimizers, with the update rules in optax.

`Optimizer` runs any `optax.GradientTransformation` with PyTorch's interface (param groups,
`zero_grad`, `step(closure)`, `state_dict`); `SGD`, `Adam` and `AdamW` are chains of optax
transformations that reproduce `torch.optim`'s update rules; `LBFGS` ports PyTorch's L-BFGS.

Example:
    >>> import funcgrad.tape as torch
    >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([0.8000, 1.6000], requires_grad=True)
"""

from . import lr_scheduler as lr_scheduler
from .adagrad import Adagrad as Adagrad
from .adam import Adam as Adam, AdamW as AdamW
from .lbfgs import LBFGS as LBFGS
from .optimizer import Optimizer as Optimizer
from .rmsprop import RMSprop as RMSprop
from .sgd import SGD as SGD
from .transforms import (
    ScaleByTorchAdamState as ScaleByTorchAdamState,
    ScaleByTorchRssState as ScaleByTorchRssState,
    TorchMomentumState as TorchMomentumState,
    scale_by_torch_adam as scale_by_torch_adam,
    scale_by_torch_rss as scale_by_torch_rss,
    torch_adam_hyperparams as torch_adam_hyperparams,
    torch_momentum as torch_momentum,
)

__all__ = [
    "Adagrad",
    "Adam",
    "AdamW",
    "LBFGS",
    "lr_scheduler",
    "Optimizer",
    "RMSprop",
    "scale_by_torch_adam",
    "ScaleByTorchAdamState",
    "scale_by_torch_rss",
    "ScaleByTorchRssState",
    "SGD",
    "torch_adam_hyperparams",
    "torch_momentum",
    "TorchMomentumState",
]
