"""Arithmetic, comparison and logical operators of `Tensor`, and their named methods.

Each translates PyTorch's operands (Python scalars stay weakly typed, array-likes become
tensors) and runs one table op; `x ** 0.0` is sent as `x ** 0` for PyTorch's gradient at 0.
"""

from __future__ import annotations

import jax.numpy as jnp

from .._base import TensorBase

__all__ = ["ArithmeticMixin"]


class ArithmeticMixin(TensorBase):
    """Binary operators and comparisons: `+ - * / ** @ // % == < & |` and friends."""

    __slots__ = ()

    def add(self, other, *, alpha=1):
        return self._apply("add", self, self._operand(other), alpha=alpha)

    def sub(self, other, *, alpha=1):
        return self._apply("sub", self, self._operand(other), alpha=alpha)

    def mul(self, other):
        return self._apply("mul", self, self._operand(other))

    def div(self, other, *, rounding_mode=None):
        if rounding_mode == "floor":
            return self._apply("floor_divide", self, self._operand(other))
        if rounding_mode == "trunc":
            raise NotImplementedError(
                "div(rounding_mode='trunc') is not supported by funcgrad.tape; use "
                "rounding_mode='floor' or (x / y).trunc() in JAX"
            )
        if rounding_mode is not None:
            raise RuntimeError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"{rounding_mode!r}"
            )
        return self._apply("div", self, self._operand(other))

    def pow(self, exponent):
        if isinstance(exponent, (int, float)):
            if exponent == 0 and jnp.issubdtype(self.dtype, jnp.inexact):
                exponent = 0  # x ** 0.0: JAX's gradient at x = 0 is nan, PyTorch's is 0
            return self._apply("pow", self, exponent)
        return self._apply("pow_tensor", self, self._operand(exponent))

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        return self.add(other)

    def __sub__(self, other):
        return self.sub(other)

    def __rsub__(self, other):
        return self._apply("rsub", self, self._operand(other))

    def __mul__(self, other):
        return self.mul(other)

    def __rmul__(self, other):
        return self.mul(other)

    def __truediv__(self, other):
        return self.div(other)

    def __rtruediv__(self, other):
        return self._apply("rdiv", self, self._operand(other))

    def __pow__(self, exponent):
        return self.pow(exponent)

    def __rpow__(self, base):
        return self._apply("rpow", self, self._operand(base))

    def __matmul__(self, other):
        if isinstance(other, (bool, int, float)):
            return NotImplemented  # Python raises PyTorch's TypeError
        return self.matmul(other)

    def __rmatmul__(self, other):
        if isinstance(other, (bool, int, float)):
            return NotImplemented
        return self._operand(other).matmul(self)

    def __neg__(self):
        return self._apply("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __floordiv__(self, other):
        return self._apply("floor_divide", self, self._operand(other))

    def __mod__(self, other):
        if isinstance(other, (int, float)):
            return self._apply("remainder_scalar", self, other)
        return self._apply("remainder", self, self._operand(other))

    def neg(self):
        return self._apply("neg", self)

    def maximum(self, other):
        return self._apply("maximum", self, self._operand(other))

    def minimum(self, other):
        return self._apply("minimum", self, self._operand(other))

    def atan2(self, other):
        return self._apply("atan2", self, self._operand(other))

    def __eq__(self, other):
        return self._apply("eq", self, self._operand(other))

    def __ne__(self, other):
        return self._apply("ne", self, self._operand(other))

    def __lt__(self, other):
        return self._apply("lt", self, self._operand(other))

    def __le__(self, other):
        return self._apply("le", self, self._operand(other))

    def __gt__(self, other):
        return self._apply("gt", self, self._operand(other))

    def __ge__(self, other):
        return self._apply("ge", self, self._operand(other))

    def __invert__(self):
        return self._apply("logical_not", self)

    def __and__(self, other):
        return self._apply("logical_and", self, self._operand(other))

    def __or__(self, other):
        return self._apply("logical_or", self, self._operand(other))

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def isnan(self):
        return self._apply("isnan", self)

    def logical_not(self):
        return self._apply("logical_not", self)
