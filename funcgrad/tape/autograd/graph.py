"""`torch.autograd.graph`: hooks on what the graph saves, and the version counter.

`saved_tensors_hooks` (saved_hooks.py) packs and unpacks every tensor a node saves;
`save_on_cpu` is PyTorch's ready-made pair that keeps saved tensors in host memory (on a
GPU, `tensor.cpu()` is a `jax.device_put` to the CPU device) and moves them back at
backward; `increment_version` bumps a tensor's version as an in-place write would.

What it does not hold: `Node`, `GradientEdge` and the graph-walking helpers of PyTorch's
module (a node's own methods are in engine.py).
"""

from __future__ import annotations

from ..saved_hooks import saved_tensors_hooks

__all__ = ["increment_version", "save_on_cpu", "saved_tensors_hooks"]


def increment_version(tensor) -> None:
    """Bumps the version counter of a tensor (or of each tensor in a list or tuple), as an
    in-place write would: graphs that saved it then fail their backward, and its views are
    recomputed (PyTorch's `torch.autograd.graph.increment_version`).

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.ones(2)
        >>> torch.autograd.graph.increment_version(x)
        >>> x._version
        1
    """
    for t in tensor if isinstance(tensor, (list, tuple)) else (tensor,):
        t._vc.value += 1


def _pack_to_cpu(tensor):
    return (tensor.device, tensor.cpu())


def _unpack_from_cpu(packed):
    device, tensor = packed
    return tensor.to(device)


class save_on_cpu(saved_tensors_hooks):  # noqa: N801 - PyTorch's name
    """Context manager: tensors saved for backward inside it are kept on the CPU and moved
    back to their device when backward needs them (on the CPU, they are kept as they are).

    Args:
      pin_memory: Optional, bool. PyTorch's page-locked copy; JAX manages host memory, so
        it changes nothing here.
      device_type: Optional, str. The accelerator's name, as in PyTorch.

    Example:
        >>> import funcgrad.tape as torch
        >>> x = torch.ones(3, requires_grad=True)
        >>> with torch.autograd.graph.save_on_cpu():
        ...     y = (x * x).sum()
        >>> y.backward()
        >>> x.grad
        tensor([2., 2., 2.])
    """

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        del pin_memory, device_type  # device_put to the host is all there is on JAX
        super().__init__(_pack_to_cpu, _unpack_from_cpu)
