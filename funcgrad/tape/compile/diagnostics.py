"""Explaining a compiled step: why it was traced again, and what leaked out of a trace.

`difference` names the first signature leaf that changed between two calls (for the
`RetraceWarning`); `only_grads_appeared` recognises the one retrace every training loop
makes (the `.grad`s exist from the second call on), which is logged, not warned;
`check_leaks` finds a tensor made inside the step that is still referenced after it, and
says by whom (through `gc.get_referrers`).
"""

from __future__ import annotations

import gc
import sys
import types

import jax
import numpy as np

from .. import errors
from ..tensor import Tensor
from .walk import desc, render

__all__ = ["check_leaks", "difference", "only_grads_appeared", "RetraceWarning"]

_Tracer = jax.core.Tracer


class RetraceWarning(UserWarning):
    """Warned when a compiled step is traced again because its state or arguments changed."""


def only_grads_appeared(old, new) -> bool:
    """Whether the only change between two walks is `.grad`s that were None and now exist:
    the second call of every training step (`zero_grad(); loss.backward(); opt.step()`).
    That retrace happens once and is expected, so it is logged, not warned about."""
    return old.blind == new.blind and set(old.grads) < set(new.grads)


def difference(old, new) -> str:
    """Which leaf of the signature changed between two calls, in words."""
    (old_sig, old_where), (new_sig, new_where) = old, new
    changed = [i for i, (a, b) in enumerate(zip(old_sig, new_sig)) if a != b]
    if changed:
        i = changed[0]
        a, b = old_sig[i], new_sig[i]
        reason = f"{render(new_where[i])} changed: {_entry_change(a, b)}"
        if len(changed) > 1:
            reason += f" (and {len(changed) - 1} more leaves)"
        if (
            a[0] == b[0] == "s"
            and isinstance(new_where[i], str)
            and new_where[i].startswith("argument")
        ):
            reason += (
                "; a Python number argument is a constant of the compiled program: pass "
                "torch.tensor(value) to make it an input instead"
            )
        return reason
    if len(old_sig) != len(new_sig):
        longer, where = (
            (new_sig, new_where) if len(new_sig) > len(old_sig) else (old_sig, old_where)
        )
        i = min(len(old_sig), len(new_sig))
        what = "appeared" if longer is new_sig else "disappeared"
        return f"{render(where[i])} {what}"
    return "the signature changed"


def _entry_change(a, b) -> str:
    if a[0] == "T" and b[0] == "T":
        names = (
            "",
            "shape",
            "dtype",
            "weak_type",
            "requires_grad",
            "grad_fn",
            ".grad",
            "hooks",
            "post-accumulate hooks",
        )
        for k in range(1, len(a)):
            if a[k] != b[k]:
                if k in (1, 2):
                    return f"{_tensor_type(a)} -> {_tensor_type(b)}"
                if k == 6:
                    return ".grad None -> a tensor" if b[6] else ".grad a tensor -> None"
                if k == 5:
                    return "grad_fn " + ("None -> set" if b[5] else "set -> None")
                return f"{names[k]} {a[k]} -> {b[k]}"
    if a[0] == "s" and b[0] == "s":
        return f"{a[2]!r} -> {b[2]!r}"
    if a[0] == b[0] == "mode":
        return f"grad enabled {a[1]} -> {b[1]}, inference mode {a[2]} -> {b[2]}"
    return f"{_short(a)} -> {_short(b)}"


def _tensor_type(e) -> str:
    return f"{np.dtype(e[2]).name}[{', '.join(map(str, e[1]))}]"


def _short(e) -> str:
    tag = e[0]
    if tag == "T":
        return f"tensor {_tensor_type(e)}"
    if tag in ("t", "o"):
        return "a shared reference"
    if tag == "s":
        return repr(e[2])
    if tag == "a":
        return f"array {np.dtype(e[2]).name}[{', '.join(map(str, e[1]))}]"
    names = {
        "D": "a dict",
        "L": "a list",
        "O": "an object",
        "A": "arrays",
        "P": "state arrays",
        "args": "arguments",
        "S": "a value",
        "f": "a function",
        "x": "an object",
        "id": "an object",
    }
    return names.get(tag, tag)


def _first_leak(ctx):
    """A weak reference to a tensor made inside the step that still holds a tracer."""
    for ref in ctx.created:
        t = ref()
        if t is not None and isinstance(t._data, _Tracer):
            return ref
    return None


def check_leaks(ctx, step_name: str) -> None:
    """Raises if a tensor made inside the step (holding a tracer) outlives the trace."""
    if _first_leak(ctx) is None:
        return
    gc.collect()  # reference cycles (a hook closing over its tensor) are not leaks
    ref = _first_leak(ctx)
    if ref is not None:
        t = ref()
        raise RuntimeError(
            errors.LEAKED_TENSOR.format(step=step_name, desc=desc(t), where=_referrers(t))
        )


def _referrers(t: Tensor) -> str:
    """Where a leaked tensor is referenced from, as well as can be told. (No comprehension
    here may mention `t`: it would hold `t` in a closure cell and report it.)"""
    found = []
    for r in gc.get_referrers(t):
        if isinstance(r, types.FrameType):
            continue
        if isinstance(r, dict):
            owner = _dict_owner(r)
            for k, v in r.items():
                if v is t:
                    found.append(f"{owner}{k}" if owner.endswith(".") else f"{owner}{k!r}")
        elif isinstance(r, list):
            found.append("a list")
        elif isinstance(r, tuple):
            found.append("a tuple")
        elif isinstance(r, types.CellType):
            found.append("a closure variable")
        elif isinstance(r, Tensor):
            found.append("another tensor (e.g. its .grad)")
        else:
            found.append(f"a {type(r).__name__} object")
    return ", ".join(dict.fromkeys(found)) or "an object the garbage collector cannot name"


def _dict_owner(d: dict) -> str:
    for name, module in list(sys.modules.items()):
        if getattr(module, "__dict__", None) is d:
            return f"global variable of module {name}: "
    for r in gc.get_referrers(d):
        if getattr(r, "__dict__", None) is d:
            return f"attribute of a {type(r).__name__} object: ."
    return "a dict, key "
