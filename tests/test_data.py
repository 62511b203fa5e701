"""funcgrad.tape.utils.data against torch.utils.data (real PyTorch).

Each test builds the same dataset for both libraries, iterates, and compares every batch
(structure, container types, tensor values and dtype kinds), the random state afterwards
(a seeded shuffle must draw what PyTorch draws), and errors and warnings (type and text).
"""

from __future__ import annotations

import collections
import random
import re
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from torch_twin import raises, twin

import funcgrad.tape as tape
import funcgrad.tape.utils.data as fud

Point = collections.namedtuple("Point", ["x", "y"])


def plain(x):
    """Batches in library-neutral form: tensors as (dtype kind, values), containers kept."""
    if isinstance(x, (torch.Tensor, tape.Tensor)):
        value = np.asarray(x.detach().numpy())
        kind = "int" if value.dtype.kind in "iu" else value.dtype.kind
        return ("tensor", kind, value.shape, value.astype(np.float64).tolist())
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, *(plain(v) for v in x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    return x


def rng_state(lib):
    return np.asarray(lib.get_rng_state().numpy()).tolist()


def same_run(make, *, seed=0, epochs=2):
    """Runs make(lib, data_module) -> loader for both libraries from the same seed; compares
    the batches of each epoch and the generator state after them."""
    runs = []
    for lib, data in ((torch, tud), (tape, fud)):
        lib.manual_seed(seed)
        loader = make(lib, data)
        batches = [[plain(b) for b in loader] for _ in range(epochs)]
        runs.append((batches, rng_state(lib), _length(loader)))
    assert runs[1][0] == runs[0][0]
    assert runs[1][2] == runs[0][2]
    assert runs[1][1] == runs[0][1], "the random stream diverged"
    return runs[0][0]


def _length(loader):
    try:
        return len(loader)
    except TypeError as e:
        return str(e)


X = np.arange(40, dtype=np.float32).reshape(20, 2)
Y = np.arange(20) % 3


def tensor_dataset(lib, data):
    return data.TensorDataset(lib.tensor(X), lib.tensor(Y))


@pytest.mark.parametrize("seed", [0, 1, 123, 2**40])
@pytest.mark.parametrize("batch_size", [1, 3, 7, 20, 32])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_batches_and_stream_match_torch(seed, batch_size, drop_last):
    batches = same_run(
        lambda lib, data: data.DataLoader(
            tensor_dataset(lib, data), batch_size=batch_size, shuffle=True, drop_last=drop_last
        ),
        seed=seed,
    )
    assert batches[0] != batches[1] or len(batches[0]) <= 1  # a new order every epoch


def test_generator_argument_drives_the_shuffle_like_torch():
    def make(lib, data):
        g = lib.Generator().manual_seed(7)
        return data.DataLoader(tensor_dataset(lib, data), batch_size=6, shuffle=True, generator=g)

    same_run(make)


def test_sequential_loading_and_batch_size_none_match_torch():
    same_run(lambda lib, data: data.DataLoader(tensor_dataset(lib, data), batch_size=6))
    same_run(lambda lib, data: data.DataLoader(tensor_dataset(lib, data), batch_size=None))


def test_subset_of_tensor_dataset_and_random_split_match_torch():
    def make(lib, data):
        train, _ = data.random_split(tensor_dataset(lib, data), [0.8, 0.2])
        return data.DataLoader(train, batch_size=5, shuffle=True)

    same_run(make)

    def with_lengths(lib, data):
        parts = data.random_split(
            list(range(10)), [3, 3, 4], generator=lib.Generator().manual_seed(1)
        )
        return [list(p) for p in parts]

    assert with_lengths(tape, fud) == with_lengths(torch, tud)


def test_random_split_fractions_and_errors_match_torch():
    def prog(lib):
        data = fud if lib is tape else tud
        lib.manual_seed(3)
        parts = [list(p) for p in data.random_split(range(11), [0.5, 0.3, 0.2])]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            empty = [list(p) for p in data.random_split(range(2), [0.5, 0.5, 0.0])]
        return (
            parts,
            empty,
            [str(w.message) for w in caught],
            raises(data.random_split, range(5), [2, 2]),
            raises(data.random_split, range(5), [1.5, -0.5]),
        )

    twin(prog)


class Squares(tud.Dataset, fud.Dataset):
    """A map-style dataset of mixed sample types (usable by both libraries)."""

    def __init__(self, lib, kind):
        self.lib, self.kind = lib, kind

    def __len__(self):
        return 7

    def __getitem__(self, i):
        lib = self.lib
        samples = {
            "tensor": lambda: lib.tensor([i, i * i], dtype=lib.float32),
            "numpy": lambda: np.array([i, 2 * i], dtype=np.float32),
            "numpy_int": lambda: np.arange(i, i + 3),
            "numpy_scalar": lambda: np.float32(i) / 2,
            "int": lambda: i,
            "bool": lambda: i % 2 == 0,
            "str": lambda: f"item{i}",
            "dict": lambda: {"x": lib.tensor([float(i)]), "label": i, "name": str(i)},
            "namedtuple": lambda: Point(lib.tensor(float(i)), i),
            "list": lambda: [lib.tensor(float(i)), i, [i, i + 1]],
            "tuple": lambda: (lib.tensor([i]), np.int64(i)),
        }
        return samples[self.kind]()


@pytest.mark.parametrize(
    "kind",
    [
        "tensor",
        "numpy",
        "numpy_int",
        "numpy_scalar",
        "int",
        "bool",
        "str",
        "dict",
        "namedtuple",
        "list",
        "tuple",
    ],
)
def test_default_collate_matches_torch(kind):
    same_run(lambda lib, data: data.DataLoader(Squares(lib, kind), batch_size=3, shuffle=True))
    same_run(lambda lib, data: data.DataLoader(Squares(lib, kind), batch_size=None))


def test_python_floats_collate_to_a_float64_request():
    batch = fud.default_collate([0.5, 1.5])
    ref = tud.default_collate([0.5, 1.5])
    np.testing.assert_array_equal(batch.numpy(), ref.numpy())
    assert batch.dtype == tape.tensor([0.5], dtype=tape.float64).dtype


def test_collate_errors_match_torch():
    def prog(lib):
        data = fud if lib is tape else tud
        return (
            raises(data.default_collate, [object(), object()]),
            raises(data.default_collate, [[1, 2], [3]]),
            raises(data.default_collate, [np.array(["a"]), np.array(["b"])]),
        )

    expected, actual = (
        [plain_raised(r) for r in prog(torch)],
        [plain_raised(r) for r in prog(tape)],
    )
    assert actual == expected


def plain_raised(r):
    return (r.type, r.message.split(" at 0x")[0])


def test_custom_collate_fn_sampler_and_batch_sampler_match_torch():
    def collate(batch):
        return sum(int(y) for _, y in batch)

    same_run(
        lambda lib, data: data.DataLoader(
            tensor_dataset(lib, data), batch_size=4, shuffle=True, collate_fn=collate
        )
    )
    same_run(
        lambda lib, data: data.DataLoader(
            tensor_dataset(lib, data),
            batch_size=4,
            sampler=data.SubsetRandomSampler(list(range(0, 20, 2))),
        )
    )
    same_run(
        lambda lib, data: data.DataLoader(
            tensor_dataset(lib, data),
            batch_sampler=data.BatchSampler(data.RandomSampler(range(20)), 6, drop_last=True),
        )
    )
    same_run(
        lambda lib, data: data.DataLoader(
            tensor_dataset(lib, data),
            batch_size=5,
            sampler=data.RandomSampler(range(20), replacement=True, num_samples=37),
        )
    )


def test_concat_dataset_and_subset_match_torch():
    def make(lib, data):
        a, b = tensor_dataset(lib, data), data.Subset(tensor_dataset(lib, data), [3, 1, 4])
        both = a + b
        return data.DataLoader(data.ConcatDataset([both, b]), batch_size=8, shuffle=True)

    same_run(make)

    def prog(lib):
        data = fud if lib is tape else tud
        c = data.ConcatDataset([[1, 2], [3, 4, 5]])
        return (
            len(c),
            c[-1],
            c[2],
            c.cumulative_sizes,
            raises(lambda: c[-6]),
            raises(data.ConcatDataset, []),
            raises(data.TensorDataset, lib.zeros(3), lib.zeros(4)),
        )

    twin(prog)


class Stream(tud.IterableDataset, fud.IterableDataset):
    """An iterable dataset that shards itself by worker, as PyTorch's docs show."""

    def __init__(self, lib, data, n=11):
        self.lib, self.data, self.n = lib, data, n

    def __iter__(self):
        info = self.data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(start, self.n, step):
            yield self.lib.tensor([float(i)])

    def __len__(self):
        return self.n


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("batch_size", [None, 4])
def test_iterable_dataset_with_workers_matches_torch(workers, batch_size):
    same_run(
        lambda lib, data: data.DataLoader(
            Stream(lib, data), batch_size=batch_size, num_workers=workers
        ),
        epochs=1,
    )


class NoisySquares(tud.Dataset, fud.Dataset):
    """Draws from the default generator in __getitem__: in a worker, from its own stream."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 10

    def __getitem__(self, i):
        info = fud.get_worker_info() if self.lib is tape else tud.get_worker_info()
        worker = -1 if info is None else info.id
        return self.lib.tensor([float(i)]) + self.lib.rand(1), worker


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("persistent", [False, True])
def test_worker_random_streams_and_order_match_torch(workers, persistent):
    if persistent and not workers:
        return
    same_run(
        lambda lib, data: data.DataLoader(
            NoisySquares(lib),
            batch_size=3,
            shuffle=True,
            num_workers=workers,
            persistent_workers=persistent,
        ),
        epochs=2,
    )


def test_worker_init_fn_runs_per_worker_with_its_info():
    torch.manual_seed(5)
    base_seed = int(torch.empty((), dtype=torch.int64).random_().item())  # PyTorch's draw
    seen = []

    def init(worker_id):
        info = fud.get_worker_info()
        seen.append((worker_id, info.id, info.num_workers, info.seed - base_seed))

    tape.manual_seed(5)
    ds = tensor_dataset(tape, fud)
    loader = fud.DataLoader(ds, batch_size=4, num_workers=2, worker_init_fn=init)
    assert len(list(loader)) == 5
    assert seen == [(0, 0, 2, 0), (1, 1, 2, 1)]
    assert fud.get_worker_info() is None


def test_dataloader_errors_match_torch():
    def prog(lib):
        data = fud if lib is tape else tud
        ds = data.TensorDataset(lib.zeros(4))
        stream = Stream(lib, data)
        loader = data.DataLoader(ds, batch_size=2)
        return [
            raises(data.DataLoader, ds, num_workers=-1),
            raises(data.DataLoader, ds, timeout=-1),
            raises(data.DataLoader, ds, prefetch_factor=2),
            raises(data.DataLoader, ds, persistent_workers=True),
            raises(data.DataLoader, ds, sampler=[0, 1], shuffle=True),
            raises(data.DataLoader, ds, batch_sampler=[[0]], batch_size=2),
            raises(data.DataLoader, ds, batch_size=None, drop_last=True),
            raises(data.DataLoader, stream, shuffle=True),
            raises(data.DataLoader, ds, batch_size=0),
            raises(data.DataLoader, ds, batch_size=2, drop_last=1),
            raises(setattr, loader, "batch_size", 3),
            raises(data.RandomSampler, ds, num_samples=0),
            raises(data.RandomSampler, ds, replacement=1),
            raises(lambda: data.Dataset()[0]),
        ]

    twin(prog)


def test_iterable_length_overrun_warns_like_torch():
    def prog(lib):
        data = fud if lib is tape else tud

        class Liar(Stream):
            def __len__(self):
                return 2

        loader = data.DataLoader(Liar(lib, data, n=3), batch_size=None)
        n = len(loader)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            count = len(list(loader))
        return n, count, [re.sub(" at 0x[0-9a-f]+", "", str(w.message)) for w in caught]

    twin(prog)


def test_tensor_dataset_fast_path_gives_the_per_sample_batches():
    ds = tensor_dataset(tape, fud)
    fast = list(fud.DataLoader(ds, batch_size=6))
    slow = list(fud.DataLoader(ds, batch_size=6, collate_fn=lambda b: fud.default_collate(b)))
    assert [plain(b) for b in fast] == [plain(b) for b in slow]


def test_loaders_reachable_as_torch_utils_data():
    assert tape.utils.data.DataLoader is fud.DataLoader
    random.seed(0)  # the loader does not touch Python's random module
    before = random.random()
    random.seed(0)
    list(fud.DataLoader(tensor_dataset(tape, fud), batch_size=4, shuffle=True))
    assert random.random() == before
