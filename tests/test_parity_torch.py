"""Parity of funcgrad.tape's backward engine with PyTorch: retained and freed graphs,
shared trunks, micro-batch accumulation, double backward.

Oracle: real PyTorch (torch 2.13, CPU), run at test time on the same program and the same
numbers (see torch_twin.py). Values, `.grad`s (and None-ness), requires_grad, is_leaf,
grad_fn names and error texts are compared.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_twin import Raised, arr, assert_same, observe, raises, twin

import funcgrad.tape as tape

# ---------------------------------------------------------------- the helper itself


def test_twin_detects_a_different_gradient():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        y = (x * x).sum() if lib is torch else (x * x * x).sum()
        y.backward()
        return x.grad

    with pytest.raises(AssertionError, match="values differ"):
        twin(prog)


def test_twin_detects_none_against_a_tensor():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        if lib is torch:
            (x * 2).sum().backward()
        return x.grad

    with pytest.raises(AssertionError, match="not a tensor"):
        twin(prog)


def test_twin_message_must_start_with_torch_text_and_add_only_a_hint():
    expected = Raised("RuntimeError", "boom")
    assert_same(expected, Raised("RuntimeError", "boom\n[funcgrad] hint"))
    for bad in (Raised("RuntimeError", "boom, and more"), Raised("ValueError", "boom")):
        with pytest.raises(AssertionError):
            assert_same(expected, bad)


def test_twin_compares_grad_fn_names():
    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        return x * 2 if lib is torch else x + x

    with pytest.raises(AssertionError, match="grad_fn differs"):
        twin(prog)


# ---------------------------------------------------------------- the classic a, b, c, d, e

A0 = arr(1, 4, seed=11, low=0.0, high=1.0)


def classic_abcde(lib, a0=A0):
    a = lib.tensor(a0, requires_grad=True)
    b = a**2
    c = b * 2
    d = c.mean()
    e = c.sum()
    obs = {"graph": [a, b, c, d, e]}
    d.backward(retain_graph=True)
    obs["after d"] = a.grad.clone()
    e.backward(retain_graph=True)
    obs["after e"] = a.grad.clone()
    d.backward()
    obs["after d, freed"] = a.grad.clone()
    obs["e again"] = raises(e.backward)
    obs["grad after error"] = a.grad
    return obs


def test_classic_retain_graph_sequence_matches_torch():
    twin(classic_abcde)


def test_classic_second_backward_through_freed_graph_raises():
    _, actual = twin(classic_abcde)
    assert isinstance(actual["e again"], Raised)
    assert actual["e again"].message.startswith(
        "Trying to backward through the graph a second time"
    )


CLASSIC_SNIPPET = """
import torch

a = torch.rand(1, 4, requires_grad=True)
b = a**2
c = b*2
d = c.mean()
e = c.sum()
d.backward(retain_graph=True)
steps = [a.grad.clone()]
e.backward(retain_graph=True)
steps.append(a.grad.clone())
d.backward()
steps.append(a.grad.clone())
try:
    e.backward()
except RuntimeError as err:
    error = err
"""


def _run_snippet(source):
    namespace = {}
    exec(compile(source, "<classic snippet>", "exec"), namespace)
    return namespace


def test_classic_snippet_runs_unchanged_with_funcgrad_as_torch():
    ns = _run_snippet(CLASSIC_SNIPPET.replace("import torch", "import funcgrad.tape as torch"))
    assert ns["torch"] is tape
    reference = _run_snippet(CLASSIC_SNIPPET)  # the same text on real torch
    # rand() draws different numbers in each library: compare with torch on funcgrad's `a`.
    a0 = ns["a"].detach().numpy()
    expected = observe(classic_abcde(torch, a0))
    actual = observe(
        {
            "after d": ns["steps"][0],
            "after e": ns["steps"][1],
            "after d, freed": ns["steps"][2],
            "e again": Raised(type(ns["error"]).__name__, str(ns["error"])),
            "grad after error": ns["a"].grad,
        }
    )
    del expected["graph"]
    assert_same(expected, actual)
    assert_same(observe(Raised("RuntimeError", str(reference["error"]))), actual["e again"])


# ---------------------------------------------------------------- two heads on a shared trunk


def two_heads(lib, mode):
    x = lib.tensor(arr(5, 3, seed=1))
    w = lib.tensor(arr(3, 4, seed=2), requires_grad=True)
    v1 = lib.tensor(arr(4, seed=3), requires_grad=True)
    v2 = lib.tensor(arr(4, seed=4), requires_grad=True)
    h = (x @ w).tanh()
    loss1 = (h @ v1).pow(2).mean()
    loss2 = (h.sigmoid() @ v2).sum()
    obs = {}
    if mode == "retain":
        loss1.backward(retain_graph=True)
        loss2.backward()
    elif mode == "sum":
        (loss1 + loss2).backward()
    else:
        loss1.backward()
        obs["second"] = raises(loss2.backward)
    obs["grads"] = [w.grad, v1.grad, v2.grad]
    obs["losses"] = [loss1, loss2]
    return obs


@pytest.mark.parametrize("mode", ["retain", "sum", "no retain"])
def test_two_heads_on_shared_trunk_match_torch(mode):
    twin(two_heads, mode)


def test_two_backwards_with_retain_graph_equal_backward_of_the_sum():
    _, retained = twin(two_heads, "retain")
    _, summed = twin(two_heads, "sum")
    for r, s in zip(retained["grads"], summed["grads"], strict=True):
        np.testing.assert_allclose(r.value, s.value, rtol=1e-5, atol=1e-6)


def test_second_head_without_retain_graph_raises():
    _, actual = twin(two_heads, "no retain")
    assert actual["second"].message.startswith("Trying to backward through the graph a second")


# ---------------------------------------------------------------- micro-batch accumulation


def micro_batches(lib):
    x = lib.tensor(arr(8, 3, seed=21))
    y = lib.tensor(arr(8, seed=22))
    w = lib.tensor(arr(3, seed=23), requires_grad=True)
    b = lib.tensor(arr(1, seed=24), requires_grad=True)

    def loss(xs, ys):
        return ((xs @ w + b - ys) ** 2).mean()

    loss(x, y).backward()
    full = [w.grad.clone(), b.grad.clone()]
    w.grad, b.grad = None, None
    for i in range(4):
        (loss(x[2 * i : 2 * i + 2], y[2 * i : 2 * i + 2]) / 4).backward()
    return {"full": full, "micro": [w.grad, b.grad]}


def test_micro_batch_accumulation_equals_full_batch_and_torch():
    _, actual = twin(micro_batches)
    for m, f in zip(actual["micro"], actual["full"], strict=True):
        np.testing.assert_allclose(m.value, f.value, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- double backward


def gradient_penalty(lib):
    weight = lib.tensor(arr(4, 3, seed=31), requires_grad=True)
    bias = lib.tensor(arr(4, seed=32), requires_grad=True)
    head = lib.tensor(arr(4, 1, seed=33), requires_grad=True)
    x = lib.tensor(arr(5, 3, seed=34), requires_grad=True)
    out = (x @ weight.t() + bias).tanh() @ head
    (g,) = lib.autograd.grad(out, x, grad_outputs=lib.ones_like(out), create_graph=True)
    penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
    penalty.backward()
    return {"g": g, "penalty": penalty, "grads": [weight.grad, bias.grad, head.grad, x.grad]}


def test_gradient_penalty_double_backward_matches_torch():
    # grad_fn names of nodes recorded by a create_graph backward differ (see module notes
    # in ops.py): compare everything else.
    _, actual = twin(gradient_penalty, grad_fn_names=False, rtol=1e-4, atol=1e-6)
    assert actual["g"].requires_grad and all(g.grad_fn is None for g in actual["grads"])


def hessian_vector_product(lib, how):
    a = lib.tensor(arr(4, 4, seed=41))
    x = lib.tensor(arr(4, seed=42), requires_grad=True)
    v = lib.tensor(arr(4, seed=43))
    f = (a @ x).tanh().pow(2).sum() + (x.sin() * x).sum()
    (g,) = lib.autograd.grad(f, x, create_graph=True)
    if how == "grad":
        (hv,) = lib.autograd.grad(g, x, grad_outputs=v)
        return {"g": g, "hv": hv, "x.grad": x.grad}
    (g * v).sum().backward()
    return {"g": g, "hv": x.grad}


@pytest.mark.parametrize("how", ["grad", "backward"])
def test_hessian_vector_product_matches_torch(how):
    twin(hessian_vector_product, how, grad_fn_names=False, rtol=1e-4)


# ---------------------------------------------------------------- which nodes are freed


def backward_twice(lib, op):
    x = lib.tensor(arr(3, seed=51), requires_grad=True)
    y = (x + 1).sum() if op == "add" else (x * 2).sum()
    y.backward()
    second = raises(y.backward)
    return {"second": second, "x.grad": x.grad}


def test_graph_without_saved_tensors_can_backward_twice():
    _, actual = twin(backward_twice, "add")
    assert actual["second"] is None


def test_graph_with_saved_tensors_cannot_backward_twice():
    _, actual = twin(backward_twice, "mul")
    assert isinstance(actual["second"], Raised)


def partial_backward(lib):
    a = lib.tensor(arr(3, seed=61), requires_grad=True)
    b = lib.tensor(arr(3, seed=62), requires_grad=True)
    c = lib.tensor(arr(3, seed=63), requires_grad=True)
    d = lib.tensor(arr(3, seed=64), requires_grad=True)
    y = (a * b).sum() + (c * d).sum()
    y.backward(inputs=[a])  # runs (and frees) only the a*b branch
    first = [a.grad, b.grad, c.grad, d.grad]
    y.backward(inputs=[c])  # the c*d branch did not run: its saved values are still there
    second = [a.grad, b.grad, c.grad, d.grad]
    return {"first": first, "second": second, "a*b again": raises(y.backward, inputs=[b])}


def test_nodes_that_did_not_run_keep_their_saved_values():
    _, actual = twin(partial_backward)
    assert isinstance(actual["a*b again"], Raised)


def grad_wrt_intermediate(lib):
    x = lib.tensor(arr(3, seed=71), requires_grad=True)
    h = x * x
    y = (h * 3).sum()
    (gh,) = lib.autograd.grad(y, h)  # stops at h: h's own node does not run
    h.sum().backward()  # so its saved values are intact
    return {"gh": gh, "x.grad": x.grad, "y again": raises(lib.autograd.grad, y, h)}


def test_grad_wrt_intermediate_does_not_free_the_nodes_below_it():
    twin(grad_wrt_intermediate)


def retain_defaults_to_create_graph(lib):
    x = lib.tensor(arr(3, seed=81), requires_grad=True)
    y = (x * x).exp().sum()
    y.backward(create_graph=True)  # retain_graph defaults to True here
    first = x.grad
    y.backward()  # retain_graph defaults to False: frees the graph
    return {
        "first requires grad": first.requires_grad,
        "x.grad": x.grad.detach(),
        "third": raises(y.backward),
    }


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")
def test_retain_graph_defaults_to_create_graph():
    _, actual = twin(retain_defaults_to_create_graph)
    assert isinstance(actual["third"], Raised)


def grad_create_graph_retains(lib):
    x = lib.tensor(arr(3, seed=82), requires_grad=True)
    y = (x.sin() * x).sum()
    (g1,) = lib.autograd.grad(y, x, create_graph=True)
    (g2,) = lib.autograd.grad(y, x)  # the graph was retained by create_graph=True
    return {"g1": g1.detach(), "g2": g2, "again": raises(lib.autograd.grad, y, x)}


def test_autograd_grad_with_create_graph_retains_the_graph():
    twin(grad_create_graph_retains)
