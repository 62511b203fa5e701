"""`torch.set_default_device`, `torch.get_default_device` and `torch.device` as a context
manager, on the tape and in real PyTorch at run time: factories put new tensors on the
default device, `*_like` keep their input's, and an absent device raises PyTorch's error
when a tensor is made (on a machine where JAX has a GPU, "cuda" is that GPU instead).
"""

from __future__ import annotations

import pytest
import torch
from torch_twin import Raised, arr, raises, twin

import funcgrad.tape as tape


def _made_on(lib):
    return (
        lib.zeros(2).device,
        lib.tensor(arr(2)).device,
        lib.rand(2).device,
        lib.arange(3).device,
        lib.zeros_like(lib.ones(2)).device,
        lib.get_default_device(),
    )


def _devices(result):
    return tuple(str(d) for d in result)


def test_set_default_device_cpu_and_back():
    def prog(lib):
        lib.set_default_device("cpu")
        try:
            inside = _devices(_made_on(lib))
        finally:
            lib.set_default_device(None)
        return inside, _devices(_made_on(lib))

    twin(prog)


def test_device_as_a_context_manager():
    def prog(lib):
        with lib.device("cpu") as d:
            inside = _devices(_made_on(lib)), str(d)
        return inside, str(lib.get_default_device())

    twin(prog)


@pytest.mark.parametrize("how", ["set_default_device", "context"])
def test_cuda_as_default_is_the_gpu_or_pytorchs_error(how):
    def prog(lib):
        def make():
            if how == "context":
                with lib.device("cuda"):
                    return str(lib.ones(2).device)
            lib.set_default_device("cuda")
            try:
                return str(lib.ones(2).device)
            finally:
                lib.set_default_device(None)

        return raises(make), str(lib.zeros(1).device)

    expected = prog(torch)
    assert isinstance(expected[0], Raised)  # the CPU build of PyTorch the tests run
    if tape.cuda.is_available():
        assert prog(tape) == ("cuda:0", "cpu")
    else:
        twin(prog)
