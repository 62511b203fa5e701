"""Flattened digits (64 features, 10 classes), batch indices, and shared initial weights."""

import numpy as np
from sklearn.datasets import load_digits

HIDDEN, BATCH, MICRO_BATCHES, LEARNING_RATE, MOMENTUM = 128, 256, 4, 0.1, 0.9
SHAPES = {"0.weight": (HIDDEN, 64), "0.bias": (HIDDEN,), "2.weight": (10, HIDDEN), "2.bias": (10,)}


def digits() -> tuple:
    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int32)


def batch_indices(n: int, steps: int, seed: int) -> np.ndarray:
    """(steps, BATCH) indices, the same for every form."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(n, BATCH, replace=False) for _ in range(steps)])


def initial_state(seed: int) -> dict:
    """PyTorch-layout weights of nn.Sequential(Linear, ReLU, Linear), PyTorch's bounds."""
    rng = np.random.default_rng(seed + 1)
    state = {}
    for name, shape in SHAPES.items():
        fan_in = SHAPES[name.replace("bias", "weight")][1]
        state[name] = rng.uniform(-(fan_in**-0.5), fan_in**-0.5, shape).astype(np.float32)
    return state
