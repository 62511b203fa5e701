"""torch.func's differentiation transforms on the tape, each one JAX transform.

`grad` and `grad_and_value` are `jax.vjp` of the function with a cotangent of one, `vjp`
is `jax.vjp` (its pullback kept in a `VJPFunction`, callable many times: the retained
graph as a value), `jvp` is `jax.jvp`, `jacrev` / `jacfwd` are `jax.jacrev` /
`jax.jacfwd`, `hessian` is `jacfwd(jacrev(f))` as in PyTorch, and `linearize` is
`jax.linearize`. The function is written with tape ops and modules; `_call.TapeCall` turns
it into a function of arrays. Nothing here writes a derivative.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...functional import residual_bytes
from .. import errors
from ..tensor import Tensor
from . import _messages as msg, _pytree
from ._call import TapeCall, outputs_of, positions_of, split_aux, wrap
from ._levels import Level, check_randomness
from ._tape_link import guard, linked, with_sources


def _scalar_output(has_aux: bool):
    """grad's output rule: a 0-dim tensor, and with has_aux a pair (output, aux)."""

    def process(call, out):
        value, aux = split_aux(out, has_aux, msg.GRAD_API)
        if not isinstance(value, Tensor):
            raise RuntimeError(msg.GRAD_NOT_TENSOR.format(type=type(value)))
        if value.ndim != 0:
            raise RuntimeError(msg.GRAD_NOT_SCALAR.format(ndim=value.ndim))
        return value._value(), call.keep_aux(aux) if has_aux else []

    return process


def _cotangent(shape, dtype):
    """Ones, the cotangent of a scalar output or of one summed; integer outputs take JAX's
    float0 zeros."""
    if not jnp.issubdtype(dtype, jnp.inexact):
        return np.zeros(shape, jax.dtypes.float0)
    return jnp.ones(shape, dtype)


# ---------------------------------------------------------------- grad
def grad_and_value(func, argnums=0, has_aux: bool = False):
    """torch.func.grad_and_value: the gradient of a scalar function and its value.

    Args:
      func: a function of tensors (tape ops, modules) returning a 0-dim tensor, or with
        `has_aux` a pair `(output, aux)`.
      argnums: Optional, int or tuple of ints. The positional arguments to differentiate
        (each a tensor or a pytree of tensors). Default 0.
      has_aux: Optional, bool. `func` returns `(output, aux)`; aux is returned as is.

    Returns:
      A function returning `(grad, value)`, or `(grad, (value, aux))` with `has_aux`;
      `grad` is shaped like the argument (a tuple of them if `argnums` is a tuple).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import grad_and_value
        >>> g, value = grad_and_value(lambda x: (x ** 2).sum())(torch.tensor([1.0, 2.0]))
        >>> g, value
        (tensor([2., 4.]), tensor(5.))
    """

    @functools.wraps(func, updated=())
    def wrapper(*args, **kwargs):
        return linked(lambda: _grad_and_value(func, argnums, has_aux, args, kwargs), (args, kwargs))

    return wrapper


def _grad_and_value(func, argnums, has_aux, args, kwargs):
    call = TapeCall(
        func, args, kwargs, positions_of(argnums, len(args)), Level("grad", True),
        _scalar_output(has_aux), floating="grad", requires_grad=True,
    )  # fmt: skip
    value, pullback, aux = jax.vjp(call, *call.arrays, has_aux=True)
    grads = pullback(_cotangent(value.shape, value.dtype))
    grads = [g if g.dtype != jax.dtypes.float0 else jnp.zeros_like(a)
             for g, a in zip(grads, call.arrays)]  # fmt: skip
    grad = call.per_argnum(wrap(grads), isinstance(argnums, int))
    value = Tensor._wrap(value)
    return (grad, (value, call.aux_result(aux))) if has_aux else (grad, value)


def grad(func, argnums=0, has_aux: bool = False):
    """torch.func.grad: the gradient of a scalar function w.r.t. its arguments (`jax.vjp`).

    Args:
      func: a function of tensors returning a 0-dim tensor (or `(output, aux)`).
      argnums: Optional, int or tuple of ints: the arguments to differentiate. Default 0.
      has_aux: Optional, bool. `func` returns `(output, aux)`.

    Returns:
      A function returning the gradient (shaped like the argument), or `(grad, aux)`.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import grad
        >>> x = torch.tensor([0.0, 1.0])
        >>> grad(lambda x: x.sin().sum())(x)
        tensor([1.0000, 0.5403])
        >>> grad(grad(lambda x: x**3))(torch.tensor(2.0))  # d2/dx2 x^3 = 6x
        tensor(12.)
    """

    @functools.wraps(func, updated=())
    def wrapper(*args, **kwargs):
        g, value = grad_and_value(func, argnums, has_aux)(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


# ---------------------------------------------------------------- vjp
@jax.tree_util.register_pytree_node_class
class VJPFunction:
    """The `vjp_fn` returned by `vjp`: a kept pullback, callable any number of times.

    It is PyTorch's `retain_graph=True` as a value: it holds the JAX pullback's residuals
    (the saved tensors) until it is dropped; `residual_bytes` counts them (also
    `funcgrad.functional.residual_bytes(vjp_fn)`: it is a pytree, its leaves the residuals).
    """

    def __init__(self, pullback, out_spec, out_types, in_specs):
        self._pullback = pullback
        self._out_spec, self._out_types, self._in_specs = out_spec, out_types, in_specs
        self._sources = []  # tensors requiring grad the primals came from (not connected)

    def tree_flatten(self):
        return (self._pullback,), (self._out_spec, self._out_types, self._in_specs)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)

    @property
    def residual_bytes(self) -> int:
        """Bytes of the arrays this pullback keeps alive (each buffer once; 0 once freed)."""
        return residual_bytes(self._pullback)

    def __call__(self, cotangents, retain_graph: bool = True, create_graph=None):
        """The cotangents of the primals for `cotangents` (one per output, same structure).

        Args:
          cotangents: one tensor per output (None for a scalar output: ones).
          retain_graph: Optional, bool. False drops the pullback after this call, as
            PyTorch's does: a later call raises its "backward through the graph a second
            time" error (unless the pullback kept nothing).
          create_graph: Optional. Accepted for PyTorch's signature: inside an enclosing
            transform the results are differentiated by it anyway.
        """
        if self._pullback is None:
            raise RuntimeError(errors.BACKWARD_TWICE + msg.VJP_FN_FREED_HINT)
        leaves, spec = _pytree.flatten(cotangents)
        if spec != self._out_spec:
            raise RuntimeError(
                msg.COTANGENT_STRUCTURE.format(
                    given=_pytree.spec_pprint(spec), expected=_pytree.spec_pprint(self._out_spec)
                )
            )
        cts = []
        for i, (g, (shape, dtype)) in enumerate(zip(leaves, self._out_types)):
            if g is None:
                if int(np.prod(shape)) != 1:
                    raise RuntimeError(errors.IMPLICIT_GRAD_NON_SCALAR)
                cts.append(_cotangent(shape, dtype))
                continue
            if not isinstance(g, Tensor):
                raise TypeError(msg.COTANGENT_TYPE.format(type=type(g).__name__))
            if tuple(g.shape) != tuple(shape):
                raise RuntimeError(
                    errors.SHAPE_MISMATCH.format(
                        index=i, given=errors.torch_size(g.shape), expected=errors.torch_size(shape)
                    )
                )
            value = g._value()
            cts.append(value.astype(dtype) if jnp.issubdtype(dtype, jnp.inexact)
                       else _cotangent(shape, dtype))  # fmt: skip
        grads = wrap(self._pullback(tuple(cts)))
        if not retain_graph and jax.tree_util.tree_leaves(self._pullback):
            self._pullback = None
        out, start = [], 0
        for spec in self._in_specs:
            out.append(_pytree.unflatten(spec, grads[start : start + spec.num_leaves]))
            start += spec.num_leaves
        return guard(tuple(out), self._sources, "vjp")

    def __repr__(self) -> str:
        return f"<vjp_fn: a kept pullback, residual_bytes={self.residual_bytes}>"


def vjp(func, *primals, has_aux: bool = False):
    """torch.func.vjp: `func(*primals)` and its pullback, kept (`jax.vjp`).

    Args:
      func: a function of tensors returning a tensor or a pytree of tensors (with
        `has_aux`, a pair `(output, aux)`).
      *primals: the tensors (or pytrees of tensors) to evaluate and linearize at.
      has_aux: Optional, bool. `func` returns `(output, aux)`.

    Returns:
      `(output, vjp_fn)` or `(output, vjp_fn, aux)`. `vjp_fn(cotangents)` returns one
      cotangent per primal and can be called again and again (a retained graph).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import vjp
        >>> c, vjp_fn = vjp(lambda a: (a ** 2) * 2, torch.tensor([1.0, 2.0]))
        >>> vjp_fn(torch.ones(2))  # d c.sum() / da
        (tensor([4., 8.]),)
        >>> vjp_fn(torch.ones(2) / 2)  # d c.mean() / da, the same pullback again
        (tensor([2., 4.]),)
        >>> vjp_fn.residual_bytes >= 8  # what it keeps: at least a (2 x float32)
        True
    """
    (result, vjp_fn, aux), sources = with_sources(lambda: _vjp(func, primals, has_aux), primals)
    vjp_fn._sources = sources
    result = guard(result, sources, "vjp")
    return (result, vjp_fn, guard(aux, sources, "vjp")) if has_aux else (result, vjp_fn)


def _vjp(func, primals, has_aux):
    call = TapeCall(
        func, primals, {}, tuple(range(len(primals))), Level("vjp", True),
        outputs_of(msg.VJP_API, has_aux), floating="grad", requires_grad=True,
    )  # fmt: skip
    outs, pullback, aux = jax.vjp(call, *call.arrays, has_aux=True)
    types = tuple((tuple(o.shape), np.dtype(o.dtype)) for o in outs)
    vjp_fn = VJPFunction(pullback, call.out_spec, types, tuple(call.specs))
    return call.output_result(outs), vjp_fn, call.aux_result(aux) if has_aux else None


# ---------------------------------------------------------------- jvp, linearize
def _check_tangents(primals, tangents) -> list:
    """PyTorch's checks of jvp's primals and tangents; the tangents' arrays, in the primals'
    dtypes (JAX requires equal dtypes; PyTorch would keep the tangent's)."""
    if not isinstance(primals, tuple):
        raise RuntimeError(msg.JVP_PRIMALS_TUPLE)
    p_leaves, p_spec = _pytree.flatten(primals)
    t_leaves, t_spec = _pytree.flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(
            msg.JVP_STRUCTURE.format(
                primals=_pytree.spec_repr(p_spec), tangents=_pytree.spec_repr(t_spec)
            )
        )
    if not p_leaves:
        raise RuntimeError(msg.JVP_NO_PRIMALS)
    for what, leaves in (("primals", p_leaves), ("tangents", t_leaves)):
        for leaf in leaves:
            if not isinstance(leaf, Tensor):
                raise RuntimeError(msg.JVP_ONLY_TENSORS.format(what=what, type=type(leaf)))
    for p, t in zip(p_leaves, t_leaves):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(
                msg.TANGENT_SIZE.format(
                    primal=errors.short_shape(p.shape), tangent=errors.short_shape(t.shape)
                )
            )
    return [t._value().astype(p.dtype) for p, t in zip(p_leaves, t_leaves)]


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """torch.func.jvp: `func(*primals)` and its directional derivative along `tangents`.

    Args:
      func: a function of tensors returning a tensor or a pytree of tensors.
      primals: a tuple of the arguments (tensors or pytrees of tensors).
      tangents: a tuple of the same structure and shapes.
      strict: Optional, bool. Accepted for PyTorch's signature (ignored there too).
      has_aux: Optional, bool. `func` returns `(output, aux)`.

    Returns:
      `(output, jvp_out)`, or `(output, jvp_out, aux)`.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import jvp
        >>> x = torch.tensor([0.0, 1.0])
        >>> jvp(torch.sin, (x,), (torch.ones(2),))
        (tensor([0.0000, 0.8415]), tensor([1.0000, 0.5403]))
    """
    return linked(lambda: _jvp(func, primals, tangents, has_aux), (primals, tangents))


def _jvp(func, primals, tangents, has_aux):
    tangent_arrays = _check_tangents(primals, tangents)
    call = TapeCall(
        func, primals, {}, tuple(range(len(primals))), Level("jvp", True),
        outputs_of(msg.JVP_API, has_aux), floating="jvp",
    )  # fmt: skip
    outs, out_tangents, aux = jax.jvp(call, tuple(call.arrays), tuple(tangent_arrays), has_aux=True)
    result = (call.output_result(outs), call.output_result(out_tangents))
    return (*result, call.aux_result(aux)) if has_aux else result


class LinearizedJVP:
    """The `jvp_fn` returned by `linearize`: the linear map, callable on many tangents."""

    def __init__(self, f_jvp, call: TapeCall, primals_spec, primal_types):
        self._f_jvp, self._out_spec = f_jvp, call.out_spec
        self._primals_spec, self._primal_types = primals_spec, primal_types
        self._sources = []  # tensors requiring grad the primals came from (not connected)

    def __call__(self, *tangents):
        leaves, spec = _pytree.flatten(tangents)
        if spec != self._primals_spec:
            raise RuntimeError(
                msg.LINEARIZE_TANGENTS.format(
                    tangents=_pytree.spec_repr(spec),
                    primals=_pytree.spec_repr(self._primals_spec),
                )
            )
        arrays = []
        for i, (t, (shape, dtype)) in enumerate(zip(leaves, self._primal_types)):
            if not isinstance(t, Tensor):
                raise RuntimeError(msg.JVP_ONLY_TENSORS.format(what="tangents", type=type(t)))
            if tuple(t.shape) != shape:
                raise RuntimeError(
                    msg.LINEARIZE_TANGENT_SHAPE.format(
                        i=i, tangent=errors.torch_size(t.shape), primal=errors.torch_size(shape)
                    )
                )
            arrays.append(t._value().astype(dtype))
        out = _pytree.unflatten(self._out_spec, wrap(self._f_jvp(*arrays)))
        return guard(out, self._sources, "linearize")


def linearize(func, *primals):
    """torch.func.linearize: `func(*primals)` and its JVP as a function (`jax.linearize`).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import linearize
        >>> out, jvp_fn = linearize(torch.sin, torch.tensor([0.0, 1.0]))
        >>> jvp_fn(torch.ones(2))
        tensor([1.0000, 0.5403])
    """
    (out, jvp_fn), sources = with_sources(lambda: _linearize(func, primals), primals)
    jvp_fn._sources = sources
    return guard(out, sources, "linearize"), jvp_fn


def _linearize(func, primals):
    call = TapeCall(
        func, primals, {}, tuple(range(len(primals))), Level("linearize", True),
        outputs_of(msg.JVP_API, False), floating="jvp",
    )  # fmt: skip
    outs, f_jvp = jax.linearize(lambda *a: call(*a)[0], *call.arrays)
    leaves, spec = _pytree.flatten(primals)
    types = [(tuple(t.shape), t.dtype) for t in leaves]
    return call.output_result(outs), LinearizedJVP(f_jvp, call, spec, types)


# ---------------------------------------------------------------- Jacobians
def _jacobian(jax_jacobian, func, argnums, has_aux: bool, level, api: str, floating: str):
    """jacrev / jacfwd: `jax_jacobian` of the function of the differentiated arguments'
    arrays, shaped as PyTorch's: the output's structure, each leaf holding the
    differentiated arguments' structure (a tuple of them if `argnums` is a tuple)."""

    def jacobian(args, kwargs):
        call = TapeCall(
            func, args, kwargs, positions_of(argnums, len(args)), level(),
            outputs_of(api, has_aux), floating=floating, requires_grad=floating == "grad",
        )  # fmt: skip
        n = tuple(range(len(call.arrays)))
        jac, aux = jax_jacobian(call, argnums=n, has_aux=True)(*call.arrays)
        single = isinstance(argnums, int)
        rows = [call.per_argnum(wrap(row), single) for row in jac]
        result = _pytree.unflatten(call.out_spec, rows)
        return (result, call.aux_result(aux)) if has_aux else result

    @functools.wraps(func, updated=())
    def wrapper(*args, **kwargs):
        return linked(lambda: jacobian(args, kwargs), (args, kwargs))

    return wrapper


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None,
           _preallocate_and_copy: bool = False):  # fmt: skip
    """torch.func.jacrev: the Jacobian by reverse mode (`jax.jacrev`).

    Args:
      func: a function of tensors returning a tensor or a pytree of tensors.
      argnums: Optional, int or tuple of ints. Default 0.
      has_aux: Optional, bool. `func` returns `(output, aux)`.
      chunk_size: Optional, int > 0. Accepted for PyTorch's signature; JAX computes all
        rows in one vmapped pullback.

    Returns:
      A function returning the Jacobian: for each output leaf, shaped
      `output.shape + input.shape` per differentiated input (or `(jacobian, aux)`).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import jacrev
        >>> jacrev(lambda x: x ** 2)(torch.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(msg.JACREV_CHUNK)
    level = functools.partial(Level, "jacrev", True)
    return _jacobian(jax.jacrev, func, argnums, has_aux, level, msg.VJP_API, "grad")


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """torch.func.jacfwd: the Jacobian by forward mode (`jax.jacfwd`).

    Args:
      func: a function of tensors returning a tensor or a pytree of tensors.
      argnums: Optional, int or tuple of ints. Default 0.
      has_aux: Optional, bool. `func` returns `(output, aux)`.
      randomness: Optional, 'error' (default) or 'same': random ops in `func` raise, or
        draw once for all columns.

    Returns:
      A function returning the Jacobian, structured as `jacrev`'s.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import jacfwd
        >>> jacfwd(lambda x: x.sum() * x)(torch.tensor([1.0, 2.0]))
        tensor([[4., 1.],
                [2., 5.]])
    """
    check_randomness(randomness)
    if randomness == "different":
        raise NotImplementedError(msg.JACFWD_DIFFERENT)

    level = functools.partial(Level, "jacfwd", True, randomness=randomness)
    return _jacobian(jax.jacfwd, func, argnums, has_aux, level, msg.JVP_API, "jvp")


def hessian(func, argnums=0):
    """torch.func.hessian: `jacfwd(jacrev(func, argnums), argnums)`, as PyTorch defines it.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.func import hessian
        >>> hessian(lambda x: (x ** 3).sum())(torch.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    return jacfwd(jacrev(func, argnums), argnums)
