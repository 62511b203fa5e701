"""`funcgrad.checkpoint`: PyTorch checkpoints and safetensors files, as numpy, with weights
only; for both paradigms (it does not import the tape).

`load(f)` reads what `torch.save` wrote (the zip format, or the legacy one) or a
`.safetensors` file, never running code from the file: tensors come back as numpy arrays
(or whatever `rebuild` makes of them), containers and numbers as they were. `save(obj, f)`
writes PyTorch's zip format, which `torch.load(f, weights_only=True)` reads; numpy and JAX
arrays (and anything `describe` recognises) are saved as tensors.
`funcgrad.tape.load` / `funcgrad.tape.save` are these with tape tensors.

Example:
    >>> import io, numpy as np
    >>> from funcgrad import checkpoint
    >>> f = io.BytesIO()
    >>> checkpoint.save({"w": np.ones(2, np.float32), "epoch": 3}, f)
    >>> checkpoint.load(io.BytesIO(f.getvalue()))
    {'w': array([1., 1.], dtype=float32), 'epoch': 3}
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from . import safetensors_format, torch_format

__all__ = ["load", "safetensors_format", "save", "torch_format"]

NOT_A_CHECKPOINT = (
    "invalid load key, {key!r}.\n[funcgrad] {what} is not a PyTorch checkpoint (torch.save's "
    "zip or legacy format) nor a .safetensors file."
)


def _read_bytes(f) -> tuple[bytes, str]:
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as stream:
            return stream.read(), os.fspath(f)
    return f.read(), "the file"


def _keep(array, requires_grad):
    return array


def load(f, rebuild=None, parameter=None):
    """The object in a PyTorch checkpoint or safetensors file, with weights only.

    Args:
      f: a path, or a binary file object.
      rebuild: Optional. Called as rebuild(array, requires_grad) for every tensor; the
        default keeps the numpy array.
      parameter: Optional. Called as parameter(tensor, requires_grad) on what `rebuild`
        made of an `nn.Parameter`; the default keeps it.

    Returns:
      The saved object; a safetensors file gives a dict of its tensors by name.
    """
    rebuild, parameter = rebuild or _keep, parameter or _keep
    data, what = _read_bytes(f)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return torch_format.read_zip(data, rebuild, parameter)
    if safetensors_format.looks_like_safetensors(data) or what.endswith(".safetensors"):
        arrays = safetensors_format.read(data)
        return {name: rebuild(array, False) for name, array in arrays.items()}
    if data[:2] == b"\x80\x02":
        return torch_format.read_legacy(data, rebuild, parameter)
    key = data[:1].decode("latin1") if data else ""
    raise pickle.UnpicklingError(NOT_A_CHECKPOINT.format(key=key, what=what))


def _describe_arrays(obj):
    if isinstance(obj, np.ndarray) or (hasattr(obj, "__array__") and hasattr(obj, "dtype")):
        return np.asarray(obj), False, False
    return None


def save(obj, f, describe=None) -> None:
    """Writes `obj` in PyTorch's zip format (what `torch.save` writes).

    Args:
      obj: tensors (numpy or JAX arrays, or what `describe` recognises), numbers, strings,
        bytes, None, and dicts, OrderedDicts, lists, tuples and sets of them.
      f: a path, or a binary file object.
      describe: Optional. Returns (numpy array, requires_grad, is_parameter) for a tensor,
        None otherwise; numpy and JAX arrays are tensors in any case.
    """
    name = "archive"
    if isinstance(f, (str, os.PathLike)):
        name = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"

    def describe_any(x):
        found = describe(x) if describe is not None else None
        return found if found is not None else _describe_arrays(x)

    torch_format.write_zip(obj, f, name, describe_any)
