"""`torch.utils.checkpoint` (activation checkpointing) on the tape, against real PyTorch.

Each program runs with real torch and with funcgrad.tape (`torch_twin.twin`): the outputs,
their grad_fn names, the `.grad` of inputs and parameters, warnings and errors must match.
Models are built from the same seed (the tape draws PyTorch's random stream), so the
dropout masks of the first run and of the rerun during backward are PyTorch's. The memory
tests compare the tape's retained graph bytes with and without checkpointing, measured in
the same run. (tests/test_checkpoint.py is about torch.save/torch.load.)
"""

from __future__ import annotations

import numpy as np
import pytest
from torch_twin import arr, raises, twin, warns

import funcgrad.tape as tape
from funcgrad.tape.utils.checkpoint import CheckpointError

MODES = [True, False]


def _mlp(lib):
    lib.manual_seed(0)
    nn = lib.nn
    return nn.Sequential(
        nn.Linear(6, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 16), nn.ReLU(),
        nn.Linear(16, 3),
    )  # fmt: skip


def _convnet(lib):
    lib.manual_seed(1)
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Dropout2d(0.25), nn.Conv2d(4, 4, 3),
        nn.Tanh(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2),
    )  # fmt: skip


def _grads(model, x):
    return [x.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("use_reentrant", MODES)
@pytest.mark.parametrize("build, shape", [(_mlp, (5, 6)), (_convnet, (3, 2, 6, 6))])
def test_checkpointed_model_has_pytorchs_outputs_and_grads(build, shape, use_reentrant):
    """Half the model checkpointed (with its dropout), the rest not; the same model run
    without checkpointing from the same seed gives the same grads in both libraries."""

    def prog(lib, checkpointed):
        from importlib import import_module

        checkpoint = import_module(f"{lib.__name__}.utils.checkpoint").checkpoint
        model = _build(lib)
        lib.manual_seed(7)
        x = lib.tensor(arr(*shape), requires_grad=True)
        head, tail = model[:3], model[3:]
        if checkpointed:
            hidden = checkpoint(head, x, use_reentrant=use_reentrant)
        else:
            hidden = head(x)
        out = tail(hidden)
        after = lib.rand(2)  # the random stream continues where the forward left it
        (out**2).sum().backward()
        return hidden, out, after, _grads(model, x)

    _build = build
    ref, ours = twin(prog, True)
    plain, _ = twin(prog, False)
    for a, b in zip(ref[3], plain[3]):  # checkpointing changes no gradient
        np.testing.assert_allclose(a.value, b.value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_checkpoint_sequential_matches_pytorch(use_reentrant):
    def prog(lib):
        seq = lib.utils.checkpoint.checkpoint_sequential
        model = _mlp(lib)
        lib.manual_seed(3)
        x = lib.tensor(arr(4, 6), requires_grad=True)
        out = seq(model, 2, x, use_reentrant=use_reentrant)
        out.sum().backward()
        listed = seq(list(model), 3, x, use_reentrant=use_reentrant, preserve_rng_state=False)
        return out, _grads(model, x), listed

    twin(prog)


def test_use_reentrant_not_passed_warns_and_is_reentrant():
    def prog(lib):
        ck = lib.utils.checkpoint
        x = lib.tensor(arr(2, 3), requires_grad=True)
        y = warns(ck.checkpoint, lambda a: a.sin() * 2, x)
        seq = warns(ck.checkpoint_sequential, [lambda a: a.cos(), lambda a: a * 3], 2, x)
        y.result.sum().backward()
        return y, seq, x.grad

    twin(prog)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_outputs_args_and_kwargs(use_reentrant):
    """Tuple outputs with non-tensors, non-tensor arguments, and keyword arguments (refused
    by the reentrant variant with PyTorch's ValueError)."""

    def prog(lib):
        ck = lib.utils.checkpoint.checkpoint
        x = lib.tensor(arr(2, 3), requires_grad=True)
        w = lib.tensor(arr(3, seed=1), requires_grad=True)
        a, n = ck(lambda t, k: ((t * w).exp() * k, 3), x, 2.0, use_reentrant=use_reentrant)
        a.sum().backward()
        kw = raises(ck, lambda t, scale=1.0: t * scale, x, scale=2.0, use_reentrant=use_reentrant)
        return a, n, x.grad, w.grad, kw

    twin(prog)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_no_input_requiring_grad(use_reentrant):
    def prog(lib):
        ck = lib.utils.checkpoint.checkpoint
        x = lib.tensor(arr(2, 3))
        y = warns(ck, lambda t: t * 2, x, use_reentrant=use_reentrant)
        return y

    twin(prog)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_backward_twice_and_retain_graph(use_reentrant):
    def prog(lib):
        ck = lib.utils.checkpoint.checkpoint
        x = lib.tensor(arr(2, 3), requires_grad=True)
        y = ck(lambda t: (t.tanh() * t).sum(), x, use_reentrant=use_reentrant)
        y.backward(retain_graph=True)
        y.backward()
        second = raises(y.backward)
        return x.grad, second

    twin(prog)


def test_reentrant_refuses_autograd_grad_and_inputs():
    def prog(lib):
        ck = lib.utils.checkpoint.checkpoint
        x = lib.tensor(arr(2, 3), requires_grad=True)
        fn = lambda t: (t.exp() * t).sum()  # noqa: E731
        grad = raises(lib.autograd.grad, ck(fn, x, use_reentrant=True), x)
        inputs = raises(ck(fn, x, use_reentrant=True).backward, inputs=[x])
        nonreentrant = lib.autograd.grad(ck(fn, x, use_reentrant=False), x)
        return grad, inputs, nonreentrant

    twin(prog)


def test_under_no_grad_nothing_is_recorded():
    def prog(lib):
        ck = lib.utils.checkpoint.checkpoint
        x = lib.tensor(arr(2, 3), requires_grad=True)
        with lib.no_grad():
            return [ck(lambda t: t * 2, x, use_reentrant=r) for r in MODES]

    twin(prog)


@pytest.mark.parametrize("use_reentrant", MODES)
def test_checkpointing_retains_fewer_graph_bytes(use_reentrant):
    """The point of checkpointing: between forward and backward the checkpointed part keeps
    (about) its input only, not its activations."""
    model = _mlp(tape)
    x = tape.randn(64, 6, requires_grad=True)
    plain = model(x)
    checkpointed = tape.utils.checkpoint.checkpoint(model, x, use_reentrant=use_reentrant)
    kept_plain, kept_ckpt = tape.graph_bytes(plain), tape.graph_bytes(checkpointed)
    assert kept_ckpt < kept_plain / 4, (kept_ckpt, kept_plain)
    checkpointed.sum().backward()
    assert tape.graph_bytes(checkpointed) == 0


def test_a_rerun_that_saves_differently_is_an_error():
    """A function that does something else when rerun: PyTorch's CheckpointError."""
    x = tape.ones(3, requires_grad=True)
    calls = []

    def fickle(t):
        calls.append(1)
        return t.exp() if len(calls) == 1 else t * 2

    y = tape.utils.checkpoint.checkpoint(fickle, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match="A different number of tensors was saved"):
        y.sum().backward()


def test_options_funcgrad_lacks_are_refused_by_name():
    x = tape.ones(3, requires_grad=True)
    for option in ("context_fn", "debug"):
        with pytest.raises(NotImplementedError, match=f"checkpoint\\({option}="):
            tape.utils.checkpoint.checkpoint(tape.sin, x, use_reentrant=False, **{option: True})
    y = tape.utils.checkpoint.checkpoint(tape.sin, x, use_reentrant=False, early_stop=False)
    y.sum().backward()
    assert tape.allclose(x.grad, x.cos())
