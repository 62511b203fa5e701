"""PyTorch's type promotion as functions: `result_type`, `promote_types`, `can_cast`, and
the default dtype (`get_default_dtype`, `set_default_dtype`).

PyTorch promotes in three tiers: dimensioned tensors, then 0-d tensors, then Python
numbers; a lower tier raises the result only when its dtype is of a higher category
(bool < integer < float < complex), and a Python float then gives the default dtype.
Within a tier, dtypes promote as JAX's lattice does in its 64-bit mode (which agrees with
PyTorch for the dtypes the tape has). The dispatcher applies the same rules to op inputs;
this module answers questions about them and runs no op.
"""

from __future__ import annotations

import builtins

import jax.numpy as jnp
import numpy as np

from . import dtypes, errors
from ._base import TensorBase
from ._convert import (
    canonical_dtype,
    complex_default,
    dtype_category,
    get_default_dtype as _default_numpy_dtype,
    set_default_dtype as set_default_dtype,
    x64,
)

__all__ = ["can_cast", "get_default_dtype", "promote_types", "result_type", "set_default_dtype"]


def get_default_dtype():
    """The dtype Python floats become: float32 unless `set_default_dtype` changed it.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.get_default_dtype()
        torch.float32
    """
    return dtypes.of(_default_numpy_dtype())


def promote_types(type1, type2):
    """The smallest dtype both dtypes convert to without losing their kind.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.promote_types(torch.int64, torch.float16)
        torch.float16
    """
    with x64():
        return dtypes.of(
            np.dtype(jnp.promote_types(canonical_dtype(type1), canonical_dtype(type2)))
        )


def can_cast(from_, to) -> bool:
    """Whether PyTorch's casting rules allow `from_` into `to` (no float into an integer,
    nothing but bool into bool).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.can_cast(torch.float32, torch.int64), torch.can_cast(torch.int64, torch.float32)
        (False, True)
    """
    return dtype_category(canonical_dtype(from_)) <= dtype_category(canonical_dtype(to))


def _scalar_dtype(value) -> np.dtype:
    if isinstance(value, builtins.bool):
        return np.dtype("bool")
    if isinstance(value, builtins.int):
        return np.dtype("int64")
    if isinstance(value, builtins.float):
        return _default_numpy_dtype()
    if isinstance(value, complex):
        raise errors.complex_unsupported(complex_default())
    raise TypeError(
        "result_type() received an invalid combination of arguments - got "
        f"({type(value).__name__}), expected tensors or Python numbers"
    )


def _combine(higher, lower):
    """PyTorch's combine_categories: `lower` counts only if of a higher category."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if dtype_category(higher) >= 2:  # float or complex: the higher tier decides
        return higher if dtype_category(lower) <= dtype_category(higher) else lower
    if higher == np.bool_ or dtype_category(lower) >= 2:
        return np.dtype(promote_types(higher, lower))
    return higher


def result_type(tensor, other):
    """The dtype of an arithmetic op on `tensor` and `other` (tensors or Python numbers).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.result_type(torch.tensor([1, 2]), 1.5)  # an int tensor and a float
        torch.float32
    """
    tiers = {"dim": None, "zero": None, "scalar": None}
    for value in (tensor, other):
        if isinstance(value, TensorBase):
            tier, dtype = ("dim" if value.ndim else "zero"), np.dtype(value.dtype)
        else:
            tier, dtype = "scalar", _scalar_dtype(value)
        tiers[tier] = dtype if tiers[tier] is None else np.dtype(promote_types(tiers[tier], dtype))
    return dtypes.of(_combine(tiers["dim"], _combine(tiers["zero"], tiers["scalar"])))
