"""Elementwise math methods of `Tensor`: one table op each (`x.exp()` is op "exp")."""

from __future__ import annotations

from .._base import TensorBase
from .._convert import refuse_complex
from ._args import _dim

__all__ = ["MathMixin"]


def _clamp_bounds(x, min, max) -> tuple:
    """clamp's bounds as operands of the op "clamp_tensor", an absent one infinite."""
    lo = -float("inf") if min is None else x._operand(min)
    hi = float("inf") if max is None else x._operand(max)
    return lo, hi


class MathMixin(TensorBase):
    """Unary elementwise math, `clamp`, and the softmax family."""

    __slots__ = ()

    def exp(self):
        return self._apply("exp", self)

    def expm1(self):
        return self._apply("expm1", self)

    def log(self):
        return self._apply("log", self)

    def log1p(self):
        return self._apply("log1p", self)

    def log2(self):
        return self._apply("log2", self)

    def sin(self):
        return self._apply("sin", self)

    def cos(self):
        return self._apply("cos", self)

    def tan(self):
        return self._apply("tan", self)

    def tanh(self):
        return self._apply("tanh", self)

    def sigmoid(self):
        return self._apply("sigmoid", self)

    def relu(self):
        return self._apply("relu", self)

    def sqrt(self):
        return self._apply("sqrt", self)

    def rsqrt(self):
        return self._apply("rsqrt", self)

    def square(self):
        return self._apply("square", self)

    def reciprocal(self):
        return self._apply("reciprocal", self)

    def abs(self):
        return self._apply("abs", self)

    def erf(self):
        return self._apply("erf", self)

    def sign(self):
        return self._apply("sign", self)

    def floor(self):
        return self._apply("floor", self)

    def ceil(self):
        return self._apply("ceil", self)

    def round(self):
        return self._apply("round", self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        refuse_complex(min, max)
        if isinstance(min, TensorBase) or isinstance(max, TensorBase):  # ClampBackward0
            return self._apply("clamp_tensor", self, *_clamp_bounds(self, min, max))
        return self._apply("clamp", self, min=min, max=max)

    clip = clamp

    def softmax(self, dim):
        return self._apply("softmax", self, dim=_dim(dim, self.ndim))

    def log_softmax(self, dim):
        return self._apply("log_softmax", self, dim=_dim(dim, self.ndim))
