"""How a loss reduces: PyTorch's `reduction` argument and its deprecated forms
(`size_average`, `reduce`), shared by `nn.functional` and the loss modules.

Example:
    >>> from funcgrad.tape.nn.reduction import legacy_reduction
    >>> legacy_reduction(None, None, "sum")
    'sum'
"""

from __future__ import annotations

import warnings

__all__ = ["legacy_reduction"]


def legacy_reduction(size_average, reduce, reduction, allowed=("none", "mean", "sum")) -> str:
    """The reduction to apply; size_average / reduce (deprecated) override it, with
    PyTorch's warning. An unknown reduction is PyTorch's ValueError."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use "
            f"reduction='{reduction}' instead.",
            UserWarning,
            stacklevel=3,
        )
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction
