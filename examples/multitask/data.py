"""The digits data (bundled with scikit-learn), two tasks, and shared initial weights.

Task 1: is the digit even? Task 2: is it greater than 4? Images are 1x8x8 in [0, 1].
The initial weights are drawn once with numpy in PyTorch's layout (and PyTorch's default
uniform bounds), so the three forms start from the same network. `to_flax` and
`to_torch_names` move them between PyTorch's layout and the Flax models of functional.py.
"""

import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits

from funcgrad import convert

TRUNK_CHANNELS, FEATURES = (16, 32), 64
SHAPES = {  # PyTorch names and layouts of MultiTaskNet's parameters
    "trunk.0.weight": (16, 1, 3, 3), "trunk.0.bias": (16,),
    "trunk.2.weight": (32, 16, 3, 3), "trunk.2.bias": (32,),
    "trunk.6.weight": (FEATURES, 32 * 4 * 4), "trunk.6.bias": (FEATURES,),
    "even_head.weight": (2, FEATURES), "even_head.bias": (2,),
    "big_head.weight": (2, FEATURES), "big_head.bias": (2,),
}  # fmt: skip


def digits(seed: int, test_fraction: float = 0.25) -> dict:
    """Train/test split of the digits as float32 NCHW images and the two binary labels."""
    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)[:, None]
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = int(len(images) * test_fraction)
    split = {"test": order[:n_test], "train": order[n_test:]}
    out = {}
    for name, idx in split.items():
        out[f"{name}_x"] = images[idx]
        out[f"{name}_even"] = (d.target[idx] % 2 == 0).astype(np.int32)
        out[f"{name}_big"] = (d.target[idx] > 4).astype(np.int32)
    return out


def batches(n: int, batch_size: int, steps: int, seed: int):
    """`steps` index batches, reshuffling every epoch: the same order for every form."""
    rng = np.random.default_rng(seed + 1)
    order, pos = rng.permutation(n), 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        yield order[pos : pos + batch_size]
        pos += batch_size


def initial_state(seed: int) -> dict:
    """PyTorch-layout weights, uniform in +-1/sqrt(fan_in) as PyTorch's defaults."""
    rng = np.random.default_rng(seed + 2)
    state = {}
    for name, shape in SHAPES.items():
        weight = SHAPES[name.replace("bias", "weight")]
        bound = 1 / np.sqrt(np.prod(weight[1:]))
        state[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return state


# ---- weight layouts: PyTorch's (torch_ref.py, tape.py) <-> the Flax models (functional.py)
CHW = (32, 4, 4)  # the trunk's feature map before flattening

# PyTorch layer -> (which Flax model: 0 trunk, 1 even head, 2 big head; its Flax layer;
# the kernel conversion). The Flax models' layers are numbered in creation order.
LAYERS = {
    "trunk.0": (0, "Conv_0", (convert.oihw_to_hwio, convert.hwio_to_oihw)),
    "trunk.2": (0, "Conv_1", (convert.oihw_to_hwio, convert.hwio_to_oihw)),
    "trunk.6": (0, "Dense_0", (lambda w: convert.linear_to_kernel(w, CHW),
                               lambda k: convert.kernel_to_linear(k, CHW))),
    "even_head": (1, None, (convert.linear_to_kernel, convert.kernel_to_linear)),
    "big_head": (2, None, (convert.linear_to_kernel, convert.kernel_to_linear)),
}  # fmt: skip


def _flax_layer(models, model, layer):
    params = models[model]["params"]
    return params if layer is None else params.setdefault(layer, {})


def to_flax(state: dict) -> tuple:
    """The shared PyTorch-layout weights as Flax variables (trunk, even head, big head)."""
    models = ({"params": {}}, {"params": {}}, {"params": {}})
    for name, (model, layer, (to_kernel, _)) in LAYERS.items():
        target = _flax_layer(models, model, layer)
        target["kernel"] = jnp.asarray(to_kernel(state[f"{name}.weight"]))
        target["bias"] = jnp.asarray(state[f"{name}.bias"])
    return models


def to_torch_names(*models) -> dict:
    """Flax gradients back in PyTorch's names and layouts, to compare with the tape."""
    out = {}
    for name, (model, layer, (_, to_weight)) in LAYERS.items():
        source = _flax_layer(models, model, layer)
        out[f"{name}.weight"], out[f"{name}.bias"] = to_weight(source["kernel"]), source["bias"]
    return out
