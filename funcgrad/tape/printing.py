"""PyTorch-style repr: `tensor([1., 2.], grad_fn=<MulBackward0>)`."""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["tensor_repr"]

_DEFAULT_DTYPES = ("float32", "int64", "int32", "bool")


def _format_floats(values: np.ndarray):
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        return lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)
    if finite.size and (
        np.abs(finite).max() >= 1e8 or np.abs(finite[finite != 0]).min(initial=1) < 1e-4
    ):
        return lambda v: f"{v:.4e}"
    return lambda v: f"{v:.4f}"


def _pad_to_width(fmt, values: np.ndarray):
    """Right-aligns entries to the widest nonzero finite one, as PyTorch's formatter does."""
    shown = values[np.isfinite(values) & (values != 0)]
    width = max((len(fmt(v)) for v in shown.flat), default=1)
    return lambda v: fmt(v).rjust(width)


def tensor_repr(t) -> str:
    values = t._value()
    if isinstance(values, jax.core.Tracer):  # inside funcgrad.tape.jit: no values yet
        shape = ", ".join(str(s) for s in values.shape)
        grad_fn = f", grad_fn=<{t._grad_fn.name()}>" if t._grad_fn is not None else ""
        return f"tensor(<traced {np.dtype(values.dtype).name}[{shape}]>{grad_fn})"
    values = np.asarray(values)
    if values.dtype.kind == "f" or values.dtype.name == "bfloat16":
        as_float = values.astype(np.float64)
        fmt = _pad_to_width(_format_floats(as_float), as_float)
        body = np.array2string(
            as_float,
            separator=", ",
            prefix="tensor(",
            formatter={"float_kind": fmt},
            threshold=1000,
        )
    else:
        body = np.array2string(values, separator=", ", prefix="tensor(", threshold=1000)
        body = body.replace("True", "True").replace("False", "False")
    extras = []
    if values.dtype.name not in _DEFAULT_DTYPES:
        extras.append(f"dtype=torch.{values.dtype.name}")
    if t._grad_fn is not None:
        extras.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"
