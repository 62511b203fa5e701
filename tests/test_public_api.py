"""Every public module states its public names in `__all__`, and they are all there.

The docs' API reference is generated from the `__all__` lists, so each public module (no
part of its dotted name starts with `_`) must have one; every name in it must resolve;
and every public class or function the module defines itself must be listed (a forgotten
name would be missing from the reference). The names DESIGN.md promises for
`funcgrad.tape` and `funcgrad.functional` are checked explicitly.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import funcgrad


def _public_modules() -> list[str]:
    names = ["funcgrad"]
    for info in pkgutil.walk_packages(funcgrad.__path__, "funcgrad."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _public_modules())
def test_public_module_lists_its_names_in_all(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    listed = list(module.__all__)
    assert len(listed) == len(set(listed)), f"{name}.__all__ lists a name twice"
    missing = [n for n in listed if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what the module does not have: {missing}"
    defined = [
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == name
    ]
    unlisted = sorted(set(defined) - set(listed))
    assert not unlisted, f"{name} defines public names not in __all__: {unlisted}"


PROMISED_TAPE = """Tensor tensor as_tensor zeros ones full rand randn arange manual_seed no_grad
enable_grad set_grad_enabled is_grad_enabled inference_mode autograd nn optim jit exp log sin
tanh sigmoid relu matmul sum mean cat stack graph_bytes live_graph_bytes""".split()
PROMISED_FUNCTIONAL = """Pullback vjp residual_bytes residual_bytes_of shared_trunk_vjp
accumulate_grads SavedPullback SavedInputVJP""".split()


@pytest.mark.parametrize(
    "module, names",
    [("funcgrad.tape", PROMISED_TAPE), ("funcgrad.functional", PROMISED_FUNCTIONAL)],
)
def test_the_promised_api_is_public(module, names):
    listed = importlib.import_module(module).__all__
    assert not [n for n in names if n not in listed]
