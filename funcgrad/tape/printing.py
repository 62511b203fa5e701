"""PyTorch's tensor repr, `tensor([1., 2.], grad_fn=<MulBackward0>)`, laid out as PyTorch
lays it out, and `set_printoptions`.

The rules are PyTorch's (torch/_tensor_str.py, re-derived here on NumPy arrays): one
format for all the elements, chosen from the nonzero finite ones (whole numbers print as
`3.`, a spread wider than 1000x or a value under 1e-4 or over 1e8 switches to scientific
notation), every entry right-aligned to the widest, as many entries on a line as fit in
`linewidth` after the indent, tensors over `threshold` elements summarized with `...` (the
format then chosen from the shown elements only), and `dtype=` / `device=` / `grad_fn=`
suffixes moved to a new line when they would overflow it.

What it does not do: print complex, sparse or quantized tensors (funcgrad has none) or
tensors inside `funcgrad.tape.jit` (those print as `<traced float32[2, 3]>`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from funcgrad.tape import _convert, devices

__all__ = ["get_printoptions", "set_printoptions", "tensor_repr"]

_PRESETS = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


@dataclass
class _Options:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


_OPTIONS = _Options()


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
) -> None:
    """Sets how tensors print, as PyTorch's `torch.set_printoptions` does: `profile`
    ("default", "short", "full") first, then each option given; `sci_mode` None lets the
    values decide.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.set_printoptions(precision=2)
        >>> torch.tensor([1.2345, 100.0])
        tensor([  1.23, 100.00])
        >>> torch.set_printoptions(profile="default")
    """
    if profile is not None:
        for name, value in _PRESETS[profile].items():
            setattr(_OPTIONS, name, value)
    for name, value in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if value is not None:
            setattr(_OPTIONS, name, value)
    _OPTIONS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options as a dict (PyTorch's `torch._tensor_str.get_printoptions`).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.get_printoptions()["precision"]
        4
    """
    return dict(vars(_OPTIONS))


class _Formatter:
    """One format and one width for every element of a tensor (PyTorch's `_Formatter`)."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = values.reshape(-1)
        p = _OPTIONS.precision
        if not floating:
            self.width = max([self.width] + [len(str(v)) for v in flat.tolist()])
        else:
            shown = flat[np.isfinite(flat) & (flat != 0)]
            if shown.size:
                magnitudes = np.abs(shown)
                low, high = magnitudes.min(), magnitudes.max()
                self.int_mode = bool(np.all(shown == np.ceil(shown)))
                self.sci_mode = (
                    high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
                    if _OPTIONS.sci_mode is None
                    else _OPTIONS.sci_mode
                )
                if self.sci_mode:
                    strings = [f"{v:.{p}e}" for v in shown.tolist()]
                elif self.int_mode:  # (the width counts the "." whole floats print with)
                    strings = [f"{v:.0f}." for v in shown.tolist()]
                else:
                    strings = [f"{v:.{p}f}" for v in shown.tolist()]
                self.width = max([self.width] + [len(s) for s in strings])

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{_OPTIONS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{_OPTIONS.precision}f}"
        return text.rjust(self.width)


def _summarized(values: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows: `edgeitems` from each end of every dim."""
    e = _OPTIONS.edgeitems
    if values.ndim == 0:
        return values
    if values.ndim == 1:
        return np.concatenate([values[:e], values[-e:]]) if len(values) > 2 * e else values
    if not e:
        return np.zeros((0,) * values.ndim, values.dtype)
    rows = [*values[:e], *values[-e:]] if len(values) > 2 * e else list(values)
    return np.stack([_summarized(r) for r in rows])


def _vector(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, (_OPTIONS.linewidth - indent) // (fmt.width + 2))
    e = _OPTIONS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and len(values) > 2 * e:
        data = [
            *(fmt.format(v) for v in values[:e].tolist()),
            " ...",
            *(fmt.format(v) for v in values[-e:].tolist()),
        ]
    else:
        data = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector(values, indent, summarize, fmt)
    e = _OPTIONS.edgeitems
    if summarize and len(values) > 2 * e:
        head = [_nested(r, indent + 1, summarize, fmt) for r in values[:e]]
        tail = [_nested(r, indent + 1, summarize, fmt) for r in values[len(values) - e :]]
        rows = [*head, "...", *tail]
    else:
        rows = [_nested(r, indent + 1, summarize, fmt) for r in values]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1  # PyTorch's count (one more than seen)
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > _OPTIONS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def _device_suffix(t) -> list[str]:
    dev, default = t.device, devices.get_default_device()
    return [] if dev.type == default.type else [f"device='{dev}'"]


def tensor_repr(t) -> str:
    """The text PyTorch's `repr` gives for tensor `t`.

    Example:
        >>> import funcgrad.tape as torch
        >>> print(torch.tensor([102.4, 1024.0, 0.1024]))
        tensor([1.0240e+02, 1.0240e+03, 1.0240e-01])
    """
    values = t._value()
    prefix = "tensor("
    if isinstance(values, jax.core.Tracer):  # inside funcgrad.tape.jit: no values yet
        shape = ", ".join(str(s) for s in values.shape)
        grad_fn = f", grad_fn=<{t._grad_fn.name()}>" if t._grad_fn is not None else ""
        return f"{prefix}<traced {np.dtype(values.dtype).name}[{shape}]>{grad_fn})"
    values = np.asarray(values)
    name = values.dtype.name
    default_float = _convert.get_default_dtype().name
    suffixes = _device_suffix(t)
    if values.size == 0:
        body = "[]"
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if name != default_float:
            suffixes.append(f"dtype=torch.{name}")
    else:
        floating = values.dtype.kind == "f" or name == "bfloat16"
        if floating and values.dtype.itemsize < 4:  # half and bfloat16 print as float
            values = values.astype(np.float32)
        summarize = values.size > _OPTIONS.threshold
        fmt = _Formatter(_summarized(values) if summarize else values, floating)
        body = _nested(values, len(prefix), summarize, fmt)
        if not _OPTIONS.edgeitems:
            suffixes.append(f"size={tuple(values.shape)}")
        if name not in (default_float, "int64", "bool"):
            suffixes.append(f"dtype=torch.{name}")
    if t._grad_fn is not None:
        suffixes.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, len(prefix))
