"""`torch.autograd.gradcheck` / `gradgradcheck` on the tape, against real PyTorch at run time.

The same checks run in both libraries: what they return, the GradcheckError (a
RuntimeError) and its message for a wrong backward (the two Jacobians, laid out as
PyTorch's), `raise_exception=False`, the float32 warning and the argument errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_twin import Raised, arr, raises, twin, warns

import funcgrad.tape as tape
from funcgrad.tape.autograd._gradcheck import GradcheckError

X = arr(3, seed=4).astype(np.float64)
W = arr(2, 3, seed=5).astype(np.float64)


def _leaf(lib, data, dtype=None):
    return lib.tensor(data, dtype=dtype or lib.float64, requires_grad=True)


def _wrong_backward(lib, factor=3.0, extra=False):
    class Wrong(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            # extra: right for every one-hot grad_output, wrong for a zero one
            return g * factor + ((g == 0).all().to(g.dtype) if extra else 0.0)

    return Wrong


GOOD = {
    "elementwise": lambda lib: ((lambda t: (t * t).sin()), (_leaf(lib, X),)),
    "two inputs, two outputs": lambda lib: (
        (lambda w, x: ((w @ x).tanh(), (w * w).sum(1))),
        (_leaf(lib, W), _leaf(lib, X)),
    ),
    "non-tensor and constant inputs": lambda lib: (
        (lambda x, k, c: (x * k + c).exp()),
        (_leaf(lib, X), 2.5, lib.tensor(X, dtype=lib.float64)),
    ),
    "reduction to a scalar": lambda lib: ((lambda x: (x**3).sum()), (_leaf(lib, X),)),
    "output that needs no grad": lambda lib: ((lambda x: x.detach() * 2), (_leaf(lib, X),)),
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_gradcheck_and_gradgradcheck_answer_as_pytorchs(case):
    def prog(lib):
        fn, inputs = GOOD[case](lib)
        return (
            raises(lib.autograd.gradcheck, fn, inputs),
            raises(lib.autograd.gradgradcheck, fn, inputs),
        )

    twin(prog)


def _jacobians_message(message):
    head, _, rest = message.partition("numerical:")
    numerical, _, analytical = rest.partition("\nanalytical:")
    return head, numerical, analytical


def test_a_wrong_backward_raises_gradcheck_error_with_pytorchs_message():
    got = {}
    for lib in (torch, tape):
        wrong = _wrong_backward(lib)
        with pytest.raises(RuntimeError) as info:
            lib.autograd.gradcheck(wrong.apply, (_leaf(lib, X),))
        assert type(info.value).__name__ == "GradcheckError"
        got[lib] = _jacobians_message(str(info.value))
    (t_head, t_num, t_ana), (f_head, f_num, f_ana) = got[torch], got[tape]
    assert f_head == t_head == "Jacobian mismatch for output 0 with respect to input 0,\n"
    assert f_ana == t_ana  # the analytical Jacobian is exact: the same text
    assert f_num.split("dtype")[1] == t_num.split("dtype")[1]
    assert issubclass(GradcheckError, RuntimeError)


def test_raise_exception_false_returns_false():
    def prog(lib):
        wrong = _wrong_backward(lib)
        good = lib.autograd.gradcheck(lambda t: t.exp(), (_leaf(lib, X),), raise_exception=False)
        bad = lib.autograd.gradcheck(wrong.apply, (_leaf(lib, X),), raise_exception=False)
        bad2 = lib.autograd.gradgradcheck(
            lambda t: wrong.apply(t * t), (_leaf(lib, X),), raise_exception=False
        )
        return good, bad, bad2

    twin(prog)


def test_a_backward_that_ignores_grad_output_is_caught():
    def prog(lib):
        wrong = _wrong_backward(lib, factor=2.0, extra=True)
        return raises(lib.autograd.gradcheck, wrong.apply, (_leaf(lib, X),))

    assert raises(prog, torch) == Raised("GradcheckError", "backward not multiplied by grad_output")
    twin(prog)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    def prog(lib):
        class CubeWrongSecond(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x**3

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 3 * x.detach() ** 2 * g  # right once, constant in x the second time

        x = _leaf(lib, X)
        first = lib.autograd.gradcheck(CubeWrongSecond.apply, (x,))
        second = lib.autograd.gradgradcheck(CubeWrongSecond.apply, (x,), raise_exception=False)
        return first, second

    twin(prog)


def test_float32_inputs_warn_as_pytorch_does():
    def prog(lib):
        x = _leaf(lib, X, lib.float32)
        return warns(lib.autograd.gradcheck, lambda t: t * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)

    twin(prog)


def test_no_input_requiring_grad_is_pytorchs_value_error():
    def prog(lib):
        return raises(lib.autograd.gradcheck, lambda t: t * 2, (lib.tensor(X),))

    twin(prog)


@pytest.mark.parametrize("option", ["fast_mode", "check_forward_ad", "check_batched_grad"])
def test_unsupported_options_name_themselves(option):
    x = _leaf(tape, X)
    with pytest.raises(NotImplementedError, match=option):
        tape.autograd.gradcheck(lambda t: t * 2, (x,), **{option: True})
