"""Saved-tensor hooks on the tape against real PyTorch at run time: the order in which a
node packs and unpacks what it saves, `autograd.graph.save_on_cpu` and
`autograd.graph.increment_version`.
"""

from __future__ import annotations

import pytest
import torch
from test_ops import TORCH_CASES, _torch_case_inputs
from torch_twin import arr, raises, twin

import funcgrad.tape as tape

# The cases whose nodes save inputs only (PyTorch's nodes that also save their result, or
# indices, are listed in the README's known differences).
ORDER_CASES = [
    "mul", "div", "remainder", "maximum", "mm", "bmm", "gather", "sub",
    "exp", "tanh", "relu", "softmax", "log", "sum", "where", "cat", "clamp", "pow",
]  # fmt: skip


def _hook_log(lib, name):
    xs = [lib.tensor(a, requires_grad=True) for a in _torch_case_inputs(name)]
    log = []

    def pack(t):
        log.append(("pack", tuple(t.shape), any(t is x for x in xs)))
        return t

    def unpack(t):
        log.append(("unpack", tuple(t.shape)))
        return t

    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = TORCH_CASES[name][1](lib, *xs)
    log.append(("result", tuple(y.shape)))
    y.sum().backward()
    return log


@pytest.mark.parametrize("name", ORDER_CASES)
def test_pack_and_unpack_hooks_run_in_pytorchs_order(name):
    assert _hook_log(tape, name) == _hook_log(torch, name)


def test_pack_order_across_a_graph():
    def prog(lib):
        log = []
        x = lib.tensor(arr(3), requires_grad=True)
        w = lib.tensor(arr(2, 3, seed=1), requires_grad=True)

        def pack(t):
            log.append(("pack", tuple(t.shape)))
            return t

        def unpack(t):
            log.append(("unpack", tuple(t.shape)))
            return t

        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            y = (w * x).exp().sum()
            z = (w @ x).sin().sum() + (x / 2).sum()
        y.backward()
        z.backward()
        return log, x.grad, w.grad

    twin(prog)


@pytest.mark.parametrize("pin_memory", [False, True])
def test_save_on_cpu_keeps_the_gradients(pin_memory):
    def prog(lib):
        x = lib.tensor(arr(4), requires_grad=True)
        w = lib.tensor(arr(3, 4, seed=2), requires_grad=True)
        with lib.autograd.graph.save_on_cpu(pin_memory=pin_memory):
            y = (w @ x).tanh().sum() * x.sin().sum()
        y.backward()
        return y, x.grad, w.grad

    twin(prog)


def test_increment_version_invalidates_saved_tensors():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        y = x * 1
        z = y * y
        lib.autograd.graph.increment_version([y])
        return y._version, raises(z.sum().backward)

    twin(prog)
