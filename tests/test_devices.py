"""Devices: `torch.device`, `Tensor.device`, `.to(...)`, `torch.cuda`, `torch.accelerator`,
`torch.backends`, against the real PyTorch installed here (a CPU build) on a CPU-only JAX:
the same values, reprs and errors (type and message), so `device = torch.device("cuda" if
torch.cuda.is_available() else "cpu")` programs behave the same. Two JAX devices (forced
host devices, in a subprocess) check that `"cpu:1"`-style placement and the mixed-device
error work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import pytest
import torch

import funcgrad.tape as tape

pytestmark = pytest.mark.skipif(
    bool(jax.devices()[0].platform != "cpu"), reason="compares with PyTorch's CPU build"
)


def observe(prog):
    return prog(torch), prog(tape)


def test_device_objects_match_pytorch():
    def prog(lib):
        d = lib.device("cuda", 0)
        return [
            repr(d), str(d), d.type, d.index, repr(lib.device("cpu")), str(lib.device("cuda:1")),
            lib.device("cpu") == lib.device("cpu"), lib.device("cpu") == "cpu",
            lib.device("cuda:0") == lib.device("cuda", 0), lib.device(lib.device("cuda:2")).index,
            len({lib.device("cpu"), lib.device("cpu")}),
        ]  # fmt: skip

    t, f = observe(prog)
    assert f == t


def test_tensor_device_and_conversions_match_pytorch():
    def prog(lib):
        x = lib.ones(2, requires_grad=True)
        device = lib.device("cuda" if lib.cuda.is_available() else "cpu")
        y = x.to(device)
        z = (x.to(device, lib.float64, non_blocking=True) * 2).to(x)
        w = x.to(dtype=lib.float64, copy=True)
        z.sum().backward()
        return [
            repr(x.device), str(x.device), x.is_cuda, x.get_device(), x.device == device,
            y is x, x.cpu() is x, x.to("cpu") is x, str(z.dtype), str(w.dtype), w is x,
            x.grad.tolist(), lib.zeros(2, device=device).device == device,
            lib.tensor([1.0], device="cpu").device == lib.device("cpu"),
            str(x.double().dtype), str(x.float().dtype), str(x.long().dtype), str(x.int().dtype),
            str(x.half().dtype), str(x.bool().dtype), x.to(lib.device("cpu")) is x,
        ]  # fmt: skip

    t, f = observe(prog)
    assert f == t


def test_module_to_device_and_dtype():
    def prog(lib):
        lib.manual_seed(0)
        m = lib.nn.Linear(2, 1)
        device = lib.device("cuda" if lib.cuda.is_available() else "cpu")
        assert m.to(device) is m and m.cpu() is m
        m.double()
        return [str(m.weight.dtype), str(m.bias.device), str(m.float().weight.dtype)]

    t, f = observe(prog)
    assert f == t


def test_cuda_accelerator_and_backends_answers_match_pytorch():
    def prog(lib):
        lib.cuda.manual_seed(0)
        lib.cuda.manual_seed_all(0)
        lib.cuda.empty_cache()
        lib.backends.cudnn.benchmark = True
        lib.backends.cudnn.deterministic = True
        out = [
            lib.cuda.is_available(), lib.cuda.device_count(), lib.backends.cudnn.is_available(),
            lib.backends.mps.is_available(), lib.backends.cuda.is_built(),
            lib.accelerator.current_accelerator(), lib.accelerator.is_available(),
            lib.accelerator.device_count(), lib.backends.cudnn.benchmark,
        ]  # fmt: skip
        lib.backends.cudnn.benchmark = lib.backends.cudnn.deterministic = False
        return out

    t, f = observe(prog)
    assert f == t


ABSENT = {
    "factory": lambda lib: lib.ones(1, device="cuda"),
    "cuda()": lambda lib: lib.ones(1).cuda(),
    "to('cuda')": lambda lib: lib.ones(1).to("cuda"),
    "to(device)": lambda lib: lib.ones(1).to(lib.device("cuda", 0)),
    "module.cuda()": lambda lib: lib.nn.Linear(1, 1).cuda(),
    "current_device": lambda lib: lib.cuda.current_device(),
    "get_device_name": lambda lib: lib.cuda.get_device_name(),
    "synchronize": lambda lib: lib.cuda.synchronize(),
    "accelerator index": lambda lib: lib.accelerator.current_device_index(),
    "accelerator set index": lambda lib: lib.accelerator.set_device_index(0),
    "accelerator synchronize": lambda lib: lib.accelerator.synchronize(),
    "accelerator empty_cache": lambda lib: lib.accelerator.empty_cache(),
    "accelerator memory": lambda lib: lib.accelerator.memory_allocated(),
    "accelerator peak memory": lambda lib: lib.accelerator.max_memory_allocated(),
    "bad type": lambda lib: lib.device("foo"),
    "bad index": lambda lib: lib.device("cuda:a"),
}


@pytest.mark.parametrize("case", list(ABSENT), ids=list(ABSENT))
def test_absent_or_bad_devices_raise_pytorchs_errors(case):
    raised = []
    for lib in (torch, tape):
        with pytest.raises(Exception) as info:
            ABSENT[case](lib)
        raised.append((type(info.value), str(info.value).split("\n[funcgrad]")[0]))
    assert raised[1] == raised[0]


@pytest.mark.parametrize("lazy", ["1", "0"], ids=["lazy", "eager"])
def test_two_jax_devices_place_tensors_and_refuse_mixed_ops(lazy):
    """Also with lazy segments on: a segment runs on one device, and an op mixing devices
    raises PyTorch's error at that op (it failed later, in JAX's words, before)."""
    code = textwrap.dedent(
        """
        import funcgrad.tape as torch
        a = torch.ones(2, requires_grad=True)
        import jax
        second = jax.devices()[1]
        c = a.to(second)
        print(c.device, c.device == a.device, c._jax_device() == second)
        (c * 3).sum().backward()
        print(a.grad.tolist(), a.grad._jax_device() == jax.devices()[0])
        try:
            a + c
        except RuntimeError as e:
            print(str(e).split("!")[0])
        """
    )
    env = {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "FUNCGRAD_LAZY": lazy,
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=True,
    ).stdout.splitlines()
    assert out[0] == "cpu True True"  # PyTorch names every CPU device "cpu"
    assert out[1] == "[3.0, 3.0] True"
    assert out[2].startswith("Expected all tensors to be on the same device")


def test_meta_device_is_pytorchs_name_and_its_tensors_are_refused():
    # torch.device("meta") is accepted as in PyTorch; a tensor there (no data) cannot be
    # made on JAX, so funcgrad raises NotImplementedError where PyTorch makes one.
    assert repr(tape.device("meta")) == repr(torch.device("meta"))
    assert (tape.device("meta").type, tape.device("meta").index) == ("meta", None)
    assert tape.ones(2).is_meta == torch.ones(2).is_meta
    assert tape.ones(2).is_cpu == torch.ones(2).is_cpu
    assert torch.empty(2, device="meta").is_meta
    made = {
        "factory": lambda: tape.empty(2, 3, device="meta"),
        "module": lambda: tape.nn.Linear(3, 4, device="meta"),
        "to": lambda: tape.ones(2).to("meta"),
    }
    for make in made.values():
        with pytest.raises(NotImplementedError, match="meta tensors .* not supported") as info:
            make()
        assert "\n[funcgrad]" in str(info.value)
    with tape.device("meta"), pytest.raises(NotImplementedError, match="meta tensors"):
        tape.zeros(1)


def test_swapdims_and_swapaxes_are_transpose_as_in_pytorch():
    def prog(lib):
        x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        a, b = lib.swapdims(x, 0, 1), x.swapaxes(1, 0)
        (a * lib.arange(6.0).reshape(3, 2)).sum().backward()
        return [
            a.tolist(), b.tolist(), x.swapdims(-1, 0).shape == (3, 2), type(a.grad_fn).__name__,
            lib.swapaxes(x, 0, 1).tolist(), x.grad.tolist(),
        ]  # fmt: skip

    t, f = observe(prog)
    assert f == t
