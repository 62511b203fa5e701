"""funcgrad.tape: PyTorch's eager autograd tape, on JAX arrays.

`import funcgrad.tape as torch` runs PyTorch autograd code unchanged for the supported ops:
tensors record a graph of nodes as ops run; `backward()` walks it, calling each node's
pullback (`jax.vjp` of the op) and freeing its saved values unless `retain_graph=True`.

Example:
    >>> import funcgrad.tape as torch
    >>> a = torch.tensor([[1.0, 2.0]], requires_grad=True)
    >>> c = (a ** 2) * 2
    >>> c.sum().backward()
    >>> a.grad
    tensor([[4., 8.]])
"""

from . import autograd as autograd
from . import linalg as linalg
from . import nn as nn
from . import optim as optim
from .autograd import grad as _grad  # noqa: F401 - keeps autograd.grad importable early
from .compile import jit as jit
from .creation import (
    arange as arange,
)
from .creation import (
    as_tensor as as_tensor,
)
from .creation import (
    empty as empty,
)
from .creation import (
    eye as eye,
)
from .creation import (
    from_numpy as from_numpy,
)
from .creation import (
    full as full,
)
from .creation import (
    full_like as full_like,
)
from .creation import (
    linspace as linspace,
)
from .creation import (
    ones as ones,
)
from .creation import (
    ones_like as ones_like,
)
from .creation import (
    rand as rand,
)
from .creation import (
    rand_like as rand_like,
)
from .creation import (
    randint as randint,
)
from .creation import (
    randn as randn,
)
from .creation import (
    randn_like as randn_like,
)
from .creation import (
    randperm as randperm,
)
from .creation import (
    tensor as tensor,
)
from .creation import (
    zeros as zeros,
)
from .creation import (
    zeros_like as zeros_like,
)
from .dtypes import (
    bfloat16 as bfloat16,
)
from .dtypes import (
    bool as bool,  # noqa: A004
)
from .dtypes import (
    double as double,
)
from .dtypes import (
    float as float,  # noqa: A004
)
from .dtypes import (
    float16 as float16,
)
from .dtypes import (
    float32 as float32,
)
from .dtypes import (
    float64 as float64,
)
from .dtypes import (
    half as half,
)
from .dtypes import (
    int as int,  # noqa: A004
)
from .dtypes import (
    int8 as int8,
)
from .dtypes import (
    int16 as int16,
)
from .dtypes import (
    int32 as int32,
)
from .dtypes import (
    int64 as int64,
)
from .dtypes import (
    long as long,
)
from .dtypes import (
    short as short,
)
from .dtypes import (
    uint8 as uint8,
)
from .engine import live_graph_bytes as live_graph_bytes
from .functions import *  # noqa: F403 - the explicit list in functions._UNARY_AND_METHODS
from .functions import (
    allclose as allclose,
)
from .functions import (
    cat as cat,
)
from .functions import (
    concat as concat,
)
from .functions import (
    equal as equal,
)
from .functions import (
    is_tensor as is_tensor,
)
from .functions import (
    stack as stack,
)
from .functions import (
    where as where,
)
from .functions_more import *  # noqa: F403 - the explicit list in functions_more._METHODS
from .grad_mode import (
    enable_grad as enable_grad,
)
from .grad_mode import (
    inference_mode as inference_mode,
)
from .grad_mode import (
    is_grad_enabled as is_grad_enabled,
)
from .grad_mode import (
    is_inference_mode_enabled as is_inference_mode_enabled,
)
from .grad_mode import (
    no_grad as no_grad,
)
from .grad_mode import (
    set_grad_enabled as set_grad_enabled,
)
from .memory import graph_bytes as graph_bytes
from .random import default_generator as default_generator
from .random import manual_seed as manual_seed
from .tensor import Size as Size
from .tensor import Tensor as Tensor
