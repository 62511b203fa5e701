"""What backward hooks are given and may return, against real PyTorch.

Tensor hooks, node pre-hooks and node post-hooks see tensors; a node post-hook's return
replaces the node's `grad_inputs`; wrong returns (not a tuple, a wrong count, a non-tensor,
another dtype or shape, a value where there was no gradient) raise PyTorch's error at the
hook instead of becoming a wrong gradient. Also custom Functions' edges: one per tensor
argument, as PyTorch's `next_functions`.
"""

from __future__ import annotations

import functools

import pytest
from torch_twin import arr, raises, twin


def _inputs(lib):
    x = lib.tensor(arr(3, seed=1), requires_grad=True)
    y = lib.tensor(arr(3, seed=2), requires_grad=True)
    return x, y


NODE_HOOKS = {
    # name: (kind, hook)
    "post_replaces": ("post", lambda gi, go: (gi[0] * 2, gi[1])),
    "post_none_keeps": ("post", lambda gi, go: None),
    "post_drops_one": ("post", lambda gi, go: (None, gi[1])),
    "post_too_few": ("post", lambda gi, go: (gi[0],)),
    "post_too_many": ("post", lambda gi, go: (gi[0], gi[1], gi[0])),
    "post_not_tuple": ("post", lambda gi, go: gi[0]),
    "post_list": ("post", lambda gi, go: [gi[0], gi[1]]),
    "post_float": ("post", lambda gi, go: (1.0, gi[1])),
    "post_size": ("post", lambda gi, go: (gi[0][:2], gi[1])),
    "post_dtype": ("post", lambda gi, go: (gi[0].double(), gi[1])),
    "post_unnamed": ("post", functools.partial(lambda unused, gi, go: (gi[0],), 0)),
    "pre_replaces": ("pre", lambda go: (go[0] * 3,)),
    "pre_none_value": ("pre", lambda go: (None,)),
    "pre_empty": ("pre", lambda go: ()),
    "pre_list": ("pre", lambda go: [go[0]]),
    "pre_size": ("pre", lambda go: (go[0][:1],)),
    "pre_int": ("pre", lambda go: (go[0].long(),)),
    "pre_float": ("pre", lambda go: (2.0,)),
}


@pytest.mark.parametrize("name", sorted(NODE_HOOKS))
def test_node_hook_returns(name):
    kind, hook = NODE_HOOKS[name]

    def prog(lib):
        x, y = _inputs(lib)
        z = x * y
        register = z.grad_fn.register_prehook if kind == "pre" else z.grad_fn.register_hook
        register(hook)
        return raises(lambda: z.sum().backward()), x.grad, y.grad

    twin(prog)


def test_node_hooks_see_tensors_and_chain_in_order():
    def prog(lib):
        x, y = _inputs(lib)
        z = (x * y).sin()
        seen = []

        def pre(go):
            seen.append(("pre", type(go[0]) is lib.Tensor, go[0].requires_grad))
            return (go[0] + 1,)

        def post_one(gi, go):
            seen.append(("post", all(type(g) is lib.Tensor for g in (*gi, *go))))
            return (gi[0] * 10,)

        def post_two(gi, go):
            return (gi[0] - 1,)  # sees post_one's result

        z.grad_fn.register_prehook(pre)
        z.grad_fn.register_hook(post_one)
        z.grad_fn.register_hook(post_two)
        z.sum().backward()
        return seen, x.grad, y.grad

    twin(prog)


def test_node_post_hook_under_create_graph_keeps_the_graph():
    def prog(lib):
        x, _ = _inputs(lib)
        z = x.exp()
        z.grad_fn.register_hook(lambda gi, go: (gi[0] * x,))
        (g,) = lib.autograd.grad(z.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return g, gg

    twin(prog)


def test_post_hook_may_not_fill_a_missing_gradient():
    def prog(lib):
        x, _ = _inputs(lib)
        z = x * 2  # MulBackward0's second input (the 2) has no gradient
        z.grad_fn.register_hook(lambda gi, go: (gi[0], gi[0]))
        return raises(lambda: z.sum().backward()), x.grad

    twin(prog)


TENSOR_HOOKS = {
    "size": lambda g: g[:2],
    "float": lambda g: 1.0,
    "dtype": lambda g: g.double(),
    "integer": lambda g: g.long(),
    "tuple": lambda g: (g,),
    "scaled": lambda g: g * 4,
}


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "non_leaf"])
@pytest.mark.parametrize("name", sorted(TENSOR_HOOKS))
def test_tensor_hook_returns(name, leaf):
    def prog(lib):
        x, _ = _inputs(lib)
        t = x if leaf else x * 1
        t.register_hook(TENSOR_HOOKS[name])
        return raises(lambda: (t * 2).sum().backward()), x.grad

    twin(prog)


def test_custom_function_edges_are_its_tensor_arguments():
    def prog(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k, y, name):
                return x * k + y

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, g, None

        x, y = _inputs(lib)
        frozen = lib.tensor(arr(3, seed=3))
        out = Scale.apply(x, 2.0, y, "s")
        out2 = Scale.apply(x, 3.0, frozen, "t")
        (out + out2).sum().backward()
        edges = [
            [None if n is None else type(n).__name__ for n, _ in o.grad_fn.next_functions]
            for o in (out, out2)
        ]
        return edges, x.grad, y.grad

    twin(prog)


def test_custom_function_gradient_for_a_non_tensor_argument_raises():
    def prog(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g, g

        x, _ = _inputs(lib)
        return raises(lambda: Scale.apply(x, 2.0).sum().backward()), x.grad

    twin(prog)
