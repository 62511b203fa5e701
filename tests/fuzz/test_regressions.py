"""Every mismatch the differential fuzzer (test_fuzz_tape.py) found, as a named test.

Each test is the fuzzer's minimized program, rewritten by hand as a function of `lib`
(torch or funcgrad.tape) and run in both through torch_twin.twin, which compares values,
`.grad`s (and None-ness), requires_grad, is_leaf, grad_fn names and exception texts. The
docstring says what funcgrad did before the fix.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_twin import FUZZ_TOLERANCE, Raised, arr, assert_same, raises, twin

import funcgrad.tape as tape

from .programs import Backward, Call, Hook, InPlace, Leaf, Program, run

# ---------------------------------------------------------------- views and aliases


def test_view_made_under_no_grad_requires_grad_but_gets_no_gradient():
    """Was: the view did not require grad (then `(v * 3).sum().backward()` raised)."""

    def prog(lib):
        x = lib.tensor(arr(2, 1), requires_grad=True)
        with lib.no_grad():
            v = x.t()
        y = v * 3
        return {
            "v": v,
            "y": y,
            "backward": raises(y.sum().backward),
            "grads": (x.grad, v.grad),
            "backward on v": raises(v.backward, lib.ones(1, 2)),
            "grad w.r.t. v": raises(lib.autograd.grad, (v * 3).sum(), v),
            "in place": raises(v.mul_, 2),
        }

    twin(prog)


def test_detach_of_a_detached_tensor_sees_and_makes_in_place_changes():
    """Was: an alias of an alias kept a stale array and wrote only to the first alias."""

    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        d = x.detach()
        d2 = d.detach()
        with lib.no_grad():
            x.mul_(2)
        seen = d2.clone()
        d2.add_(1)
        return seen, x, d, d2

    twin(prog)


def test_in_place_on_a_detached_view_reaches_its_base():
    """Was: the write reached the view's array only, not its base (silently lost); then it
    was refused. Now the detached view shares the base's storage, as in PyTorch."""

    def prog(lib):
        x = lib.tensor(arr(2, 3))
        v = x[1]
        d = x[0].detach()
        d.add_(1)
        return x, d, v, x._version, v._version

    twin(prog)


def test_flatten_of_one_dim_returns_the_tensor_itself():
    """Was: a ViewBackward0 view (so is_leaf and retains_grad differed from PyTorch)."""

    def prog(lib):
        x = lib.tensor(arr(0, 3), requires_grad=True)
        y = lib.tensor(arr(3), requires_grad=True) * 1
        return x.flatten(1, 1), x.flatten(-1, 1), y.flatten(), raises(x.flatten, 1, 0)

    twin(prog)


def test_in_place_through_a_detach_alias_keeps_a_64_bit_base_64_bit():
    """Was: the write through the alias left the float64 base (and an int64 one) float32
    (int32): the base's new array was cast outside JAX's 64-bit mode."""

    def prog(lib):
        x = lib.tensor(np.array([[0.5], [-0.25]]), requires_grad=True)
        s = lib.stack([x, x], -2)
        s.detach().abs_()
        n = lib.tensor(np.array([3, -4]))
        n.detach().mul_(2)
        return s, n, x.detach().neg_(), x

    twin(prog)


# ---------------------------------------------------------------- 0-d and empty tensors


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_of_a_zero_dim_tensor(op):
    """Was: ValueError 'axis 0 is out of bounds for array of dimension 0'."""

    def prog(lib):
        x = lib.tensor(np.float32(0.3), requires_grad=True)
        y = getattr(x, op)(0)
        y.backward()
        return y, x.grad

    twin(prog)


def test_max_and_min_along_a_dim_of_a_zero_dim_tensor():
    """Was: IndexError 'tuple index out of range'."""

    def prog(lib):
        x = lib.tensor(np.float32(2.0), requires_grad=True)
        v, i = x.max(0)
        v.backward()
        return v, i, x.min(-1, keepdim=True), x.grad, raises(x.max, 1)

    twin(prog)


def test_reductions_over_dim_zero_of_a_zero_dim_tensor():
    """Was: IndexError / ValueError from jnp for sum(0), mean(-1), norm(dim=0)."""

    def prog(lib):
        x = lib.tensor(np.float32(-2.0), requires_grad=True)
        out = [x.sum(0), x.mean(-1, keepdim=True), x.norm(dim=0), x.transpose(0, 0)]
        lib.stack(out).sum().backward()
        return out, x.grad, raises(x.sum, (0, 0)), raises(lib.ones(3).sum, (0, -1))

    twin(prog)


def test_max_of_an_empty_tensor_raises_pytorchs_error():
    """Was: ValueError 'zero-size array to reduction operation max which has no identity'."""

    def prog(lib):
        x = lib.tensor(arr(0, 3), requires_grad=True)
        return raises(x.max), raises(x.min), raises(x.max, 0), x.max(1), x.min(dim=1)

    twin(prog)


def test_reshape_of_an_empty_tensor_with_an_ambiguous_minus_one_raises():
    """Was: ZeroDivisionError 'integer modulo by zero'."""

    def prog(lib):
        x = lib.tensor(arr(0, 3))
        return raises(x.view, 0, -1), x.reshape(-1, 3), raises(x.reshape, 2, -2)

    twin(prog)


def test_expand_with_minus_one_in_a_new_leading_dim_raises():
    """Was: a silently wrong shape (the -1 read a wrapped-around dim)."""

    def prog(lib):
        x = lib.tensor(arr(3))
        return raises(x.expand, -1, 3), raises(x.expand, 2, 4), x.expand(0, -1)

    twin(prog)


@pytest.mark.parametrize("method", ["permute", "expand", "reshape", "repeat", "flip"])
def test_shape_method_without_arguments_raises_type_error(method):
    """Was: the method returned the tensor (x.permute() of a 0-d tensor)."""

    def prog(lib):
        return raises(getattr(lib.tensor(np.float32(1.0)), method))

    twin(prog)


# ---------------------------------------------------------------- errors of ops


def test_cat_errors_use_pytorchs_words():
    """Was: ValueError / TypeError from jnp.concatenate."""

    def prog(lib):
        a, b = lib.tensor(arr(2, 3)), lib.tensor(arr(0, 3))
        return (
            raises(lib.cat, [lib.tensor(np.float32(1.0)), a]),
            raises(lib.cat, [b, a], -1),
            raises(lib.cat, [a, lib.tensor(arr(3))]),
            raises(lib.cat, [a, 3]),
            raises(lib.stack, [a, lib.tensor(arr(3, 2))]),
        )

    twin(prog)


@pytest.mark.parametrize(
    ("a", "b", "a_grad"),
    [
        ((2, 1, 3), (2, 1, 3), False),  # bmm
        ((1, 3), (2, 1, 3), True),  # (b.mT @ a.T).mT, folded
        ((2, 1, 3), (1, 1, 3), False),  # b is squeezed to a matrix when it requires grad
        ((3,), (4,), False),
        ((2, 3), (2,), False),
    ],
)
def test_matmul_shape_error_is_pytorchs_for_the_path_pytorch_takes(a, b, a_grad):
    """Was: 'dot_general requires contracting dimensions to have the same shape'."""

    def prog(lib):
        x = lib.tensor(arr(*a), requires_grad=a_grad)
        y = lib.tensor(arr(*b), requires_grad=not a_grad)
        return raises(lambda: x @ y)

    twin(prog)


@pytest.mark.parametrize(
    ("a", "b"), [((3,), (3, 2)), ((1, 3), (2, 3, 4)), ((2, 3), (2, 3, 4)), ((2, 3), (0, 3, 4))]
)
def test_matmul_node_name_is_pytorchs(a, b):
    """Was: UnsafeViewBackward0 (PyTorch: SqueezeBackward4, TransposeBackward0, Clone...)."""

    def prog(lib):
        x = lib.tensor(arr(*a), requires_grad=True)
        y = lib.tensor(arr(*b, seed=1), requires_grad=True)
        z = x @ y
        z.sum().backward()
        return z, x.grad, y.grad

    twin(prog)


def test_broadcasting_mismatch_raises_pytorchs_size_error():
    """Was: TypeError 'add got incompatible shapes for broadcasting'."""

    def prog(lib):
        a, b = lib.tensor(arr(2, 3)), lib.tensor(arr(3, 2))
        return raises(lambda: a + b), raises(lib.where, a > 0, a, lib.tensor(arr(2)))

    twin(prog)


@pytest.mark.parametrize(
    "case", ["broadcast into a smaller tensor", "float into int", "copy of a larger source"]
)
def test_in_place_op_that_would_change_shape_or_dtype_raises(case):
    """Was: the tensor silently took the broadcast shape or the promoted dtype."""

    def prog(lib):
        if case == "broadcast into a smaller tensor":
            return raises(lib.tensor(arr(3)).add_, lib.tensor(arr(2, 3)))
        if case == "float into int":
            return raises(lib.tensor(np.arange(3, dtype=np.int32)).mul_, lib.tensor(arr(3)))
        return raises(lib.tensor(arr(3)).copy_, lib.tensor(arr(2, 3)))

    twin(prog)


def test_indexing_with_a_python_bool_unsqueezes():
    """Was: x[True] had shape (1, 3) for x of shape (2, 3) (the bool was a mask on dim 0)."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True)
        y, z = x[True], x[False]
        (y.sum() + z.sum()).backward()
        return y, z, x.grad

    twin(prog)


@pytest.mark.parametrize(
    "key",
    [(Ellipsis, None), None, (0, None), Ellipsis, (slice(None), 1), (slice(0, 5),)],
    ids=["ellipsis-none", "none", "int-none", "ellipsis", "full-slice-int", "long-slice"],
)
def test_basic_indexing_node_name_is_the_last_view_op_pytorch_applies(key):
    """Was: SliceBackward0 for every key that was not a single int."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True) * 1
        return x[key]

    twin(prog)


# ---------------------------------------------------------------- gradients


def test_abs_gradient_at_zero_is_zero():
    """Was: 1 (jnp.abs's derivative at 0); found through log(|x| + 1) of mean(x) = 0."""

    def prog(lib):
        x = lib.tensor(np.array([0.0, -2.0, 3.0], np.float32), requires_grad=True)
        x.abs().sum().backward()
        return x.grad

    twin(prog)


def test_clamp_gradient_at_a_bound_is_one():
    """Was: 1/2 (jnp.clip's derivative at a bound, through jnp.maximum's tie rule)."""

    def prog(lib):
        x = lib.tensor(np.array([-0.5, 0.0, 0.5, 1.0], np.float32), requires_grad=True)
        (x.clamp(-0.5, 0.5) + x.clamp(min=0.0) + x.clamp(0.5, -0.5)).sum().backward()
        return x.grad

    twin(prog)


def test_power_zero_point_zero_gradient_at_zero_is_zero():
    """Was: nan (0 * 0 ** -1 in JAX's derivative of x ** 0.0)."""

    def prog(lib):
        x = lib.tensor(np.array([0.0, 2.0], np.float32), requires_grad=True)
        (x**0.0).sum().backward()
        return x.grad

    twin(prog)


def test_norm_gradient_at_zero_is_zero():
    """Was: nan (sqrt's derivative at 0)."""

    def prog(lib):
        x = lib.tensor(np.array([[0.0, 0.0], [3.0, 4.0]], np.float32), requires_grad=True)
        (x.norm(dim=1).sum() + lib.zeros(2).requires_grad_().norm()).backward()
        return x.grad

    twin(prog)


@pytest.mark.parametrize("op", ["max", "max_dim", "clamp", "maximum", "pow0"])
def test_create_graph_grad_of_a_selecting_op_does_not_require_grad(op):
    """Was: True (the recorded pullback was attached to the saved input)."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True)
        y = {
            "max": lambda: x.max(),
            "max_dim": lambda: x.max(1)[0],
            "clamp": lambda: x.clamp(-0.5, 0.5),
            "maximum": lambda: lib.maximum(x, lib.tensor(arr(2, 3, seed=1))),
            "pow0": lambda: x**0,
        }[op]()
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        return g.requires_grad, g

    twin(prog, grad_fn_names=False)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_create_graph_backward_uses_the_saved_value_of_a_leaf_changed_since():
    """Was: the recorded pullback read the leaf's new value (x.tanh_() under no_grad)."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True)
        y = x.sigmoid()
        with lib.no_grad():
            x.tanh_()
        y.backward(lib.tensor(arr(2, 3, seed=1)), create_graph=True)
        return x.grad

    twin(prog, grad_fn_names=False)


def test_create_graph_backward_through_a_freed_node_that_saves_only_numbers():
    """Was: RuntimeError 'generator raised StopIteration' (2 - x freed its 2)."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True)
        y = 2 - x
        y.backward(lib.ones(2, 3))
        y.backward(lib.ones(2, 3), create_graph=True)
        return x.grad

    twin(prog, grad_fn_names=False)


def test_retained_grad_of_a_create_graph_backward_is_differentiable():
    """Was: a plain tensor (requires_grad False)."""

    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        y = x * x
        y.retain_grad()
        lib.autograd.grad((y * y).sum(), x, create_graph=True)
        return y.grad

    twin(prog, grad_fn_names=False)


# ---------------------------------------------------------------- saved tensors


def test_in_place_change_of_the_input_of_max_along_a_dim_does_not_fail_backward():
    """Was: a version error (PyTorch's MaxBackward0 saves only the indices)."""

    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        v, _ = x.max(0, keepdim=True)
        with lib.no_grad():
            x.mul_(2)
        v.backward()
        return x.grad

    twin(prog)


def test_in_place_change_of_x_after_c_over_x_does_not_fail_backward():
    """Was: a version error (PyTorch computes c / x as x.reciprocal() * c)."""

    def prog(lib):
        x = lib.tensor(arr(3) + 2, requires_grad=True)
        y = 2 / x
        with lib.no_grad():
            x.exp_()
        y.backward(lib.ones(3))
        return x.grad, raises(y.backward, lib.ones(3))

    twin(prog)


def test_second_backward_through_copy_slices_raises():
    """Was: it ran again (funcgrad's CopySlices saved no tensor for a Python value)."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True)
        y = x * 1
        y[0] = 1.5
        lib.stack([y]).backward(lib.ones(1, 2, 3), inputs=[y])
        return y.grad, raises(lib.autograd.grad, [x, y], [x, y], [lib.ones(2, 3)] * 2)

    twin(prog)


def test_vector_at_matrix_names_its_saved_vector_as_pytorch_in_a_version_error():
    """Was: the error named the vector ([3], output 0 of Exp) where PyTorch names the
    `a.unsqueeze(0)` its mm node saved ([1, 3], AsStrided); and with both operands changed
    it named the vector first, where PyTorch's mm checks mat2 first."""

    def prog(lib):
        x = lib.tensor(arr(2, 1, 3), requires_grad=True)
        w = lib.tensor(arr(3, 2, seed=1), requires_grad=True)
        a = x.sum((0, 1)) * 2
        m = a @ (w * 1)
        a.exp_()
        v = x.max(0)[0]
        both = v.diagonal(0, 0, -1) @ v
        v.exp_()
        return raises(m.backward, lib.ones(2)), raises(both.backward, lib.ones(3))

    twin(prog)


# ---------------------------------------------------------------- the engine


def test_backward_with_inputs_does_not_accumulate_into_a_leaf_root():
    """Was: x.backward(g, inputs=[y]) added g into x.grad."""

    def prog(lib):
        x = lib.tensor(arr(2, 1), requires_grad=True)
        y = x.norm()
        x.backward(lib.ones(2, 1), inputs=[y])
        return x.grad, y.grad

    twin(prog)


def test_backward_with_inputs_runs_and_frees_the_inputs_own_node():
    """Was: the input's node was skipped, so a second backward through it worked."""

    def prog(lib):
        x = lib.tensor(arr(3) + 2, requires_grad=True)
        y = 1 / x
        y.backward(lib.ones(3), inputs=[y])
        return y.grad, x.grad, raises(y.backward, lib.ones(3), inputs=[y])

    twin(prog)


def test_grad_with_an_input_not_reachable_from_the_outputs():
    """Was: the unreachable view's node counted as a parent, so nothing ran."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True)
        v = x.view(2, 3)
        return raises(lib.autograd.grad, [x], [x, v], [lib.ones(2, 3)])

    twin(prog)


def test_autograd_grad_checks_outputs_before_inputs():
    """Was: the inputs' error came first."""

    def prog(lib):
        x, w = lib.tensor(arr(3)), lib.tensor(arr(3), requires_grad=True)
        return (
            raises(lib.autograd.grad, [x.sum()], [x]),
            raises(lambda: (w * 2).sum().backward(inputs=[x])),
        )

    twin(prog)


def test_autograd_grad_returns_one_tensor_for_an_input_given_twice():
    """Was: two tensors, so an in-place change of one did not show in the other."""

    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        a, b = lib.autograd.grad((x * x).sum(), [x, x])
        a.add_(1)
        return a, b

    twin(prog)


def test_hooks_of_a_root_not_on_a_path_to_the_inputs():
    """Was: the hook of x ran in a two-root autograd.grad that does not need x's node, and
    did not run for a lone root that PyTorch evaluates anyway."""

    def prog(lib):
        x = lib.tensor(arr(2, 3), requires_grad=True)
        w = lib.tensor(arr(3), requires_grad=True)
        log = []
        x.register_hook(lambda g: log.append(g.sum().item()))
        s = x.sum()
        lib.autograd.grad([x, s], [w], [lib.ones(2, 3), lib.tensor(5.0)], allow_unused=True)
        first = list(log)
        y = x * 2
        y.retain_grad()
        z = y.sum()
        y.backward(lib.ones(2, 3), inputs=[z])
        return first, log, y.grad

    twin(prog)


def test_grad_captured_from_a_node_that_runs_is_taken_before_its_tensor_hooks():
    """Was: the hook's doubled grad was returned for the non-leaf input."""

    def prog(lib):
        x = lib.tensor(arr(2, 1), requires_grad=True)
        s = x.sin()
        s.register_hook(lambda g: g * 2)
        return lib.autograd.grad([x, s], [x, s], [lib.ones(2, 1), lib.ones(2, 1)])

    twin(prog)


def test_hooks_of_two_leaves_of_one_node_run_in_pytorchs_order():
    """Was: ties in the ready queue were broken by id(), an arbitrary order."""

    def prog(lib):
        a = lib.tensor(arr(3), requires_grad=True)
        b = lib.tensor(arr(3, seed=1), requires_grad=True)
        log = []
        a.register_hook(lambda g: log.append("a"))
        b.register_hook(lambda g: log.append("b"))
        lib.maximum(a, b).sum().backward()
        (b * a).sum().backward()
        return log

    twin(prog)


# ---------------------------------------------------------------- a minimized IR program


def test_fuzz_program_backward_through_a_view_made_under_no_grad():
    """The fuzzer's minimized IR of the first regression, run by its interpreter: the
    reshape made under no_grad requires grad but passes no gradient on to x."""
    program = Program(
        (
            Leaf((3,), 5, True),
            Call("reshape", (0,), (("shape", (3, 1)),), no_grad=True),
            Call("mul_scalar", (1,), (("c", 2.0),)),
            Backward(2, ((3, 1), 7)),
        )
    )
    assert_same(run(torch, program), run(tape, program), **FUZZ_TOLERANCE, path="program")


def test_a_no_grad_view_without_a_grad_edge_does_not_make_mul_save_the_other_input():
    """Was: mul saved its other input for the gradient of a no_grad view (which has no grad
    edge), so an in-place change of that input failed a backward PyTorch runs."""

    def prog(lib):
        a = lib.tensor(arr(2, 3), requires_grad=True)
        with lib.no_grad():
            v = a.squeeze(0)
        y = a + 2
        z = y * v
        y.add_(1)
        z.backward(lib.ones(2, 3))
        return a.grad, z

    twin(prog)


def test_retain_grad_of_a_view_survives_a_write_of_its_base():
    """Was: the view's grad_fn was rebuilt (AsStridedBackward0) and retains_grad lost."""

    def prog(lib):
        a = lib.tensor(arr(2, 3), requires_grad=True)
        y = a * 2
        v = y.t()
        v.retain_grad()
        y[0] = 1.0
        (v * v).sum().backward()
        return v.retains_grad, v.grad, a.grad

    twin(prog)


def test_a_no_grad_view_of_a_written_base_is_readable_under_no_grad_only():
    """Was: reading the values of such a view raised; PyTorch raises only for its history
    (grad_fn, is_leaf, an op that records it)."""

    def prog(lib):
        a = lib.tensor(arr(2, 3), requires_grad=True)
        with lib.no_grad():
            v = a.reshape(6)
            a.add_(2.0)
            c = lib.cat([v], 0)
        return c, raises(lambda: v.is_leaf), raises(lambda: v * 2)

    twin(prog)


def test_fuzz_program_hook_on_a_view_written_through_another_view():
    """A hook on a view whose base was written through another view: PyTorch 2.13's
    register_hook segfaults there (pytorch/pytorch#196459) unless the view's grad_fn is
    read first, which the interpreter does; both libraries then see the same hook calls."""
    program = Program(
        (
            Leaf((3,), 5, True),
            Call("clone", (0,)),
            Call("view", (1,), (("shape", (3,)),)),
            InPlace(2, "slice_fill_", 0.5),
            Hook(2, "record"),
            Backward(2, ((3,), 7)),
        )
    )
    assert_same(run(torch, program), run(tape, program), **FUZZ_TOLERANCE, path="program")


def test_lerp_refuses_an_end_of_another_dtype():
    """Was: an int `end` (or a float64 one for a float32 input) was promoted silently;
    PyTorch raises "expected dtype float for `end` but got dtype int"."""

    def prog(lib):
        x = lib.tensor(arr(3), requires_grad=True)
        ints = lib.tensor(np.arange(3, dtype=np.int32))
        return {
            "int end": raises(x.lerp, ints, 0.3),
            "tensor weight": raises(lib.lerp, x, ints, lib.tensor(0.3)),
            "float64 end": raises(x.lerp, x.double(), 0.3),
            "int input": raises(ints.lerp, x, 0.3),
            "in place": raises(x.detach().lerp_, ints, 0.3),
        }

    for observed in twin(prog)[1].values():
        assert isinstance(observed, Raised)
