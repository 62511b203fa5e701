"""`torch.random` on the tape: PyTorch's CPU random stream, reproduced.

After `manual_seed(s)` the tape draws exactly the numbers PyTorch draws on the CPU, for
`rand`, `randn`, `randint`, `randperm`, `bernoulli`, dropout, `nn.init` and the in-place
fills. The package holds the pieces of that stream, bottom to top:

- `mt19937`: the engine (PyTorch's 32-bit Mersenne Twister), on the host and traced;
- `box_muller`: PyTorch's vectorised normal kernel, operation by operation;
- `sampling`: PyTorch's CPU samplers, turning the engine's words into numbers;
- `generator`: `Generator` (seeds, PyTorch's 5056-byte state, the state `tape.jit`
  lifts), `default_generator` and the `torch.*` seed and state functions.

What this package does not do: make tensors from the samples (`random_ops.py` and
`methods/random.py` do), or CUDA's Philox stream.

Example:
    >>> import funcgrad.tape as torch
    >>> _ = torch.manual_seed(0)
    >>> torch.rand(2)  # what PyTorch prints
    tensor([0.4963, 0.7682])
"""

from .generator import (
    Generator as Generator,
    default_generator as default_generator,
    fork_rng as fork_rng,
    get_rng_state as get_rng_state,
    initial_seed as initial_seed,
    manual_seed as manual_seed,
    seed as seed,
    set_rng_state as set_rng_state,
)

__all__ = [
    "default_generator",
    "fork_rng",
    "Generator",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]
