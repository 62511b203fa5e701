"""funcgrad.tape.func: PyTorch's `torch.func` on the tape, each transform a JAX transform.

`import funcgrad.tape as torch` makes this `torch.func`; `from funcgrad.tape.func import
grad, vmap, ...` works like `from torch.func import ...`. The functions are written with
tape ops and tape modules; each transform runs them inside the JAX transform of the same
name, on tensors that wrap JAX tracers, so no derivative is written by hand and the
transforms compose (`vmap(grad(f))`, `jacrev(jacfwd(f))`, `grad(grad(f))`) and run under
`funcgrad.tape.jit`:

- `grad`, `grad_and_value`, `vjp`, `jvp`, `jacrev`, `jacfwd`, `hessian`, `linearize`
  (`_autodiff.py`): `jax.vjp`, `jax.jvp`, `jax.jacrev`, `jax.jacfwd`, `jax.linearize`;
- `vmap` (`_vmap.py`): `jax.vmap`, with PyTorch's `in_dims`, `out_dims`, `randomness` and
  `chunk_size`;
- `functional_call` (`funcgrad.tape.nn.stateless`) and `stack_module_state`
  (`_modules.py`): a module as a function of its weights, and model ensembling.

`vjp` returns its pullback as a value (`VJPFunction`): call it as often as you like, as a
retained graph, and read `residual_bytes`, what it keeps alive.

Inside a transform the tape records no graph; PyTorch's functorch errors (a `.backward()`
inside, `.item()` in `vmap`, writing into a captured tensor, ...) are raised with its
texts (`_levels.py`, `_messages.py`). The results of a transform are new tensors without
a graph: this package does not connect them to an outer tape graph (see docs/errors.md).

Example:
    >>> import funcgrad.tape as torch
    >>> from funcgrad.tape.func import grad, vmap
    >>> w = torch.tensor([1.0, -1.0])
    >>> xs = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> loss = lambda w, x: ((w * x).sum() - 1.0) ** 2
    >>> vmap(grad(loss), in_dims=(None, 0))(w, xs)  # per-sample gradients
    tensor([[ -4.,  -8.],
            [-12., -16.],
            [-20., -24.]])
"""

from ..nn.stateless import functional_call as functional_call
from ._autodiff import (
    VJPFunction as VJPFunction,
    grad as grad,
    grad_and_value as grad_and_value,
    hessian as hessian,
    jacfwd as jacfwd,
    jacrev as jacrev,
    jvp as jvp,
    linearize as linearize,
    vjp as vjp,
)
from ._modules import stack_module_state as stack_module_state
from ._vmap import vmap as vmap

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linearize",
    "stack_module_state",
    "vjp",
    "vmap",
]
