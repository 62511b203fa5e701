"""`TensorBase`: what the tape's lower modules may know about a tensor.

`Tensor` (tensor.py) is built on top of its method mixins (methods/), and the array
converter (_convert.py) must recognise tensors; none of them may import `tensor.py`, which
imports them. They see this abstract base instead, and the concrete class supplies its hooks
(tinygrad's mixins do the same): a lower module gets the upper type by injection, never by
import.

It holds no state and no behaviour of its own.
"""

from __future__ import annotations


class TensorBase:
    """The interface `Tensor` implements for the modules below it.

    Attributes every tensor has: `_data` (its jax.Array), `_requires_grad`, `_grad_fn`.
    """

    __slots__ = ()
    _pending = None  # set on a pending lazy result (funcgrad.tape.lazy), which has no _data

    @staticmethod
    def _apply(op, *inputs, **static):
        """Runs table op `op` on tensors and Python scalars (dispatch.apply for this class)."""
        raise NotImplementedError

    @classmethod
    def _wrap(cls, array, grad_fn=None, output_nr=0):
        """A new tensor holding `array` (no copy), as the output `output_nr` of `grad_fn`."""
        raise NotImplementedError

    @classmethod
    def _lift(cls, value):
        """A constant tensor from array-like data (a list, numpy or jax array)."""
        raise NotImplementedError

    @classmethod
    def _operand(cls, x):
        """An operand of an op: tensors and Python scalars pass through (scalars stay weakly
        typed, like PyTorch's wrapped numbers); other array-likes become tensors."""
        if isinstance(x, (TensorBase, bool, int, float)):
            return x
        if isinstance(x, (str, bytes)):
            raise TypeError(f"unsupported operand type for a Tensor op: 'str' ({x!r})")
        return cls._lift(x)

    def _value(self):
        """This tensor's array; raises if it is a view whose base was written in place."""
        raise NotImplementedError
