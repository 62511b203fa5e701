"""Grad modes as decorators and PyTorch's warnings and errors where the tape used to be
silent, against real PyTorch at run time.

`no_grad` / `enable_grad` / `inference_mode` / `set_grad_enabled` on generator functions
(the mode holds inside the body across `yield`s, and the caller's mode is back at each
`yield`) and on classes (PyTorch's FutureWarning, the constructor runs in the mode);
`enable_grad` inside `inference_mode` (grad mode on, nothing recorded); the reference-cycle
warning of `backward(create_graph=True)` (once per process, as PyTorch's); a
post-accumulate-grad hook that returns a value; `detach_()` of a saved tensor; `.data =`
of an integer tensor on a tensor that requires grad.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from torch_twin import arr, raises, twin, warns

MODES = {
    "no_grad": lambda lib: lib.no_grad(),
    "enable_grad": lambda lib: lib.enable_grad(),
    "inference_mode": lambda lib: lib.inference_mode(),
    "set_grad_enabled(False)": lambda lib: lib.set_grad_enabled(False),
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("outer_grad", [True, False])
def test_a_decorated_generator_keeps_its_mode_across_yields(mode, outer_grad):
    def prog(lib):
        x = lib.tensor(arr(2), requires_grad=True)

        def body():
            for _ in range(2):
                y = x * 2
                received = yield (
                    lib.is_grad_enabled(),
                    lib.is_inference_mode_enabled(),
                    y.requires_grad,
                )
                yield ("sent", received, lib.is_grad_enabled())

        with lib.set_grad_enabled(outer_grad):
            gen = MODES[mode](lib)(body)()
            seen = []
            for inner in gen:
                seen.append((inner, lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
                if inner[0] != "sent":
                    seen.append(gen.send("ping"))
            return seen

    twin(prog)


@pytest.mark.parametrize("mode", ["no_grad", "enable_grad", "inference_mode"])
def test_a_decorated_class_warns_and_constructs_in_the_mode(mode):
    def prog(lib):
        def decorate():
            @MODES[mode](lib)
            class Probe:
                def __init__(self, x):
                    self.y = x * 2
                    self.mode = lib.is_grad_enabled()

            return Probe

        made = warns(decorate)
        with lib.no_grad() if mode == "enable_grad" else lib.enable_grad():
            probe = made.result(lib.tensor(arr(2), requires_grad=True))
        return made.warnings, probe.mode, probe.y.requires_grad

    twin(prog)


def test_bare_no_grad_decorates_a_generator():
    def prog(lib):
        @lib.no_grad
        def gen():
            yield lib.is_grad_enabled()

        return [(v, lib.is_grad_enabled()) for v in gen()]

    twin(prog)


def test_enable_grad_inside_inference_mode_records_nothing():
    def prog(lib):
        x = lib.tensor(arr(2), requires_grad=True)
        with lib.inference_mode(), lib.enable_grad():
            y = x * 2
            leaf = lib.ones(2, requires_grad=True)
            z = leaf * 2
            seen = (lib.is_grad_enabled(), lib.is_inference_mode_enabled())
        return seen, y.requires_grad, y.is_inference(), z.requires_grad, z.grad_fn

    twin(prog)


_CYCLE_PROGRAM = """
import warnings, sys
import numpy as np
lib = __import__(sys.argv[1].replace("-", "."), fromlist=["x"])
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(2):
        x = lib.tensor(np.ones(2, np.float32), requires_grad=True)
        (x * x).sum().backward(create_graph=True)
    x = lib.tensor(np.ones(2, np.float32), requires_grad=True)
    lib.autograd.grad((x * x).sum(), x, create_graph=True)
for w in caught:
    print(w.category.__name__, str(w.message).split(" (Triggered")[0])
"""


def test_backward_with_create_graph_warns_once_per_process():
    def run(module):
        done = subprocess.run(
            [sys.executable, "-c", _CYCLE_PROGRAM, module],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        return done.stdout.splitlines()

    expected = run("torch")
    assert len(expected) == 1 and expected[0].startswith("UserWarning Using backward()")
    assert run("funcgrad-tape") == expected


def test_a_post_accumulate_grad_hook_must_return_none():
    def prog(lib):
        x = lib.tensor(arr(2), requires_grad=True)
        x.register_post_accumulate_grad_hook(lambda t: t * 2)
        return raises((x * x).sum().backward)

    twin(prog)


def test_detach_in_place_of_a_saved_tensor_fails_its_backward():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        y = x * 1
        z = y * y
        y.detach_()
        leaf = lib.tensor(arr(3), requires_grad=True)
        w = leaf * leaf
        leaf.detach_()  # a leaf saved as itself: nothing to rebuild, no error
        w.sum().backward()
        return raises(z.sum().backward), y.requires_grad, y.grad_fn

    twin(prog)


def test_data_of_an_integer_tensor_on_a_tensor_that_requires_grad():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        bad = raises(setattr, x, "data", lib.ones(3, dtype=lib.int64))
        y = lib.tensor(arr(3))
        y.data = lib.ones(4, dtype=lib.int64)  # no grad: any dtype and shape
        x.data = lib.ones(2, dtype=lib.float64)
        return bad, y, x

    twin(prog)
