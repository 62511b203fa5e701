"""The index codec: `x[key]` as a hashable static key plus index arrays, and back.

A jitted op can only take hashable static arguments, so `Tensor.__getitem__` encodes its key
(`encode`): ints stay ints, a slice becomes `("slice", start, stop, step)`, None and
Ellipsis become `"None"` and `"..."`, and every index array becomes `("array", k)`, a
reference to the k-th array passed to the op as an input. Inside the op, `decode` rebuilds
the key from the static index and those arrays. The other functions answer PyTorch's
questions about an encoded index: is it in bounds (`check`), which view op is it
(`basic_op`), does a write through it go to a view (`writes_a_view`).

It knows tensors only through `TensorBase`, and runs no op itself.
"""

from __future__ import annotations

import jax
import numpy as np

from . import errors
from ._base import TensorBase

__all__ = ["basic_op", "check", "decode", "encode", "selected_shape", "writes_a_view"]


def encode(key) -> tuple[tuple, list]:
    """Encodes an index as a hashable static key plus the index arrays it uses.

    Example:
        >>> import numpy as np
        >>> index, arrays = encode((0, slice(1, None), None, np.array([2, 0])))
        >>> index
        (0, ('slice', 1, None, None), 'None', ('array', 0))
        >>> decode(index, arrays)[3].tolist()
        [2, 0]
    """
    key = key if isinstance(key, tuple) else (key,)
    encoded, arrays = [], []
    for k in key:
        tensor = isinstance(k, TensorBase)
        traced = tensor and isinstance(k._data, jax.core.Tracer)
        if tensor and k._data.ndim == 0 and not k._data.dtype == np.bool_ and not traced:
            k = int(k.item())
            tensor = False
        if isinstance(k, (bool, np.bool_)):
            raise NotImplementedError(
                "indexing with True/False inside a tuple is not supported by funcgrad.tape; "
                "index with x.unsqueeze(d) (for True) instead"
            )
        if isinstance(k, (int, np.integer)):
            encoded.append(int(k))
        elif isinstance(k, slice):
            encoded.append(
                ("slice",) + tuple(None if v is None else int(v) for v in (k.start, k.stop, k.step))
            )
        elif k is None:
            encoded.append("None")
        elif k is Ellipsis:
            encoded.append("...")
        elif isinstance(k, float):
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                "are valid indices (got float)"
            )
        else:
            if traced:  # inside funcgrad.tape.jit: integer indices stay traced arrays
                idx = k._data
                if idx.dtype == np.bool_:
                    raise IndexError(errors.BOOLEAN_MASK_INDEX)
            else:
                idx = np.asarray(k._value() if tensor else k)
            if idx.dtype == np.bool_:
                # A boolean mask selects a data-dependent number of elements: resolved here,
                # eagerly, into integer indices (one array per masked dimension).
                for a in np.nonzero(idx):
                    encoded.append(("array", len(arrays)))
                    arrays.append(a.astype(np.int32))
                continue
            if not np.issubdtype(idx.dtype, np.integer):
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            encoded.append(("array", len(arrays)))
            arrays.append(idx)
    return tuple(encoded), arrays


def decode(index: tuple, arrays=()) -> tuple:
    """The key `x[...]` takes, from an encoded index and its index arrays (of any library)."""
    out = []
    for k in index:
        if isinstance(k, tuple) and k[0] == "slice":
            out.append(slice(*k[1:]))
        elif isinstance(k, tuple) and k[0] == "array":
            out.append(arrays[k[1]])
        elif k == "None":
            out.append(None)
        elif k == "...":
            out.append(Ellipsis)
        else:
            out.append(k)
    return tuple(out)


def selected_shape(index: tuple, arrays, shape) -> tuple:
    """The shape of `x[index]` for an `x` of `shape` (computed on a zero-size stand-in)."""
    stand_in = np.broadcast_to(np.zeros((), np.int8), shape)
    return stand_in[decode(index, tuple(np.asarray(a) for a in arrays))].shape


def check(index: tuple, arrays, shape) -> None:
    """PyTorch's IndexErrors for an index with too many entries or out of bounds (JAX
    would clamp it silently)."""
    used = sum(1 for k in index if k not in ("None", "..."))
    if used > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    dim = 0
    for k in index:
        if k == "...":
            dim += len(shape) - used
            continue
        if k == "None":
            continue
        size = shape[dim]
        if isinstance(k, int):
            bad = k if not -size <= k < size else None
        elif k[0] == "array" and isinstance(arrays[k[1]], np.ndarray) and arrays[k[1]].size:
            a = arrays[k[1]]
            bad = next((int(v) for v in (a.min(), a.max()) if not -size <= v < size), None)
        else:
            bad = None
        if bad is not None:
            raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
        dim += 1


def basic_op(key, index: tuple, shape) -> str:
    """The table op for basic indexing `x[key]`, named after the last view op PyTorch
    applies: select (an int), slice, unsqueeze (None), or alias when all are no-ops."""
    if not isinstance(key, tuple):  # PyTorch's single-key fast paths
        if isinstance(key, slice):
            return "slice"
        return {type(None): "index_unsqueeze", type(Ellipsis): "alias"}.get(type(key), "select")
    last, dim = "alias", 0
    for k in index:
        if k == "...":
            dim += len(shape) - sum(1 for k in index if k not in ("None", "..."))
        elif k == "None":
            last = "index_unsqueeze"
        else:
            if isinstance(k, int):
                last = "select"
            elif not (
                k[1] in (None, 0) and k[3] in (None, 1) and (k[2] is None or k[2] >= shape[dim])
            ):
                last = "slice"  # a full slice (:) is skipped by PyTorch
            dim += 1
    return last


def writes_a_view(index: tuple, shape) -> bool:
    """Whether PyTorch writes `x[index] = v` through a view of x: an int, None, or a slice
    that is not the whole dim (index arrays and full slices write to x itself)."""
    dim, used = 0, sum(1 for k in index if k not in ("None", "..."))
    for k in index:
        if isinstance(k, int) or k == "None":
            return True
        if k == "...":
            dim += len(shape) - used
            continue
        if (
            k[0] == "slice"
            and dim < len(shape)
            and slice(*k[1:]).indices(shape[dim])
            != (
                0,
                shape[dim],
                1,
            )
        ):
            return True
        dim += 1
    return False
