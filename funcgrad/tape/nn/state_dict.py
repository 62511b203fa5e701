"""`Module.state_dict` and `Module.load_state_dict`, with PyTorch's key names and checks.

Loading rebinds each parameter's array in place (`Tensor._write`: the Parameter object
stays the same, so an optimizer that holds it keeps working), like PyTorch's
`param.copy_(value)`; values may be tape tensors, torch tensors, numpy or jax arrays.
The mixin reads the module's registries (`_parameters`, `_buffers`, `_modules`).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import jax

from .. import errors
from .._convert import to_array

__all__ = ["StateDictMixin"]

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictMixin:
    """Saving and loading a module's parameters and persistent buffers."""

    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict name -> tensor of parameters and persistent buffers, with PyTorch's
        key names. Values are detached (they alias the live arrays) unless keep_vars."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=out, prefix=prefix + name + ".", keep_vars=keep_vars)
        return out

    def load_state_dict(self, state_dict: Mapping, strict: bool = True, assign: bool = False):
        """Copies parameters and buffers from `state_dict` into this module.

        Values may be tape tensors, torch tensors (a real PyTorch `state_dict()`), numpy or
        jax arrays; each is cast to the dtype of the tensor it replaces.

        Args:
          state_dict: a mapping name -> value, with PyTorch's key names.
          strict: Optional, bool. Raise on missing or unexpected keys (default True).
          assign: Optional, bool. Accepted for PyTorch compatibility; values are always
            copied into the existing tensors.

        Returns:
          A named tuple (missing_keys, unexpected_keys).

        Example:
            >>> from funcgrad.tape import nn
            >>> a, b = nn.Linear(3, 2), nn.Linear(3, 2)
            >>> b.load_state_dict(a.state_dict())
            <All keys matched successfully>
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, error_msgs = [], [], []
        self._load(dict(state_dict), "", missing, unexpected, error_msgs)
        if strict:
            if unexpected:
                keys = ", ".join(f'"{k}"' for k in unexpected)
                error_msgs.insert(0, f"Unexpected key(s) in state_dict: {keys}. ")
            if missing:
                keys = ", ".join(f'"{k}"' for k in missing)
                error_msgs.insert(0, f"Missing key(s) in state_dict: {keys}. ")
        if error_msgs:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(error_msgs)
            )
        return _LoadResult(missing, unexpected)

    def _load(self, state_dict, prefix, missing, unexpected, error_msgs):
        local = {
            k: v
            for k, v in itertools.chain(
                self._parameters.items(),
                (
                    (k, v)
                    for k, v in self._buffers.items()
                    if k not in self._non_persistent_buffers_set
                ),
            )
            if v is not None
        }
        for name, tensor in local.items():
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
                continue
            value = to_array(state_dict[key], tensor.dtype)
            if value.shape != tensor._data.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape "
                    f"{errors.torch_size(value.shape)} from checkpoint, the shape in current "
                    f"model is {errors.torch_size(tensor.shape)}."
                )
                continue
            if not isinstance(tensor._data, jax.core.Tracer):
                value = jax.device_put(value, tensor._jax_device())
            tensor._write(value)
        for key in state_dict:
            if key.startswith(prefix):
                head, dot, _ = key[len(prefix) :].partition(".")
                if (dot and head not in self._modules) or (not dot and head not in local):
                    unexpected.append(key)
        for name, child in self._modules.items():
            if child is not None:
                sub = prefix + name + "."
                child._load(
                    {k: v for k, v in state_dict.items() if k.startswith(sub)},
                    sub,
                    missing,
                    unexpected,
                    error_msgs,
                )


class _LoadResult(_IncompatibleKeys):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()
