"""Saved-tensor hooks on the tape against real PyTorch at run time: the order in which a
node packs and unpacks what it saves, `autograd.graph.save_on_cpu` and
`autograd.graph.increment_version`.
"""

from __future__ import annotations

import numpy as np
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


# ---------------------------------------------------------------- custom Functions
def _custom_function(lib, log):
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            z = x * y
            Scale.ctx = ctx
            ctx.save_for_backward(x, None, z)  # an input, a None and the output
            return z

        @staticmethod
        def backward(ctx, g):
            a, none, z = ctx.saved_tensors
            log.append(("saved", tuple(a.shape), none, tuple(z.shape)))
            return g * z / a, None

    return Scale


def _logging_hooks(log, inputs):
    def pack(t):
        grad_fn = None if t.grad_fn is None else t.grad_fn.name()
        log.append(("pack", tuple(t.shape), any(t is x for x in inputs), grad_fn))
        return ("packed", t)

    def unpack(packed):
        log.append("unpack")
        return packed[1]

    return pack, unpack


def test_custom_function_saved_tensors_go_through_the_hooks():
    # PyTorch packs ctx.save_for_backward's tensors once the node exists (the output with
    # its grad_fn set), skips a None, and unpacks at each read of ctx.saved_tensors.
    def prog(lib):
        log = []
        x = lib.tensor(arr(3) + 2, requires_grad=True)
        y = lib.tensor(arr(3, seed=1))
        pack, unpack = _logging_hooks(log, (x, y))
        scale = _custom_function(lib, log)
        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            out = scale.apply(x, y)
            ctx = scale.ctx
            not_recorded = scale.apply(y, y)  # nothing requires grad: nothing packed
        log.append("forward done")
        len(ctx.saved_tensors)  # one more read: unpacks again
        out.sum().backward()
        return log, x.grad, not_recorded

    twin(prog)


def test_custom_function_saved_tensors_with_save_on_cpu():
    def prog(lib):
        log = []
        x = lib.tensor(arr(4) + 2, requires_grad=True)
        with lib.autograd.graph.save_on_cpu():
            out = _custom_function(lib, log).apply(x.sin(), x)
        (out * out).sum().backward()
        return log, x.grad

    twin(prog)


def test_custom_function_in_a_non_reentrant_checkpoint():
    # checkpoint keeps placeholders for what the Function saved and reruns it at backward.
    def prog(lib, checkpointed):
        log = []
        x = lib.tensor(arr(2, 8) + 2, requires_grad=True)
        w = lib.tensor(arr(8, 8, seed=3), requires_grad=True)
        scale = _custom_function(lib, log)

        def block(a):
            return scale.apply((a @ w).tanh(), a @ w)

        if checkpointed:
            out = lib.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
        else:
            out = block(x)
        return out, log, x, w

    kept = {}
    for checkpointed in (False, True):
        (t_out, t_log, t_x, t_w), (out, log, x, w) = (
            prog(torch, checkpointed),
            prog(tape, checkpointed),
        )
        kept[checkpointed] = tape.graph_bytes(out)
        t_out.sum().backward()
        out.sum().backward()
        assert log == t_log
        for got, want in ((x.grad, t_x.grad), (w.grad, t_w.grad)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
    assert kept[True] < kept[False]  # the checkpoint keeps placeholders, no Function's tensors


def test_unpack_hook_returning_a_non_tensor_raises_pytorchs_type_error():
    def prog(lib, custom):
        x = lib.tensor(arr(3) + 2, requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
            out = _custom_function(lib, []).apply(x, x) if custom else x * x
        return raises(out.sum().backward)

    for custom in (False, True):
        assert prog(tape, custom) == prog(torch, custom)
