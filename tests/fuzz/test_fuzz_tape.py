"""Random tape programs, run in PyTorch and in funcgrad.tape, must observe the same.

The programs (programs.py) mix ops from the op table on a small set of shapes (0-d,
size-1 dims, empty tensors, broadcasting), backward and autograd.grad with random
retain_graph / create_graph / inputs / grad_outputs, hooks, no_grad regions, in-place ops
on leaves and on saved tensors, detach, retain_grad, zero_grad-like resets, and reads of a
value in the middle of a program (`repr`, `.item()`, control flow on `bool(...)`): with
lazy segments on, the points where a pending segment ends. The run is deterministic
(derandomized, no example database, and hypothesis's pool of constants from the
library's source kept empty by tests/conftest.py), so CI sees the same programs every
time, in a full run as alone; the count and total size are printed at the end of the run
(conftest.py).
A mismatch found here is minimized by hypothesis and kept in test_regressions.py.
"""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from torch_twin import FUZZ_TOLERANCE, assert_same

import funcgrad.tape as tape

from .programs import STATS, Backward, Call, Grad, InPlace, programs, run

N_PROGRAMS = 1000


def check(program) -> None:
    """Runs a program in both libraries and asserts they observed the same."""
    expected = run(torch, program)
    actual = run(tape, program)
    STATS["programs"] += 1
    STATS["instructions"] += program.size()
    STATS["tensor_ops"] += sum(isinstance(i, (Call, InPlace)) for i in program.instructions)
    STATS["backwards"] += sum(isinstance(i, (Backward, Grad)) for i in program.instructions)
    STATS["errors"] += sum(1 for r in expected[0] if r[1].__class__.__name__ == "Raised")
    try:
        assert_same(expected, actual, **FUZZ_TOLERANCE, path="program")
    except AssertionError as e:
        STATS["mismatches"] += 1
        raise AssertionError(f"{e}\nprogram:\n{program.source()}") from None


@settings(
    max_examples=N_PROGRAMS,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(programs())
def test_random_tape_programs_observe_the_same_as_in_torch(program):
    check(program)
