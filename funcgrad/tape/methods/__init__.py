"""Tensor's op methods, grouped by family as mixins (the tinygrad `mixin/` layout).

Each mixin translates PyTorch's calling conventions into table ops and runs them through
the `_apply` hook that `Tensor` supplies (see `_base.TensorBase`), so none of these modules
imports `tensor.py`, the op table or the dispatcher. `TensorMethods` combines them; the
supported methods are listed one by one, and anything else is an AttributeError, never a
guess.
"""

from .arithmetic import ArithmeticMixin
from .arrange import ArrangeMixin
from .convert import ConvertMixin
from .index import IndexMixin
from .inplace import InplaceMixin
from .linalg import LinalgMixin
from .math import MathMixin
from .math_more import MoreMathMixin
from .random import RandomMixin
from .reduce import ReduceMixin
from .shape import ShapeMixin
from .values import Size as Size, ValuesMixin

__all__ = ["Size", "TensorMethods"]


class TensorMethods(
    ArithmeticMixin,
    MathMixin,
    ReduceMixin,
    ShapeMixin,
    LinalgMixin,
    IndexMixin,
    InplaceMixin,
    RandomMixin,
    ConvertMixin,
    ValuesMixin,
    MoreMathMixin,
    ArrangeMixin,
):
    """Every method of `Tensor` besides its autograd state."""

    __slots__ = ()
