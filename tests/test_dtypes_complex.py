"""Complex dtypes: refused where they enter the tape, never swapped for another dtype.

PyTorch makes complex64 from Python complex numbers (complex128 from complex128 data);
funcgrad.tape has no complex tensors (their gradients follow PyTorch's conjugate Wirtinger
convention, which the tape does not implement), so each way complex data or a complex
dtype would enter a tensor raises `errors.COMPLEX_UNSUPPORTED`, a TypeError naming the
dtype PyTorch would have made. Oracle: real PyTorch, run on the same program, shows that
the program does make a complex tensor there (and of which dtype); where PyTorch itself
raises (complex data with a real dtype), the tape raises its error and text.
"""

from __future__ import annotations

import io

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import funcgrad.tape as tape
from funcgrad.tape import errors

COMPLEX_NAMES = ["complex64", "complex128", "cfloat", "cdouble"]
SCALAR_TYPES = {torch.complex64: "ComplexFloat", torch.complex128: "ComplexDouble"}


def refusal(dtype) -> str:
    return errors.COMPLEX_UNSUPPORTED.format(scalar_type=SCALAR_TYPES[dtype])


# Each program makes a complex tensor in PyTorch; `lib` is torch or funcgrad.tape.
ENTRY_POINTS = {
    "tensor of Python complex": lambda lib: lib.tensor([1 + 2j, 3j]),
    "0-d tensor of a complex": lambda lib: lib.tensor(1j),
    "ones(dtype=cfloat)": lambda lib: lib.ones(2, dtype=lib.cfloat),
    "zeros(dtype=complex128)": lambda lib: lib.zeros(2, dtype=lib.complex128),
    "full(dtype=cdouble)": lambda lib: lib.full((2,), 1.0, dtype=lib.cdouble),
    "full of a complex": lambda lib: lib.full((2,), 1j),
    "empty(dtype=complex64)": lambda lib: lib.empty(2, dtype=lib.complex64),
    "randn(dtype=cfloat)": lambda lib: lib.randn(2, dtype=lib.cfloat),
    "zeros_like(dtype=cfloat)": lambda lib: lib.zeros_like(lib.ones(2), dtype=lib.cfloat),
    "new_ones(dtype=cfloat)": lambda lib: lib.ones(2).new_ones(2, dtype=lib.cfloat),
    "tensor(dtype=cfloat)": lambda lib: lib.tensor([1.0, 2.0], dtype=lib.cfloat),
    "to(complex64)": lambda lib: lib.ones(2).to(lib.complex64),
    "to(dtype=cdouble)": lambda lib: lib.ones(2).to(dtype=lib.cdouble),
    "type(complex64)": lambda lib: lib.ones(2).type(lib.complex64),
    "type('torch.ComplexFloatTensor')": lambda lib: lib.ones(2).type("torch.ComplexFloatTensor"),
    "from_numpy(complex64)": lambda lib: lib.from_numpy(np.ones(2, np.complex64)),
    "as_tensor(complex128)": lambda lib: lib.as_tensor(np.ones(2, np.complex128)),
    "tensor(numpy complex128)": lambda lib: lib.tensor(np.array([1 + 1j])),
    "tensor * 1j": lambda lib: lib.ones(2) * 1j,
    "1j * tensor": lambda lib: 1j * lib.ones(2),
    "tensor + complex": lambda lib: lib.ones(2) + (1 + 1j),
    "add(tensor, 1j)": lambda lib: lib.add(lib.ones(2), 1j),
    "pow(tensor, 1j)": lambda lib: lib.ones(2).pow(1j),
    "where(cond, tensor, 1j)": lambda lib: lib.where(lib.ones(2) > 0, lib.ones(2), 1j),
    "nn.Parameter(complex data)": lambda lib: lib.nn.Parameter(lib.tensor([1j])),
    "tensor of a tensor and 1j": lambda lib: lib.tensor([lib.tensor(1.0), 1j]),
    "tensor - 1j": lambda lib: lib.ones(2) - 1j,
    "1j - tensor": lambda lib: 1j - lib.ones(2),
    "tensor / 1j": lambda lib: lib.ones(2) / 1j,
    "1j ** tensor": lambda lib: 1j ** lib.ones(2),
    "sum(dtype=cfloat)": lambda lib: lib.ones(2).sum(dtype=lib.cfloat),
    "ones_like(dtype=cfloat)": lambda lib: lib.ones_like(lib.ones(2), dtype=lib.cfloat),
    "rand_like(dtype=cfloat)": lambda lib: lib.rand_like(lib.ones(2), dtype=lib.cfloat),
    "linspace(dtype=cfloat)": lambda lib: lib.linspace(0, 1, 3, dtype=lib.cfloat),
    "eye(dtype=cfloat)": lambda lib: lib.eye(2, dtype=lib.cfloat),
    "nn.Linear(dtype=cfloat)": lambda lib: lib.nn.Linear(2, 2, dtype=lib.cfloat).weight,
    "Module.to(cfloat)": lambda lib: lib.nn.Linear(2, 2).to(lib.cfloat).weight,
    "DataLoader of complex arrays": lambda lib: next(
        iter(lib.utils.data.DataLoader([np.ones(2, np.complex64)] * 2, batch_size=2))
    ),
}


@pytest.mark.parametrize("name", COMPLEX_NAMES)
def test_complex_dtype_names_resolve_as_pytorchs(name):
    """(Their attributes are compared in test_dtypes_64bit.py with the other dtypes'.)"""
    t, f = getattr(torch, name), getattr(tape, name)
    assert (str(f), repr(f), f.is_complex) == (str(t), repr(t), t.is_complex)
    assert (tape.cfloat is tape.complex64, tape.cdouble is tape.complex128) == (
        torch.cfloat is torch.complex64,
        torch.cdouble is torch.complex128,
    )


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature")  # torch's, Module.to
@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_complex_entering_the_tape_is_refused_naming_pytorchs_dtype(name):
    program = ENTRY_POINTS[name]
    made = program(torch)
    assert made.dtype.is_complex  # PyTorch does make a complex tensor here
    with pytest.raises(TypeError) as raised:
        program(tape)
    assert str(raised.value) == refusal(made.dtype)
    assert "\n[funcgrad] " in str(raised.value)


def test_python_complex_numbers_follow_pytorchs_default_dtype():
    """complex64 with the float32 default, complex128 with float64 (named in the error)."""
    for default in (torch.float64, torch.float32):  # float32 last: restores the default
        torch.set_default_dtype(default)
        tape.set_default_dtype(getattr(tape, str(default).replace("torch.", "")))
        made = torch.tensor([1j]).dtype
        with pytest.raises(TypeError, match=SCALAR_TYPES[made]):
            tape.tensor([1j])
        with pytest.raises(TypeError, match=SCALAR_TYPES[made]):
            tape.ones(2) * 1j
    assert tape.get_default_dtype() == tape.float32


def test_a_saved_complex_checkpoint_is_refused_at_load():
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2, dtype=torch.cfloat)}, buffer)
    assert torch.load(io.BytesIO(buffer.getvalue()))["w"].dtype == torch.complex64
    with pytest.raises(TypeError) as raised:
        tape.load(io.BytesIO(buffer.getvalue()))
    assert str(raised.value) == refusal(torch.complex64)


def test_jax_complex_arrays_are_refused_too():
    with pytest.raises(TypeError, match="ComplexFloat"):
        tape.tensor(jnp.ones(2, jnp.complex64))
    with pytest.raises(TypeError, match="ComplexFloat"):
        tape.ones(2, dtype=jnp.complex64)
    with pytest.raises(TypeError, match="ComplexFloat"):
        tape.ones(2, dtype="complex64")


@pytest.mark.parametrize(
    "program",
    [
        lambda lib: lib.tensor([1j], dtype=lib.float32),
        lambda lib: lib.ones(2).new_tensor([1j]),
    ],
)
def test_complex_python_data_with_a_real_dtype_raises_pytorchs_type_error(program):
    with pytest.raises(TypeError) as expected:
        program(torch)
    with pytest.raises(TypeError) as raised:
        program(tape)
    assert str(raised.value) == str(expected.value) == errors.REAL_NOT_COMPLEX


@pytest.mark.parametrize(
    "program",
    [
        lambda lib: lib.ones(2).fill_(1j),
        lambda lib: lib.ones(2).__setitem__(0, 1j),
        lambda lib: lib.ones(2).masked_fill_(lib.ones(2) > 0, 1j),
        lambda lib: lib.clamp(lib.ones(2), 1j),
        lambda lib: lib.ones(2).clamp(max=1j),
        lambda lib: lib.ones(2).clamp_min(1j),
        lambda lib: lib.ones(2).new_full((2,), 1j),
        lambda lib: lib.full_like(lib.ones(2), 1j),
        lambda lib: lib.ones(2).add_(1j),
        lambda lib: lib.lerp(lib.ones(2), lib.ones(2), 1j),
        lambda lib: lib.addcmul(lib.ones(2), lib.ones(2), lib.ones(2), value=1j),
        lambda lib: lib.ones(2).masked_fill(lib.ones(2) > 0, 1j),
        lambda lib: lib.nn.init.constant_(lib.ones(2), 1j),
        lambda lib: lib.nn.functional.pad(lib.ones(2), (1, 1), value=1j),
    ],
)
def test_complex_scalars_written_into_or_bounding_real_tensors_are_refused(program):
    """PyTorch raises too (its RuntimeError 'value cannot be converted ...', a
    NotImplementedError for clamp, a TypeError for pad); the tape refuses the complex
    number before it reaches JAX, which would drop its imaginary part or raise its own
    error."""
    with pytest.raises((RuntimeError, NotImplementedError, TypeError)):
        program(torch)
    with pytest.raises(TypeError) as raised:
        program(tape)
    assert str(raised.value) == refusal(torch.complex64)


def test_is_complex_is_false_for_every_tape_tensor_as_for_real_pytorch_tensors():
    for lib in (torch, tape):
        for x in (lib.ones(2), lib.arange(3), lib.ones(2, dtype=lib.float64)):
            assert lib.is_complex(x) is False and x.is_complex() is False


@pytest.mark.parametrize("name", ["view_as_complex", "complex", "polar", "fft"])
def test_complex_making_functions_are_absent(name):
    """PyTorch has them; the tape has none, so a program stops at the name."""
    assert hasattr(torch, name)
    assert not hasattr(tape, name)


def test_complex_operands_are_refused_with_lazy_segments_on_too():
    x = tape.ones(2, requires_grad=True)
    with tape.lazy.lazy_segments():
        y = x * 2  # pending
        with pytest.raises(TypeError) as raised:
            y * 1j
        y.sum().backward()  # runs the pending segment: nothing is left for later tests
    assert str(raised.value) == refusal(torch.complex64)
    assert x.grad.tolist() == [2.0, 2.0]
