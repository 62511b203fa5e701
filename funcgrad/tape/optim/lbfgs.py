"""`LBFGS`: PyTorch's L-BFGS on tape tensors (PyTorch's own algorithm, not optax's).

PyTorch's L-BFGS is a host-driven loop: each `step(closure)` runs up to `max_iter`
iterations that call the closure, test tolerances on the values and optionally run a strong
Wolfe line search. optax's `scale_by_lbfgs` is a different method (one gradient per update,
no line search inside), so the algorithm is PyTorch's, ported once in the functional layer
(`funcgrad.lbfgs.lbfgs_step`, on a flat JAX vector); this class is the tape's shell around
it: it flattens the parameters and their `.grad`s, writes each point the algorithm evaluates
into the parameters before calling the closure, and keeps PyTorch's state under the first
parameter. The trajectories agree with PyTorch's to float32 rounding.

Because the loop branches on values, a step cannot be compiled by `funcgrad.tape.jit`.
"""

from __future__ import annotations

from collections import defaultdict

import jax
import jax.numpy as jnp

from ... import lbfgs as _lbfgs  # the functional core's L-BFGS
from .. import errors
from .._convert import to_array
from ..grad_mode import enable_grad, no_grad
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _to_tensors(value):
    if isinstance(value, jax.Array):
        return Tensor._wrap(value)
    if isinstance(value, list):
        return [_to_tensors(v) for v in value]
    return value


def _to_arrays(value):
    if isinstance(value, list):
        return [_to_arrays(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return to_array(value)


_OPTIONS = ("max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size",
            "line_search_fn")  # fmt: skip


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's arguments and algorithm; `step(closure)` runs up to `max_iter`
    iterations, each calling the closure (which zeroes the grads, computes the loss, calls
    `backward()` and returns the loss).

    Args:
      params: Tape tensors to optimize (one group only, as in PyTorch).
      lr: Optional. Learning rate (default 1).
      max_iter: Optional. Maximal number of iterations per step (default 20).
      max_eval: Optional. Maximal number of closure calls per step (default max_iter * 1.25).
      tolerance_grad: Optional. Stop when the largest gradient entry is below it (1e-7).
      tolerance_change: Optional. Stop when the loss or the step changes less (1e-9).
      history_size: Optional. Number of correction pairs kept (default 100).
      line_search_fn: Optional. None (a fixed step) or "strong_wolfe".

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([3.0, -1.0], requires_grad=True)
        >>> opt = torch.optim.LBFGS([x], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((x - torch.tensor([1.0, 2.0])) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> loss = opt.step(closure)
        >>> x.detach().numpy().round(4).tolist()
        [1.0, 2.0]
    """

    def __init__(
        self,
        params,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        self._lbfgs_state: dict = {}  # PyTorch's state, kept for the first parameter
        self._init_groups(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _make_tx(self, group):
        return None

    def _gather_flat_grad(self):
        return jnp.concatenate(
            [
                jnp.zeros(p.numel(), p.dtype) if p._grad is None else p._grad._value().reshape(-1)
                for p in self._params
            ]
        )

    def _flat_params(self):
        return jnp.concatenate([p._value().reshape(-1) for p in self._params])

    def _set_flat(self, flat) -> None:
        offset = 0
        for p in self._params:
            numel = p.numel()
            self._write_param(p, flat[offset : offset + numel].reshape(p.shape))
            offset += numel

    def step(self, closure):
        """Performs one L-BFGS step (up to `max_iter` iterations); returns the first loss.

        Args:
          closure: A function that zeroes the grads, computes the loss, calls `backward()`
            and returns the loss. It runs under `enable_grad()`.
        """
        with no_grad():
            return self._step(enable_grad()(closure))

    def _step(self, closure):
        group = self.param_groups[0]
        lr = group["lr"]
        holds = [self._flat_params()]  # the flat point the parameters hold now

        def flat_closure(x):
            if x is not holds[0]:
                self._set_flat(x)
            loss = closure()
            holds[0] = self._flat_params()  # the closure may change them (e.g. a clamp)
            return holds[0], loss, self._gather_flat_grad()

        x, loss, self._lbfgs_state = _lbfgs.lbfgs_step(
            flat_closure,
            holds[0],
            self._lbfgs_state,
            lr=float(lr) if isinstance(lr, Tensor) else lr,
            **{k: group[k] for k in _OPTIONS},
        )
        if x is not holds[0]:
            self._set_flat(x)
        return loss

    # ---- state: PyTorch keeps L-BFGS's global state under the first parameter
    @property
    def state(self):
        out = defaultdict(dict)
        if self._lbfgs_state:
            out[self._params[0]] = {k: _to_tensors(v) for k, v in self._lbfgs_state.items()}
        return out

    def _packed_state(self, index_of):
        if not self._lbfgs_state:
            return {}
        state = {k: _to_tensors(v) for k, v in self._lbfgs_state.items()}
        return {index_of[id(self._params[0])]: state}

    def _load_packed_state(self, state, id_map):
        self._params = self.param_groups[0]["params"]
        self._lbfgs_state = {}
        for key, value in state.items():
            if id_map.get(key) == (0, 0):
                self._lbfgs_state = {k: _to_arrays(v) for k, v in value.items()}

    def _state_arrays(self):
        raise NotImplementedError(errors.LBFGS_NOT_COMPILABLE)

    def _load_state_arrays(self, tree):
        raise NotImplementedError(errors.LBFGS_NOT_COMPILABLE)
