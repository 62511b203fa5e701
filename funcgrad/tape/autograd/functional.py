"""`torch.autograd.functional` on the tape: vjp, jvp, jacobian, hessian, vhp and hvp.

PyTorch computes these with its tape (`autograd.grad`, a double-backward trick for forward
mode). Here each is the JAX transform of the function, run through `funcgrad.tape.func`
(itself `jax.vjp`, `jax.jvp`, `jax.jacrev`, `jax.jacfwd` of the tape function): no
derivative is written by hand, and forward mode is real forward mode. PyTorch's signatures,
argument checks, error texts and return structures are kept: a tuple of inputs (or
outputs) gives tuples back, a single tensor gives a tensor.

`create_graph=True` makes the results part of the tape's graph (a `FuncTransformBackward0`
node reaching the inputs that require grad), so a backward or `autograd.grad` through them
works; without it the results carry no graph. `vectorize` is accepted and changes nothing
(JAX's Jacobians are always vectorized). `strict=True` asks whether an output or a
derivative is independent of an input, a question about PyTorch's graph: `_strict.py` runs
the function once more on the tape to answer it, as PyTorch does.

What this module does not do: Jacobians of functions that return non-tensor values, or of
integer inputs (PyTorch refuses them too).
"""

from __future__ import annotations

from .. import errors
from ..creation import ones_like
from ..func import grad_and_value, hessian as _hessian, jacfwd, jacrev, jvp as _jvp
from ..grad_mode import enable_grad, no_grad
from . import _strict
from ._strict import OUTPUTS, as_tuple

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

STRATEGIES = ("forward-mode", "reverse-mode")


def _unpack(values: tuple, is_tuple: bool):
    return values if is_tuple else values[0]


def _unpack2(values: tuple, outer: bool, inner: bool):
    """A tuple (per output) of tuples (per input), unpacked where the user gave tensors."""
    return _unpack(tuple(_unpack(tuple(row), inner) for row in values), outer)


def _check_v(v, others: tuple, others_tuple: bool, api: str, none_message: str) -> tuple:
    """`v` as a tuple matching `others` (PyTorch's errors), or ones for a one-element one."""
    if v is None:
        if len(others) != 1 or others[0].numel() != 1:
            raise RuntimeError(none_message)
        return (ones_like(others[0]),)
    _, v = as_tuple(v, "v", api)
    if len(v) != len(others):
        if others_tuple:
            raise RuntimeError(errors.FUNCTIONAL_V_LENGTH.format(expected=len(others), got=len(v)))
        raise RuntimeError(errors.FUNCTIONAL_V_SINGLE)
    for i, (a, b) in enumerate(zip(v, others)):
        if a.size() != b.size():
            prefix = f"Entry {i} in " if others_tuple else ""
            raise RuntimeError(
                errors.FUNCTIONAL_V_SIZE.format(prefix=prefix, expected=b.size(), got=a.size())
            )
    return tuple(a.detach().to(b.dtype) for a, b in zip(v, others))


def _graph(create_graph: bool):
    """Results on the tape's graph with create_graph, else computed without one."""
    return enable_grad() if create_graph else no_grad()


def _tuple_outputs(func, api: str, found: dict):
    """`func` returning a tuple of tensors; whether it returned a tuple goes to `found`."""

    def call(*inputs):
        found["tuple"], outputs = as_tuple(func(*inputs), OUTPUTS, api)
        return outputs

    return call


def _scalar_output(func, api: str, squeeze: bool):
    """`func` checked to return one one-element tensor (PyTorch's errors), as a 0-d value
    and, for the caller, the output as returned."""

    def call(*inputs):
        out = func(*inputs)
        is_tuple, _ = as_tuple(out, OUTPUTS, api)
        if is_tuple:
            raise RuntimeError(errors.FUNCTIONAL_SINGLE_TENSOR.format(api=api))
        if out.numel() != 1:
            raise RuntimeError(errors.FUNCTIONAL_SINGLE_ELEMENT.format(api=api))
        return out.reshape(()), (out.squeeze() if squeeze else out)

    return call


def _detached(values: tuple, create_graph: bool) -> tuple:
    return values if create_graph else tuple(v.detach() for v in values)


def _preprocess(inputs: tuple, create_graph: bool) -> tuple:
    """PyTorch's `_grad_preprocess`: with create_graph, an input that does not require grad
    is replaced by a fresh leaf that does, so the results have a graph (to that leaf)."""
    if not create_graph:
        return inputs
    return tuple(x if x.requires_grad else x.detach().requires_grad_(True) for x in inputs)


def _dot(outputs: tuple, v: tuple):
    """sum_i <outputs_i, v_i>: its gradient is the vector-Jacobian product with v."""
    total = (outputs[0] * v[0]).sum()
    for out, w in zip(outputs[1:], v[1:]):
        total = total + (out * w).sum()
    return total


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Jacobian product of `func` at `inputs` (PyTorch's `autograd.functional.vjp`).

    Args:
      func: a function of tensors returning a tensor or a tuple of tensors.
      inputs: a tensor or a tuple of tensors.
      v: Optional. One tensor per output, of its size; may be None for a one-element output.
      create_graph: Optional, bool. Results on the tape's graph (differentiable again).
      strict: Optional, bool. Raise if an output is independent of an input.

    Returns:
      `(func_output, vjp)`: vjp has one tensor per input.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0])
        >>> torch.autograd.functional.vjp(lambda x: x**2, x, torch.ones(2))
        (tensor([1., 4.]), tensor([2., 4.]))
    """
    is_inputs_tuple, inputs = as_tuple(inputs, "inputs", "vjp")
    if strict:
        _strict.first_order(func, inputs, "vjp", create_graph)
    inputs = _preprocess(inputs, create_graph)
    found: dict = {}
    call = _tuple_outputs(func, "vjp", found)

    def dot(*xs):  # the gradient of <func(x), v> is v^T J (and it stays on the tape's graph)
        outputs = call(*xs)
        vs = _check_v(v, outputs, found["tuple"], "vjp", errors.FUNCTIONAL_V_NONE_OUTPUT)
        return _dot(outputs, vs), outputs

    with _graph(create_graph):
        grads, (_, outputs) = grad_and_value(dot, tuple(range(len(inputs))), has_aux=True)(*inputs)
    outputs, grads = _detached(outputs, create_graph), _detached(grads, create_graph)
    return _unpack(outputs, found["tuple"]), _unpack(grads, is_inputs_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Jacobian-vector product of `func` at `inputs` along `v`, by forward mode
    (`jax.jvp`; PyTorch's `autograd.functional.jvp` uses a double backward).

    Args:
      func: a function of tensors returning a tensor or a tuple of tensors.
      inputs: a tensor or a tuple of tensors.
      v: Optional. One tensor per input, of its size; may be None for a one-element input.
      create_graph: Optional, bool. Results on the tape's graph (differentiable again).
      strict: Optional, bool. Raise if an output is independent of an input.

    Returns:
      `(func_output, jvp)`: jvp has one tensor per output.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0])
        >>> torch.autograd.functional.jvp(lambda x: x**2, x, torch.ones(2))
        (tensor([1., 4.]), tensor([2., 4.]))
    """
    is_inputs_tuple, inputs = as_tuple(inputs, "inputs", "jvp")
    v = _check_v(v, inputs, is_inputs_tuple, "jvp", errors.FUNCTIONAL_V_NONE_INPUT)
    if strict:
        _strict.forward(func, inputs, create_graph)
    inputs = _preprocess(inputs, create_graph)
    found: dict = {}
    with _graph(create_graph):
        outputs, tangents = _jvp(_tuple_outputs(func, "jvp", found), inputs, v)
    outputs, tangents = _detached(outputs, create_graph), _detached(tangents, create_graph)
    return _unpack(outputs, found["tuple"]), _unpack(tangents, found["tuple"])


def jacobian(
    func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"
):
    """The Jacobian of `func` at `inputs` (PyTorch's `autograd.functional.jacobian`), by
    `jax.jacrev` (`strategy="reverse-mode"`) or `jax.jacfwd` (`"forward-mode"`).

    Args:
      func: a function of tensors returning a tensor or a tuple of tensors.
      inputs: a tensor or a tuple of tensors.
      create_graph: Optional, bool. Results on the tape's graph (reverse mode only).
      strict: Optional, bool. Raise if an output is independent of an input.
      vectorize: Optional, bool. Accepted; JAX's Jacobians are always vectorized.
      strategy: Optional. "reverse-mode" (default) or "forward-mode" (needs vectorize=True,
        as PyTorch's).

    Returns:
      `J[i][j]` of shape `output_i.shape + input_j.shape`: a tensor for one input and one
      output, a tuple over the one that was a tuple, or a tuple of tuples.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0])
        >>> torch.autograd.functional.jacobian(lambda x: x**2, x)
        tensor([[2., 0.],
                [0., 4.]])
    """
    if strategy not in STRATEGIES:
        raise AssertionError(errors.FUNCTIONAL_STRATEGY)
    forward = strategy == "forward-mode"
    if forward and create_graph:
        raise NotImplementedError(errors.FUNCTIONAL_FORWARD_CREATE_GRAPH)
    if forward and strict:
        raise RuntimeError(errors.FUNCTIONAL_FORWARD_STRICT)
    is_inputs_tuple, inputs = as_tuple(inputs, "inputs", "jacobian")
    if forward and not vectorize:
        raise NotImplementedError(errors.FUNCTIONAL_FORWARD_VECTORIZE)
    if strict:
        _strict.jacobian(func, inputs, create_graph, vectorize)
    inputs = _preprocess(inputs, create_graph)
    found: dict = {}
    argnums = tuple(range(len(inputs)))
    if forward:  # as PyTorch's forward mode: results keep a graph to inputs requiring grad
        jac = jacfwd(_tuple_outputs(func, "jacobian", found), argnums=argnums)(*inputs)
    else:
        with _graph(create_graph):
            jac = jacrev(_tuple_outputs(func, "jacobian", found), argnums=argnums)(*inputs)
        jac = tuple(_detached(row, create_graph) for row in jac)
    return _unpack2(jac, found["tuple"], is_inputs_tuple)


def hessian(
    func,
    inputs,
    create_graph=False,
    strict=False,
    vectorize=False,
    outer_jacobian_strategy="reverse-mode",
):
    """The Hessian of a scalar `func` at `inputs` (PyTorch's `autograd.functional.hessian`),
    by `funcgrad.tape.func.hessian` (forward over reverse, `jax.jacfwd` of `jax.jacrev`).

    Args:
      func: a function of tensors returning one one-element tensor.
      inputs: a tensor or a tuple of tensors.
      create_graph: Optional, bool. Results on the tape's graph (reverse mode only).
      strict: Optional, bool. Raise if the Hessian is independent of an input.
      vectorize: Optional, bool. Accepted; JAX's Jacobians are always vectorized.
      outer_jacobian_strategy: Optional. "reverse-mode" or "forward-mode", PyTorch's
        argument: it selects PyTorch's checks; the values are the same.

    Returns:
      `H[i][j]` of shape `input_i.shape + input_j.shape`: a tensor for one input, else a
      tuple of tuples.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0])
        >>> torch.autograd.functional.hessian(lambda x: (x**3).sum(), x)
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    is_inputs_tuple, inputs = as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in STRATEGIES:
        raise AssertionError(errors.FUNCTIONAL_HESSIAN_STRATEGY)
    if outer_jacobian_strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(errors.FUNCTIONAL_FORWARD_CREATE_GRAPH)
        if strict:
            raise RuntimeError(errors.FUNCTIONAL_FORWARD_STRICT)
        if not vectorize:
            raise NotImplementedError(errors.FUNCTIONAL_FORWARD_VECTORIZE)
    if strict:
        _strict.hessian(func, inputs, create_graph, vectorize)
    inputs = _preprocess(inputs, create_graph)
    scalar = _scalar_output(func, "hessian", squeeze=True)
    argnums = tuple(range(len(inputs)))
    with _graph(create_graph):
        h = _hessian(lambda *xs: scalar(*xs)[0], argnums=argnums)(*inputs)
    h = tuple(_detached(row, create_graph) for row in h)
    return _unpack2(h, is_inputs_tuple, is_inputs_tuple)


def _second_order(api: str, func, inputs, v, create_graph: bool, strict: bool):
    is_inputs_tuple, inputs = as_tuple(inputs, "inputs", api)
    v = _check_v(v, inputs, is_inputs_tuple, api, errors.FUNCTIONAL_V_NONE_INPUT)
    if strict:
        _strict.second_order(api, func, inputs, create_graph)
    inputs = _preprocess(inputs, create_graph)
    argnums = tuple(range(len(inputs)))
    gradient = grad_and_value(_scalar_output(func, api, squeeze=False), argnums, has_aux=True)

    def grads(*xs):  # (the gradient, the output as func returned it)
        g, (_, out) = gradient(*xs)
        return g, out

    def dot(*xs):  # v^T H is the gradient of <gradient, v>: a pullback of the gradient
        g, out = grads(*xs)
        return _dot(g, v), out

    with _graph(create_graph):
        if api == "vhp":
            product, (_, output) = grad_and_value(dot, argnums, has_aux=True)(*inputs)
        else:  # H v: forward mode through the gradient
            _, product, output = _jvp(grads, inputs, v, has_aux=True)
    output, product = _detached((output,), create_graph)[0], _detached(product, create_graph)
    return output, _unpack(tuple(product), is_inputs_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Hessian product `v^T H` of a scalar `func` at `inputs` (PyTorch's
    `autograd.functional.vhp`): the pullback of its gradient, applied to `v`.

    Args:
      func: a function of tensors returning one one-element tensor.
      inputs: a tensor or a tuple of tensors.
      v: Optional. One tensor per input, of its size; may be None for a one-element input.
      create_graph: Optional, bool. Results on the tape's graph (differentiable again).
      strict: Optional, bool. Raise if the Hessian is independent of an input.

    Returns:
      `(func_output, vhp)`: vhp has one tensor per input.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0])
        >>> torch.autograd.functional.vhp(lambda x: (x**3).sum(), x, torch.ones(2))
        (tensor(9.), tensor([ 6., 12.]))
    """
    return _second_order("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Hessian-vector product `H v` of a scalar `func` at `inputs` (PyTorch's
    `autograd.functional.hvp`): forward mode through its gradient (`jax.jvp` of the
    reverse-mode gradient, where PyTorch uses a double backward).

    Args:
      func: a function of tensors returning one one-element tensor.
      inputs: a tensor or a tuple of tensors.
      v: Optional. One tensor per input, of its size; may be None for a one-element input.
      create_graph: Optional, bool. Results on the tape's graph (differentiable again).
      strict: Optional, bool. Raise if the Hessian is independent of an input.

    Returns:
      `(func_output, hvp)`: hvp has one tensor per input.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0, 2.0])
        >>> torch.autograd.functional.hvp(lambda x: (x**3).sum(), x, torch.ones(2))
        (tensor(9.), tensor([ 6., 12.]))
    """
    return _second_order("hvp", func, inputs, v, create_graph, strict)
