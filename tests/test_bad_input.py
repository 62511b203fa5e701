"""Bad input is refused with a clear error, never answered with a wrong result.

Oracle: real PyTorch, run at test time on the same bad call (torch_twin.twin): funcgrad
raises the same exception type, and its message starts with PyTorch's (it may add a
"\\n[funcgrad] ..." hint). Where funcgrad's words differ on purpose, the test says why and
checks that the message names the argument. The errors of backward() and autograd.grad
themselves are in test_errors.py; these are the errors of the ops, of the constructors,
and of the tape's other entry points. The last tests keep docs/errors.md complete.

Intentional differences (asserted below, not compared with PyTorch's text):

- Unknown device strings: funcgrad lists the devices JAX sees, not PyTorch's device types.
- autograd.backward / grad with more grad_tensors than tensors: PyTorch ignores the extra
  ones (or reports an unused input); funcgrad refuses the mismatch.
- Adding a list to a tensor converts the list (as `torch.tensor` would); PyTorch refuses.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch_twin import Raised, arr, raises, twin

import funcgrad.tape as tape
from funcgrad import checkpoint, functional
from funcgrad.checkpoint import pickle_format, safetensors_format, torch_format
from funcgrad.tape import errors
from funcgrad.tape.func import _messages as func_messages

A = arr(2, 3)
ROOT = pathlib.Path(__file__).resolve().parents[1]


def int_tensor(lib, *shape):
    return lib.tensor(np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape))


# ---------------------------------------------------------------- compared with PyTorch

BAD_CALLS = {
    # shapes that do not broadcast, in elementwise ops and their in-place forms
    "add of (2, 3) and (3, 2)": lambda l: l.tensor(A) + l.tensor(arr(3, 2)),
    "mul of (3,) and (4,)": lambda l: l.tensor(arr(3)) * l.tensor(arr(4)),
    "where with a short other": lambda l: l.where(l.tensor(A) > 0, l.tensor(A), l.tensor(arr(2))),
    "maximum of (2, 3) and (2,)": lambda l: l.maximum(l.tensor(A), l.tensor(arr(2))),
    "add_ broadcasting past the tensor": lambda l: l.tensor(arr(3)).add_(l.tensor(A)),
    "copy_ from a larger tensor": lambda l: l.tensor(arr(3)).copy_(l.tensor(A)),
    "copy_ from a misfit tensor": lambda l: l.tensor(A).copy_(l.tensor(arr(2))),
    "setitem of a misfit value": lambda l: l.tensor(A).__setitem__(0, l.tensor(arr(4))),
    "float result into an int tensor": lambda l: int_tensor(l, 3).mul_(l.tensor(arr(3))),
    # matrix products
    "matmul of (2, 3) and (2, 3)": lambda l: l.tensor(A) @ l.tensor(A),
    "matmul of (3,) and (4,)": lambda l: l.tensor(arr(3)) @ l.tensor(arr(4)),
    "matmul of (2, 3) and (2,)": lambda l: l.tensor(A) @ l.tensor(arr(2)),
    "matmul of batches": lambda l: l.tensor(arr(2, 2, 3)) @ l.tensor(arr(2, 2, 3)),
    "matmul of batches that do not broadcast": lambda l: (
        l.tensor(arr(2, 2, 3)) @ l.tensor(arr(3, 3, 1))
    ),
    "matmul with a 0-d tensor": lambda l: l.tensor(A).matmul(l.tensor(np.float32(1.0))),
    "matmul with a number": lambda l: l.tensor(A) @ 2.0,
    "mm of a vector": lambda l: l.tensor(A).mm(l.tensor(arr(3))),
    "mm of misfit matrices": lambda l: l.tensor(A).mm(l.tensor(A)),
    "bmm of matrices": lambda l: l.tensor(A).bmm(l.tensor(A)),
    "dot of matrices": lambda l: l.tensor(A).dot(l.tensor(A)),
    "mv of a misfit vector": lambda l: l.tensor(A).mv(l.tensor(arr(2))),
    # cat and stack
    "cat of a 0-d tensor": lambda l: l.cat([l.tensor(A), l.tensor(np.float32(1.0))]),
    "cat of different ndims": lambda l: l.cat([l.tensor(A), l.tensor(arr(3))]),
    "cat of misfit sizes": lambda l: l.cat([l.tensor(A), l.tensor(arr(2, 2))]),
    "cat of a number": lambda l: l.cat([l.tensor(A), 3]),
    "cat of a tensor, not a list": lambda l: l.cat(l.tensor(A)),
    "cat of an empty list": lambda l: l.cat([]),
    "stack of different shapes": lambda l: l.stack([l.tensor(A), l.tensor(arr(3, 2))]),
    "stack of a number": lambda l: l.stack([l.tensor(arr(3)), 2.0]),
    # dims out of range
    "sum over dim 2": lambda l: l.tensor(A).sum(2),
    "sum over a repeated dim": lambda l: l.tensor(A).sum((0, 0)),
    "mean over dim -3": lambda l: l.tensor(A).mean(-3),
    "softmax over dim 2": lambda l: l.tensor(A).softmax(2),
    "log_softmax over dim -3": lambda l: l.tensor(A).log_softmax(-3),
    "max over dim 2": lambda l: l.tensor(A).max(2),
    "min over dim 1 of a 0-d tensor": lambda l: l.tensor(np.float32(1.0)).min(1),
    "argmax over dim 2": lambda l: l.tensor(A).argmax(2),
    "transpose of dim 2": lambda l: l.tensor(A).transpose(0, 2),
    "unsqueeze at dim 3": lambda l: l.tensor(A).unsqueeze(3),
    "squeeze of dim 2": lambda l: l.tensor(A).squeeze(2),
    "cat along dim 2": lambda l: l.cat([l.tensor(A), l.tensor(A)], 2),
    "stack along dim 3": lambda l: l.stack([l.tensor(A), l.tensor(A)], 3),
    "flatten up to dim 2": lambda l: l.tensor(A).flatten(0, 2),
    "flatten with start after end": lambda l: l.tensor(A).flatten(1, 0),
    "cumsum over dim 2": lambda l: l.tensor(A).cumsum(2),
    "norm over dim 2": lambda l: l.tensor(A).norm(dim=2),
    "unbind over dim 2": lambda l: l.tensor(A).unbind(2),
    # shapes of views
    "view to a wrong size": lambda l: l.tensor(A).view(4),
    "reshape with two -1": lambda l: l.tensor(A).reshape(-1, -1),
    "reshape with -2": lambda l: l.tensor(A).reshape(2, -2),
    "reshape of an empty tensor with -1": lambda l: l.tensor(arr(0, 3)).reshape(0, -1),
    "expand to a misfit size": lambda l: l.tensor(arr(3)).expand(2, 4),
    "expand with -1 in a new dim": lambda l: l.tensor(arr(3)).expand(-1, 3),
    "expand to fewer dims": lambda l: l.tensor(A).expand(3),
    "permute with a repeated dim": lambda l: l.tensor(A).permute(0, 0),
    "permute with too few dims": lambda l: l.tensor(A).permute(0),
    "permute without dims": lambda l: l.tensor(A).permute(),
    "repeat with too few dims": lambda l: l.tensor(A).repeat(2),
    "t of a 3-d tensor": lambda l: l.tensor(arr(2, 2, 2)).t(),
    # indexing
    "index 2 of a dim of 2": lambda l: l.tensor(A)[2],
    "index -3 of a dim of 2": lambda l: l.tensor(A)[-3],
    "index 3 of the second dim": lambda l: l.tensor(A)[:, 3],
    "index array out of bounds": lambda l: l.tensor(A)[l.tensor(np.array([0, 5]))],
    "too many indices": lambda l: l.tensor(A)[0, 0, 0],
    "float index": lambda l: l.tensor(A)[0.5],
    "setitem out of bounds": lambda l: l.tensor(A).__setitem__(4, 1.0),
    # dtypes
    "float mask for masked_fill": lambda l: l.tensor(A).masked_fill(l.tensor(A), 0.0),
    "float condition for where": lambda l: l.where(l.tensor(A), l.tensor(A), l.tensor(A)),
    "float index for gather": lambda l: l.tensor(A).gather(1, l.tensor(A)),
    "mean of an int tensor": lambda l: int_tensor(l, 3).mean(),
    "int zeros that require grad": lambda l: l.zeros(2, dtype=l.int32, requires_grad=True),
    "int arange that requires grad": lambda l: l.arange(3, requires_grad=True),
    "int full that requires grad": lambda l: l.full((2,), 3, requires_grad=True),
    # reductions of nothing
    "max of an empty tensor": lambda l: l.tensor(arr(0, 3)).max(),
    "min over an empty dim": lambda l: l.tensor(arr(0, 3)).min(0),
    # options
    "clamp without bounds": lambda l: l.tensor(A).clamp(),
    "div with an unknown rounding mode": lambda l: l.tensor(A).div(2, rounding_mode="nope"),
    "set_grad_enabled with an int": lambda l: l.set_grad_enabled(1),
    # constructors
    "zeros with a negative size": lambda l: l.zeros(-1),
    "randn with a negative size": lambda l: l.randn(-2),
    "arange with step 0": lambda l: l.arange(0, 3, 0),
    "full with an int size": lambda l: l.full(3, 1.0),
    # Python conversions
    "item of a vector": lambda l: l.tensor(A).item(),
    "bool of a vector": lambda l: bool(l.tensor(A)),
    "numpy of a tensor that requires grad": lambda l: l.tensor(A, requires_grad=True).numpy(),
    "len of a 0-d tensor": lambda l: len(l.tensor(np.float32(1.0))),
    "iter of a 0-d tensor": lambda l: iter(l.tensor(np.float32(1.0))),
    # autograd state
    "grad of a number": lambda l: setattr(l.tensor(A, requires_grad=True), "grad", 3.0),
    "grad of a wrong shape": lambda l: setattr(l.tensor(A, requires_grad=True), "grad", l.ones(3)),
    "grad of a wrong dtype": lambda l: setattr(
        l.tensor(A, requires_grad=True), "grad", l.ones(2, 3, dtype=l.float16)
    ),
    "retain_grad without grad": lambda l: l.tensor(A).retain_grad(),
    "hook without grad": lambda l: l.tensor(A).register_hook(lambda g: g),
    "requires_grad off on a non-leaf": lambda l: setattr(
        l.tensor(A, requires_grad=True) * 2, "requires_grad", False
    ),
    "autograd.grad of a number": lambda l: l.autograd.grad(
        l.tensor(A, requires_grad=True).sum(), [3.0]
    ),
    "autograd.grad of no inputs": lambda l: l.autograd.grad(
        l.tensor(A, requires_grad=True).sum(), []
    ),
}


@pytest.mark.parametrize("call", list(BAD_CALLS), ids=list(BAD_CALLS))
def test_bad_call_raises_pytorchs_error(call):
    expected, actual = twin(lambda lib: raises(BAD_CALLS[call], lib))
    assert isinstance(expected, Raised), f"PyTorch accepts it: {expected}"


# ---------------------------------------------------------------- the same type, our words


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda l: l.tensor(A).softmax(), TypeError, "dim"),
        (lambda l: l.ones(2.5), TypeError, "size"),
        (lambda l: l.tensor(A) + "text", TypeError, "'str'"),
        (lambda l: l.tensor(A, dtype="nope"), TypeError, "'dtype'"),
        (lambda l: l.tensor(A).to("nope"), RuntimeError, "nope"),
        (lambda l: l.tensor(A).frobnicate, AttributeError, "frobnicate"),
        (lambda l: l.frobnicate, AttributeError, "frobnicate"),
    ],
    ids=[
        "missing dim",
        "float size",
        "string operand",
        "unknown dtype",
        "unknown device",
        "unknown method",
        "unknown function",
    ],  # fmt: skip
)
def test_bad_call_raises_the_same_type_naming_the_argument(call, error, names):
    for lib in (torch, tape):
        with pytest.raises(error, match=re.escape(names)):
            call(lib)


def test_more_grad_outputs_than_outputs_is_refused():
    x = tape.tensor(A, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in number of grad_outputs: got 2 for 1"):
        tape.autograd.backward([x.sum()], [tape.tensor(1.0), tape.tensor(1.0)])
    with pytest.raises(RuntimeError, match="Mismatch in number of grad_outputs: got 2 for 1"):
        tape.autograd.grad([x.sum()], [x], [tape.tensor(1.0), tape.tensor(1.0)])


# ---------------------------------------------------------------- unsupported: loud, never wrong


def _public(names):
    return sorted(n for n in names if not n.startswith("_"))


def test_every_pytorch_tensor_method_funcgrad_lacks_raises_attribute_error_naming_it():
    x = tape.tensor(A)
    missing = [n for n in _public(dir(torch.Tensor)) if not hasattr(tape.Tensor, n)]
    assert len(missing) > 50  # funcgrad supports a listed subset, not everything
    for name in missing:
        with pytest.raises(AttributeError, match=re.escape(name)):
            getattr(x, name)


def test_every_pytorch_function_funcgrad_lacks_raises_attribute_error_naming_it():
    missing = [n for n in _public(dir(torch)) if not hasattr(tape, n)]
    assert len(missing) > 100
    for name in missing:
        with pytest.raises(AttributeError, match=re.escape(name)):
            getattr(tape, name)


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: tape.tensor(A).div(2, rounding_mode="trunc"), "rounding_mode='trunc'"),
        (lambda: tape.tensor(A)[0, True], "True/False inside a tuple"),
        (
            lambda: tape.autograd.grad(
                tape.tensor(A, requires_grad=True).sum(),
                tape.ones(2, 3, requires_grad=True),
                is_grads_batched=True,
            ),
            "is_grads_batched=True",
        ),
    ],
    ids=["div trunc", "bool in a tuple index", "is_grads_batched"],
)
def test_unsupported_feature_raises_not_implemented_naming_it(call, names):
    with pytest.raises(NotImplementedError, match=re.escape(names)):
        call()


# ---------------------------------------------------------------- devices

TWO_DEVICES = textwrap.dedent(
    """
    import numpy as np
    import funcgrad.tape as tape

    a = tape.tensor(np.ones(3, np.float32), device="cpu:0", requires_grad=True)
    b = tape.tensor(np.ones(3, np.float32), device="cpu:1", requires_grad=True)
    c = tape.tensor(np.ones(3, np.float32))  # the default device
    for name, call in [("a + b", lambda: a + b), ("c * b", lambda: c * b),
                       ("cat", lambda: tape.cat([a, b])), ("a @ b", lambda: a @ b)]:
        try:
            call()
            print(name, "accepted")
        except RuntimeError as e:
            print(name, "|", str(e).splitlines()[0])
    y = ((a * 2).to("cpu:1") * b).sum()  # moving first is fine, and the grad moves back
    y.backward()
    where = [str(t._jax_device()) for t in (y, a.grad, b.grad)]  # JAX's names: cpu:1
    print("moved", *where, a.grad.tolist())
    """
)


def test_tensors_on_two_devices_in_one_op_raise_pytorchs_error():
    env = {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "PATH": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", TWO_DEVICES],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    expected = (
        "Expected all tensors to be on the same device, but found at least two devices, "
        "cpu:0 and cpu:1!"
    )
    assert lines[:4] == [f"{op} | {expected}" for op in ("a + b", "c * b", "cat", "a @ b")]
    assert lines[4] == "moved cpu:1 cpu:0 cpu:1 [2.0, 2.0, 2.0]"


# ---------------------------------------------------------------- docs/errors.md is complete


def _message_constants():
    """Message constants: all of errors.py (every tape message), and the UPPER_CASE texts of
    the functional core and of `funcgrad.checkpoint`, which cannot import the tape's errors,
    and of torch.func's own messages module."""
    found = {}
    modules = (errors, functional, checkpoint, pickle_format, safetensors_format, torch_format)
    for module in (*modules, func_messages):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and len(value) > 20:
                found[f"{module.__name__.split('.')[-1]}.{name}"] = value
    return found


def _first_words(message: str, n: int = 6) -> str:
    text = message.lstrip("\n").removeprefix("[funcgrad] ")
    words = re.split(r"\s+", re.sub(r"\{[^}]*\}", " ", text).strip())
    return " ".join(words[:n])


@pytest.mark.parametrize("name", sorted(_message_constants()))
def test_every_error_message_of_the_tape_is_documented(name):
    doc = (ROOT / "docs" / "errors.md").read_text()
    flat = re.sub(r"\s+", " ", doc)
    message = _message_constants()[name]
    short = name.split(".")[-1]
    assert short in doc or _first_words(message) in flat, (
        f"docs/errors.md does not mention {name} ({_first_words(message)!r}...)"
    )


def test_every_raise_in_the_library_is_documented():
    """The first words of each literal message of `raise XError("...")` in funcgrad/
    appear in the doc (the demo's self-checks are not errors of the library)."""
    doc = re.sub(r"\s+", " ", (ROOT / "docs" / "errors.md").read_text())
    sources = sorted(p for p in (ROOT / "funcgrad").rglob("*.py") if p.name != "demo.py")
    found, missing = 0, []
    for path in sources:
        text = path.read_text()
        for match in re.finditer(r"raise (\w+Error)\(\s*\n?\s*f?\"([^\"{]{12,})", text):
            found += 1
            words = " ".join(match.group(2).split()[:4])
            if words not in doc:
                missing.append(f"{path.relative_to(ROOT)}: {match.group(1)} {words!r}")
    assert found > 50
    assert not missing, "undocumented errors:\n" + "\n".join(missing)
