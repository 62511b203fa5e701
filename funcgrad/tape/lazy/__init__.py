"""Lazy segments of the eager tape: record ops, run them together when a value is needed.

On by default (`set_lazy(False)` or `FUNCGRAD_LAZY=0` turns them off). `segment.py` records
pending ops with their nodes and runs a segment op by op when a value is read;
`program.py` runs a plain `backward()` over a segment seen before as one compiled program
cached by structure (`cache_info()`, `clear_cache()`, `set_cache_size()`). The tape
reaches this package through two hooks: `dispatch.apply` offers each op to `record`, and
`backward()` offers each plain backward to `backward`.

What it does not do: change what any op computes, or what PyTorch behaviour the tape
shows; everything it does not cover falls back to the eager path.
"""

from __future__ import annotations

from .program import (
    backward,
    cache_info,
    clear_cache,
    compile_first_sight,
    first_sight,
    set_cache_size,
)
from .segment import PendingPullback, materialize, record, use_forward
from .switch import is_lazy, lazy_segments, set_lazy

__all__ = [
    "PendingPullback",
    "backward",
    "cache_info",
    "clear_cache",
    "compile_first_sight",
    "first_sight",
    "is_lazy",
    "lazy_segments",
    "materialize",
    "record",
    "set_cache_size",
    "set_lazy",
    "use_forward",
]
