"""`nn.DataParallel` (also `nn.parallel.DataParallel`): PyTorch's wrapper, as a pass-through.

PyTorch's `DataParallel` replicates the module on every GPU, scatters the batch, and
gathers the outputs; the result is the module's own output, so here the wrapper calls the
module on the whole batch on one device. What stays PyTorch's is its layout: the wrapped
model is `.module`, its state dict's keys start with `module.`, and `device_ids` is `[]`
without a GPU (with JAX GPUs: the given ids, or all of them, with `output_device` and
`dim`), so code that saves, loads or unwraps a `DataParallel` model runs unchanged.

What this module does not do: split a batch across devices (on the functional side, shard
the batch with `jax.sharding` under `jax.jit`), or `DistributedDataParallel`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax

from .module import Module

__all__ = ["DataParallel"]


def _gpu_count() -> int:
    try:
        return len(jax.devices("gpu"))
    except RuntimeError:
        return 0


def _device_index(device) -> int:
    """A device's index: an int as it is, a device's `.index`, or the n of "cuda:n"."""
    if isinstance(device, int):
        return device
    index = getattr(device, "index", None)
    if index is not None:
        return int(index)
    return int(str(device).partition(":")[2] or 0)


class DataParallel(Module):
    """Wraps `module` with PyTorch's `DataParallel` interface; runs it on the whole batch.

    Args:
      module: the model.
      device_ids: Optional. GPU indices (or devices); recorded as PyTorch records them.
      output_device: Optional. Where outputs would be gathered (default `device_ids[0]`).
      dim: Optional. The batch dimension PyTorch would scatter along (default 0).

    Example:
        >>> import funcgrad.tape as torch
        >>> model = torch.nn.DataParallel(torch.nn.Linear(2, 3))
        >>> list(model.state_dict())
        ['module.weight', 'module.bias']
        >>> model(torch.ones(4, 2)).shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        module: Module,
        device_ids: Sequence | None = None,
        output_device=None,
        dim: int = 0,
    ) -> None:
        super().__init__()
        gpus = _gpu_count()
        if gpus == 0:  # PyTorch without an accelerator: a plain wrapper
            self.module = module
            self.device_ids = []
            return
        ids = list(range(gpus)) if device_ids is None else list(device_ids)
        self.dim = dim
        self.module = module
        self.device_ids = [_device_index(d) for d in ids]
        self.output_device = _device_index(ids[0] if output_device is None else output_device)

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
