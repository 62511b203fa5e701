"""The switch of lazy segments: `set_lazy(bool)`, `is_lazy()`, and `FUNCGRAD_LAZY=0|1`.

On by default (`set_lazy(False)` or `FUNCGRAD_LAZY=0` turns them off). What lazy
segments do is in `segment.py` and `program.py`; this module only holds the flag, read by
`dispatch.apply` on every op (one attribute read when off), and `lazy_segments`, a `with`
block that sets it.
"""

from __future__ import annotations

import contextlib
import os

from .. import errors
from .program import compile_first_sight

__all__ = ["is_lazy", "lazy_segments", "set_lazy"]


def _from_environment() -> bool:
    value = os.environ.get("FUNCGRAD_LAZY", "1").strip()
    if value not in ("0", "1", ""):
        raise ValueError(errors.LAZY_ENV.format(value=value))
    return value != "0"


on = _from_environment()


def set_lazy(enabled: bool) -> None:
    """Turns lazy segments on or off for the whole process.

    With lazy segments on, tape ops that record a node only record (their shapes and
    dtypes are checked at once); the pending ops run when a value is needed (printing,
    `.item()`, `.numpy()`, `bool()`, an in-place write, a hook) or at `backward()`, where a
    segment whose structure was seen before runs as one compiled program. Values,
    gradients and errors are PyTorch's either way. Tensors still pending when it is turned
    off run when their values are read.

    Args:
      enabled: bool. True to record lazily (the default), False for op-by-op execution
        (the environment variable `FUNCGRAD_LAZY=0` turns it off at import), e.g. to
        debug or to compare the two designs.

    Example:
        >>> import funcgrad.tape as torch
        >>> torch.set_lazy(False)
        >>> x = torch.ones(3, requires_grad=True)
        >>> (x * 2).sum().item()
        6.0
        >>> torch.is_lazy()
        False
        >>> torch.set_lazy(True)
    """
    global on
    on = bool(enabled)


def is_lazy() -> bool:
    """Whether lazy segments are on (see `set_lazy`).

    Example:
        >>> import funcgrad.tape as torch
        >>> isinstance(torch.is_lazy(), bool)
        True
    """
    return on


@contextlib.contextmanager
def lazy_segments(enabled: bool = True, *, compile_at_first_sight: bool = False):
    """Lazy segments on (or off) inside the `with`, restored after it.

    Args:
      enabled: Optional, bool. Default True.
      compile_at_first_sight: Optional, bool. Compile a segment's backward the first time
        its structure is seen (`compile_first_sight`), e.g. to test the compiled path.

    Example:
        >>> import funcgrad.tape as torch
        >>> with torch.lazy.lazy_segments():
        ...     torch.is_lazy()
        True
    """
    before = on
    set_lazy(enabled)
    compile_first_sight(compile_at_first_sight)
    try:
        yield
    finally:
        set_lazy(before)
        compile_first_sight(False)
