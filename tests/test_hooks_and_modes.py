"""Hooks, retained grads, grad modes, detach and custom Functions of funcgrad.tape, against
PyTorch.

Oracle: real PyTorch (torch 2.13, CPU), run at test time on the same program (see
torch_twin.py).

`saved_tensors_hooks` sees the same packs and unpacks as PyTorch's, with the same shapes and
values: for ops PyTorch writes in terms of their result (exp, tanh, sigmoid, ...) both pack
the result. Intentional difference: max-pooling packs its input only (PyTorch also packs
the argmax indices, which funcgrad recomputes from the input).
"""

from __future__ import annotations

import threading

import pytest
from torch_twin import Raised, arr, raises, twin

# ---------------------------------------------------------------- tensor hooks


def leaf_hook(lib):
    x = lib.tensor(arr(3, seed=1), requires_grad=True)
    seen = []

    def hook(g):
        seen.append(g.clone())
        return g * 3

    handle = x.register_hook(hook)
    (x * x).sum().backward()
    first = x.grad.clone()
    handle.remove()
    (x * x).sum().backward()
    return {"seen": seen, "first": first, "after removal": x.grad, "calls": len(seen)}


def test_leaf_hook_modifies_grad_and_is_removed_by_its_handle():
    twin(leaf_hook)


def non_leaf_hook(lib):
    x = lib.tensor(arr(3, seed=2), requires_grad=True)
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.clone()))  # observes only
    handle = h.register_hook(lambda g: g + 1)
    y = (h * h).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    handle.remove()
    y.backward()
    return {"seen": seen, "first": first, "second": x.grad}


def test_non_leaf_hook_modifies_the_grad_flowing_to_inputs():
    twin(non_leaf_hook)


def retain_grad(lib):
    x = lib.tensor(arr(3, seed=3), requires_grad=True)
    h = x.tanh()
    h.retain_grad()
    h.register_hook(lambda g: g * 10)  # retain_grad stores the grad after all hooks
    y = (h * h).sum()
    y.backward(retain_graph=True)
    first = h.grad
    y.backward()
    return {
        "first": first,
        "second": h.grad,
        "same object": first is h.grad,
        "retains_grad": h.retains_grad,
        "x.grad": x.grad,
        "leaf": x.retains_grad,
    }


def test_retain_grad_keeps_non_leaf_grad_after_hooks_and_accumulates():
    twin(retain_grad)


def retain_grad_errors(lib):
    c = lib.tensor(arr(3, seed=4))
    return {"retain": raises(c.retain_grad), "hook": raises(c.register_hook, lambda g: g)}


def test_retain_grad_and_hooks_on_tensor_not_requiring_grad_raise():
    twin(retain_grad_errors)


def post_accumulate_hook(lib):
    p = lib.tensor(arr(3, seed=5), requires_grad=True)
    calls = []

    def step(param):  # an optimizer step fused into backward
        calls.append(param.grad.clone())
        with lib.no_grad():
            param.sub_(0.1 * param.grad)
        param.grad = None

    p.register_post_accumulate_grad_hook(step)
    for _ in range(2):
        (p * p * p).sum().backward()
    h = p * 2
    return {
        "calls": calls,
        "p": p,
        "p.grad": p.grad,
        "on non-leaf": raises(h.register_post_accumulate_grad_hook, step),
    }


def test_post_accumulate_grad_hook_runs_after_each_accumulation():
    twin(post_accumulate_hook)


# ---------------------------------------------------------------- .grad bookkeeping


def grad_accumulates(lib):
    x = lib.tensor(arr(3, seed=6), requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    first = g.clone()
    x.sin().sum().backward()
    return {"first": first, "second": x.grad, "same object": g is x.grad, "old ref": g}


def test_grad_accumulates_across_backward_calls_in_place():
    twin(grad_accumulates)


def autograd_grad_leaves_grad_alone(lib):
    x = lib.tensor(arr(3, seed=7), requires_grad=True)
    h = x * 3
    h.retain_grad()
    (g,) = lib.autograd.grad((h * x).sum(), x)
    before = [x.grad, h.grad]
    (x * x).sum().backward()
    (g2,) = lib.autograd.grad((x * x).sum(), x)
    return {"g": g, "before": before, "x.grad": x.grad, "g2": g2}


def test_autograd_grad_does_not_touch_grad():
    twin(autograd_grad_leaves_grad_alone)


def backward_inputs(lib, which):
    w = lib.tensor(arr(3, seed=8), requires_grad=True)
    x = lib.tensor(arr(3, seed=9), requires_grad=True)
    h = w * x
    y = (h * h).sum()
    if which == "leaf":
        y.backward(inputs=[w])
        return {"w.grad": w.grad, "x.grad": x.grad}
    y.backward(inputs=[h], retain_graph=True)
    first = {"h.grad": h.grad, "retains": h.retains_grad, "w.grad": w.grad, "x.grad": x.grad}
    y.backward()
    return {"first": first, "h.grad": h.grad, "w.grad": w.grad, "x.grad": x.grad}


@pytest.mark.parametrize("which", ["leaf", "non-leaf"])
def test_backward_inputs_accumulates_only_into_given_tensors(which):
    twin(backward_inputs, which)


def allow_unused_and_materialize(lib):
    x = lib.tensor(arr(3, seed=10), requires_grad=True)
    z = lib.tensor(arr(2, seed=11), requires_grad=True)
    y = (x * x).sum()
    return {
        "allow_unused": lib.autograd.grad(y, [x, z], retain_graph=True, allow_unused=True),
        "materialize": lib.autograd.grad(y, [x, z], materialize_grads=True),
    }


def test_allow_unused_gives_none_and_materialize_grads_gives_zeros():
    _, obs = twin(allow_unused_and_materialize)
    assert obs["allow_unused"][1] is None


# ---------------------------------------------------------------- grad modes


def grad_mode_contexts(lib):
    x = lib.tensor(arr(3, seed=12), requires_grad=True)
    obs = {}
    with lib.no_grad():
        obs["no_grad"] = [x * 2, lib.is_grad_enabled()]
        with lib.enable_grad():
            obs["enable_grad inside"] = [x * 2, lib.is_grad_enabled()]
        obs["back in no_grad"] = lib.is_grad_enabled()
    with lib.set_grad_enabled(False):
        obs["set_grad_enabled(False)"] = [x * 2, lib.is_grad_enabled()]
    obs["restored"] = lib.is_grad_enabled()
    try:
        lib.set_grad_enabled(False)  # as a function: sets the mode until changed again
        obs["function"] = [x * 2, lib.is_grad_enabled()]
    finally:
        lib.set_grad_enabled(True)
    obs["function back"] = [x * 2, lib.is_grad_enabled()]
    return obs


def test_no_grad_enable_grad_set_grad_enabled_as_contexts_and_function():
    twin(grad_mode_contexts)


def grad_mode_decorators(lib):
    x = lib.tensor(arr(3, seed=13), requires_grad=True)

    @lib.no_grad()
    def doubled(t):
        return t * 2, lib.is_grad_enabled()

    @lib.no_grad
    def bare(t):
        return t * 2, lib.is_grad_enabled()

    @lib.enable_grad()
    def recorded(t):
        return t * 2, lib.is_grad_enabled()

    @lib.enable_grad
    def recorded_bare(t):
        return t * 2, lib.is_grad_enabled()

    @lib.set_grad_enabled(False)
    def switched_off(t):
        return t * 2, lib.is_grad_enabled()

    after_decorating = lib.is_grad_enabled()  # decorating must not change the mode
    obs = {
        "after decorating": after_decorating,
        "no_grad()": doubled(x),
        "no_grad": bare(x),
        "set_grad_enabled(False)": switched_off(x),
        "mode": lib.is_grad_enabled(),
    }
    with lib.no_grad():
        obs["enable_grad()"] = recorded(x)
        obs["enable_grad"] = recorded_bare(x)
        obs["inner mode"] = lib.is_grad_enabled()
    return obs


def test_grad_mode_decorators_apply_only_inside_the_function():
    twin(grad_mode_decorators)


def inference_mode(lib):
    x = lib.tensor(arr(3, seed=14), requires_grad=True)
    with lib.inference_mode():
        y = x * 2
        inside = [lib.is_grad_enabled(), lib.is_inference_mode_enabled()]
    with lib.inference_mode(False):
        z = x * 2
        disabled = [lib.is_grad_enabled(), lib.is_inference_mode_enabled()]

    @lib.inference_mode()
    def decorated(t):
        return t * 2

    @lib.inference_mode
    def bare(t):
        return t * 2

    outside = [lib.is_grad_enabled(), lib.is_inference_mode_enabled()]
    return {
        "y": [y, y.is_inference()],
        "inside": inside,
        "z": [z, z.is_inference()],
        "disabled": disabled,
        "decorated": decorated(x).is_inference(),
        "bare": [bare(x).requires_grad, bare(x).is_inference()],
        "outside": outside,
        "x": x.is_inference(),
    }


def test_inference_mode_stops_recording_and_marks_inference_tensors():
    twin(inference_mode)


def inference_tensor_saved_for_backward(lib):
    x = lib.tensor(arr(3, seed=15), requires_grad=True)
    with lib.inference_mode():
        y = x * 2
        ones = lib.ones(3)
    return {
        "y saved": raises(lambda: (x * y).sum()),
        "created inside": ones.is_inference(),
        "not saved": (x + y).sum(),
    }


def test_inference_tensor_cannot_be_saved_for_backward():
    _, obs = twin(inference_tensor_saved_for_backward)
    assert isinstance(obs["y saved"], Raised)


def grad_mode_is_per_thread(lib):
    x = lib.tensor(arr(3, seed=16), requires_grad=True)
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def in_no_grad():
        with lib.no_grad():
            entered.set()
            checked.wait(timeout=10)
            seen["no_grad thread"] = [lib.is_grad_enabled(), (x * 2).requires_grad]

    def other():
        entered.wait(timeout=10)
        seen["other thread"] = [lib.is_grad_enabled(), (x * 2).requires_grad]
        checked.set()

    threads = [threading.Thread(target=in_no_grad), threading.Thread(target=other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    seen["main"] = [lib.is_grad_enabled(), x * 2]
    return seen


def test_no_grad_in_one_thread_does_not_affect_another():
    _, obs = twin(grad_mode_is_per_thread)
    assert obs["other thread"] == [True, True] and obs["no_grad thread"] == [False, False]


# ---------------------------------------------------------------- detach, requires_grad_


def detach(lib):
    x = lib.tensor(arr(3, seed=17), requires_grad=True)
    h = x * 2
    d = h.detach()
    d2 = x.detach()
    d2.add_(1.0)  # shares x's values (and version counter)
    y = (x * x).sum()
    x_after = x.detach().clone()
    h2 = x.exp()
    h2.detach_()
    return {"d": d, "x": x_after, "y": y, "h2": h2, "d2 requires_grad": d2.requires_grad}


def test_detach_cuts_the_graph_and_shares_values():
    twin(detach)


def requires_grad_flags(lib):
    x = lib.tensor(arr(3, seed=18))
    x.requires_grad_()
    h = x * 2
    y = lib.tensor(arr(3, seed=19)).requires_grad_(True).requires_grad_(False)
    return {
        "x": x,
        "h": h,
        "y": y,
        "non-leaf True": raises(h.requires_grad_, True),
        "non-leaf False": raises(h.requires_grad_, False),
        "non-leaf setter False": raises(setattr, h, "requires_grad", False),
        "h after": h,
    }


def test_requires_grad_flags_follow_torch_rules_for_leaves_and_non_leaves():
    twin(requires_grad_flags)


# ---------------------------------------------------------------- custom Function


def custom_function(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x * x * x * scale

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x * x * ctx.scale * grad, None

    x = lib.tensor(arr(3, seed=20), requires_grad=True)
    y = Cube.apply(x, 2.0)
    out = (y * x).sum()
    out.backward(retain_graph=True)
    first = x.grad.clone()
    out.backward()
    return {
        "y": y,
        "first": first,
        "second": x.grad,
        "third": raises(out.backward),
        "no grad": Cube.apply(lib.tensor(arr(3, seed=21)), 2.0),
    }


def test_custom_function_matches_torch_and_raises_on_backward_twice():
    _, obs = twin(custom_function)
    assert obs["third"].message.startswith("Trying to backward through the graph a second")


def custom_function_saved_tensors_after_free(lib):
    saved = {}

    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            saved["ctx"] = ctx
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = lib.tensor(arr(3, seed=22), requires_grad=True)
    Square.apply(x).sum().backward()
    return {"x.grad": x.grad, "access": raises(lambda: saved["ctx"].saved_tensors)}


def test_custom_function_saved_tensors_after_backward_raise():
    twin(custom_function_saved_tensors_after_free)


# ---------------------------------------------------------------- saved_tensors_hooks


def saved_tensors_hooks(lib):
    packed, unpacked = [], []

    def pack(t):
        packed.append((tuple(t.shape), round(float(t.sum()), 4)))
        return t

    def unpack(t):
        unpacked.append(tuple(t.shape))
        return t

    x = lib.tensor(arr(2, 3, seed=23), requires_grad=True)
    w = lib.tensor(arr(3, 4, seed=24), requires_grad=True)
    c = lib.tensor(arr(4, seed=25))
    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        h = (x @ w).exp() * c  # mm saves x, w; exp saves its result; mul saves c only
        y = (h.sin() * 2 + h.tanh()).sum()  # sin saves h; *2 a wrapped number; tanh its result
    outside = (y * x.sum()).sum()  # recorded after the block: not packed
    n_packed = len(packed)
    y.backward()
    return {
        "packed": sorted(packed),
        "n_packed": n_packed,
        "unpacked": sorted(unpacked),
        "x.grad": x.grad,
        "w.grad": w.grad,
        "outside": outside,
    }


def test_saved_tensors_hooks_pack_and_unpack_as_often_as_torch():
    twin(saved_tensors_hooks)
