"""PyTorch's anomaly detection for the tape: `detect_anomaly`, `set_detect_anomaly`.

The mode is one process-wide switch with a `check_nan` flag, as in PyTorch (whose
`AnomalyMode` is a global, not per thread like grad mode: a thread started inside
`detect_anomaly()` sees it on). While it is on, every recorded node keeps the Python stack of
the forward call that made it (`forward_stack`, called from `engine.Node`; when off, a node
pays one flag check and keeps nothing), and the backward engine calls `check_nan` on each
node's gradients and `warn_forward_stack` for a node whose backward raised. This module
does not run backward itself, and records nothing for leaves' `AccumulateGrad` nodes.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings

import jax.numpy as jnp

from . import errors

__all__ = [
    "check_nan",
    "detect_anomaly",
    "forward_stack",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "set_anomaly_enabled",
    "set_detect_anomaly",
    "warn_forward_stack",
]

# [enabled, check_nan]: PyTorch's defaults. One list read per recorded op when off.
_state = [False, True]
# Frames inside funcgrad.tape (dispatch, tensor methods) end a recorded stack: the stack
# shown ends at the user's line that called the op.
_TAPE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (PyTorch's `torch.is_anomaly_enabled`).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.is_anomaly_enabled()
        False
    """
    return _state[0]


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks backward results for NaN (default True).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.is_anomaly_check_nan_enabled()
        True
    """
    return _state[1]


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turns anomaly detection on or off (PyTorch's `torch.set_anomaly_enabled`).

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.set_anomaly_enabled(True, check_nan=False)
        >>> torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()
        (True, False)
        >>> torch.set_anomaly_enabled(False)
    """
    _state[:] = [bool(enabled), bool(check_nan)]


class detect_anomaly:
    """Context manager that turns anomaly detection on inside its block.

    Ops recorded inside keep the stack of their forward call: when such a node's backward
    raises, a `UserWarning` shows that stack. With `check_nan` (the default), a node whose
    backward returns NaN raises `RuntimeError`. Making the object warns that the mode slows
    a program down, as PyTorch does. As in PyTorch, it is not a decorator.

    Args:
      check_nan: Optional, bool. Raise when a backward gives NaN. Defaults to True.

    Example:
        >>> import warnings
        >>> import funcgrad.tape as torch
        >>> x = torch.tensor([1.0], requires_grad=True)
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     with torch.autograd.detect_anomaly():
        ...         y = (x * float("nan")).sum()
        ...         try:
        ...             y.backward()
        ...         except RuntimeError as e:
        ...             print(e)
        Function 'MulBackward0' returned nan values in its 0th output.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = _state[0]
        self.check_nan = check_nan
        self.prev_check_nan = _state[1]
        warnings.warn(errors.ANOMALY_ENABLED, stacklevel=2)

    def __enter__(self) -> None:
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args: object) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Sets anomaly detection on or off; as a context manager, restores it on exit.

    Args:
      mode: bool. Anomaly detection on (True) or off (False).
      check_nan: Optional, bool. Raise when a backward gives NaN. Defaults to True.

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.autograd.set_detect_anomaly(True, check_nan=False):
        ...     torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()
        (True, False)
        >>> torch.is_anomaly_enabled()
        False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = _state[0]
        self.prev_check_nan = _state[1]
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args: object) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


def forward_stack() -> traceback.StackSummary:
    """The caller's stack, outermost first, without the tape's own frames at its end (source
    lines are read only when shown)."""
    frames = list(traceback.walk_stack(sys._getframe(1)))
    while frames and frames[0][0].f_code.co_filename.startswith(_TAPE_DIR):
        frames.pop(0)
    frames.reverse()
    return traceback.StackSummary.extract(frames, lookup_lines=False)


def warn_forward_stack(node) -> None:
    """PyTorch's warning for a node whose backward raised: the stack of its forward call."""
    stack = node._forward_stack
    if stack is None:
        text = errors.ANOMALY_NO_FORWARD.format(node=node._name)
    else:
        text = errors.ANOMALY_FORWARD.format(node=node._name) + "".join(stack.format())
    warnings.warn(text, UserWarning, stacklevel=2)


def check_nan(node, grads) -> None:
    """Raises PyTorch's error if a gradient the node returned holds a NaN."""
    for i, g in enumerate(grads):
        if g is None:
            continue
        array = g._value() if hasattr(g, "grad_fn") else g
        if bool(jnp.isnan(array).any()):
            raise RuntimeError(errors.ANOMALY_NAN.format(node=node._name, index=i))
