"""Weight layouts between PyTorch, the tape and Flax, in one place.

The tape uses PyTorch's layouts, so PyTorch <-> tape is only a change of array type
(`load_state_dict` accepts a real PyTorch state dict). Flax differs in the array layouts
(activations, conv kernels, linear weights: the table in `funcgrad.convert`) and in the
names of what layers hold:

=================  ============================  ===========================
what               PyTorch / tape                Flax (linen)
=================  ============================  ===========================
batch norm         weight, bias,                 params scale, bias;
                   running_mean, running_var     batch_stats mean, var
embedding          weight (num, dim)             params embedding (num, dim)
=================  ============================  ===========================

The layout functions are `funcgrad.convert`'s (re-exported here): they accept numpy, jax or
torch arrays and tape tensors, and return the same kind. `to_flax` / `from_flax_variables`
convert a whole tape module given a map from its submodule names to Flax module paths.
Flax's own BatchNorm momentum and running-variance conventions differ from PyTorch's; only
the stored values are converted here.
"""

from __future__ import annotations

from collections import OrderedDict

import jax.numpy as jnp

from ...convert import (
    hwio_to_oihw as hwio_to_oihw,
    kernel_to_linear as kernel_to_linear,
    linear_to_kernel as linear_to_kernel,
    nchw_to_nhwc as nchw_to_nhwc,
    nhwc_to_nchw as nhwc_to_nchw,
    oihw_to_hwio as oihw_to_hwio,
)
from .._convert import to_array
from .layers import Conv2d, Embedding, Linear
from .module import Module
from .normalization import _BatchNorm

__all__ = [
    "from_flax_variables",
    "hwio_to_oihw",
    "kernel_to_linear",
    "linear_to_kernel",
    "nchw_to_nhwc",
    "nhwc_to_nchw",
    "oihw_to_hwio",
    "to_flax",
]


def _target(spec):
    path, chw = (spec, None) if isinstance(spec, str) else spec
    return tuple(p for p in path.split("/") if p), chw


def _put(tree, path, name, value):
    for p in path:
        tree = tree.setdefault(p, {})
    tree[name] = value


def _get(tree, path, name):
    for p in path:
        tree = tree[p]
    return tree[name]


def to_flax(module: Module, names: dict) -> dict:
    """Flax variables ({'params': ..., 'batch_stats': ...}) from a tape module's weights.

    Args:
      module: a tape module (weights in PyTorch layout).
      names: tape submodule name -> Flax module path ('Conv_0', or 'Block_0/Dense_1'), or
        -> (path, (C, H, W)) for a Linear that reads a flattened NCHW feature map.

    Returns:
      A nested dict of jax arrays, ready for `flax_module.apply(variables, x_nhwc)`.

    Example:
        >>> from funcgrad.tape import nn
        >>> v = nn.convert.to_flax(nn.Sequential(nn.Linear(3, 2)), {"0": "Dense_0"})
        >>> v["params"]["Dense_0"]["kernel"].shape
        (3, 2)
    """
    variables: dict = {}
    for tape_name, spec in names.items():
        layer = module.get_submodule(tape_name)
        path, chw = _target(spec)
        for collection, name, value in _layer_to_flax(layer, chw):
            _put(variables.setdefault(collection, {}), path, name, jnp.asarray(value))
    return variables


def _layer_to_flax(layer, chw):
    data = {k: v._data for k, v in layer.state_dict().items()}
    if isinstance(layer, Linear):
        yield "params", "kernel", linear_to_kernel(data["weight"], chw)
    elif isinstance(layer, Conv2d):
        yield "params", "kernel", oihw_to_hwio(data["weight"])
    elif isinstance(layer, Embedding):
        yield "params", "embedding", data["weight"]
    elif isinstance(layer, _BatchNorm):
        if "weight" in data:
            yield "params", "scale", data["weight"]
        if "running_mean" in data:
            yield "batch_stats", "mean", data["running_mean"]
            yield "batch_stats", "var", data["running_var"]
    else:
        raise TypeError(f"no Flax layout is known for {type(layer).__name__}")
    if "bias" in data:
        yield "params", "bias", data["bias"]


def from_flax_variables(module: Module, variables: dict, names: dict) -> OrderedDict:
    """A tape state dict (PyTorch layout) from Flax variables; the inverse of `to_flax`.

    Keys that Flax has no counterpart for (BatchNorm's num_batches_tracked) keep the
    module's current values, so `module.load_state_dict(result)` loads strictly.

    Example:
        >>> from funcgrad.tape import nn
        >>> net = nn.Sequential(nn.Linear(3, 2))
        >>> sd = nn.convert.from_flax_variables(net, nn.convert.to_flax(net, {"0": "D"}),
        ...                                     {"0": "D"})
        >>> list(sd)
        ['0.weight', '0.bias']
    """
    out = OrderedDict((k, v._data) for k, v in module.state_dict().items())
    for tape_name, spec in names.items():
        layer = module.get_submodule(tape_name)
        path, chw = _target(spec)
        prefix = tape_name + "." if tape_name else ""

        def params(name, path=path):
            return to_array(_get(variables["params"], path, name))

        if isinstance(layer, Linear):
            out[prefix + "weight"] = kernel_to_linear(params("kernel"), chw)
        elif isinstance(layer, Conv2d):
            out[prefix + "weight"] = hwio_to_oihw(params("kernel"))
        elif isinstance(layer, Embedding):
            out[prefix + "weight"] = params("embedding")
        elif isinstance(layer, _BatchNorm):
            if layer.affine:
                out[prefix + "weight"] = params("scale")
            if layer.track_running_stats:
                stats = variables["batch_stats"]
                out[prefix + "running_mean"] = to_array(_get(stats, path, "mean"))
                out[prefix + "running_var"] = to_array(_get(stats, path, "var"))
        else:
            raise TypeError(f"no Flax layout is known for {type(layer).__name__}")
        if getattr(layer, "bias", None) is not None:
            out[prefix + "bias"] = params("bias")
    return out
