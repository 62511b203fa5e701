"""`torch.autograd.gradcheck` and `gradgradcheck`: the tape's gradients against finite
differences.

PyTorch's slow (element by element) check, in its order and with its messages: the
numerical Jacobian by central differences of the function, each input element moved by
`eps` in turn, against the analytical one, one `autograd.grad` per output element (twice,
to see that backward is deterministic), then a backward with zero output gradients must
give zero input gradients. Each Jacobian is `(input.numel(), output.numel())`, as
PyTorch's. The inputs should be float64 (the dtypes support computes it in JAX's 64-bit
mode); float32 inputs get PyTorch's warning.

What it does not do: PyTorch's forward-mode, batched-gradient and fast-mode checks (their
options raise NotImplementedError), nor the test with undefined (not merely zero) output
gradients that `check_undefined_grad` runs in PyTorch: the tape has no undefined gradient.
"""

from __future__ import annotations

import warnings

from .. import errors
from ..creation import zeros
from ..functions import allclose, stack
from ..random_ops import rand
from ..tensor import Tensor
from ._grad import grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """Raised by `gradcheck` and `gradgradcheck` when a gradient is wrong (PyTorch's
    `torch.autograd.gradcheck.GradcheckError`, a RuntimeError)."""


def _as_tuple(x) -> tuple:
    if isinstance(x, tuple):
        return x
    return tuple(x) if isinstance(x, list) else (x,)


def _differentiable(outputs) -> tuple:
    return tuple(o for o in _as_tuple(outputs) if o.requires_grad)


def _check_inputs(inputs) -> None:
    any_grad = False
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            if x.dtype not in ("float64", "complex128"):
                warnings.warn(errors.GRADCHECK_NOT_DOUBLE.format(index=i), stacklevel=3)
            any_grad = True
    if not any_grad:
        raise ValueError(errors.GRADCHECK_NO_INPUT)


def _float_outputs(out) -> list:
    return [o for o in _as_tuple(out) if isinstance(o, Tensor) and o.is_floating_point()]


def _numerical(func, inputs, eps) -> list:
    """`[input][output]` Jacobians by central differences, over the float outputs: each
    element of each input that requires grad moved by -eps and +eps in turn."""
    jacobians = []
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        flat = x.detach().reshape(-1)
        columns = []  # per input element: one row per output
        for d in range(flat.numel()):
            step = zeros(flat.numel(), dtype=x.dtype)
            step[d] = eps
            outs = []
            for moved in (flat - step, flat + step):
                args = list(inputs)
                args[i] = moved.reshape(x.shape).requires_grad_(x.requires_grad)
                outs.append([o.detach() for o in _float_outputs(func(*args))])
            columns.append([((b - a) / (2 * eps)).reshape(-1) for a, b in zip(*outs)])
        n_out = len(columns[0]) if columns else 0
        jacobians.append([stack([c[j] for c in columns]) for j in range(n_out)])
    return jacobians


def _analytical(inputs, output, nondet_tol, check_grad_dtypes) -> list:
    """Per input that requires grad, the Jacobian w.r.t. `output`, one vjp per element of
    `output`, computed twice (PyTorch's reentrancy check)."""
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    results = []
    for _ in range(2):
        columns = [[] for _ in diff]
        sizes_ok = types_ok = True
        for j in range(output.numel()):
            basis = zeros(output.numel(), dtype=output.dtype)
            basis[j] = 1.0
            grads = _grad(output, diff, basis.reshape(output.shape), retain_graph=True)
            for k, (g, x) in enumerate(zip(grads, diff)):
                if g is not None and g.shape != x.shape:
                    sizes_ok = False
                elif g is not None and g.dtype != x.dtype:
                    types_ok = False
                columns[k].append(
                    zeros(x.numel(), dtype=x.dtype) if g is None else g.detach().reshape(-1)
                )
        jac = [
            stack(c, 1) if c else zeros(x.numel(), 0, dtype=x.dtype) for c, x in zip(columns, diff)
        ]
        results.append((jac, sizes_ok, types_ok))
    (first, sizes_ok, types_ok), (second, _, _) = results
    # PyTorch unpacks (sizes, types) into (types, sizes): a dtype mismatch reports the
    # wrong size, and a size mismatch is only reported with check_grad_dtypes. Same here.
    if not sizes_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not types_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    for a, b in zip(first, second):
        if a.numel() and (a - b).abs().max().item() > nondet_tol:
            raise GradcheckError(errors.GRADCHECK_NOT_REENTRANT.format(tol=nondet_tol))
    return first


def _grad(outputs, inputs, grad_outputs, retain_graph=False):
    return grad(outputs, inputs, grad_outputs, retain_graph=retain_graph, allow_unused=True)


def _mul_by_grad_output(outputs, inputs) -> None:
    """A zero output gradient must give a zero input gradient of the input's dtype/shape."""
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    grads = _grad(list(outputs), diff, [o.detach() * 0 for o in outputs])
    for g, x in zip(grads, diff):
        if g is None:
            continue
        if not bool((g == 0).all()):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype != x.dtype:
            raise GradcheckError("grad is incorrect type")
        if g.shape != x.shape:
            raise GradcheckError("grad is incorrect size")


def _refuse(**flags) -> None:
    for name, on in flags.items():
        if on:
            raise NotImplementedError(errors.GRADCHECK_UNSUPPORTED.format(option=name))


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked=None,
) -> bool:
    """Checks the tape's gradients of `func` at `inputs` against finite differences.

    Args:
      func: a function of tensors returning a tensor or a tuple of tensors.
      inputs: a tensor or a tuple of them (and other values); those that require grad are
        checked. Use float64.
      eps: Optional. The finite-difference step.
      atol, rtol: Optional. The tolerances of the comparison (`allclose`).
      raise_exception: Optional. Raise GradcheckError on a mismatch (the default), or
        return False.
      nondet_tol: Optional. How far two backwards of the same input may differ.
      check_grad_dtypes: Optional. Also check the gradients' dtypes.

    Returns:
      True when every gradient matches.

    Raises:
      GradcheckError: on a mismatch, with PyTorch's message (the two Jacobians).

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
        >>> torch.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
        True
    """
    del check_undefined_grad, masked  # no undefined gradients on the tape; dense only
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True"
        )
    _refuse(
        check_forward_ad=check_forward_ad,
        check_batched_grad=check_batched_grad,
        check_batched_forward_grad=check_batched_forward_grad,
        fast_mode=fast_mode,
    )
    try:
        return _check(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _check(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes) -> bool:
    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    func_out = func(*inputs)
    outputs = _differentiable(func_out)
    numerical = _numerical(func, inputs, eps)
    if not outputs:  # then the function must not depend on its inputs at all
        for per_input in numerical:
            for jac in per_input:
                if bool((jac != 0).any()):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    float_outs = _float_outputs(func_out)
    keep = [k for k, o in enumerate(float_outs) if o.requires_grad]
    for i, out in enumerate(outputs):
        analytical = _analytical(inputs, out, nondet_tol, check_grad_dtypes)
        for j, (a, per_input) in enumerate(zip(analytical, numerical)):
            n = per_input[keep[i]]
            if not allclose(a, n.to(a.dtype), rtol, atol):
                raise GradcheckError(
                    f"Jacobian mismatch for output {i:d} with respect to input {j:d},\n"
                    f"numerical:{n}\nanalytical:{a}\n"
                )
    _mul_by_grad_output(outputs, inputs)
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """Checks second derivatives: `gradcheck` of the function that returns the tape's
    gradients of `func` (made with `create_graph=True`) for `grad_outputs`, which default
    to random values in [-1, 1) drawn from the global generator, as PyTorch's.

    Args:
      func, inputs: as for `gradcheck`.
      grad_outputs: Optional. One tensor per differentiable output.
      eps, atol, rtol, raise_exception, nondet_tol, check_grad_dtypes: as for `gradcheck`.

    Returns:
      True when every second derivative matches.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
        >>> torch.autograd.gradgradcheck(lambda t: (t**3).sum(), (x,))
        True
    """
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        grad_outputs = tuple(
            (
                rand(o.shape, dtype=o.dtype if o.is_floating_point() else "float64") * 2 - 1
            ).requires_grad_()
            for o in _differentiable(func(*inputs))
        )
    grad_outputs = _as_tuple(grad_outputs)
    n_out = len(grad_outputs)
    diff_inputs = {i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad}
    diff_grads = {i for i, g in enumerate(grad_outputs) if g.requires_grad}

    def first_derivatives(*args):
        xs = tuple(
            x.requires_grad_() if i in diff_inputs else x for i, x in enumerate(args[:-n_out])
        )
        outs = _differentiable(func(*xs))
        gs = tuple(
            g.requires_grad_() if i in diff_grads else g for i, g in enumerate(args[-n_out:])
        )
        wrt = tuple(x for i, x in enumerate(xs) if i in diff_inputs)
        grads = grad(outs, wrt, gs, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_derivatives,
        inputs + grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        check_batched_grad=check_batched_grad,
        fast_mode=fast_mode,
        check_forward_ad=check_fwd_over_rev,
        check_backward_ad=check_rev_over_rev,
        masked=masked,
    )
