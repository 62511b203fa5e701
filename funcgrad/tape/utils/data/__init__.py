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

from .collate import default_collate as default_collate
from .collate import default_convert as default_convert
from .dataloader import DataLoader as DataLoader
from .dataloader import WorkerInfo as WorkerInfo
from .dataloader import get_worker_info as get_worker_info
from .dataset import ChainDataset as ChainDataset
from .dataset import ConcatDataset as ConcatDataset
from .dataset import Dataset as Dataset
from .dataset import IterableDataset as IterableDataset
from .dataset import Subset as Subset
from .dataset import TensorDataset as TensorDataset
from .dataset import random_split as random_split
from .sampler import BatchSampler as BatchSampler
from .sampler import RandomSampler as RandomSampler
from .sampler import Sampler as Sampler
from .sampler import SequentialSampler as SequentialSampler
from .sampler import SubsetRandomSampler as SubsetRandomSampler
