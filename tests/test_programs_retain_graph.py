"""The three real-world `retain_graph` failures, as whole PyTorch programs (tests/programs/
retain_graph_*.py), run unchanged with real PyTorch and with funcgrad.tape standing in for
`torch`: what they print and what they raise must be the same.

- a character-level LSTM trained with truncated BPTT whose carried hidden state is not
  detached (the second chunk's backward reaches the first chunk's freed graph);
- a DCGAN whose generator output feeds the discriminator's loss without `.detach()` (the
  discriminator's backward frees the generator's graph before the generator's backward);
- an `optimizer.step()` between two backwards through a shared trunk (the step changes
  weights the second backward needs: PyTorch's "modified by an inplace operation").

Each program also runs fixed (`--broken` off) and must then train to the same numbers. The
programs take their weights and data from NumPy, so the comparison does not depend on the
random streams. Printed numbers compare within float32 tolerance; an exception compares by
type and message (funcgrad may only add a "[funcgrad]" hint line after PyTorch's text).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = ROOT / "tests" / "programs"
RUNNER = PROGRAMS / "retain_graph_runner.py"
RAISED = "---- raised ----"
NUMBER = re.compile(r"-?\d+\.\d+")

CASES = {
    "char_rnn_tbptt": ("retain_graph_char_rnn.py", "Trying to backward through the graph"),
    "dcgan_generator_output_in_both_losses": (
        "retain_graph_dcgan.py",
        "Trying to backward through the graph",
    ),
    "optimizer_step_between_backwards": (
        "retain_graph_step_between_backwards.py",
        "one of the variables needed for gradient computation has been modified by an "
        "inplace operation",
    ),
}


def _runner():
    spec = importlib.util.spec_from_file_location("retain_graph_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUN_PROGRAM = _runner().run_program


def _run(lib: str, program: str, broken: bool) -> tuple[list[str], tuple[str, str] | None]:
    """(printed lines, (exception type, message) or None) of one run, in this process."""
    output = RUN_PROGRAM(lib, str(PROGRAMS / program), ["--broken"] if broken else [])
    printed, _, raised = output.partition(RAISED + "\n")
    lines = printed.splitlines()
    if not raised:
        return lines, None
    kind, _, message = raised.partition("\n")
    return lines, (kind, message.rstrip("\n"))


def _same_line(expected: str, actual: str) -> bool:
    """Equal text, with the numbers equal to float32 precision (4 printed decimals)."""
    if NUMBER.sub("#", expected) != NUMBER.sub("#", actual):
        return False
    pairs = zip(NUMBER.findall(expected), NUMBER.findall(actual), strict=True)
    return all(abs(float(a) - float(b)) <= 2e-4 * max(1.0, abs(float(a))) for a, b in pairs)


@pytest.mark.parametrize("broken", [True, False], ids=["broken", "fixed"])
@pytest.mark.parametrize("case", CASES)
def test_program_prints_and_raises_what_pytorch_does(case, broken):
    program, error = CASES[case]
    expected_lines, expected_raise = _run("torch", program, broken)
    actual_lines, actual_raise = _run("funcgrad", program, broken)
    assert len(actual_lines) == len(expected_lines), (expected_lines, actual_lines)
    for e, a in zip(expected_lines, actual_lines, strict=True):
        assert _same_line(e, a), f"torch printed {e!r}, funcgrad printed {a!r}"
    if not broken:
        assert expected_raise is None and actual_raise is None, (expected_raise, actual_raise)
        return
    assert expected_raise is not None and expected_raise[1].startswith(error)  # the program's point
    assert actual_raise is not None, "funcgrad did not raise"
    assert actual_raise[0] == expected_raise[0]
    message, rest = (
        actual_raise[1][: len(expected_raise[1])],
        actual_raise[1][len(expected_raise[1]) :],
    )
    assert message == expected_raise[1]
    assert rest == "" or rest.startswith("\n[funcgrad]"), rest
