"""Anomaly detection (`torch.autograd.detect_anomaly` / `set_detect_anomaly`) against real
PyTorch at run time.

The switches (`is_anomaly_enabled`, `is_anomaly_check_nan_enabled`, nesting, restoring,
one process-wide state that other threads see, as PyTorch's), the warning on entering
`detect_anomaly`, the NaN check of each backward node (which node, which output index;
off with `check_nan=False`; through a `create_graph` backward), the warning that shows the
forward stack of a node whose backward raised (its header, and that it names the same lines
of this file as PyTorch's), the version-counter error's hint while the mode is on, and that
nothing is recorded while the mode is off.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings

import pytest
import torch
from torch_twin import arr, raises, twin, warns

import funcgrad.tape as tape
from funcgrad.tape import anomaly_mode

LIBS = (torch, tape)
pytestmark = pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")


@pytest.fixture(autouse=True)
def _mode_off_afterwards():
    yield
    for lib in LIBS:
        lib.set_anomaly_enabled(False)


def _flags(lib):
    return lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()


def test_switches_nest_and_restore_as_pytorchs():
    def prog(lib):
        seen = [_flags(lib)]
        with lib.autograd.detect_anomaly():
            seen.append(_flags(lib))
            with lib.autograd.detect_anomaly(check_nan=False):
                seen.append(_flags(lib))
                with lib.autograd.set_detect_anomaly(False):
                    seen.append(_flags(lib))
                seen.append(_flags(lib))
            seen.append(_flags(lib))
        seen.append(_flags(lib))
        made = lib.autograd.set_detect_anomaly(True, check_nan=False)  # as a function
        seen.append(_flags(lib))
        with made:  # its exit restores what was there before it was made
            lib.set_anomaly_enabled(True)
            seen.append(_flags(lib))
        seen.append(_flags(lib))
        return seen

    expected, actual = twin(prog)
    assert (True, False) in expected  # the program reaches each state


def test_entering_detect_anomaly_warns_as_pytorch_at_the_callers_line():
    def prog(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.autograd.detect_anomaly()  # the line the warning names
        return [(w.category.__name__, str(w.message), w.filename, w.lineno) for w in caught]

    expected, actual = twin(prog)
    assert len(expected) == 1 and expected[0][2] == __file__


def test_detect_anomaly_is_no_decorator_in_either():
    def prog(lib):
        return raises(lambda: lib.autograd.detect_anomaly(check_nan=True)(lambda: 1))

    with pytest.warns(UserWarning):
        expected, actual = twin(prog)
    assert "not callable" in expected.message


def test_the_mode_is_process_wide_as_pytorchs_not_per_thread():
    def prog(lib):
        seen = []

        def look():
            seen.append(_flags(lib))

        with lib.autograd.set_detect_anomaly(True, check_nan=False):
            thread = threading.Thread(target=look)
            thread.start()
            thread.join()
        return seen

    expected, actual = twin(prog)
    assert expected == [(True, False)]


def _anomaly_warnings(lib, fn):
    """fn's result and the "Error detected in" warnings, as (header, lines of this file)."""
    result = warns(raises, fn)
    shown = [
        (message.split("\n", 1)[0], _frames_in_this_file(message))
        for _, message in result.warnings
        if message.startswith("Error detected in")
    ]
    return result.result, shown


def _frames_in_this_file(message: str) -> list[int]:
    """The lines of this file a shown forward stack names (the rest is pytest's, the same
    in both libraries, or PyTorch's own `Function.apply`)."""
    return [int(n) for n in re.findall(r'File "' + re.escape(__file__) + r'", line (\d+)', message)]


NAN_PROGRAMS = {
    # (which node, which output): the first backward node whose result holds NaN
    "mul by nan": lambda lib, x: (x.sqrt() * float("nan")).sum(),
    "0/0 in div's second input": lambda lib, x: x.sqrt().div(x).sum(),
    "nan root gradient": lambda lib, x: (x * 2, lib.tensor([float("nan")] * 3)),
    "second output of unbind": lambda lib, x: lib.unbind(x, 0)[1] * float("nan"),
    "inf is no nan": lambda lib, x: x.sqrt().sum(),
}


def _backward(lib, out):
    if isinstance(out, tuple):
        out[0].backward(out[1])
    else:
        out.backward()


@pytest.mark.parametrize("name", sorted(NAN_PROGRAMS))
@pytest.mark.parametrize("check_nan", [True, False])
def test_nan_check_names_the_node_and_output_as_pytorch(name, check_nan):
    def prog(lib):
        x = lib.tensor([0.0, 1.0, 4.0], requires_grad=True)
        with lib.autograd.detect_anomaly(check_nan=check_nan):
            out = NAN_PROGRAMS[name](lib, x)
            raised, shown = _anomaly_warnings(lib, lambda: _backward(lib, out))
        return raised, shown, x.grad

    expected, actual = twin(prog)
    if check_nan and name != "inf is no nan":
        assert "returned nan values" in expected[0].message


def test_a_create_graph_backward_is_checked_and_its_values_match():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        with lib.autograd.detect_anomaly():
            (g,) = lib.autograd.grad((x * x * x).sum(), x, create_graph=True)
            g.sum().backward()
            second = x.grad.clone()
            (g,) = lib.autograd.grad((x * 2).pow(2).sum(), x, create_graph=True)
            failed = raises(lambda: (g * float("nan")).sum().backward())
        return g, second, failed

    expected, actual = twin(prog, grad_fn_names=False)  # double-backward nodes differ
    assert "returned nan values" in expected[2].message


def _custom_failing(lib):
    class Failing(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            raise ValueError("backward failed")

    return Failing


def _forward_of_failing(lib, Failing, x):
    return Failing.apply(x * 2).sum()  # the line the warning names, called from the test


def test_a_failing_backward_shows_the_forward_stack_as_pytorch():
    def prog(lib):
        Failing = _custom_failing(lib)
        x = lib.tensor(arr(3), requires_grad=True)
        with lib.autograd.detect_anomaly():
            out = _forward_of_failing(lib, Failing, x)
            return _anomaly_warnings(lib, out.backward)

    expected, actual = twin(prog)
    raised, ((header, lines),) = expected
    assert (
        header
        == "Error detected in FailingBackward. Traceback of forward call that caused the error:"
    )
    assert raised.message == "backward failed"
    assert len(lines) == 3  # twin's call, prog's line, then the line in _forward_of_failing


def test_an_in_place_error_shows_the_stack_and_pytorchs_anomaly_hint():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        with lib.autograd.detect_anomaly(check_nan=False):
            y = x.exp()
            y.add_(1)
            raised, shown = _anomaly_warnings(lib, y.sum().backward)
        return raised.type, raised.message.split("\n[funcgrad]")[0], shown

    expected, actual = twin(prog)
    assert "Good luck!" in expected[1]


def test_a_forward_recorded_with_the_mode_off_has_no_stack_to_show():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        y = x * float("nan")
        with lib.autograd.detect_anomaly():
            result = warns(raises, y.sum().backward)
        return result.result, result.warnings

    expected, actual = twin(prog)
    assert "No forward pass information" in expected[1][-1][1]


def test_a_hook_that_raises_is_shown_with_its_nodes_forward_stack():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        with lib.autograd.detect_anomaly():
            y = x * 2
            y.register_hook(lambda g: 1 / 0)
            return _anomaly_warnings(lib, y.sum().backward)

    expected, actual = twin(prog)
    assert expected[1][0][0].startswith("Error detected in MulBackward0.")


def test_nothing_is_recorded_while_the_mode_is_off(monkeypatch):
    calls = []
    monkeypatch.setattr(anomaly_mode, "forward_stack", lambda: calls.append(1) or "stack")
    x = tape.tensor(arr(3), requires_grad=True)
    off = (x.exp() * 2).sum()
    assert calls == [] and off.grad_fn._forward_stack is None
    with tape.autograd.set_detect_anomaly(True):
        on = (x.exp() * 2).sum()
    assert len(calls) == 3 and on.grad_fn._forward_stack == "stack"
    assert x.grad_fn is None


def test_lazy_segments_run_op_by_op_are_checked_and_shown_as_eager_ops():
    def prog(lib):
        x = lib.tensor([0.0, 1.0, 4.0], requires_grad=True)
        with lib.autograd.detect_anomaly():
            y = x.exp()
            out = (x.sqrt() * float("nan") + y).sum()
            return _anomaly_warnings(lib, out.backward)

    lazy = tape.lazy.lazy_segments(compile_at_first_sight=False)
    runs = []
    for lib, mode in ((torch, contextlib.nullcontext()), (tape, lazy)):
        with mode:
            runs.append(prog(lib))  # one line: the stacks name the same lines
    expected, actual = runs
    assert actual == expected
    assert "returned nan values" in expected[0].message
