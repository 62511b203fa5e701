"""nn.DataParallel against PyTorch's: the same attributes, repr, state-dict keys and output
(PyTorch's CPU build, without a GPU, is a plain pass-through too; with a JAX GPU the tape's
wrapper records PyTorch's CUDA attributes, which the CPU build of torch cannot show)."""

from __future__ import annotations

import io

import numpy as np
from torch_twin import twin

import funcgrad.tape as tape


def _wrapped(lib, **kwargs):
    lib.manual_seed(0)
    inner = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    return lib.nn.DataParallel(inner, **kwargs)


def test_data_parallel_matches_torch_layout_and_output():
    def prog(lib):
        model = _wrapped(lib, device_ids=[0])
        x = lib.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
        out = model(x)
        out.sum().backward()
        return (
            repr(model),
            list(model.state_dict()),
            type(model.module).__name__,
            out,
            model.module[0].weight.grad,
            sorted(name for name, _ in model.named_parameters()),
        )

    twin(prog)


def test_device_ids_are_pytorchs_for_the_devices_jax_has():
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    model = _wrapped(tape, device_ids=[0], dim=1)
    if not gpus:  # PyTorch without an accelerator: no device attributes but this one
        assert model.device_ids == [] and not hasattr(model, "dim")
    else:
        assert (model.device_ids, model.output_device, model.dim) == ([0], 0, 1)
    assert _wrapped(tape).device_ids == list(range(len(gpus)))


def test_a_torch_data_parallel_checkpoint_loads_into_the_wrapper_and_unwraps():
    import torch

    reference = _wrapped(torch)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)
    buffer.seek(0)
    ours = tape.nn.DataParallel(
        tape.nn.Sequential(tape.nn.Linear(3, 4), tape.nn.ReLU(), tape.nn.Linear(4, 2))
    )
    state = tape.load(buffer)
    assert list(state) == list(reference.state_dict())
    ours.load_state_dict(state)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(
        ours.module(tape.tensor(x)).detach().numpy(),
        reference.module(torch.tensor(x)).detach().numpy(),
        rtol=1e-6,
    )
