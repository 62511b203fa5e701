"""Weight layouts between PyTorch, the tape and Flax, in one place.

The tape uses PyTorch's layouts, so PyTorch <-> tape is only a change of array type
(`load_state_dict` accepts a real PyTorch state dict). Flax differs:

=================  ============================  ===========================
what               PyTorch / tape                Flax (linen)
=================  ============================  ===========================
activations        NCHW                          NHWC
conv kernel        OIHW  (out, in, kh, kw)       HWIO  (kh, kw, in, out)
linear weight      (out, in), y = x W^T + b      kernel (in, out), y = x K + b
linear after a     columns in C, H, W order      rows in H, W, C order
conv flatten
batch norm         weight, bias,                 params scale, bias;
                   running_mean, running_var     batch_stats mean, var
embedding          weight (num, dim)             params embedding (num, dim)
=================  ============================  ===========================

The layout functions accept numpy, jax or torch arrays and tape tensors, and return the
same kind (on tape tensors they are differentiable ops). `to_flax` / `from_flax_variables`
convert a whole tape module given a map from its submodule names to Flax module paths.
Flax's own BatchNorm momentum and running-variance conventions differ from PyTorch's; only
the stored values are converted here.
"""

from __future__ import annotations

from collections import OrderedDict

import jax.numpy as jnp

from .layers import Conv2d, Embedding, Linear, _BatchNorm
from .module import Module, as_array


def _permute(x, axes):
    return x.permute(*axes) if hasattr(x, "permute") else x.transpose(axes)


def nchw_to_nhwc(x):
    """(N, C, H, W) -> (N, H, W, C). Example: `nchw_to_nhwc(np.zeros((2, 3, 4, 5))).shape`
    is (2, 4, 5, 3)."""
    return _permute(x, (0, 2, 3, 1))


def nhwc_to_nchw(x):
    """(N, H, W, C) -> (N, C, H, W)."""
    return _permute(x, (0, 3, 1, 2))


def oihw_to_hwio(w):
    """A PyTorch conv weight (out, in, kh, kw) -> a Flax conv kernel (kh, kw, in, out).

    Example:
        >>> import numpy as np
        >>> from funcgrad.tape.nn import convert
        >>> convert.oihw_to_hwio(np.zeros((8, 3, 5, 4))).shape
        (5, 4, 3, 8)
    """
    return _permute(w, (2, 3, 1, 0))


def hwio_to_oihw(k):
    """A Flax conv kernel (kh, kw, in, out) -> a PyTorch conv weight (out, in, kh, kw)."""
    return _permute(k, (3, 2, 0, 1))


def linear_to_kernel(w, input_chw: tuple[int, int, int] | None = None):
    """A PyTorch linear weight (out, in) -> a Flax Dense kernel (in, out).

    Args:
      w: the weight.
      input_chw: Optional. (C, H, W) when the layer reads a flattened conv feature map:
        PyTorch flattens NCHW in (C, H, W) order, Flax flattens NHWC in (H, W, C) order, so
        the input rows are permuted too.

    Example:
        >>> import numpy as np
        >>> from funcgrad.tape.nn import convert
        >>> convert.linear_to_kernel(np.zeros((10, 2 * 3 * 3)), input_chw=(2, 3, 3)).shape
        (18, 10)
    """
    if input_chw is None:
        return _permute(w, (1, 0))
    c, h, wd = input_chw
    out = w.shape[0]
    return _permute(w.reshape((out, c, h, wd)), (2, 3, 1, 0)).reshape((h * wd * c, out))


def kernel_to_linear(k, input_chw: tuple[int, int, int] | None = None):
    """A Flax Dense kernel (in, out) -> a PyTorch linear weight (out, in); the inverse of
    `linear_to_kernel` (same `input_chw`)."""
    if input_chw is None:
        return _permute(k, (1, 0))
    c, h, wd = input_chw
    out = k.shape[1]
    return _permute(k.reshape((h, wd, c, out)), (3, 2, 0, 1)).reshape((out, c * h * wd))


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
            return as_array(_get(variables["params"], path, name))

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
                out[prefix + "running_mean"] = as_array(_get(stats, path, "mean"))
                out[prefix + "running_var"] = as_array(_get(stats, path, "var"))
        else:
            raise TypeError(f"no Flax layout is known for {type(layer).__name__}")
        if getattr(layer, "bias", None) is not None:
            out[prefix + "bias"] = params("bias")
    return out
