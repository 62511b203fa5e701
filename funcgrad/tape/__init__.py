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
from .autograd import grad as _grad  # noqa: F401 - keeps autograd.grad importable early
from .creation import (
    arange as arange,
    as_tensor as as_tensor,
    empty as empty,
    eye as eye,
    from_numpy as from_numpy,
    full as full,
    full_like as full_like,
    linspace as linspace,
    ones as ones,
    ones_like as ones_like,
    rand as rand,
    rand_like as rand_like,
    randint as randint,
    randn as randn,
    randn_like as randn_like,
    randperm as randperm,
    tensor as tensor,
    zeros as zeros,
    zeros_like as zeros_like,
)
from .dtypes import (
    bfloat16 as bfloat16,
    bool as bool,  # noqa: A004
    double as double,
    float as float,  # noqa: A004
    float16 as float16,
    float32 as float32,
    float64 as float64,
    half as half,
    int as int,  # noqa: A004
    int8 as int8,
    int16 as int16,
    int32 as int32,
    int64 as int64,
    long as long,
    short as short,
    uint8 as uint8,
)
from .engine import live_graph_bytes as live_graph_bytes
from .functions import *  # noqa: F403 - the explicit list in functions._UNARY_AND_METHODS
from .functions import (
    allclose as allclose,
    cat as cat,
    concat as concat,
    equal as equal,
    is_tensor as is_tensor,
    stack as stack,
    where as where,
)
from .grad_mode import (
    enable_grad as enable_grad,
    inference_mode as inference_mode,
    is_grad_enabled as is_grad_enabled,
    is_inference_mode_enabled as is_inference_mode_enabled,
    no_grad as no_grad,
    set_grad_enabled as set_grad_enabled,
)
from .memory import graph_bytes as graph_bytes
from .random import default_generator as default_generator, manual_seed as manual_seed
from .tensor import Size as Size, Tensor as Tensor
