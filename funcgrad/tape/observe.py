"""The tensor observer: how `funcgrad.tape.jit` sees every tensor made and every write.

While jit traces a step it installs an observer for its thread (`observing`); tensor.py and
the in-place ops report to it (`created`, `writing`), and it rejects writes to tensors that
are not part of the step's state. Like grad mode, the observer is per thread. Outside a
trace no thread has one, and `active` (how many are installed) is 0: the tensor's check
costs one attribute read.

This module defines the protocol only (an observer has `created_tensor(t)` and
`writing(t, action)`); the observer itself is jit's.

The second client is `funcgrad.tape.func`: while any thread runs a torch.func transform it
installs its hooks (`transforming`), read as `transforms` by the places where the tape
behaves differently inside a transform (no node recorded, `detach()` a JAX constant,
`.item()`, in-place writes, `backward()`, custom Functions, random draws). The hooks are
global and check their own per-thread stack of transforms; `transforms` is None when no
thread runs one, so plain tape code pays one module attribute read at those places.
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["created", "current", "observing", "transforming", "writing"]

_state = threading.local()
_lock = threading.Lock()
active = 0  # observers installed, over all threads (and transform hooks, see below)
transforms = None  # funcgrad.tape.func's hooks while some thread runs a transform
_transforming = 0  # transforms running, over all threads


def current():
    """This thread's observer, or None."""
    return getattr(_state, "observer", None)


@contextlib.contextmanager
def observing(observer):
    """Installs `observer` for this thread inside the `with` block."""
    global active
    previous = current()
    _state.observer = observer
    with _lock:
        active += 1
    try:
        yield observer
    finally:
        _state.observer = previous
        with _lock:
            active -= 1


def created(tensor) -> None:
    """Reports a new tensor to this thread's observer and to the transform hooks, if any."""
    observer = getattr(_state, "observer", None)
    if observer is not None:
        observer.created_tensor(tensor)
    if transforms is not None:
        transforms.created_tensor(tensor)


@contextlib.contextmanager
def transforming(hooks):
    """Installs torch.func's `hooks` as `transforms` (for every thread) inside the `with`
    block; they stay installed while any thread is inside such a block."""
    global active, transforms, _transforming
    with _lock:
        _transforming += 1
        active += 1
        transforms = hooks
    try:
        yield hooks
    finally:
        with _lock:
            _transforming -= 1
            active -= 1
            if _transforming == 0:
                transforms = None


def writing(tensor, action: str) -> None:
    """Reports that `action` (e.g. "ran the in-place op 'add_' on") is about to change
    `tensor`; the observer may raise to refuse it."""
    observer = getattr(_state, "observer", None)
    if observer is not None:
        observer.writing(tensor, action)
