"""Tensor reprs, `set_printoptions` and `out=` against real PyTorch, at run time.

Reprs are compared as text: the tensors are built from the same NumPy data in both
libraries, so every difference is one of layout (format, widths, wrapping, summarizing,
suffixes). tests/programs/tutorial_tensor_printing.py covers the same as a whole program.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_twin import raises, twin, warns

import funcgrad.tape as tape

RNG = np.random.default_rng(0)
ARRAYS = {
    "spread": np.array([102.4, 1024.0, 0.1024], np.float32),
    "whole": np.array([[1.0, -20.0], [300.0, 4.0]], np.float32),
    "whole_sci": np.array([1.0, 1.0e9], np.float32),
    "tiny": np.array([1e-5, 0.5], np.float32),
    "nonfinite": np.array([np.nan, -np.inf, 0.25], np.float32),
    "zeros": np.zeros((2, 3), np.float32),
    "wide_rows": RNG.normal(size=(3, 20)).astype(np.float32),
    "summarized": RNG.normal(size=(40, 50)).astype(np.float32) * 0.01,
    "summarized_3d": RNG.normal(size=(12, 10, 11)).astype(np.float32),
    "float64": RNG.normal(size=(2, 3)),
    "float16": np.array([0.5, 1.5], np.float16),
    "int64": RNG.integers(-5, 100000, size=30),
    "int32": np.arange(6, dtype=np.int32).reshape(2, 3),
    "bool": np.array([True, False]),
    "scalar": np.array(2.5, np.float32),
    "empty_2d": np.zeros((2, 0), np.float32),
    "empty_int": np.zeros((0,), np.int64),
}


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_repr_matches_pytorch(name):
    values = ARRAYS[name]
    assert repr(tape.tensor(values)) == repr(torch.tensor(values))


@pytest.mark.parametrize("name", ["spread", "wide_rows", "summarized"])
def test_repr_with_grad_suffixes_matches_pytorch(name):
    values = ARRAYS[name]
    for lib in (torch, tape):
        leaf = lib.tensor(values, requires_grad=True)
        if lib is torch:
            expected = (repr(leaf), repr(leaf * 2), repr(lib.nn.Parameter(leaf.detach())))
        else:
            assert (repr(leaf), repr(leaf * 2), repr(lib.nn.Parameter(leaf.detach()))) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"precision": 2},
        {"sci_mode": False},
        {"sci_mode": True},
        {"threshold": 10, "edgeitems": 2},
        {"linewidth": 40},
        {"profile": "short"},
        {"profile": "full"},
        {"edgeitems": 0, "threshold": 5},
    ],
)
def test_set_printoptions_matches_pytorch(options):
    seen = {}
    for lib in (torch, tape):
        lib.set_printoptions(**options)
        try:
            seen[lib] = [repr(lib.tensor(ARRAYS[n])) for n in ("spread", "tiny", "wide_rows")]
        finally:
            lib.set_printoptions(profile="default")
    assert seen[tape] == seen[torch]
    assert tape.get_printoptions()["precision"] == 4


def test_out_argument_matches_pytorch():
    a, b = np.arange(4.0, dtype=np.float32).reshape(2, 2), np.ones((2, 2), np.float32)

    def prog(lib):
        x, y = lib.tensor(a), lib.tensor(b)
        out = lib.zeros(2, 2)
        same = lib.matmul(x, y, out=out) is out
        wide = lib.zeros(2, 2, dtype=lib.float64)
        lib.mul(x, 3, out=wide)
        resized = warns(lib.add, x, y, out=lib.zeros(3))
        empty = warns(lib.add, x, y, out=lib.zeros(0))
        w = lib.tensor(a, requires_grad=True)
        with lib.no_grad():
            quiet = lib.exp(w, out=lib.zeros(2, 2))
        return [
            same, out, out._version, wide, resized.warnings, resized.result,
            empty.warnings, empty.result, quiet,
            raises(lib.mul, w, w, out=lib.zeros(2, 2)),
            raises(lib.mul, x, x, out=lib.zeros(2, 2, requires_grad=True)),
            raises(lib.mul, x, 1.5, out=lib.zeros(2, 2, dtype=lib.long)),
        ]  # fmt: skip

    twin(prog)
