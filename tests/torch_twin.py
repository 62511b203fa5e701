"""Runs one program against real PyTorch and against funcgrad.tape, and compares them.

A program is a function of `lib` (the module: `torch` or `funcgrad.tape`) that returns what
it observed: tensors, `.grad`s (or None), Python values, and the `raises(...)` / `warns(...)`
records below, nested in tuples, lists and dicts. `twin(prog)` runs it with both and checks
that funcgrad observed what PyTorch did:

- tensors: values (allclose), shape, dtype (int64 against int64: the tape has PyTorch's
  integer dtypes), `requires_grad`,
  `is_leaf` and the `grad_fn` class name (e.g. 'MulBackward0');
- None against None (so a missing `.grad` is a mismatch, not a zero);
- exceptions and warnings: the same type, and funcgrad's message starts with PyTorch's and
  adds nothing but a "\\n[funcgrad] ..." hint.

PyTorch is the reference: nothing here knows the expected numbers.

Example:
    >>> def prog(lib):
    ...     x = lib.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    ...     (x * x).sum().backward()
    ...     return x, x.grad
    >>> _ = twin(prog)
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Any

import numpy as np
import torch

import funcgrad.tape as tape

HINT = "\n[funcgrad]"


@dataclasses.dataclass(frozen=True)
class Raised:
    """An exception a program caught: its type name and message."""

    type: str
    message: str


@dataclasses.dataclass(frozen=True)
class Warned:
    """The warnings a call emitted (category name, message), and what it returned."""

    result: Any
    warnings: tuple


@dataclasses.dataclass(frozen=True)
class TensorObs:
    """What a tensor looks like from the outside, minus library-specific types."""

    value: np.ndarray
    dtype: str
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None


def raises(fn, *args, **kwargs):
    """Calls fn; returns Raised(type, message) if it raised, else what it returned."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # the point is to record any exception
        return Raised(type(e).__name__, str(e))


def strip_cpp_location(message: str) -> str:
    """Drops the " (Triggered internally at <file>:<line>.)" suffix of PyTorch's C++
    warnings: where PyTorch was built is not part of the message."""
    return re.sub(r" \(Triggered internally at [^)]*\)$", "", message)


def warns(fn, *args, **kwargs) -> Warned:
    """Calls fn with all warnings recorded; returns its result and the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return Warned(
        result, tuple((w.category.__name__, strip_cpp_location(str(w.message))) for w in caught)
    )


def arr(*shape, seed=0, low=-1.0, high=1.0) -> np.ndarray:
    """Deterministic float32 data, so both libraries see the same numbers."""
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


UNNAMED = "?"  # a grad_fn name that is not compared (the fuzzer's knowingly differing ones)

# The tolerances of the differential fuzzer: long random programs accumulate rounding, so
# the absolute tolerance grows with the largest magnitude PyTorch produced.
FUZZ_TOLERANCE = {"rtol": 2e-4, "atol": 1e-5, "scale_atol": True}


def _dtype_word(dtype) -> str:
    return np.dtype(dtype).name


def observe(x, grad_fn_names=True):
    """Turns a program's result into library-neutral observations (with `grad_fn_names`
    False, a tensor's grad_fn name is recorded as UNNAMED: not compared)."""
    if isinstance(x, (torch.Tensor, tape.Tensor)):
        value = x.detach().numpy()
        grad_fn = x.grad_fn
        name = None if grad_fn is None else type(grad_fn).__name__ if grad_fn_names else UNNAMED
        return TensorObs(
            value=np.array(value, copy=True),
            dtype=_dtype_word(value.dtype),
            requires_grad=bool(x.requires_grad),
            is_leaf=bool(x.is_leaf),
            grad_fn=name,
        )
    if isinstance(x, Warned):
        return Warned(observe(x.result), x.warnings)
    if isinstance(x, dict):
        return {k: observe(v) for k, v in x.items()}
    if isinstance(x, (torch.Size, tape.Size)):
        return tuple(int(v) for v in x)
    if isinstance(x, list):
        return [observe(v) for v in x]
    if isinstance(x, tuple):  # namedtuples (e.g. max's return types) become plain tuples
        return tuple(observe(v) for v in x)
    return x


def _message_matches(expected: str, actual: str) -> bool:
    """funcgrad keeps PyTorch's text first and may only append a '[funcgrad]' hint."""
    return actual == expected or (
        actual.startswith(expected) and actual[len(expected) :].startswith(HINT)
    )


def _values_close(expected, actual, rtol, atol, scale_atol) -> bool:
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape:
        return False
    if expected.dtype.kind == "b" or actual.dtype.kind == "b":
        return bool(np.array_equal(expected, actual))
    e, a = expected.astype(np.float64), actual.astype(np.float64)
    if scale_atol:
        finite = e[np.isfinite(e)]
        atol *= max(1.0, float(np.max(np.abs(finite))) if finite.size else 0.0)
    return bool(np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True))


def assert_same(
    expected,
    actual,
    *,
    grad_fn_names=True,
    rtol=1e-5,
    atol=1e-6,
    scale_atol=False,
    path="result",
):
    """Asserts that funcgrad's observations (actual) match PyTorch's (expected).

    Args:
      expected, actual: observations (`observe`), nested in tuples, lists and dicts;
        NumPy arrays and floats compare by value.
      grad_fn_names: Optional, bool. Compare grad_fn class names (False where funcgrad
        knowingly names a node differently; a name recorded as UNNAMED never compares).
      rtol, atol: Optional. Tolerances for values.
      scale_atol: Optional, bool. Multiply atol by the largest finite |value| PyTorch
        produced (at least 1), as the fuzzer does (FUZZ_TOLERANCE).
      path: Optional. Where in the result this is, for the failure message.
    """
    where = f"at {path}:\n  torch    = {expected!r}\n  funcgrad = {actual!r}"
    opts = {"grad_fn_names": grad_fn_names, "rtol": rtol, "atol": atol, "scale_atol": scale_atol}
    if isinstance(expected, TensorObs):
        assert isinstance(actual, TensorObs), f"not a tensor {where}"
        assert actual.value.shape == expected.value.shape, f"shape differs {where}"
        assert actual.dtype == expected.dtype, f"dtype differs {where}"
        close = _values_close(expected.value, actual.value, rtol, atol, scale_atol)
        assert close, f"values differ {where}"
        assert actual.requires_grad == expected.requires_grad, f"requires_grad differs {where}"
        assert actual.is_leaf == expected.is_leaf, f"is_leaf differs {where}"
        if grad_fn_names and UNNAMED not in (expected.grad_fn, actual.grad_fn):
            assert actual.grad_fn == expected.grad_fn, f"grad_fn differs {where}"
    elif isinstance(expected, Raised):
        assert isinstance(actual, Raised), f"funcgrad did not raise {where}"
        assert actual.type == expected.type, f"exception type differs {where}"
        assert _message_matches(expected.message, actual.message), f"message differs {where}"
    elif isinstance(expected, Warned):
        assert isinstance(actual, Warned), f"no warning record {where}"
        assert len(actual.warnings) == len(expected.warnings), f"warnings differ {where}"
        for (e_cat, e_msg), (a_cat, a_msg) in zip(expected.warnings, actual.warnings, strict=True):
            assert a_cat == e_cat, f"warning category differs {where}"
            assert _message_matches(e_msg, a_msg), f"warning message differs {where}"
        assert_same(expected.result, actual.result, **opts, path=f"{path}.result")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), f"keys differ {where}"
        for k in expected:
            assert_same(expected[k], actual[k], **opts, path=f"{path}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), f"not a sequence {where}"
        assert len(actual) == len(expected), f"lengths differ {where}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_same(e, a, **opts, path=f"{path}[{i}]")
    elif isinstance(expected, (np.ndarray, float)) and isinstance(actual, type(expected)):
        assert _values_close(expected, actual, rtol, atol, scale_atol), f"values differ {where}"
    else:
        assert type(actual) is type(expected) and actual == expected, f"differs {where}"


def twin(prog, *args, grad_fn_names=True, rtol=1e-5, atol=1e-6):
    """Runs prog(torch, *args) and prog(funcgrad.tape, *args); asserts they observe the same.

    Args:
      prog: a function of the library module (and args) returning its observations.
      grad_fn_names: Optional, bool. Compare grad_fn class names (False where funcgrad
        knowingly names a node differently, e.g. double-backward nodes).
      rtol, atol: Optional. Tolerances for tensor values.

    Returns:
      (torch observations, funcgrad observations).
    """
    expected = observe(prog(torch, *args))
    actual = observe(prog(tape, *args))
    assert_same(expected, actual, grad_fn_names=grad_fn_names, rtol=rtol, atol=atol)
    return expected, actual
