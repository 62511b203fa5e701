"""`funcgrad.tape.utils.data`: PyTorch's `torch.utils.data` for tape tensors.

Datasets (`Dataset`, `IterableDataset`, `TensorDataset`, `Subset`, `ConcatDataset`,
`ChainDataset`, `random_split`), samplers (`SequentialSampler`, `RandomSampler`,
`SubsetRandomSampler`, `BatchSampler`), `default_collate` / `default_convert`, and
`DataLoader`. Shuffles and splits draw from the tape's generators with PyTorch's
algorithms, so a seeded program sees PyTorch's batches.

Example:
    >>> import funcgrad.tape as torch
    >>> from funcgrad.tape.utils.data import DataLoader, TensorDataset
    >>> x, y = torch.arange(12.0).reshape(6, 2), torch.arange(6)
    >>> [yb.tolist() for _, yb in DataLoader(TensorDataset(x, y), batch_size=4)]
    [[0, 1, 2, 3], [4, 5]]
"""

from .collate import default_collate as default_collate, default_convert as default_convert
from .dataloader import (
    DataLoader as DataLoader,
    WorkerInfo as WorkerInfo,
    get_worker_info as get_worker_info,
)
from .dataset import (
    ChainDataset as ChainDataset,
    ConcatDataset as ConcatDataset,
    Dataset as Dataset,
    IterableDataset as IterableDataset,
    Subset as Subset,
    TensorDataset as TensorDataset,
    random_split as random_split,
)
from .sampler import (
    BatchSampler as BatchSampler,
    RandomSampler as RandomSampler,
    Sampler as Sampler,
    SequentialSampler as SequentialSampler,
    SubsetRandomSampler as SubsetRandomSampler,
)

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "IterableDataset",
    "random_split",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WorkerInfo",
]
