"""Dtypes: float16, bfloat16, float32 and float64 behave as PyTorch's do.

Oracle: real PyTorch, on the same programs and numbers: the dtype of every result and of
every `.grad` (a gradient has its parameter's dtype, also when it accumulates over several
backward calls and when the parameter meets other dtypes on the way), type promotion of
mixed dtypes (including PyTorch's rule that a 0-d tensor does not raise the dtype of
dimensioned tensors of its category), and values within the dtype's precision.

float64 runs with JAX's 64-bit mode off globally, as user code has it: the tape enters
the mode per op (checked below: it does not leak). Integer dtypes, PyTorch's defaults and
promotion rules are tested in test_dtypes_64bit.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch_twin import arr

import funcgrad.tape as tape

TOLERANCE = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": 1e-12}


def dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "")


def values(t) -> np.ndarray:
    """float64 values (bfloat16 has no NumPy type in PyTorch)."""
    return np.asarray(t.detach().double().numpy(), dtype=np.float64)


def observe_dtypes(prog, name):
    """Runs prog in both libraries; returns (dtype names, values) for torch and funcgrad."""
    out = {}
    for lib in (torch, tape):
        results = prog(lib, getattr(lib, name))
        out[lib] = ([dtype_name(t) for t in results], [values(t) for t in results])
    return out[torch], out[tape]


def assert_same_dtypes_and_values(prog, name):
    (t_dtypes, t_values), (f_dtypes, f_values) = observe_dtypes(prog, name)
    assert f_dtypes == t_dtypes
    tol = TOLERANCE[name]
    for expected, actual in zip(t_values, f_values, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)
    return t_dtypes


FLOATS = ["float16", "bfloat16", "float32", "float64"]


# ---------------------------------------------------------------- one dtype


@pytest.mark.parametrize("name", FLOATS)
def test_gradient_has_the_parameter_dtype_and_keeps_it_when_accumulating(name):
    def prog(lib, dtype):
        w = lib.tensor(arr(3, 4), dtype=dtype, requires_grad=True)
        x = lib.tensor(arr(4, 2, seed=1), dtype=dtype)
        b = lib.tensor(arr(2, seed=2), dtype=dtype, requires_grad=True)
        h = (w @ x + b).tanh()
        loss = h.softmax(-1).log().mean() + (h.exp() * 2).sum() / 10
        loss.backward(retain_graph=True)
        first = w.grad.clone()
        loss.backward()
        return [loss, h, first, w.grad, b.grad]

    dtypes = assert_same_dtypes_and_values(prog, name)
    assert dtypes == [name] * 5


@pytest.mark.parametrize("name", FLOATS)
def test_autograd_grad_and_double_backward_keep_the_dtype(name):
    def prog(lib, dtype):
        x = lib.tensor(arr(5) + 1.5, dtype=dtype, requires_grad=True)
        y = (x**3).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        return [g, h]

    assert assert_same_dtypes_and_values(prog, name) == [name, name]


@pytest.mark.parametrize("name", FLOATS)
def test_in_place_op_with_a_wider_operand_keeps_the_tensor_dtype(name):
    def prog(lib, dtype):
        x = lib.tensor(arr(3), dtype=dtype)
        x.add_(lib.tensor(arr(3, seed=1)))  # a float32 operand
        x.mul_(0.5)
        return [x]

    assert assert_same_dtypes_and_values(prog, name) == [name]


# ---------------------------------------------------------------- mixed dtypes

PROMOTIONS = {
    "float16 + float32": lambda l: l.ones(3, dtype=l.float16) + l.ones(3),
    "bfloat16 + float16": lambda l: l.ones(3, dtype=l.bfloat16) + l.ones(3, dtype=l.float16),
    "float16 * 2.0": lambda l: l.ones(3, dtype=l.float16) * 2.0,
    "bfloat16 / 3": lambda l: l.ones(3, dtype=l.bfloat16) / 3,
    "int + 1.5": lambda l: l.tensor(np.arange(3, dtype=np.int32)) + 1.5,
    "int * float16": lambda l: l.tensor(np.arange(3, dtype=np.int32)) * l.ones(3, dtype=l.float16),
    "float16 + 0-d float32": lambda l: l.ones(3, dtype=l.float16) + l.tensor(1.0),
    "0-d float32 * bfloat16": lambda l: l.tensor(2.0) * l.ones(3, dtype=l.bfloat16),
    "bfloat16 ** 0-d float32": lambda l: l.ones(3, dtype=l.bfloat16) ** l.tensor(2.0),
    "0-d float32 > float16": lambda l: (l.tensor(0.5) > l.ones(3, dtype=l.float16)).float(),
    "int + 0-d float32": lambda l: l.tensor(np.arange(3, dtype=np.int32)) + l.tensor(1.0),
    "bool * 1.5": lambda l: l.tensor(np.array([True, False])) * 1.5,
    "where(float16, float32)": lambda l: l.where(
        l.ones(3) > 0, l.ones(3, dtype=l.float16), l.ones(3)
    ),
    "where(float16, 0-d float32)": lambda l: l.where(
        l.ones(3) > 0, l.ones(3, dtype=l.float16), l.tensor(2.0)
    ),
    "maximum(float16, float32)": lambda l: l.maximum(l.ones(3, dtype=l.float16), l.ones(3)),
    "cat of float16 and float32": lambda l: l.cat([l.ones(2, dtype=l.float16), l.ones(2)]),
    "float16 / int": lambda l: l.ones(3, dtype=l.float16) / l.tensor(np.arange(1, 4)),
    "int / int": lambda l: l.tensor(np.arange(1, 4)) / l.tensor(np.arange(1, 4)),
    "float16 mean": lambda l: l.ones(3, dtype=l.float16).mean(),
    "bfloat16 softmax": lambda l: l.ones(3, dtype=l.bfloat16).softmax(0),
    "float16 norm": lambda l: l.ones(3, dtype=l.float16).norm(),
    "float32 to bfloat16": lambda l: l.ones(3).to(l.bfloat16),
}


@pytest.mark.parametrize("case", list(PROMOTIONS), ids=list(PROMOTIONS))
def test_mixed_dtypes_promote_as_in_pytorch(case):
    results = [PROMOTIONS[case](lib) for lib in (torch, tape)]
    assert dtype_name(results[1]) == dtype_name(results[0])
    np.testing.assert_allclose(values(results[1]), values(results[0]), rtol=1e-2)


def test_gradients_flow_back_in_each_inputs_own_dtype():
    def prog(lib, dtype):
        x = lib.tensor(arr(3), dtype=lib.float16, requires_grad=True)
        w = lib.tensor(arr(3, seed=1), requires_grad=True)  # float32
        s = lib.tensor(1.5, requires_grad=True)  # 0-d float32: the product stays float16
        b = lib.tensor(arr(3, seed=2), dtype=lib.bfloat16, requires_grad=True)
        y = x * s
        z = (y * w).sum() + (y.float() * b.float()).sum() + (b * s).sum()
        z.backward()
        return [y, z, x.grad, w.grad, s.grad, b.grad]

    dtypes = assert_same_dtypes_and_values(prog, "bfloat16")
    assert dtypes == ["float16", "float32", "float16", "float32", "float32", "bfloat16"]


def test_matrix_product_of_two_dtypes_raises_as_in_pytorch():
    for lib in (torch, tape):
        with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype"):
            lib.ones(2, 3, dtype=lib.float16) @ lib.ones(3, 2)


PRODUCTS_WRONG_IN_SHAPE_AND_DTYPE = [
    ("matmul", (2, 3), (1,)),  # mv: the shape is checked first
    ("matmul", (2, 3), (4, 2)),  # mm
    ("matmul", (2, 2, 3), (2, 4, 2)),  # bmm
    ("matmul", (2, 3), (2, 4, 2)),  # a matrix times a batch
    ("matmul", (3,), (4,)),  # dot: the dtype is checked first
    ("mm", (2, 3), (4, 2)),
    ("mv", (2, 3), (4,)),
    ("bmm", (2, 2, 3), (2, 4, 2)),
]


@pytest.mark.parametrize("op, a, b", PRODUCTS_WRONG_IN_SHAPE_AND_DTYPE)
def test_a_product_wrong_in_shape_and_dtype_reports_what_pytorch_checks_first(op, a, b):
    messages = []
    for lib in (torch, tape):
        with pytest.raises(RuntimeError) as caught:
            getattr(lib, op)(lib.zeros(*a, dtype=lib.float64), lib.zeros(*b))
        messages.append(str(caught.value).splitlines()[0])
    assert messages[1] == messages[0]


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_assigning_a_grad_of_another_dtype_raises(name):
    for lib in (torch, tape):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype"):
            x.grad = lib.ones(3, dtype=getattr(lib, name))


# ---------------------------------------------------------------- float64 and x64 mode


def test_float64_computes_in_float64_without_a_global_x64_mode():
    def prog(lib, dtype):
        x = lib.tensor(np.linspace(0.1, 1.0, 7), dtype=dtype, requires_grad=True)
        y = (x.exp() - 1 - x).sum()  # cancellation: needs float64 to match at 1e-12
        y.backward()
        return [y, x.grad, lib.tensor(np.ones(2))]  # a NumPy float64 array stays float64

    assert assert_same_dtypes_and_values(prog, "float64") == ["float64"] * 3


def test_x64_mode_does_not_leak_out_of_the_tape():
    inside = tape.tensor(np.ones(2), dtype=tape.float64, requires_grad=True)
    (inside * inside).sum().backward()
    assert inside.dtype == np.float64 and inside.grad.dtype == np.float64
    assert tape.tensor([1, 2]).argmax().dtype == np.int64
    assert not jax.config.jax_enable_x64
    assert jnp.ones(1).dtype == np.float32
    assert tape.tensor([1.0, 2.0]).dtype == np.float32
    assert (tape.ones(2) * 2.0).dtype == np.float32
    # a float64 tensor made inside keeps its dtype afterwards, as a JAX array does
    assert inside.dtype == np.float64
