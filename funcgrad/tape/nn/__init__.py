"""funcgrad.tape.nn: PyTorch's `torch.nn` on the tape.

`Module` and `Parameter`, the layers and losses PyTorch scripts use most, `functional`
(F), `init`, weight conversion to and from Flax (`convert`), and the bridge between the
paradigms: `from_flax` (a Flax module as a tape module) and `functional_call` (a tape
module as a pure function for `jax.grad` / `jax.jit`).

Example:
    >>> import funcgrad.tape as torch
    >>> from funcgrad.tape import nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> loss = nn.CrossEntropyLoss()(net(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))
    >>> loss.backward()
    >>> net[0].weight.grad.shape
    torch.Size([8, 4])
"""

from ..hooks import RemovableHandle as RemovableHandle
from . import convert as convert, functional as functional, init as init
from .activations import (
    GELU as GELU,
    LeakyReLU as LeakyReLU,
    LogSoftmax as LogSoftmax,
    ReLU as ReLU,
    Sigmoid as Sigmoid,
    SiLU as SiLU,
    Softmax as Softmax,
    Tanh as Tanh,
)
from .containers import ModuleDict as ModuleDict, ModuleList as ModuleList, Sequential as Sequential
from .flax_bridge import FlaxModule as FlaxModule, from_flax as from_flax
from .layers import (
    AdaptiveAvgPool2d as AdaptiveAvgPool2d,
    AvgPool2d as AvgPool2d,
    Conv2d as Conv2d,
    Dropout as Dropout,
    Embedding as Embedding,
    Flatten as Flatten,
    Identity as Identity,
    Linear as Linear,
    MaxPool2d as MaxPool2d,
)
from .losses import (
    BCEWithLogitsLoss as BCEWithLogitsLoss,
    CrossEntropyLoss as CrossEntropyLoss,
    MSELoss as MSELoss,
    NLLLoss as NLLLoss,
)
from .module import Module as Module
from .normalization import BatchNorm1d as BatchNorm1d, BatchNorm2d as BatchNorm2d
from .parameter import Parameter as Parameter
from .stateless import functional_call as functional_call

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BCEWithLogitsLoss",
    "Conv2d",
    "convert",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "FlaxModule",
    "from_flax",
    "functional",
    "functional_call",
    "GELU",
    "Identity",
    "init",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MSELoss",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "RemovableHandle",
    "Sequential",
    "Sigmoid",
    "SiLU",
    "Softmax",
    "Tanh",
]
