"""`funcgrad.tape.autograd`: PyTorch's `torch.autograd` namespace on the tape.

`backward` (the one `Tensor.backward` runs, from backward.py) and `grad` (gradients returned
instead of accumulated: argument checks in PyTorch's words, then the engine), the custom
`Function` with its `FunctionCtx` (also in the submodule `function`, with
`once_differentiable`), `graph` (saved-tensor hooks, `save_on_cpu`, `increment_version`),
`gradcheck` / `gradgradcheck` (_gradcheck.py), anomaly detection (`detect_anomaly`,
`set_detect_anomaly`, and the submodule `anomaly_mode`, from the tape core's
anomaly_mode.py, which the backward engine consults). `functional`
(`torch.autograd.functional`: vjp, jvp, jacobian, hessian, hvp, vhp) is the submodule
functional.py: it builds on `funcgrad.tape.func`, a layer above this one, so this module
does not import it; `import funcgrad.tape` does.
"""

from __future__ import annotations

from .. import anomaly_mode as anomaly_mode
from ..anomaly_mode import (
    detect_anomaly as detect_anomaly,
    set_detect_anomaly as set_detect_anomaly,
)
from ..backward import backward as backward
from ..function import Function as Function, FunctionCtx as FunctionCtx
from ..tensor import Tensor
from . import function as function, graph as graph
from ._grad import grad as grad
from ._gradcheck import gradcheck as gradcheck, gradgradcheck as gradgradcheck

__all__ = [
    "Function",
    "FunctionCtx",
    "Variable",
    "anomaly_mode",
    "backward",
    "detect_anomaly",
    "function",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "graph",
    "set_detect_anomaly",
]


class _VariableType(type):
    def __instancecheck__(cls, obj) -> bool:  # every tensor is a Variable, as in PyTorch
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableType):
    """PyTorch's deprecated wrapper: `Variable(t, requires_grad=True)` is a new leaf that
    shares `t`'s values (`t` itself is unchanged), as `t.detach().requires_grad_()`.

    Example:
        >>> import funcgrad.tape as torch
        >>> v = torch.autograd.Variable(torch.ones(2), requires_grad=True)
        >>> v.is_leaf, v.requires_grad
        (True, True)
    """

    def __new__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out
