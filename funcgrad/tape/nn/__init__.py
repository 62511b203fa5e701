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

from . import convert as convert
from . import functional as functional
from . import init as init
from . import utils as utils
from .activations import CELU as CELU
from .activations import ELU as ELU
from .activations import GLU as GLU
from .activations import SELU as SELU
from .activations import Hardsigmoid as Hardsigmoid
from .activations import Hardswish as Hardswish
from .activations import Hardtanh as Hardtanh
from .activations import LogSigmoid as LogSigmoid
from .activations import Mish as Mish
from .activations import PReLU as PReLU
from .activations import ReLU6 as ReLU6
from .activations import Softmax2d as Softmax2d
from .activations import Softmin as Softmin
from .activations import Softplus as Softplus
from .activations import Softsign as Softsign
from .activations import Tanhshrink as Tanhshrink
from .activations import Threshold as Threshold
from .containers import ModuleDict as ModuleDict
from .containers import ModuleList as ModuleList
from .containers import Sequential as Sequential
from .conv import Conv1d as Conv1d
from .conv import ConvTranspose1d as ConvTranspose1d
from .conv import ConvTranspose2d as ConvTranspose2d
from .dropout import Dropout1d as Dropout1d
from .dropout import Dropout2d as Dropout2d
from .dropout import Dropout3d as Dropout3d
from .flax_bridge import FlaxModule as FlaxModule
from .flax_bridge import from_flax as from_flax
from .flax_bridge import functional_call as functional_call
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
from .losses import BCELoss as BCELoss
from .losses import BCEWithLogitsLoss as BCEWithLogitsLoss
from .losses import CrossEntropyLoss as CrossEntropyLoss
from .losses import HuberLoss as HuberLoss
from .losses import KLDivLoss as KLDivLoss
from .losses import L1Loss as L1Loss
from .losses import MSELoss as MSELoss
from .losses import NLLLoss as NLLLoss
from .losses import SmoothL1Loss as SmoothL1Loss
from .module import Module as Module
from .module import RemovableHandle as RemovableHandle
from .normalization import GroupNorm as GroupNorm
from .normalization import LayerNorm as LayerNorm
from .parameter import Parameter as Parameter
from .recurrent import GRU as GRU
from .recurrent import LSTM as LSTM
from .recurrent import RNN as RNN
from .recurrent import RNNBase as RNNBase
from .resizing import CircularPad1d as CircularPad1d
from .resizing import CircularPad2d as CircularPad2d
from .resizing import CircularPad3d as CircularPad3d
from .resizing import ConstantPad1d as ConstantPad1d
from .resizing import ConstantPad2d as ConstantPad2d
from .resizing import ConstantPad3d as ConstantPad3d
from .resizing import ReflectionPad1d as ReflectionPad1d
from .resizing import ReflectionPad2d as ReflectionPad2d
from .resizing import ReflectionPad3d as ReflectionPad3d
from .resizing import ReplicationPad1d as ReplicationPad1d
from .resizing import ReplicationPad2d as ReplicationPad2d
from .resizing import ReplicationPad3d as ReplicationPad3d
from .resizing import Unflatten as Unflatten
from .resizing import Upsample as Upsample
from .resizing import UpsamplingBilinear2d as UpsamplingBilinear2d
from .resizing import UpsamplingNearest2d as UpsamplingNearest2d
from .resizing import ZeroPad1d as ZeroPad1d
from .resizing import ZeroPad2d as ZeroPad2d
from .resizing import ZeroPad3d as ZeroPad3d
from .rnn_cells import GRUCell as GRUCell
from .rnn_cells import LSTMCell as LSTMCell
from .rnn_cells import RNNCell as RNNCell
from .rnn_cells import RNNCellBase as RNNCellBase
