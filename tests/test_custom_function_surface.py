"""Custom autograd.Function corners, on the tape and in real PyTorch at run time.

`ctx.mark_dirty` (the input written in place comes back as itself, its version bumped and
its history rewritten to the Function's node, PyTorch's errors for a leaf and for a dirty
input not returned), an input returned unchanged (a new view, never the input itself),
extra trailing `None`s from backward, `setup_context` with forward's default arguments, and
`torch.autograd.function` (`once_differentiable`, `FunctionCtx`).
"""

from __future__ import annotations

import pytest
from torch_twin import arr, raises, twin

import funcgrad.tape as tape

X = arr(3, seed=7)


def _add_one(lib):
    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3  # not the true gradient, so that the test sees the node ran

    return AddOne


def _identity(lib):
    class Identity(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    return Identity


def test_mark_dirty_rewrites_the_inputs_history():
    def prog(lib):
        a = lib.tensor(X, requires_grad=True)
        b = a * 2
        before = b._version
        c = _add_one(lib).apply(b)
        name = type(c.grad_fn).__name__
        nxt = type(c.grad_fn.next_functions[0][0]).__name__
        (c * c).sum().backward()
        return c is b, b._version - before, name, nxt, b, a.grad

    twin(prog)


def test_mark_dirty_invalidates_graphs_that_saved_the_input():
    def prog(lib):
        a = lib.tensor(X, requires_grad=True)
        b = a * 1
        saved = b * b
        _add_one(lib).apply(b)
        return raises(saved.sum().backward)

    twin(prog)


def test_mark_dirty_without_grad_still_bumps_the_version():
    def prog(lib):
        b = lib.tensor(X)
        c = _add_one(lib).apply(b)
        return c is b, b._version, c.requires_grad, c

    twin(prog)


def test_mark_dirty_on_a_leaf_that_requires_grad_is_pytorchs_error():
    def prog(lib):
        return raises(_add_one(lib).apply, lib.tensor(X, requires_grad=True))

    twin(prog)


def test_a_dirty_input_must_be_returned():
    def prog(lib):
        class Forgets(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                y.add_(1)
                ctx.mark_dirty(y)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g, None

        return raises(Forgets.apply, lib.tensor(X, requires_grad=True), lib.tensor(X))

    twin(prog)


def test_mark_dirty_on_a_view_is_refused_naming_the_alternative():
    base = tape.tensor(X, requires_grad=True) * 1
    with pytest.raises(NotImplementedError, match="mark_dirty the base itself"):
        _add_one(tape).apply(base[:2])


@pytest.mark.parametrize("requires_grad", [True, False])
def test_an_input_returned_unchanged_comes_back_as_a_new_view(requires_grad):
    def prog(lib):
        a = lib.tensor(X, requires_grad=requires_grad)
        b = _identity(lib).apply(a)
        seen = (b is a, b._is_view(), b._base is a, b.is_leaf, b.requires_grad)
        if requires_grad:
            b.sum().backward()
        return seen, a.grad, a.is_leaf

    twin(prog)


def test_an_input_returned_unchanged_under_no_grad():
    def prog(lib):
        a = lib.tensor(X, requires_grad=True)
        with lib.no_grad():
            b = _identity(lib).apply(a)
        return b is a, b._is_view(), b.requires_grad, b

    twin(prog)


def test_backward_may_return_extra_trailing_nones_but_nothing_else():
    def prog(lib):
        def make(extra):
            class F(lib.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x * 2

                @staticmethod
                def backward(ctx, g):
                    return (g * 2, *extra(g))

            return F

        a = lib.tensor(X, requires_grad=True)
        make(lambda g: (None, None)).apply(a).sum().backward()
        fine = a.grad.clone()
        bad = raises(make(lambda g: (None, g)).apply(a).sum().backward)
        return fine, bad

    twin(prog)


def test_setup_context_sees_the_arguments_as_given_not_the_defaults():
    def prog(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(x, k=3.0, shift=None):
                return x * k

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.n_inputs = len(inputs)
                ctx.k = inputs[1] if len(inputs) > 1 else 3.0

            @staticmethod
            def backward(ctx, g):
                return (g * ctx.k,) + (None,) * (ctx.n_inputs - 1)

        a = lib.tensor(X, requires_grad=True)
        Scale.apply(a).sum().backward()
        first = a.grad.clone()
        a.grad = None
        Scale.apply(a, 5.0).sum().backward()
        return first, a.grad

    twin(prog)


def test_once_differentiable_backward_refuses_a_second_backward():
    def prog(lib):
        once = lib.autograd.function.once_differentiable

        class Square(lib.autograd.function.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @once
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        a = lib.tensor(X, requires_grad=True)
        y = Square.apply(a)
        (plain,) = lib.autograd.grad(y.sum(), a, create_graph=True)
        v = lib.ones(3, requires_grad=True)
        (g,) = lib.autograd.grad(Square.apply(a), a, v, create_graph=True)
        node = (type(g.grad_fn).__name__, type(g.grad_fn.next_functions[0][0]).__name__)
        return plain, g, node, raises(g.sum().backward)

    twin(prog)


def test_autograd_function_module_holds_pytorchs_names():
    def prog(lib):
        module = lib.autograd.function
        return (
            module.Function is lib.autograd.Function,
            module.FunctionCtx is lib.autograd.function.FunctionCtx,
            module.once_differentiable.__name__,
        )

    twin(prog)
