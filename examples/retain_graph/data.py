"""The example's input, shared by the three forms so they see the same numbers."""

import numpy as np


def initial_a(seed: int) -> np.ndarray:
    """`a = rand(1, 4)`, drawn with numpy so PyTorch, the tape and JAX start equal."""
    return np.random.default_rng(seed).random((1, 4), dtype=np.float32)
