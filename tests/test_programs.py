"""Real-PyTorch-style programs (tests/programs/) run unchanged on the tape.

Oracle: real PyTorch (torch 2.13, CPU): each program runs as written, then with its
`import torch` line changed to `import funcgrad.tape as torch`; what the two print must be
the same.
"""

from __future__ import annotations

import contextlib
import io
import pathlib

import pytest

PROGRAMS = pathlib.Path(__file__).parent / "programs"


def _printed(source: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<program>", "exec"), {"__name__": "__program__"})
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(p.name for p in PROGRAMS.glob("*.py")))
def test_program_prints_the_same_on_the_tape_as_in_torch(name):
    source = (PROGRAMS / name).read_text()
    assert "\nimport torch\n" in source
    expected = _printed(source)
    actual = _printed(source.replace("\nimport torch\n", "\nimport funcgrad.tape as torch\n"))
    assert expected.count("\n") >= 5
    assert actual == expected
