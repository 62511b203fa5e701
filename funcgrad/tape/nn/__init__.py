"""funcgrad.tape.nn: PyTorch's `torch.nn` on the tape.

`Module` and `Parameter`, the layers and losses PyTorch scripts use most, `functional`
(F), `init`, weight conversion to and from Flax (`convert`), and the bridge between the
paradigms: `from_flax` (a Flax module as a tape module) and `functional_call` (a tape
module as a function of its weights: PyTorch's `torch.func.functional_call`, also usable
inside `jax.grad` / `jax.jit`).

Example:
    >>> import funcgrad.tape as torch
    >>> from funcgrad.tape import nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> loss = nn.CrossEntropyLoss()(net(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))
    >>> loss.backward()
    >>> net[0].weight.grad.shape
    torch.Size([8, 4])
"""

from . import convert as convert
from . import functional as functional
from . import init as init
from .containers import ModuleDict as ModuleDict
from .containers import ModuleList as ModuleList
from .containers import Sequential as Sequential
from .flax_bridge import FlaxModule as FlaxModule
from .flax_bridge import from_flax as from_flax
from .layers import GELU as GELU
from .layers import AdaptiveAvgPool2d as AdaptiveAvgPool2d
from .layers import AvgPool2d as AvgPool2d
from .layers import BatchNorm1d as BatchNorm1d
from .layers import BatchNorm2d as BatchNorm2d
from .layers import Conv2d as Conv2d
from .layers import Dropout as Dropout
from .layers import Embedding as Embedding
from .layers import Flatten as Flatten
from .layers import Identity as Identity
from .layers import LeakyReLU as LeakyReLU
from .layers import Linear as Linear
from .layers import LogSoftmax as LogSoftmax
from .layers import MaxPool2d as MaxPool2d
from .layers import ReLU as ReLU
from .layers import Sigmoid as Sigmoid
from .layers import SiLU as SiLU
from .layers import Softmax as Softmax
from .layers import Tanh as Tanh
from .losses import BCEWithLogitsLoss as BCEWithLogitsLoss
from .losses import CrossEntropyLoss as CrossEntropyLoss
from .losses import MSELoss as MSELoss
from .losses import NLLLoss as NLLLoss
from .module import Module as Module
from .module import RemovableHandle as RemovableHandle
from .parameter import Parameter as Parameter
from .stateless import functional_call as functional_call
