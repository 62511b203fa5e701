"""Grad mode: whether new ops are recorded on the tape.

Like PyTorch, the mode is per thread: a `no_grad()` block in one thread does not stop
recording in another. Each context manager also works as a decorator. This module knows
nothing about tensors; the op dispatcher asks `is_grad_enabled()` before recording.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import warnings

from . import errors

__all__ = [
    "enable_grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "is_recording",
    "no_grad",
    "set_grad_enabled",
]

_state = threading.local()


def is_grad_enabled() -> bool:
    """Returns True when ops on tensors that require grad are recorded (the default).

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.no_grad():
        ...     print(torch.is_grad_enabled())
        False
    """
    return getattr(_state, "enabled", True)


def is_inference_mode_enabled() -> bool:
    """Returns True inside an `inference_mode()` block."""
    return getattr(_state, "inference", False)


def is_recording() -> bool:
    """Whether ops are recorded on the tape now: grad mode on and not in inference mode
    (`enable_grad()` inside `inference_mode()` turns grad mode on, and still records
    nothing, as in PyTorch).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.grad_mode import is_recording
        >>> with torch.inference_mode(), torch.enable_grad():
        ...     print(torch.is_grad_enabled(), is_recording())
        True False
    """
    return getattr(_state, "enabled", True) and not getattr(_state, "inference", False)


def _set_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


def _wrap_generator(fresh, fn):
    """A generator function whose body runs in the mode each time it is resumed, and the
    caller's mode is back at each `yield` (PyTorch's decorated generators)."""

    @functools.wraps(fn)
    def generator(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with fresh():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with fresh():
                        gen.close()
                    raise
                except BaseException:
                    with fresh():
                        response = gen.throw(*sys.exc_info()[1:2])
                else:
                    with fresh():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value

    return generator


class _GradModeContext:
    """Base for context managers that set grad mode on entry and restore it on exit."""

    def _target(self) -> bool:
        raise NotImplementedError

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set_enabled(self._target())
        return self

    def __exit__(self, *exc):
        _set_enabled(self._prev)
        return False

    def __call__(self, fn):
        if inspect.isclass(fn):  # PyTorch still allows it, with its warning
            warnings.warn(errors.CLASS_DECORATION, FutureWarning, stacklevel=2)
            cls = fn

            def fn(*args, **kwargs):
                return cls(*args, **kwargs)

        def fresh():
            return self.__class__(*self._ctor_args())

        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(fresh, fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with fresh():
                return fn(*args, **kwargs)

        return wrapper

    def _ctor_args(self) -> tuple:
        return ()


class _NoParamContext(_GradModeContext):
    """Also a bare decorator, as in PyTorch: `@no_grad` works like `@no_grad()`."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamContext):  # noqa: N801 - PyTorch's name
    """Context manager (and decorator) that stops recording ops on the tape.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def _target(self) -> bool:
        return False


class enable_grad(_NoParamContext):  # noqa: N801
    """Context manager (and decorator) that turns recording back on inside `no_grad`.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad(), torch.enable_grad():
        ...     print((x * 2).requires_grad)
        True
    """

    def _target(self) -> bool:
        return True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Sets grad mode to `mode`; usable as a function, a context manager or a decorator.

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.set_grad_enabled(False):
        ...     print(torch.is_grad_enabled())
        False
    """

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(
                "set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                f"{type(mode).__name__}"
            )
        self._mode = mode
        # Like PyTorch, calling it as a plain function sets the mode immediately.
        self._prev = is_grad_enabled()
        _set_enabled(mode)

    def _target(self) -> bool:
        return self._mode

    def __enter__(self):
        return self  # the mode was already set by __init__

    def __call__(self, fn):
        _set_enabled(self._prev)  # like PyTorch: decorating a function leaves the mode as is
        return super().__call__(fn)

    def _ctor_args(self) -> tuple:
        return (self._mode,)


class inference_mode(_GradModeContext):  # noqa: N801
    """Like `no_grad`, and tensors made inside are marked as inference tensors.

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.inference_mode():
        ...     y = torch.ones(2, requires_grad=True) * 2
        >>> y.requires_grad, y.is_inference()
        (False, True)
    """

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # bare `@inference_mode`, as PyTorch allows

    def __init__(self, mode: bool = True):
        self._mode = mode

    def _target(self) -> bool:
        return not self._mode and is_grad_enabled()

    def __enter__(self):
        self._prev_inference = is_inference_mode_enabled()
        _state.inference = self._mode
        return super().__enter__()

    def __exit__(self, *exc):
        _state.inference = self._prev_inference
        return super().__exit__(*exc)

    def _ctor_args(self) -> tuple:
        return (self._mode,)
