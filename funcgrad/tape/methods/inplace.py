"""In-place methods of `Tensor`: `add_`, `mul_`, `zero_`, `copy_`, `x += y`, ...

JAX arrays are immutable: an in-place op runs its op out of place, then rebinds the tensor
to the result and bumps its version counter (`Tensor._write`), so that nodes that saved
the old value fail their backward like PyTorch's. Leaves that require grad, views and
no-grad views raise PyTorch's errors first.
"""

from __future__ import annotations

import numpy as np

from .. import errors, observe
from .._base import TensorBase
from .._convert import dtype_category
from ..engine import no_edge
from ..grad_mode import is_grad_enabled
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
            observe.transforms.writing(self, name, args)
        if self._grad_fn is None and self._requires_grad and is_grad_enabled():
            if self._accumulator is no_edge:  # a view made under no_grad
                raise RuntimeError(errors.NO_GRAD_VIEW_INPLACE)
            raise RuntimeError(errors.LEAF_INPLACE + errors.LEAF_INPLACE_HINT)
        alias = getattr(self, "_alias", False)
        if self._base is not None and (not alias or self._base._base is not None):
            raise NotImplementedError(errors.VIEW_INPLACE.format(what="a view"))
        reshaping = name in _RESHAPING_INPLACE  # x.unsqueeze_(0): only the shape changes
        if reshaping and alias:
            raise NotImplementedError(errors.VIEW_INPLACE.format(what="a detach() alias"))
        out = self._apply(name, self, *args, **static)
        if not reshaping and (
            out._data.shape != self._data.shape or out._data.dtype != self._data.dtype
        ):
            _keep_shape_and_dtype(self, out)
        old_version, old_fn, old_nr = self._version.value, self._grad_fn, self._output_nr
        self._write(out._data)
        node = out._grad_fn
        if node is not None:  # else (no_grad, or nothing requires grad): keep grad_fn
            self._grad_fn, self._output_nr, self._requires_grad = node, out._output_nr, True
            # The node saved its result as `out`: it is this tensor now, at the new version.
            node._moved_result(out._version, self._version, old_version)
            out._grad_fn = None
            if self._retains_grad:  # moves to the new grad_fn, as in PyTorch
                if old_fn is not None:
                    old_fn._retains_grad.pop(old_nr, None)
                self._retains_grad = False
                self.retain_grad()
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
    _check_inplace_shape(x.shape, out.shape)
    if dtype_category(out.dtype) > dtype_category(x.dtype):
        raise RuntimeError(
            errors.INPLACE_DTYPE.format(
                result=errors.torch_scalar_type(out.dtype), dtype=errors.torch_scalar_type(x.dtype)
            )
            + errors.INPLACE_HINT
        )
    out._data = out._data.astype(x.dtype)
