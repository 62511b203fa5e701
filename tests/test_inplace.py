"""In-place ops on funcgrad.tape tensors, against PyTorch: gradients through add_, mul_,
zero_, copy_ and __setitem__, in-place changes of `.grad`, and optimizer-style updates of
leaves under no_grad.

Oracle: real PyTorch (torch 2.13, CPU), run at test time on the same program (see
torch_twin.py).

In-place changes through views (`x[0].add_(1)`, a base written while its views are read
later) are compared in test_views_inplace.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from torch_twin import arr, raises, twin


def inplace_arithmetic(lib, op):
    x = lib.tensor(arr(2, 3, seed=1), requires_grad=True)
    w = lib.tensor(arr(2, 3, seed=2), requires_grad=True)
    h = x * 2
    if op == "add_":
        h.add_(w, alpha=3.0)
    elif op == "sub_":
        h.sub_(w)
    elif op == "mul_":
        h.mul_(w)
    elif op == "div_":
        h.div_(w.exp())
    elif op == "+=":
        h += w
    elif op == "*= scalar":
        h *= 3.0
    elif op == "exp_":
        h.exp_()
    y = (h * h).sum()
    y.backward()
    return {"h": h, "x.grad": x.grad, "w.grad": w.grad}


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_", "+=", "*= scalar", "exp_"])
def test_gradients_flow_through_inplace_arithmetic(op):
    twin(inplace_arithmetic, op)


def zero_and_fill(lib):
    x = lib.tensor(arr(4, seed=3), requires_grad=True)
    h = x * 2
    g = x.sin()  # saves x, not its result: filling g leaves the graph valid
    h.zero_()
    g.fill_(2.5)
    y = ((h + x) * (g + x)).sum()
    y.backward()
    return {"h": h, "g": g, "x.grad": x.grad}


def test_zero_and_fill_cut_the_gradient_of_the_old_value():
    twin(zero_and_fill)


def copy_into(lib, target):
    x = lib.tensor(arr(2, 3, seed=4), requires_grad=True)
    row = lib.tensor(arr(3, seed=5), requires_grad=True)
    if target == "constant":  # a plain tensor becomes part of the graph
        h = lib.zeros(2, 3)
        h.copy_(x * 3)
    elif target == "broadcast":
        h = lib.zeros(2, 3)
        h.copy_(row)
    else:  # a non-leaf is overwritten: the old value's gradient is cut
        h = x.sin()
        h.copy_(row.exp())
    y = (h * x).sum()
    y.backward()
    return {"h": h, "x.grad": x.grad, "row.grad": row.grad}


@pytest.mark.parametrize("target", ["constant", "broadcast", "non-leaf"])
def test_gradients_flow_through_copy(target):
    twin(copy_into, target)


def setitem(lib, how):
    x = lib.tensor(arr(4, 3, seed=6), requires_grad=True)
    v = lib.tensor(arr(2, 3, seed=7), requires_grad=True)
    h = x * 1.5
    if how == "int":
        h[1] = v[0] * 2
    elif how == "slice":
        h[1:3] = v
    elif how == "column":
        h[:, 0] = v[1, :2].sum()
    elif how == "scalar":
        h[2, 1] = 7.0
    elif how == "index tensor":
        h[lib.tensor([3, 0])] = v
    elif how == "mask":
        h[h > 0] = 0.0
    elif how == "into constant":
        h = lib.zeros(4, 3)
        h[lib.tensor([1, 2])] = v.tanh()
    y = (h * h.sum(0)).sum()
    y.backward()
    return {"h": h, "x.grad": x.grad, "v.grad": v.grad}


@pytest.mark.parametrize(
    "how", ["int", "slice", "column", "scalar", "index tensor", "mask", "into constant"]
)
def test_gradients_flow_through_setitem(how):
    twin(setitem, how)


def chained_inplace(lib):
    x = lib.tensor(arr(5, seed=8), requires_grad=True)
    h = x.clone()
    h.mul_(2).add_(1).clamp_(-0.5, 2.0)
    h[0] = x[1] * x[2]
    h.relu_()
    y = (h * x).sum()
    y.backward()
    return {"h": h, "x.grad": x.grad}


def test_chained_inplace_ops_match_torch():
    twin(chained_inplace)


def retained_grad_after_inplace(lib):
    x = lib.tensor(arr(3, seed=9), requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.add_(1.0)  # the retained grad is now that of the new h
    (h * h).sum().backward()
    return {"h.grad": h.grad, "x.grad": x.grad}


def test_retain_grad_follows_the_tensor_through_inplace_ops():
    twin(retained_grad_after_inplace)


def hooks_around_inplace(lib):
    x = lib.tensor(arr(3, seed=15), requires_grad=True)
    h = x * 2
    seen = {"before": [], "after": []}
    h.register_hook(lambda g: seen["before"].append(g.clone()))  # the old value's grad
    h.mul_(x)
    h.register_hook(lambda g: seen["after"].append(g.clone()))  # the new value's grad
    (h * h).sum().backward()
    return {"seen": seen, "x.grad": x.grad}


def test_hooks_registered_before_and_after_an_inplace_op_see_their_own_value():
    twin(hooks_around_inplace)


# ---------------------------------------------------------------- .grad changed in place


def grad_modified_in_place(lib):
    x = lib.tensor(arr(3, seed=10), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    g = x.grad
    g.mul_(10.0)  # changes x.grad itself
    after_mul = x.grad.clone()
    y.backward(retain_graph=True)  # accumulates onto the changed grad
    after_second = x.grad.clone()
    x.grad.zero_()
    y.backward()
    return {
        "after mul": after_mul,
        "after second": after_second,
        "after zero": x.grad,
        "same object": g is x.grad,
    }


def test_grad_modified_in_place_after_backward_is_accumulated_onto():
    twin(grad_modified_in_place)


def leaf_modified_after_backward(lib):
    x = lib.tensor(arr(3, seed=11), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    with lib.no_grad():
        x.add_(1.0)  # x is saved by y's graph
    return {"x": x, "x.grad": x.grad, "again": raises(y.backward)}


def test_leaf_modified_under_no_grad_invalidates_the_retained_graph():
    twin(leaf_modified_after_backward)


# ---------------------------------------------------------------- optimizer-style updates


def sgd_steps(lib, style):
    data = lib.tensor(arr(6, 3, seed=12))
    target = lib.tensor(arr(6, seed=13))
    p = lib.tensor(arr(3, seed=14), requires_grad=True)
    lr = 0.1
    losses = []
    for _ in range(3):
        loss = ((data @ p - target) ** 2).mean()
        losses.append(loss.detach())
        loss.backward()
        with lib.no_grad():
            if style == "-=":
                p -= lr * p.grad
            elif style == "add_":
                p.add_(p.grad, alpha=-lr)
            else:
                p[:] = p - lr * p.grad
        p.grad.zero_()
    return {"p": p, "p.grad": p.grad, "losses": losses}


@pytest.mark.parametrize("style", ["-=", "add_", "setitem"])
def test_optimizer_style_update_under_no_grad_keeps_the_leaf(style):
    _, obs = twin(sgd_steps, style)
    assert obs["p"].is_leaf and obs["p"].requires_grad
    assert np.all(np.diff([loss.value for loss in obs["losses"]]) < 0)  # training works
