"""The digits data (bundled with scikit-learn), two tasks, and shared initial weights.

Task 1: is the digit even? Task 2: is it greater than 4? Images are 1x8x8 in [0, 1].
The initial weights are drawn once with numpy in PyTorch's layout (and PyTorch's default
uniform bounds), so the three forms start from the same network.
"""

import numpy as np
from sklearn.datasets import load_digits

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
