"""In-place methods of `Tensor`: `add_`, `mul_`, `zero_`, `copy_`, `x += y`, ...

JAX arrays are immutable: an in-place op runs its op out of place, then rebinds the tensor
to the result and bumps its version counter (`Tensor._write`), so that nodes that saved
the old value fail their backward like PyTorch's. An in-place op on a view is a write of
its base (views.py): the base's grad_fn becomes PyTorch's CopySlices. Leaves that require
grad, their views, views made under no_grad or by multi-output ops raise PyTorch's errors
first.
"""

from __future__ import annotations

import functools
import weakref

import jax
import numpy as np

from .. import errors, observe, views
from .._base import TensorBase
from .._convert import dtype_category, is_wide, refuse_complex, x64
from ..grad_mode import is_grad_enabled, is_inference_mode_enabled
from ..ops import OPS
from .math import _clamp_bounds

__all__ = ["InplaceMixin"]

# In-place ops that change only the shape (ops_math.py): the tensor takes the new shape.
_RESHAPING_INPLACE = frozenset(
    "unsqueeze_inplace squeeze_inplace squeeze_dim_inplace squeeze_dims_inplace t_inplace "
    "transpose_inplace".split()
)


class InplaceMixin(TensorBase):
    """In-place ops."""

    __slots__ = ()

    def _inplace(self, name, *args, **static):
        """Runs op `name` out of place, then rebinds this tensor to the result and bumps its
        version, so nodes that saved the old value fail their backward like PyTorch's."""
        observe.writing(self, f"ran the in-place op {name!r} on")
        if observe.transforms is not None:  # functorch's refusals inside torch.func
            observe.transforms.writing(self._root(), name, args)  # a view writes its base
        if self._inference and not is_inference_mode_enabled():
            raise RuntimeError(errors.INFERENCE_INPLACE)
        if name in _RESHAPING_INPLACE:  # x.unsqueeze_(0): only the shape changes
            return self._reshape_inplace(name, static)
        if self._base is not None:
            return self._inplace_view(name, args, static)
        if self._grad_fn is None and self._requires_grad and is_grad_enabled():
            raise RuntimeError(errors.LEAF_INPLACE + errors.LEAF_INPLACE_HINT)
        out = self._apply(name, self, *args, **static)
        if out._data.shape != self._data.shape or out._data.dtype != self._data.dtype:
            _keep_shape_and_dtype(self, out)
        _take_result(self, out)
        return self

    def _reshape_inplace(self, name, static):
        """`unsqueeze_`, `t_`, ...: this tensor takes the new shape (a node records it, the
        version bumps, as PyTorch's). Its storage is unchanged, so a view (or detach alias)
        adds the op to its chain from the base; a base that has views would break theirs."""
        if self._base is not None:
            views.check_inplace(self, self._base, is_grad_enabled(), _name(self.grad_fn))
        elif self._grad_fn is None and self._requires_grad and is_grad_enabled():
            raise RuntimeError(errors.LEAF_INPLACE + errors.LEAF_INPLACE_HINT)
        elif self._storage is None and self._has_views:
            raise NotImplementedError(errors.RESHAPE_BASE_INPLACE)
        out = self._apply(name, self, **static)
        link = views.step(OPS[name], tuple(sorted(static.items())))
        if self._base is not None:
            self._view_chain = self._view_chain + (link,)
        elif self._storage is not None:
            self._storage = (self._storage[0], self._storage[1] + (link,))
        old_fn, old_nr = self._grad_fn, self._output_nr
        self._data = out._data
        self._vc.value += 1
        self._view_version = self._vc.value
        node = out._grad_fn
        if node is not None:
            self._grad_fn, self._output_nr, self._requires_grad = node, out._output_nr, True
            out._grad_fn = None
            _move_retained_grad(self, old_fn, old_nr)
        return self

    def _inplace_view(self, name, args, static):
        """In-place op `name` on a view: the base is written, its grad_fn becomes CopySlices
        (an op of the base and the other inputs, views.write_op), and this view, like every
        view of the base, is recomputed from it when next read."""
        base = self._base
        views.check_inplace(self, base, is_grad_enabled(), _name(self.grad_fn))
        value = self._value()
        shape, dtype = _result_type(OPS[name], value, args, static)
        if shape != value.shape or dtype != value.dtype:
            _check_result_type(self, shape, dtype)  # the write casts to the view's dtype
        op = views.write_op(OPS[name])
        out = self._apply(op, base, *args, chain=self._view_chain, **static)
        if out._grad_fn is not None:
            node = out._grad_fn
            node.next_functions = node.next_functions[: views.edges_kept(name, args)]
        _take_result(base, out, view=self)
        return self

    def add_(self, other, *, alpha=1):
        return self._inplace("add", self._operand(other), alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return self._inplace("sub", self._operand(other), alpha=alpha)

    def mul_(self, other):
        return self._inplace("mul", self._operand(other))

    def div_(self, other):
        return self._inplace("div", self._operand(other))

    def pow_(self, exponent):
        return self._inplace("pow", exponent)

    def neg_(self):
        return self._inplace("neg")

    def exp_(self):
        return self._inplace("exp")

    def relu_(self):
        return self._inplace("relu")

    def sigmoid_(self):
        return self._inplace("sigmoid")

    def tanh_(self):
        return self._inplace("tanh")

    def clamp_(self, min=None, max=None):
        if isinstance(min, TensorBase) or isinstance(max, TensorBase):
            return self._inplace("clamp_tensor", *_clamp_bounds(self, min, max))
        return self._inplace("clamp", min=min, max=max)

    def masked_fill_(self, mask, value):
        refuse_complex(value)
        return self._inplace("masked_fill", mask, float(value))

    def zero_(self):
        return self._inplace("zero")

    def fill_(self, value):
        value = self._operand(value)
        return self._inplace("fill" if isinstance(value, TensorBase) else "fill_scalar", value)

    def copy_(self, src):
        src = self._operand(src)
        if isinstance(src, TensorBase) and src.shape != self.shape:
            message = errors.broadcast_mismatch([self.shape, src.shape])
            if message is not None:
                raise RuntimeError(message + errors.INPLACE_HINT)
            _check_inplace_shape(self.shape, np.broadcast_shapes(self.shape, src.shape))
        return self._inplace("copy", src)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


def _take_result(x, out, view=None) -> None:
    """Makes `out` (the op's result, of x's shape) x's value in place: x's version bumps,
    and its grad_fn becomes out's node, if the op was recorded. `view`: the view written
    through, whose value is what the node's saved result is in PyTorch."""
    old_version, old_fn, old_nr = x._vc.value, x._grad_fn, x._output_nr
    x._write(out._data)
    node = out._grad_fn
    if node is not None:  # else (no_grad, or nothing requires grad): keep grad_fn
        x._grad_fn, x._output_nr, x._requires_grad = node, out._output_nr, True
        # The node saved its result as `out`: it is x now, at the new version.
        seen = None if view is None else (view._data.dtype, view._data.shape, weakref.ref(view))
        node._moved_result(out._vc, x._vc, old_version, x, seen)
        out._grad_fn = None
        _move_retained_grad(x, old_fn, old_nr)


def _move_retained_grad(x, old_fn, old_nr) -> None:
    """retain_grad() moves to x's new grad_fn after an in-place op, as in PyTorch."""
    if x._retains_grad:
        if old_fn is not None:
            old_fn._own("_retains_grad").pop(old_nr, None)
        x._retains_grad = False
        x.retain_grad()


def _name(node):
    return node.name() if node is not None else None


def _result_type(op, value, args, static):
    """The shape and dtype of `op(value, *args)`, from the input types (cached)."""
    kinds = tuple(
        ("tensor", a._data.shape, a._data.dtype) if isinstance(a, TensorBase) else
        ("array", a.shape, a.dtype) if hasattr(a, "shape") else ("scalar", type(a))
        for a in args
    )  # fmt: skip
    key = tuple(sorted(static.items()))
    return _cached_result_type(op, key, value.shape, value.dtype, kinds)


@functools.cache
def _cached_result_type(op, key, shape, dtype, kinds):
    stand_ins = [
        kind[1](0) if kind[0] == "scalar" else jax.ShapeDtypeStruct(kind[1], kind[2])
        for kind in kinds
    ]
    out = jax.eval_shape(
        functools.partial(op.fn, **dict(key)), jax.ShapeDtypeStruct(shape, dtype), *stand_ins
    )
    return out.shape, out.dtype


def _check_inplace_shape(shape, result_shape) -> None:
    if tuple(result_shape) != tuple(shape):
        raise RuntimeError(
            errors.INPLACE_SHAPE.format(
                shape=errors.short_shape(shape), broadcast=errors.short_shape(result_shape)
            )
            + errors.INPLACE_HINT
        )


def _keep_shape_and_dtype(x, out) -> None:
    """An in-place op keeps x's shape and dtype, as in PyTorch: a result broadcast to a
    larger shape, or of a kind x cannot hold (float into int, int into bool), is an error;
    another dtype of the same kind (float32 into float16) is cast back."""
    _check_result_type(x, out.shape, out.dtype)
    with x64(is_wide(x.dtype)):
        out._data = out._data.astype(x.dtype)


def _check_result_type(x, shape, dtype) -> None:
    _check_inplace_shape(x.shape, shape)
    if dtype_category(dtype) > dtype_category(x.dtype):
        raise RuntimeError(
            errors.INPLACE_DTYPE.format(
                result=errors.torch_scalar_type(dtype), dtype=errors.torch_scalar_type(x.dtype)
            )
            + errors.INPLACE_HINT
        )
