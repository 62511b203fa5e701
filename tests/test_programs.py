"""Real-PyTorch-style programs (tests/programs/*.py, written with `import torch`) print the
same when run with real torch and with `funcgrad.tape` standing in for it.

Each program runs twice in a fresh interpreter: as is, and with `sys.modules["torch"]` set
to `funcgrad.tape` (what `import funcgrad.tape as torch` gives a program). The oracle is
real PyTorch's output, compared line by line.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

# (surface_*.py have their own test, test_surface_programs.py, which also saves files;
# retain_graph_*.py theirs, test_programs_retain_graph.py, which compares the errors)
PROGRAMS = sorted(
    p for p in (pathlib.Path(__file__).parent / "programs").glob("*.py")
    if not p.name.startswith(("surface_", "retain_graph_"))
)  # fmt: skip
ROOT = pathlib.Path(__file__).resolve().parents[1]
AS_TAPE = (
    "import runpy, sys; import funcgrad.tape as tape; sys.modules['torch'] = tape; "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)


def _run(*args) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_prints_what_pytorch_prints(path):
    expected = _run(str(path))
    assert expected.strip(), "the program printed nothing"
    assert _run("-c", AS_TAPE, str(path)).splitlines() == expected.splitlines()
