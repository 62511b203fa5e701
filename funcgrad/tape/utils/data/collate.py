"""`default_collate` and `default_convert`: PyTorch's rules for turning samples into a
batch (with the tape's tensors).

Tensors are stacked; numpy arrays become tensors and are stacked; Python floats become a
float64 tensor (as in PyTorch), ints an int64 one, bools
a bool one; strings and bytes stay a list; dicts, namedtuples and sequences are collated
field by field (a tuple sample gives a list, as in PyTorch).

What this module does not do: PyTorch's `collate_fn_map` registry for custom types (pass
`collate_fn=` to the `DataLoader` instead).
"""

from __future__ import annotations

import collections.abc
import copy
import re

import numpy as np

from ... import errors
from ...creation import as_tensor, tensor
from ...dtypes import float64
from ...functions import stack
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_STRING_OR_OBJECT = re.compile(r"[SaUO]")  # numpy dtype kinds default_collate refuses


def _is_numpy(x) -> bool:
    return type(x).__module__ == "numpy" and type(x).__name__ not in ("str_", "string_")


def default_convert(data):
    """Turns numpy arrays (also inside dicts, lists and tuples) into tensors, leaving the
    rest as it is (the collate function when automatic batching is off).

    Example:
        >>> import numpy as np
        >>> from funcgrad.tape.utils.data import default_convert
        >>> default_convert((np.array([1, 2]), "x"))
        [tensor([1, 2]), 'x']
    """
    if isinstance(data, Tensor):
        return data
    if _is_numpy(data):
        if isinstance(data, np.ndarray) and _STRING_OR_OBJECT.search(data.dtype.str):
            return data
        return as_tensor(data)
    return _map_structure(data, default_convert)


def _map_structure(data, fn):
    """Applies fn to the fields of a mapping, namedtuple or sequence, keeping its type where
    PyTorch does (a plain tuple becomes a list); other values are returned as they are."""
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: fn(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(fn(d) for d in data))
    if isinstance(data, tuple):
        return [fn(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [fn(d) for d in data])
    return data


def _rebuild_mapping(like, items: dict):
    """A mapping of like's type holding items (a plain dict where that type refuses)."""
    try:
        if isinstance(like, collections.abc.MutableMapping):
            clone = copy.copy(like)
            clone.update(items)
            return clone
        return type(like)(items)
    except TypeError:
        return items


def _rebuild_sequence(like, items: list):
    try:
        if isinstance(like, collections.abc.MutableSequence):
            clone = copy.copy(like)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(like)(items)
    except TypeError:
        return items


def default_collate(batch):
    """Collates a list of samples into a batch, with PyTorch's rules (module docstring).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.utils.data import default_collate
        >>> default_collate([(torch.tensor([1.0, 2.0]), 0), (torch.tensor([3.0, 4.0]), 1)])
        [tensor([[1., 2.],
                [3., 4.]]), tensor([0, 1])]
        >>> default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])
        {'x': tensor([1.5000, 2.5000], dtype=torch.float64), 'name': ['a', 'b']}
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if _STRING_OR_OBJECT.search(elem.dtype.str):
            raise TypeError(errors.COLLATE_TYPE.format(elem.dtype))
        return default_collate([as_tensor(b) for b in batch])
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _rebuild_mapping(elem, fields)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError(errors.UNEQUAL_SIZES)
        fields = [default_collate(list(s)) for s in zip(*batch)]
        return fields if isinstance(elem, tuple) else _rebuild_sequence(elem, fields)
    raise TypeError(errors.COLLATE_TYPE.format(type(elem)))
