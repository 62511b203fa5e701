"""64-bit dtypes and PyTorch's defaults: float64/double and int64/long are honoured, never
swapped for 32 bits, with JAX's 64-bit mode off globally (plain JAX keeps its dtypes).

Oracle: real PyTorch, run on the same programs: the dtype name of every result (exact, also
for integers), values (float64 to 1e-12), PyTorch's type promotion (`result_type`,
`promote_types`, `can_cast` over a grid of dtypes and scalars), the default dtype, and the
error an in-place op raises when its result cannot be cast back.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import funcgrad.tape as tape


def name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def run_both(prog):
    """prog(lib) -> a tensor; (PyTorch's, the tape's) as (dtype name, float64 values)."""
    out = []
    for lib in (torch, tape):
        t = prog(lib)
        out.append((name(t.dtype), np.asarray(t.detach().numpy(), dtype=np.float64)))
    return out


DEFAULTS = {
    "int list": lambda l: l.tensor([1, 2, 3]),
    "float list": lambda l: l.tensor([1.0, 2.5]),
    "mixed list": lambda l: l.tensor([1, 2.5]),
    "bool list": lambda l: l.tensor([True, False]),
    "numpy float64": lambda l: l.tensor(np.linspace(0, 1, 3)),
    "numpy int64": lambda l: l.tensor(np.arange(3)),
    "numpy int32": lambda l: l.tensor(np.arange(3, dtype=np.int32)),
    "from_numpy float64": lambda l: l.from_numpy(np.linspace(0, 1, 3)),
    "dtype=float": lambda l: l.zeros(2, dtype=float),
    "dtype=int": lambda l: l.ones(2, dtype=int),
    "dtype=double": lambda l: l.ones(2, dtype=l.double),
    "dtype=long": lambda l: l.tensor([1.7, -2.2], dtype=l.long),
    "arange int": lambda l: l.arange(5),
    "arange float": lambda l: l.arange(0.0, 1.0, 0.25),
    "arange int start float end": lambda l: l.arange(1, 3.5),
    "arange dtype=double": lambda l: l.arange(4, dtype=l.float64),
    "full int": lambda l: l.full((2,), 7),
    "full float": lambda l: l.full((2,), 1.5),
    "full bool": lambda l: l.full((2,), True),
    "randint": lambda l: l.randint(0, 10, (3,)) * 0,
    "randperm": lambda l: l.randperm(4).sort().values if hasattr(l, "sort") else l.arange(4),
    "linspace": lambda l: l.linspace(0, 1, 5),
    "eye": lambda l: l.eye(2),
    "rand double": lambda l: l.rand(3, dtype=l.double) * 0,
    "randn": lambda l: l.randn(3) * 0,
    "long()": lambda l: l.tensor([1.9, -1.9]).long(),
    "double()": lambda l: l.tensor([1.0, 2.0]).double(),
    "to(int64)": lambda l: l.tensor([1.0, 2.0]).to(l.int64),
    "argmax": lambda l: l.tensor([[1.0, 3.0], [4.0, 2.0]]).argmax(),
    "argmax dim": lambda l: l.tensor([[1.0, 3.0], [4.0, 2.0]]).argmax(1),
    "argmin dim": lambda l: l.tensor([[1.0, 3.0], [4.0, 2.0]]).argmin(0),
    "max dim indices": lambda l: l.tensor([[1.0, 3.0], [4.0, 2.0]]).max(1)[1],
    "max 0-d indices": lambda l: l.tensor(2.0).max(0)[1],
}


@pytest.mark.parametrize("case", list(DEFAULTS), ids=list(DEFAULTS))
def test_defaults_are_pytorchs(case):
    (t_dtype, t_values), (f_dtype, f_values) = run_both(DEFAULTS[case])
    assert f_dtype == t_dtype
    np.testing.assert_allclose(f_values, t_values, rtol=1e-6)


def ints(l, dtype="int64"):
    return l.tensor(np.array([1, -2, 3, 7]), dtype=getattr(l, dtype))


PROMOTIONS = {
    "int64 / int64": lambda l: ints(l) / ints(l).abs(),
    "int64 / 2": lambda l: ints(l) / 2,
    "int64 // 2": lambda l: ints(l) // 2,
    "int64 % 3": lambda l: ints(l) % 3,
    "int64 * 1.5": lambda l: ints(l) * 1.5,
    "int64 + 1": lambda l: ints(l) + 1,
    "int64 ** 2": lambda l: ints(l) ** 2,
    "int64 + int32": lambda l: ints(l) + ints(l, "int32"),
    "int32 + 0-d int64": lambda l: ints(l, "int32") + l.tensor(5),
    "int64 + 0-d float32": lambda l: ints(l) + l.tensor(0.5),
    "int64 * float32": lambda l: ints(l) * l.ones(4),
    "int64 + float64": lambda l: ints(l) + l.ones(4, dtype=l.float64),
    "float32 + float64": lambda l: l.ones(4) + l.ones(4, dtype=l.float64),
    "float32 + 0-d float64": lambda l: l.ones(4) + l.tensor(2.0, dtype=l.float64),
    "0-d float64 + 0-d float32": lambda l: l.tensor(2.0, dtype=l.float64) + l.tensor(1.0),
    "float64 * 1.5": lambda l: l.ones(4, dtype=l.float64) * 1.5,
    "int64 > 1": lambda l: ints(l) > 1,
    "int64 == float32": lambda l: ints(l) == l.ones(4),
    "bool * 2": lambda l: l.tensor([True, False]) * 2,
    "bool + bool": lambda l: l.tensor([True, False]) + l.tensor([True, True]),
    "bool sum": lambda l: (ints(l) > 0).sum(),
    "int32 sum": lambda l: ints(l, "int32").sum(),
    "int64 sum dim": lambda l: ints(l).reshape(2, 2).sum(0),
    "int64 max": lambda l: ints(l).max(),
    "int64 abs": lambda l: ints(l).abs(),
    "int64 neg": lambda l: -ints(l),
    "int64 exp": lambda l: ints(l).exp(),
    "int64 sqrt of abs": lambda l: ints(l).abs().sqrt(),
    "int64 sigmoid": lambda l: ints(l).sigmoid(),
    "int64 where float": lambda l: l.where(ints(l) > 0, ints(l), l.zeros(4)),
    "int64 clamp": lambda l: ints(l).clamp(-1, 2),
    "int64 matmul": lambda l: ints(l).reshape(2, 2) @ ints(l).reshape(2, 2),
    "cat int64 float32": lambda l: l.cat([ints(l), l.ones(2)]),
    "float64 mean": lambda l: l.tensor(np.linspace(0, 1, 5)).mean(),
    "float64 softmax": lambda l: l.tensor(np.linspace(0, 1, 5)).softmax(0),
    "int64 index": lambda l: l.arange(10)[l.tensor([1, 3])],
}


@pytest.mark.parametrize("case", list(PROMOTIONS), ids=list(PROMOTIONS))
def test_mixed_dtypes_promote_as_in_pytorch(case):
    (t_dtype, t_values), (f_dtype, f_values) = run_both(PROMOTIONS[case])
    assert f_dtype == t_dtype
    np.testing.assert_allclose(f_values, t_values, rtol=1e-6)


def test_float64_keeps_precision_float32_would_lose_in_values_and_gradients():
    def prog(lib):
        x = lib.tensor([1.0 + 1e-12, 2.0, 3.0], dtype=lib.double, requires_grad=True)
        w = lib.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)  # numpy float64
        y = ((x - 1.0) * 1e12 * w).sin().sum() + (x.exp() * w).mean()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), w, retain_graph=True)
        y.backward()
        return [y, g, h, x.grad, w.grad]

    results = {lib: prog(lib) for lib in (torch, tape)}
    for t, f in zip(results[torch], results[tape], strict=True):
        assert name(f.dtype) == name(t.dtype) == "float64"
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_float64_module_and_optimizer_step():
    def prog(lib):
        lib.manual_seed(0)
        layer = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3) / 7))
            layer.bias.fill_(0.25)
        opt = lib.optim.SGD(layer.parameters(), lr=0.1)
        x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3))  # float64
        for _ in range(3):
            opt.zero_grad()
            loss = (layer(x) ** 2).mean()
            loss.backward()
            opt.step()
        return [loss, layer.weight, layer.weight.grad, layer.bias]

    results = {lib: prog(lib) for lib in (torch, tape)}
    for t, f in zip(results[torch], results[tape], strict=True):
        assert name(f.dtype) == name(t.dtype) == "float64"
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-12)


def test_cross_entropy_with_int64_targets_and_accuracy_count():
    def prog(lib):
        logits = lib.tensor(np.linspace(-1, 1, 12).reshape(4, 3), dtype=lib.float32)
        logits.requires_grad_(True)
        target = lib.tensor([0, 2, 1, 2])
        loss = lib.nn.functional.cross_entropy(logits, target)
        loss.backward()
        correct = (logits.argmax(1) == target).sum()
        return [loss, logits.grad, correct, target]

    results = {lib: prog(lib) for lib in (torch, tape)}
    for t, f in zip(results[torch], results[tape], strict=True):
        assert name(f.dtype) == name(t.dtype)
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "op", ["div_", "mul_ 1.5", "add_ float", "true_divide int"], ids=lambda s: s.split()[0]
)
def test_in_place_op_that_would_change_the_dtype_raises_pytorchs_error(op):
    def prog(lib):
        x = lib.tensor([1, 2, 3])
        if op == "div_":
            x.div_(2)
        elif op == "mul_ 1.5":
            x.mul_(1.5)
        elif op == "add_ float":
            x.add_(lib.ones(3))
        else:
            x /= lib.tensor([1, 2, 3])

    messages = []
    for lib in (torch, tape):
        with pytest.raises(RuntimeError) as info:
            prog(lib)
        messages.append(str(info.value))
    assert messages[1].split("\n[funcgrad]")[0] == messages[0]


def test_in_place_op_of_the_same_kind_keeps_int64():
    for lib in (torch, tape):
        x = lib.tensor([1, 2, 3])
        x.add_(lib.tensor([1, 1, 1], dtype=lib.int32))
        x.mul_(2)
        assert name(x.dtype) == "int64" and x.tolist() == [4, 6, 8]


# ---------------------------------------------------------------- promotion functions
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64"]  # fmt: skip


def test_promote_types_and_can_cast_match_pytorch_for_every_pair():
    for a in DTYPES:
        for b in DTYPES:
            expected = torch.promote_types(getattr(torch, a), getattr(torch, b))
            got = tape.promote_types(getattr(tape, a), getattr(tape, b))
            assert name(got) == name(expected), (a, b)
            expected = torch.can_cast(getattr(torch, a), getattr(torch, b))
            assert tape.can_cast(getattr(tape, a), getattr(tape, b)) == expected, (a, b)


OPERANDS = {
    "int64 vector": lambda l: l.tensor([1, 2]),
    "int32 vector": lambda l: l.tensor([1, 2], dtype=l.int32),
    "bool vector": lambda l: l.tensor([True]),
    "float16 vector": lambda l: l.ones(2, dtype=l.float16),
    "float64 vector": lambda l: l.ones(2, dtype=l.float64),
    "0-d int64": lambda l: l.tensor(3),
    "0-d float64": lambda l: l.tensor(3.0, dtype=l.float64),
    "0-d float32": lambda l: l.tensor(3.0),
    "int": lambda l: 2,
    "float": lambda l: 2.5,
    "bool": lambda l: True,
}


def test_result_type_matches_pytorch_for_tensors_and_scalars():
    for a in OPERANDS:
        for b in OPERANDS:
            expected = torch.result_type(OPERANDS[a](torch), OPERANDS[b](torch))
            got = tape.result_type(OPERANDS[a](tape), OPERANDS[b](tape))
            assert name(got) == name(expected), (a, b)


def test_set_default_dtype_changes_float_data_and_is_restored():
    def prog(lib):
        before = lib.get_default_dtype()
        lib.set_default_dtype(lib.float64)
        try:
            made = [lib.tensor([1.5]), lib.zeros(2), lib.tensor([1, 2]) * 0.5, lib.arange(0.0, 1)]
            made.append(lib.tensor([3, 4]) / lib.tensor([2, 2]))
            return before, lib.get_default_dtype(), [name(t.dtype) for t in made]
        finally:
            lib.set_default_dtype(before)

    t_before, t_during, t_made = prog(torch)
    f_before, f_during, f_made = prog(tape)
    assert (name(f_before), name(f_during), f_made) == (name(t_before), name(t_during), t_made)
    assert name(tape.get_default_dtype()) == "float32"
    for lib in (torch, tape):
        with pytest.raises(TypeError, match="only floating-point types are supported"):
            lib.set_default_dtype(lib.int64)


def test_plain_jax_keeps_its_dtypes_after_64_bit_tape_work():
    x = tape.ones(3, dtype=tape.float64, requires_grad=True)
    (x * tape.tensor([1, 2, 3])).sum().backward()
    assert not jax.config.jax_enable_x64
    assert jnp.ones(3).dtype == np.float32 and jnp.arange(3).dtype == np.int32
    assert (jnp.ones(3) * 2.0).dtype == np.float32


# ---------------------------------------------------------------- dtype objects
def test_dtypes_print_and_describe_themselves_as_pytorchs():
    complex_names = ["complex64", "complex128", "cfloat", "cdouble"]  # names only on the tape
    for d in DTYPES + ["double", "long", "half", "float", "int", "short", *complex_names]:
        t, f = getattr(torch, d), getattr(tape, d)
        assert (str(f), repr(f)) == (str(t), repr(t))
        assert (f.is_floating_point, f.is_complex, f.is_signed, f.itemsize) == (
            t.is_floating_point,
            t.is_complex,
            t.is_signed,
            t.itemsize,
        )
        assert isinstance(f, tape.dtype) and isinstance(t, torch.dtype)


def test_tensor_dtype_prints_as_in_pytorch_and_numpy_and_jax_accept_it():
    for lib in (torch, tape):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64)
        assert str(x.dtype) == "torch.float64" and repr(x) == repr(
            torch.tensor([1.0, 2.0]).double()
        )
        assert str(lib.tensor([1]).dtype) == "torch.int64"
        assert str(lib.get_default_dtype()) == "torch.float32"
    assert np.dtype(tape.float64) == np.float64 and np.dtype(tape.bfloat16).name == "bfloat16"
    assert jnp.zeros(2, dtype=tape.float16).dtype == np.float16
    assert tape.ones(2).dtype == jnp.float32 and tape.ones(2).dtype != tape.float64


def test_finfo_and_iinfo_match_pytorch():
    for d in ["float16", "bfloat16", "float32", "float64"]:
        t, f = torch.finfo(getattr(torch, d)), tape.finfo(getattr(tape, d))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
            assert getattr(f, attr) == getattr(t, attr), (d, attr)
    assert tape.finfo().eps == torch.finfo().eps
    for d in ["uint8", "int8", "int16", "int32", "int64"]:
        t, f = torch.iinfo(getattr(torch, d)), tape.iinfo(getattr(tape, d))
        assert (f.bits, f.max, f.min, f.dtype) == (t.bits, t.max, t.min, t.dtype)
    for lib in (torch, tape):
        with pytest.raises(TypeError, match="requires a floating point input type"):
            lib.finfo(lib.int64)
        with pytest.raises(TypeError, match="requires an integer input type"):
            lib.iinfo(lib.float32)
        with pytest.raises(TypeError, match="torch.bool is not supported by torch.iinfo"):
            lib.iinfo(lib.bool)


# ---------------------------------------------------------------- legacy constructors
LEGACY = {
    "Tensor(list)": lambda l: l.Tensor([1, 2]),
    "Tensor(shape)": lambda l: l.Tensor(2, 3).zero_(),
    "Tensor()": lambda l: l.Tensor(),
    "Tensor(numpy float64)": lambda l: l.Tensor(np.linspace(0, 1, 3)),
    "FloatTensor": lambda l: l.FloatTensor([1, 2]),
    "DoubleTensor": lambda l: l.DoubleTensor([1.5]),
    "LongTensor": lambda l: l.LongTensor([1, 2]),
    "LongTensor(shape)": lambda l: l.LongTensor(3).zero_(),
    "IntTensor": lambda l: l.IntTensor([1, 2]),
    "BoolTensor": lambda l: l.BoolTensor([1, 0]),
    "type(float64)": lambda l: l.ones(2).type(l.float64),
    "type(name)": lambda l: l.ones(2).type("torch.LongTensor"),
    "type(legacy type)": lambda l: l.ones(2).type(l.IntTensor),
    "Variable": lambda l: l.autograd.Variable(l.ones(2), requires_grad=True) * 2,
}


@pytest.mark.parametrize("case", list(LEGACY), ids=list(LEGACY))
def test_legacy_constructors_and_type_conversions_match_pytorch(case):
    (t_dtype, t_values), (f_dtype, f_values) = run_both(LEGACY[case])
    assert f_dtype == t_dtype
    np.testing.assert_array_equal(f_values, t_values)


def test_legacy_types_isinstance_type_names_and_variable_match_pytorch():
    def prog(lib):
        x, n = lib.ones(2), lib.tensor([1, 2])
        v = lib.autograd.Variable(x, requires_grad=True)
        (v * 3).sum().backward()
        return (
            [isinstance(x, lib.FloatTensor), isinstance(x, lib.LongTensor)],
            [isinstance(n, lib.LongTensor), isinstance(x, lib.autograd.Variable)],
            [x.type(), n.type(), n.bool().type(), x.double().type(), repr(lib.FloatTensor)],
            [x.requires_grad, v.requires_grad, v.is_leaf, v.grad.tolist()],
        )

    assert prog(tape) == prog(torch)


BAD_LEGACY = {
    "Tensor(2, 'a')": lambda l: l.Tensor(2, "a"),
    "LongTensor('a')": lambda l: l.LongTensor("a"),
    "Variable(list)": lambda l: l.autograd.Variable([1.0]),
    "type('torch.Foo')": lambda l: l.ones(1).type("torch.Foo"),
}


@pytest.mark.parametrize("case", list(BAD_LEGACY), ids=list(BAD_LEGACY))
def test_bad_legacy_arguments_raise_pytorchs_errors(case):
    errors = []
    for lib in (torch, tape):
        with pytest.raises((TypeError, ValueError, RuntimeError)) as info:
            BAD_LEGACY[case](lib)
        errors.append((type(info.value), str(info.value).split("\n")[0]))
    assert errors[1] == errors[0]
