"""`DataLoader`: PyTorch's batching loop over a dataset, with its arguments, checks, order
and random draws.

Each iteration draws what PyTorch's does from the generators (the iterator's base seed,
then the `RandomSampler`'s seed), so with `manual_seed(s)` the shuffled batches are
PyTorch's and the stream continues as PyTorch's does. A `TensorDataset` (or a `Subset` of
one) with the default collate is gathered with one indexing op per tensor instead of one
per sample; the batches are the same.

`num_workers > 0` runs the workers in this process, one after the other (JAX arrays and the
tape's state do not cross process boundaries): batches come in PyTorch's order; each worker
`w` draws from a generator seeded `base_seed + w` as PyTorch seeds the worker's `torch`
stream, `get_worker_info()` describes it, and an `IterableDataset` is iterated once per
worker, as PyTorch's replicas are. What differs: `worker_init_fn` and the dataset run in
this process (their side effects are not isolated), Python's `random` and numpy are not
reseeded per worker, and nothing runs in parallel.

What this module does not do: `pin_memory` (accepted, no effect: JAX places arrays),
`timeout`, `multiprocessing_context`, `in_order=False` (accepted, batches stay in order).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from ... import errors
from ...creation import tensor
from ...random import Generator, default_generator, sampling
from .collate import default_collate, default_convert
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]


@dataclasses.dataclass
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: its id, the number of workers, its
    seed and its dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The current worker's `WorkerInfo` while a worker fetches data, else None.

    Example:
        >>> from funcgrad.tape.utils.data import get_worker_info
        >>> get_worker_info() is None
        True
    """
    return _worker_info


class _InfiniteConstantSampler:
    """The sampler of an iterable dataset: None forever (the dataset yields the samples)."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterates over a dataset in batches, as PyTorch's `torch.utils.data.DataLoader`.

    Args:
      dataset: A map-style dataset (`len` and indexing) or an `IterableDataset`.
      batch_size: Optional. Samples per batch (default 1); None turns automatic batching off.
      shuffle: Optional, bool. A new random order every epoch (`RandomSampler`).
      sampler, batch_sampler: Optional. Where the indices (or lists of them) come from.
      num_workers: Optional. Accepted; workers run in this process (module docstring).
      collate_fn: Optional. Turns a list of samples into a batch (default `default_collate`).
      drop_last: Optional, bool. Drop the last, incomplete batch.
      generator: Optional. The `Generator` for the base seed and the shuffle.
      pin_memory, timeout, worker_init_fn: Optional. PyTorch's, checked as PyTorch does.
      multiprocessing_context, prefetch_factor, persistent_workers: Optional. Likewise.
      pin_memory_device, in_order: Optional. Likewise.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.utils.data import DataLoader, TensorDataset
        >>> ds = TensorDataset(torch.arange(10.0), torch.arange(10))
        >>> _ = torch.manual_seed(0)
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True)
        >>> len(loader), [y.tolist() for _, y in loader]
        (3, [[6, 7, 1, 4], [2, 0, 9, 8], [3, 5]])
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError(
                "multiprocessing_context can only be used with multi-process loading "
                f"(num_workers > 0), but got num_workers={num_workers}"
            )
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context, self.in_order = multiprocessing_context, in_order
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
        elif sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(errors.MUTUALLY_EXCLUSIVE)
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._length_reported = None  # len() of an iterable dataset, to warn on overrun
        self._persistent = None
        self._initialized = True

    def __setattr__(self, attr, value) -> None:
        frozen = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset")
        if getattr(self, "_initialized", False) and attr in (*frozen, "persistent_workers"):
            raise ValueError(errors.FROZEN_ATTRIBUTE.format(attr=attr, cls=type(self).__name__))
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._persistent is None:
                self._persistent = _LoaderIterator(self)
            else:
                self._persistent._restart()
            return self._persistent
        return _LoaderIterator(self)

    def __len__(self) -> int:
        if not self._iterable:
            return len(self._index_sampler)
        length = self._length_reported = len(self.dataset)
        if self.batch_size is None:
            return length
        if self.drop_last:
            return length // self.batch_size
        return math.ceil(length / self.batch_size)


def _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers) -> None:
    if num_workers < 0:
        raise ValueError(
            "num_workers option should be non-negative; use num_workers=0 to disable "
            "multiprocessing."
        )
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError(
            "prefetch_factor option could only be specified in multiprocessing.let "
            "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
        )
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")


def _check_iterable_options(shuffle, sampler, batch_sampler) -> None:
    if shuffle not in (False, None):
        raise ValueError(
            "DataLoader with IterableDataset: expected unspecified shuffle option, but got "
            f"shuffle={shuffle}"
        )
    if sampler is not None:
        raise ValueError(
            "DataLoader with IterableDataset: expected unspecified sampler option, but got "
            f"sampler={sampler}"
        )
    if batch_sampler is not None:
        raise ValueError(
            "DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
            f"got batch_sampler={batch_sampler}"
        )


# ---------------------------------------------------------------- fetching one batch
def _tensor_rows(dataset, indices):
    """(tensors, row indices) when the batch can be gathered at once: a TensorDataset (or
    Subsets of one) whose tensors do not require grad; else None."""
    while type(dataset) is Subset:
        indices = [dataset.indices[i] for i in indices]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset or any(t.requires_grad for t in dataset.tensors):
        return None
    return dataset.tensors, indices


def _fetch_map(loader: DataLoader, index):
    dataset = loader.dataset
    if not loader._auto_collation:
        return loader.collate_fn(dataset[index])
    if loader.collate_fn is default_collate:
        rows = _tensor_rows(dataset, index)
        if rows is not None:  # what default_collate of the samples would stack
            tensors, indices = rows
            where = tensor(indices)
            return [t[where] for t in tensors]
    getitems = getattr(dataset, "__getitems__", None)
    samples = getitems(index) if getitems else [dataset[i] for i in index]
    return loader.collate_fn(samples)


class _Worker:
    """One emulated worker: its info, its generator state and (iterable datasets) its
    iterator over the dataset."""

    def __init__(self, loader: DataLoader, wid: int, base_seed: int):
        self.info = WorkerInfo(wid, loader.num_workers, base_seed + wid, loader.dataset)
        self.rng = Generator().manual_seed(base_seed + wid).get_state()
        self.iterator = None
        self.ended = False
        with self.active():
            if loader.worker_init_fn is not None:
                loader.worker_init_fn(wid)
            if loader._iterable:
                self.iterator = iter(loader.dataset)

    def active(self):
        return _WorkerContext(self)


class _WorkerContext:
    """Makes a worker current: `get_worker_info()` returns its info and the default
    generator draws from its stream, as in PyTorch's worker process."""

    def __init__(self, worker: _Worker):
        self.worker = worker

    def __enter__(self):
        global _worker_info
        self.saved = (_worker_info, default_generator.get_state())
        _worker_info = self.worker.info
        default_generator.set_state(self.worker.rng)

    def __exit__(self, *exc):
        global _worker_info
        self.worker.rng = default_generator.get_state()
        _worker_info, state = self.saved
        default_generator.set_state(state)


class _LoaderIterator:
    """One pass over a DataLoader (several passes with persistent workers)."""

    def __init__(self, loader: DataLoader):
        self.loader = loader
        self._sampler_iter = iter(loader._index_sampler)
        gen = loader.generator or default_generator
        self._base_seed = sampling.random_int64(gen)
        self._workers = [_Worker(loader, w, self._base_seed) for w in range(loader.num_workers)]
        single = loader._iterable and not self._workers
        self._dataset_iter = iter(loader.dataset) if single else None
        self._task = 0
        self._yielded = 0

    def _restart(self) -> None:
        self._sampler_iter = iter(self.loader._index_sampler)
        self._yielded = 0
        if self.loader._iterable:
            for w in self._workers:
                with w.active():
                    w.iterator, w.ended = iter(self.loader.dataset), False

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self.loader._index_sampler)

    def __next__(self):
        data = self._next_data()
        self._yielded += 1
        reported = self.loader._length_reported
        if self.loader._iterable and reported is not None and self._yielded > reported:
            warnings.warn(
                f"Length of IterableDataset {self.loader.dataset} was reported to be "
                f"{reported}(when accessing len(dataloader)), but {self._yielded} samples "
                "have been fetched. ",
                stacklevel=2,
            )
        return data

    def _next_data(self):
        if not self._workers:
            return self._fetch(next(self._sampler_iter), self._dataset_iter)
        while True:
            live = [w for w in self._workers if not w.ended]
            if not live:
                raise StopIteration
            index = next(self._sampler_iter)  # before the worker: PyTorch's cycle order
            worker = live[self._task % len(live)]
            self._task += 1
            with worker.active():
                try:
                    return self._fetch(index, worker.iterator)
                except StopIteration:
                    if not self.loader._iterable:
                        raise
                    worker.ended = True

    def _fetch(self, index, iterator):
        loader = self.loader
        if not loader._iterable:
            return _fetch_map(loader, index)
        if not loader._auto_collation:
            return loader.collate_fn(next(iterator))
        samples = []
        for _ in index:
            try:
                samples.append(next(iterator))
            except StopIteration:
                break
        if not samples or (loader.drop_last and len(samples) < len(index)):
            raise StopIteration
        return loader.collate_fn(samples)
