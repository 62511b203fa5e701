"""`save` and `load`: PyTorch's `torch.save` / `torch.load` for the tape, weights only.

`save(obj, f)` writes PyTorch's zip format (`funcgrad.checkpoint`), so real PyTorch reads
the file with `torch.load(f, weights_only=True)`: a state dict, an optimizer's state dict,
a tensor, or dicts, lists and tuples of them with numbers, strings, bytes and None.
`load(f)` reads such a file, whether funcgrad or PyTorch wrote it (also PyTorch's legacy
format and `.safetensors` files), and gives tape tensors: a `model.load_state_dict(
torch.load("weights.pth"))` written for PyTorch runs unchanged.

Loading never runs code from the file (`weights_only=True` in every case): a checkpoint
that pickles other objects (a whole module, a custom class, `os.system`) is refused with
PyTorch's "Weights only load failed" error.

What this module does not do: save arbitrary Python objects (PyTorch pickles them; here
they are refused), `map_location` devices (tensors are created on JAX's default device),
or `mmap` (the file is read into memory).
"""

from __future__ import annotations

import numpy as np

from .. import checkpoint
from . import errors
from .creation import tensor
from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = ["load", "save"]


def _describe(obj):
    if isinstance(obj, Tensor):
        return np.asarray(obj._value()), bool(obj.requires_grad), isinstance(obj, Parameter)
    return None


def _rebuild(array: np.ndarray, requires_grad: bool):
    out = tensor(array, dtype=array.dtype)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _parameter(data: Tensor, requires_grad: bool):
    return Parameter(data, requires_grad=requires_grad)


def save(obj, f, pickle_module=None, pickle_protocol: int = 2, **_options) -> None:
    """Saves `obj` to a path or binary file in PyTorch's checkpoint format.

    Args:
      obj: tensors, numbers, strings, bytes, None, and dicts (e.g. `state_dict()`),
        OrderedDicts, lists, tuples and sets of them.
      f: a path, or a binary file object.
      pickle_module, pickle_protocol: Accepted for compatibility (the file is always
        protocol 2, as PyTorch writes it).

    Example:
        >>> import io
        >>> import funcgrad.tape as torch
        >>> buffer = io.BytesIO()
        >>> torch.save({"w": torch.tensor([1.0, 2.0]), "step": 3}, buffer)
        >>> _ = buffer.seek(0)
        >>> torch.load(buffer)
        {'w': tensor([1., 2.]), 'step': 3}
    """
    checkpoint.save(obj, f, describe=_describe)


def load(
    f,
    map_location=None,
    pickle_module=None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **_pickle_load_args,
):
    """Loads what `save` or PyTorch's `torch.save` wrote (or a `.safetensors` file).

    Args:
      f: a path, or a binary file object.
      map_location: Accepted for compatibility; tensors go to JAX's default device.
      pickle_module: Must be None: loading is weights only.
      weights_only: Accepted; loading is weights only whatever its value (funcgrad never
        runs code from a file).
      mmap: Accepted; the file is read into memory.

    Returns:
      The saved object with tape tensors (`nn.Parameter` objects where they were saved).

    Example:
        >>> import io
        >>> import funcgrad.tape as torch
        >>> model = torch.nn.Linear(2, 1)
        >>> buffer = io.BytesIO()
        >>> torch.save(model.state_dict(), buffer)
        >>> _ = buffer.seek(0)
        >>> twin = torch.nn.Linear(2, 1)
        >>> twin.load_state_dict(torch.load(buffer))
        <All keys matched successfully>
        >>> bool((twin.weight == model.weight).all())
        True
    """
    if pickle_module is not None:
        raise RuntimeError(errors.EXPLICIT_PICKLE_MODULE)
    return checkpoint.load(f, rebuild=_rebuild, parameter=_parameter)
