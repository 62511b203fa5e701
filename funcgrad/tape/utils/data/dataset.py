"""Datasets with PyTorch's interface: `Dataset`, `IterableDataset`, `TensorDataset`,
`Subset`, `ConcatDataset`, `ChainDataset`, and `random_split`.

A map-style dataset answers `len()` and `dataset[i]`; an iterable one is iterated. These
are plain Python containers, as in PyTorch: indexing a `TensorDataset` indexes its tensors
(tape ops), and `random_split` draws PyTorch's permutation from the generator, so a seeded
split holds the same samples as PyTorch's.

What this module does not do: `StackDataset` or DataPipes.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from ... import errors
from ...random import default_generator
from ...random_ops import randperm
from ...tensor import Tensor

__all__ = [
    "ChainDataset",
    "ConcatDataset",
    "Dataset",
    "IterableDataset",
    "random_split",
    "Subset",
    "TensorDataset",
]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define `__getitem__` (and usually `__len__`).

    Example:
        >>> from funcgrad.tape.utils.data import Dataset
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return i * i
        >>> [x for x in Squares() + Squares()][3:6]
        [9, 0, 1]
    """

    def __getitem__(self, index) -> T_co:
        raise NotImplementedError(errors.NOT_IMPLEMENTED_GETITEM)

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """An iterable-style dataset: subclasses define `__iter__`.

    Example:
        >>> from funcgrad.tape.utils.data import IterableDataset
        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(3))
        >>> list(Count() + Count())
        [0, 1, 2, 0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given tensors (which share their first size).

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.arange(6).reshape(3, 2), torch.tensor([0, 1, 0]))
        >>> len(ds), ds[1]
        (3, (tensor([2, 3]), tensor(1)))
    """

    def __init__(self, *tensors: Tensor) -> None:
        if any(tensors[0].size(0) != t.size(0) for t in tensors):
            raise AssertionError(errors.SIZE_MISMATCH)
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order.

    Example:
        >>> from funcgrad.tape.utils.data import Subset
        >>> s = Subset(["a", "b", "c", "d"], [3, 0])
        >>> len(s), s[0], s[1]
        (2, 'd', 'a')
    """

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems:
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Map-style datasets one after the other.

    Example:
        >>> from funcgrad.tape.utils.data import ConcatDataset
        >>> c = ConcatDataset([[1, 2], [3]])
        >>> len(c), c[2], c[-3], c.cumulative_sizes
        (3, 3, 1, [2, 3])
    """

    @staticmethod
    def cumsum(sequence) -> list[int]:
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets: Iterable) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError(errors.EMPTY_CONCAT)
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise AssertionError(errors.CONCAT_ITERABLE)
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError(errors.INDEX_TOO_NEGATIVE)
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after the other."""

    def __init__(self, datasets: Iterable) -> None:
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def _split_lengths(n: int, fractions: Sequence[float]) -> list[int]:
    """Fractions summing to 1 as lengths: floors, then the remainder one by one from the
    first split on, as PyTorch does."""
    lengths = []
    for i, fraction in enumerate(fractions):
        if fraction < 0 or fraction > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        lengths.append(math.floor(n * fraction))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(
                f"Length of split at index {i} is 0. This might result in an empty dataset.",
                stacklevel=3,
            )
    return lengths


def random_split(dataset, lengths: Sequence, generator=default_generator) -> list[Subset]:
    """Splits `dataset` into non-overlapping `Subset`s of the given lengths (or fractions
    summing to 1), by PyTorch's `randperm` of the generator: a seeded split holds the same
    samples as PyTorch's.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.utils.data import random_split
        >>> a, b = random_split(range(10), [0.7, 0.3], generator=torch.Generator().manual_seed(42))
        >>> list(a), list(b)
        ([2, 6, 1, 8, 4, 5, 0], [9, 3, 7])
    """
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _split_lengths(len(dataset), lengths)
    if sum(lengths) != len(dataset):
        raise ValueError(errors.SPLIT_SUM)
    indices = randperm(sum(lengths), generator=generator).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, indices[end - n : end]) for end, n in zip(ends, lengths)]
