"""Shared inputs: critic weights, real/fake batches, interpolation weights, an HVP direction."""

import numpy as np

DIM, HIDDEN, BATCH = 8, 32, 64
PENALTY_WEIGHT, LEARNING_RATE = 10.0, 0.01


def problem(seed: int) -> dict:
    """Numpy arrays for every form. Weights are (in, out): `x @ W + b` in all three."""
    rng = np.random.default_rng(seed)

    def f32(a):
        return np.asarray(a, np.float32)

    return {
        "W1": f32(rng.normal(0, 1 / np.sqrt(DIM), (DIM, HIDDEN))),
        "b1": f32(rng.normal(0, 0.1, (HIDDEN,))),
        "W2": f32(rng.normal(0, 1 / np.sqrt(HIDDEN), (HIDDEN, 1))),
        "b2": f32(np.zeros((1,))),
        "real": f32(rng.normal(1.0, 0.5, (BATCH, DIM))),
        "fake": f32(rng.normal(-1.0, 0.8, (BATCH, DIM))),
        "eps": f32(rng.random((BATCH, 1))),
        "v": {
            k: f32(rng.normal(size=s))
            for k, s in [
                ("W1", (DIM, HIDDEN)),
                ("b1", (HIDDEN,)),
                ("W2", (HIDDEN, 1)),
                ("b2", (1,)),
            ]
        },
    }
