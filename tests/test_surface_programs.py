"""PyTorch programs (tests/programs/surface_*.py) print the same with real torch and with
funcgrad.tape.

Each program is plain PyTorch (`import torch`, `from torch.utils.data import ...`). It runs
twice in a fresh interpreter: once as it is, once with `torch` and every `torch.*` module
resolved to `funcgrad.tape` and `funcgrad.tape.*` (the one-line change a user makes,
`import funcgrad.tape as torch`, applied to all its imports). The printed lines must match:
the text exactly, the numbers within 1.5e-4 absolute plus 1e-4 relative (values print with
4 decimals; seeded draws and initial weights are PyTorch's bit for bit, training in float32
drifts a little).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = sorted((ROOT / "tests" / "programs").glob("surface_*.py"))
NUMBER = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|-?inf|nan")
ATOL, RTOL = 1.5e-4, 1e-4

# Resolves `torch` / `torch.X` to `funcgrad.tape` / `funcgrad.tape.X` for the program.
ALIAS = """
import importlib, importlib.abc, importlib.util, runpy, sys

class TorchIsTheTape(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("funcgrad.tape" + spec.name[len("torch"):])

    def exec_module(self, module):
        pass

sys.meta_path.insert(0, TorchIsTheTape())
program, *args = sys.argv[1:]
sys.argv = [program, *args]
runpy.run_path(program, run_name="__main__")
"""


def _run(program: Path, tmp_path: Path, on_tape: bool) -> list[str]:
    out = tmp_path / ("tape" if on_tape else "torch")
    out.mkdir()
    command = [sys.executable, "-c", ALIAS] if on_tape else [sys.executable]
    done = subprocess.run(
        [*command, str(program), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    where = "on the tape" if on_tape else "with torch"
    assert done.returncode == 0, f"{program.name} failed {where}:\n{done.stderr}"
    return done.stdout.splitlines()


def _same_line(ours: str, ref: str) -> bool:
    if NUMBER.sub("#", ours) != NUMBER.sub("#", ref):
        return False
    a = np.array([float(x) for x in NUMBER.findall(ours)])
    b = np.array([float(x) for x in NUMBER.findall(ref)])
    return bool(np.allclose(a, b, atol=ATOL, rtol=RTOL, equal_nan=True))


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_prints_what_pytorch_prints(program, tmp_path):
    ref = _run(program, tmp_path, on_tape=False)
    ours = _run(program, tmp_path, on_tape=True)
    assert len(ref) > 3
    mismatches = [
        f"line {i}:\n  torch: {r}\n  tape:  {o}"
        for i, (o, r) in enumerate(zip(ours, ref))
        if not _same_line(o, r)
    ]
    assert len(ours) == len(ref), f"{len(ours)} lines on the tape, {len(ref)} with torch"
    assert not mismatches, "\n".join(mismatches)


def test_there_are_surface_programs():
    assert len(PROGRAMS) >= 3
