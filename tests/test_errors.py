"""funcgrad.tape raises PyTorch's errors, with PyTorch's text first.

Oracle: real PyTorch (torch 2.13, CPU), run at test time on the same program (see
torch_twin.py): the exception type must be the same, and funcgrad's message must start with
PyTorch's and add only a "\\n[funcgrad] ..." hint.

Intentional differences, not compared: integer tensors are int32 in funcgrad (JAX without
x64) and int64 in PyTorch; no message below names an integer dtype, and funcgrad's hints
(which do) are not compared.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch_twin import Raised, arr, raises, strip_cpp_location, twin, warns

import funcgrad.tape as tape

BACKWARD_TWICE = "Trying to backward through the graph a second time"


def assert_raised(observed, prefix):
    assert isinstance(observed, Raised), observed
    assert observed.message.startswith(prefix), observed.message


# ---------------------------------------------------------------- backward twice


def backward_twice(lib, how):
    x = lib.tensor(arr(3, seed=1), requires_grad=True)
    y = (x.exp() * x).sum()
    if how == "backward":
        y.backward()
        return raises(y.backward), x.grad
    lib.autograd.grad(y, x)
    return raises(lib.autograd.grad, y, x), x.grad


@pytest.mark.parametrize("how", ["backward", "autograd.grad"])
def test_second_backward_without_retain_graph_raises(how):
    _, (error, grad) = twin(backward_twice, how)
    assert_raised(error, BACKWARD_TWICE)


def test_second_backward_error_matches_torch_text_with_pytest_raises():
    x = torch.tensor(arr(3), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as torch_error:
        y.backward()
    x = tape.tensor(arr(3), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=re.escape(str(torch_error.value))):
        y.backward()


# ---------------------------------------------------------------- gradients of the outputs


def implicit_grad_of_non_scalar(lib, how):
    x = lib.tensor(arr(2, 3, seed=2), requires_grad=True)
    y = x * 2
    if how == "backward":
        return raises(y.backward)
    return raises(lib.autograd.grad, y, x)


@pytest.mark.parametrize("how", ["backward", "autograd.grad"])
def test_implicit_grad_of_non_scalar_output_raises(how):
    _, error = twin(implicit_grad_of_non_scalar, how)
    assert_raised(error, "grad can be implicitly created only for scalar outputs")


def gradient_shape_mismatch(lib, how):
    x = lib.tensor(arr(2, 3, seed=3), requires_grad=True)
    y = x * 2
    wrong = lib.tensor(arr(3, 2, seed=4))
    if how == "backward":
        return raises(y.backward, wrong)
    return raises(lib.autograd.grad, y, x, grad_outputs=wrong)


@pytest.mark.parametrize("how", ["backward", "autograd.grad"])
def test_gradient_of_the_wrong_shape_raises(how):
    _, error = twin(gradient_shape_mismatch, how)
    assert_raised(error, "Mismatch in shape: grad_output[0] has a shape of torch.Size([3, 2])")


def no_grad_fn(lib, how):
    x = lib.tensor(arr(3, seed=5), requires_grad=True)
    ok = (x * 2).sum()
    if how == "constant":
        return raises((lib.tensor(arr(3, seed=6)) * 2).sum().backward)
    if how == "no_grad":
        with lib.no_grad():
            y = (x * 2).sum()
        return raises(y.backward)
    return raises(lib.autograd.backward, [ok, lib.tensor(arr(3, seed=6)).sum()])


@pytest.mark.parametrize("how", ["constant", "no_grad"])
def test_backward_of_tensor_without_grad_fn_raises(how):
    _, error = twin(no_grad_fn, how)
    assert_raised(error, "element 0 of tensors does not require grad and does not have a grad_fn")


def test_backward_names_the_index_of_the_output_without_grad_fn():
    _, error = twin(no_grad_fn, "second output")
    assert_raised(error, "element 1 of tensors does not require grad")


# ---------------------------------------------------------------- inputs of autograd.grad


def unused_input(lib, unused_at):
    x = lib.tensor(arr(3, seed=7), requires_grad=True)
    z = lib.tensor(arr(3, seed=8), requires_grad=True)
    y = (x * 3).sum()
    inputs = [z, x] if unused_at == 0 else [x, z]
    return {
        "error": raises(lib.autograd.grad, y, inputs, retain_graph=True),
        "allow_unused": lib.autograd.grad(y, inputs, retain_graph=True, allow_unused=True),
        "materialize": lib.autograd.grad(y, inputs, materialize_grads=True),
    }


@pytest.mark.parametrize("unused_at", [0, 1])
def test_unused_input_of_autograd_grad_raises_with_its_index(unused_at):
    _, obs = twin(unused_input, unused_at)
    assert_raised(obs["error"], f"The differentiated Tensor at index {unused_at} appears")


def input_not_requiring_grad(lib):
    x = lib.tensor(arr(3, seed=9), requires_grad=True)
    z = lib.tensor(arr(3, seed=10))
    return raises(lib.autograd.grad, (x * z).sum(), [x, z])


def test_autograd_grad_input_that_does_not_require_grad_raises():
    _, error = twin(input_not_requiring_grad)
    assert_raised(error, "One of the differentiated Tensors does not require grad")


def materialize_without_allow_unused(lib):
    x = lib.tensor(arr(3, seed=11), requires_grad=True)
    return raises(lib.autograd.grad, (x * 2).sum(), x, allow_unused=False, materialize_grads=True)


def test_materialize_grads_with_allow_unused_false_raises():
    _, error = twin(materialize_without_allow_unused)
    assert error.type == "ValueError"


# ---------------------------------------------------------------- requires_grad on integers


def integer_requires_grad(lib, how):
    data = [1, 2]
    if how == "constructor":
        return raises(lib.tensor, data, requires_grad=True)
    t = lib.tensor(data)
    if how == "requires_grad_":
        return raises(t.requires_grad_)
    return raises(setattr, t, "requires_grad", True)


@pytest.mark.parametrize("how", ["constructor", "requires_grad_", "setter"])
def test_requires_grad_on_integer_tensor_raises(how):
    _, error = twin(integer_requires_grad, how)
    assert re.match(r"[Oo]nly Tensors of floating point", error.message)


# ---------------------------------------------------------------- in-place on a leaf


def leaf_inplace(lib, op):
    x = lib.tensor(arr(2, 3, seed=12), requires_grad=True)
    ops = {
        "add_": lambda: x.add_(1.0),
        "mul_": lambda: x.mul_(2.0),
        "zero_": x.zero_,
        "copy_": lambda: x.copy_(lib.tensor(arr(2, 3, seed=13))),
        "+=": lambda: x.__iadd__(1.0),
        "[0] =": lambda: x.__setitem__(0, 1.0),
        "[:, 1:] =": lambda: x.__setitem__((slice(None), slice(1, None)), 1.0),
        "[:] =": lambda: x.__setitem__(slice(None), 1.0),
        "[index] =": lambda: x.__setitem__(lib.tensor([1]), 1.0),
        "[mask] =": lambda: x.__setitem__(x > 0, 1.0),
    }
    return {"error": raises(ops[op]), "x unchanged": x}


@pytest.mark.parametrize(
    "op",
    [
        "add_",
        "mul_",
        "zero_",
        "copy_",
        "+=",
        "[0] =",
        "[:, 1:] =",
        "[:] =",
        "[index] =",
        "[mask] =",
    ],
)
def test_inplace_on_leaf_that_requires_grad_raises(op):
    _, obs = twin(leaf_inplace, op)
    assert re.match(r"a (view of a )?leaf Variable that requires grad", obs["error"].message)


# ---------------------------------------------------------------- saved tensor changed in place


def saved_tensor_modified(lib, which):
    x = lib.tensor(arr(4, seed=14), requires_grad=True)
    z = lib.tensor(arr(4, seed=15))
    if which == "leaf input":
        y = (x * z).sum()
        z.add_(1.0)
    elif which == "leaf requiring grad":
        y = (x * x).sum()
        with lib.no_grad():
            x.mul_(2.0)
    elif which == "non-leaf input":
        h = x * 2
        y = (h * h).sum()
        h.add_(1.0)
    elif which == "non-leaf, setitem":
        h = x * 2
        y = (h * h).sum()
        h[0] = 5.0
    elif which in ("sum(dim)", "copy_", "1 - x"):  # changed under no_grad: same grad_fn
        h = {
            "sum(dim)": lambda: (x * lib.tensor(arr(3, 4, seed=16))).sum(0),
            "copy_": lambda: lib.zeros(4).copy_(x),
            "1 - x": lambda: 1 - x,
        }[which]()
        y = (h * h).sum()
        with lib.no_grad():
            h.mul_(2.0)
    elif which == "exp result":
        h = x.exp()
        y = h.sum()
        h.add_(1.0)
    elif which == "sigmoid_ result":
        h = (x * 1).sigmoid_()
        y = (h * 2).sum()
        h.mul_(2.0)
    return {"error": raises(y.backward), "x.grad": x.grad}


@pytest.mark.parametrize(
    "which",
    [
        "leaf input",
        "leaf requiring grad",
        "non-leaf input",
        "non-leaf, setitem",
        "sum(dim)",
        "copy_",
        "1 - x",
        "exp result",
        "sigmoid_ result",
    ],
)
def test_backward_after_saved_tensor_modified_in_place_raises(which):
    _, obs = twin(saved_tensor_modified, which)
    assert_raised(
        obs["error"],
        "one of the variables needed for gradient computation has been modified by an inplace "
        "operation",
    )


# ---------------------------------------------------------------- .grad of a non-leaf


def non_leaf_grad(lib):
    x = lib.tensor(arr(3, seed=17), requires_grad=True)
    h = x * 2
    h.sum().backward()
    kept = x * 3
    kept.retain_grad()
    return {
        "h.grad": warns(lambda: h.grad),
        "x.grad": warns(lambda: x.grad),
        "retained": warns(lambda: kept.grad),
    }


def test_grad_of_non_leaf_warns_and_is_none():
    _, obs = twin(non_leaf_grad)
    ((category, message),) = obs["h.grad"].warnings
    assert category == "UserWarning" and message.startswith("The .grad attribute of a Tensor")
    assert obs["h.grad"].result is None
    assert obs["x.grad"].warnings == () and obs["retained"].warnings == ()


def test_grad_of_non_leaf_warning_text_matches_torch():
    x = torch.tensor(arr(3), requires_grad=True)
    with pytest.warns(UserWarning) as torch_warning:
        assert (x * 2).grad is None
    text = strip_cpp_location(str(torch_warning[0].message))
    assert text.endswith("for more information.")
    x = tape.tensor(arr(3), requires_grad=True)
    with pytest.warns(UserWarning, match=re.escape(text)):
        assert (x * 2).grad is None
