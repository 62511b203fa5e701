"""funcgrad.tape.func matches PyTorch's torch.func on the same programs.

Oracle: real PyTorch (torch 2.13, CPU) at test time. Most tests are `twin` programs (see
torch_twin.py): a function of the library module, run once with `torch` and once with
`funcgrad.tape`, whose observations (values, dtypes, requires_grad, exceptions' types and
texts) must agree. The programs in tests/func_programs/ are real torch.func scripts: they
run as written with PyTorch, and on the tape with only their import lines changed.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from torch_twin import Raised, arr, raises, twin

import funcgrad.tape as tape
from funcgrad.functional import residual_bytes
from funcgrad.tape import observe
from funcgrad.tape.func import _levels

PROGRAMS = Path(__file__).parent / "func_programs"


def t(lib, *shape, seed=0):
    return lib.tensor(arr(*shape, seed=seed))


def linear(lib, n_in=3, n_out=2, seed=1):
    """A Linear layer with the same weights in both libraries."""
    m = lib.nn.Linear(n_in, n_out)
    m.load_state_dict(
        {"weight": t(lib, n_out, n_in, seed=seed), "bias": t(lib, n_out, seed=seed + 1)}
    )
    return m


# ---------------------------------------------------------------- grad and grad_and_value
def grad_programs(lib):
    f = lib.func
    x, y = t(lib, 3), t(lib, 3, seed=1)
    cube = lambda z: (z**3).sum()  # noqa: E731
    return {
        "grad": f.grad(lambda z: (z.sin() * z).sum())(x),
        "argnums tuple": f.grad(lambda a, b: (a * b.exp()).sum(), argnums=(0, 1))(x, y),
        "negative argnum": f.grad(lambda a, b: (a * b).sum(), argnums=-1)(x, y),
        "dict argument": f.grad(lambda d: (d["w"] * d["b"]).sum())({"w": x, "b": y}),
        "list argument": f.grad(lambda xs: sum((v**2).sum() for v in xs))([x, y]),
        "kwargs pass through": f.grad(lambda a, scale=1.0: (a * scale).sum())(x, scale=y),
        "grad_and_value": f.grad_and_value(cube)(x),
        "has_aux": f.grad(lambda z: (cube(z), {"k": (z, z * 2)}), has_aux=True)(x),
        "value and aux": f.grad_and_value(lambda z: (cube(z), z.sum()), has_aux=True)(x),
        "integer output": f.grad(lambda z: (z > 0).sum())(x),
        "0-dim input": f.grad(lambda z: z**2)(lib.tensor(3.0)),
        ".item() inside": f.grad(lambda z: z.sum() * z[0].item())(x),
        "python if inside": f.grad(lambda z: z.sum() if z.sum() > 0 else -z.sum())(x),
        "grad of grad": f.grad(lambda z: f.grad(cube)(z).sum())(x),
        "no_grad inside": f.grad(lambda z: (z * lib.no_grad()(lambda: z * 2)()).sum())(x),
        "detach inside": f.grad(lambda z: (z * z.detach()).sum())(x),
        ".data inside": f.grad(lambda z: (z * z.data).sum())(x),
        "under outer no_grad": lib.no_grad()(lambda: f.grad(cube)(x))(),
        "clone then in place": f.grad(lambda z: z.clone().mul_(2).sum())(x),
    }


def test_grad_and_grad_and_value_match_torch():
    twin(grad_programs)


def test_inputs_require_grad_inside_grad_as_in_torch():
    def prog(lib):
        seen = []
        lib.func.grad(
            lambda z: (seen.append((z.requires_grad, lib.is_grad_enabled())), z.sum())[1]
        )(t(lib, 3))
        lib.func.vmap(lambda z: (seen.append(z.requires_grad), z)[1])(t(lib, 3))
        return seen

    twin(prog)


# ---------------------------------------------------------------- vjp, jvp, linearize
def vjp_programs(lib):
    f = lib.func
    x, y = t(lib, 4), t(lib, 4, seed=1)
    out, vjp_fn = f.vjp(lambda a, b: (a * b, {"s": a.sin()}), x, y)
    cts = [(lib.ones(4), {"s": lib.ones(4)}), (x, {"s": y}), (y * 2, {"s": lib.zeros(4)})]
    single, single_fn = f.vjp(lambda a: (a**2) * 2, x)
    _, aux_fn, aux = f.vjp(lambda a: (a.exp(), a.sum()), x, has_aux=True)
    dict_out, dict_fn = f.vjp(lambda d: d["a"] * 2, {"a": x})
    return {
        "outputs": out,
        "vjp_fn three times": [vjp_fn(c) for c in cts],
        "mean and sum cotangents": [single_fn(lib.ones(4) / 4), single_fn(lib.ones(4))],
        "float64 cotangent": single_fn(lib.ones(4, dtype=lib.float64)),
        "has_aux": (aux_fn(lib.ones(4)), aux),
        "dict primal": (dict_out, dict_fn(x)),
        "retain_graph kwarg": single_fn(x, retain_graph=False),
    }


def test_vjp_and_its_function_called_many_times_match_torch():
    twin(vjp_programs)


def jvp_programs(lib):
    f = lib.func
    x, v = t(lib, 4), t(lib, 4, seed=1)
    _, jvp_fn = f.linearize(lambda a: a.sin() * a, x)
    return {
        "jvp": f.jvp(lambda a: a.exp().sum(), (x,), (v,)),
        "two primals": f.jvp(lambda a, b: a * b, (x, v), (v, x)),
        "pytree output": f.jvp(lambda a: {"y": [a * 2, a.sin()]}, (x,), (v,)),
        "has_aux": f.jvp(lambda a: (a * 2, a.sum()), (x,), (v,), has_aux=True),
        "strict": f.jvp(lambda a: a * 2, (x,), (v,), strict=True),
        "linearize": f.linearize(lambda a: a.sin() * a, x)[0],
        "jvp_fn twice": [jvp_fn(v), jvp_fn(x)],
        "vmap of jvp": f.vmap(lambda tan: f.jvp(lambda a: a.sin(), (x,), (tan,))[1])(lib.eye(4)),
    }


def test_jvp_and_linearize_match_torch():
    twin(jvp_programs)


def test_vjp_fn_called_without_retain_graph_frees_its_graph_like_torch():
    def prog(lib):
        x = t(lib, 4)
        _, vjp_fn = lib.func.vjp(lambda a: (a**2) * 2, x)
        kept = vjp_fn(lib.ones(4))
        last = vjp_fn(lib.ones(4) / 4, retain_graph=False)
        return kept, last, raises(vjp_fn, lib.ones(4))

    _, (_, _, error) = twin(prog)
    assert error.message.startswith("Trying to backward through the graph a second time")


def test_vjp_fn_keeps_its_residuals_as_a_pytree():
    x = tape.tensor(arr(1000))
    _, vjp_fn = tape.func.vjp(lambda a: a.sin() * a, x)
    assert vjp_fn.residual_bytes == residual_bytes(vjp_fn) >= x.nbytes
    assert "residual_bytes=" in repr(vjp_fn)
    vjp_fn(tape.ones(1000), retain_graph=False)
    assert vjp_fn.residual_bytes == 0


# ---------------------------------------------------------------- Jacobians and Hessians
def jacobian_programs(lib):
    f = lib.func
    x, y = t(lib, 3), t(lib, 3, seed=1)
    g = lambda a, b: a.tanh() * b.sum()  # noqa: E731
    return {
        "jacrev": f.jacrev(g)(x, y),
        "jacfwd": f.jacfwd(g)(x, y),
        "jacrev argnums": f.jacrev(g, argnums=(0, 1))(x, y),
        "jacfwd argnums": f.jacfwd(g, argnums=(0, 1))(x, y),
        "dict output": f.jacrev(lambda d: {"o": d["a"] * 2, "p": d["a"].sum()})({"a": x}),
        "has_aux": f.jacrev(lambda a: (a * 2, a.sum()), has_aux=True)(x),
        "jacfwd has_aux": f.jacfwd(lambda a: (a.sin(), a.sum()), has_aux=True)(x),
        "chunk_size": f.jacrev(lambda a: a * 2, chunk_size=1)(x),
        "hessian": f.hessian(lambda a: (a.sin() * a**2).sum())(x),
        "hessian argnums": f.hessian(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(x, y),
        "jacrev of jacfwd": f.jacrev(f.jacfwd(lambda a: a.tanh() * a.sum()))(x),
        "non-scalar hessian": f.hessian(lambda a: a * 2)(x),
        ".item() in jacfwd": f.jacfwd(lambda a: a * a.sum().item())(x),
        "random in jacfwd, same": f.jacfwd(lambda a: a * 2, randomness="same")(x),
    }


def test_jacobians_and_hessians_match_torch():
    twin(jacobian_programs)


# ---------------------------------------------------------------- vmap
def vmap_programs(lib):
    f = lib.func
    xs, w = t(lib, 4, 3), t(lib, 3, seed=1)
    return {
        "vmap": f.vmap(lambda r: (r * r).sum())(xs),
        "in_dims None": f.vmap(lambda r, w: r @ w, in_dims=(0, None))(xs, w),
        "in_dims 1": f.vmap(lambda c: c.sum(), in_dims=1)(xs),
        "negative in_dim": f.vmap(lambda c: c * 2, in_dims=-1)(xs),
        "nested in_dims": f.vmap(lambda a: a[0][0] + a[1], in_dims=(((0,), None),))(((xs,), w)),
        "dict in_dims": f.vmap(lambda d, y: d["x"] + y, in_dims=({"x": 1}, None))({"x": xs.t()}, w),
        "list in_dims": f.vmap(lambda a: a[0] + a[1], in_dims=([0, None],))([xs, w]),
        "out_dims 1": f.vmap(lambda r: r * 2, out_dims=1)(xs),
        "out_dims -1": f.vmap(lambda r: r * 2, out_dims=-1)(xs),
        "out_dims tuple": f.vmap(lambda r: (r, r.sum()), out_dims=(1, 0))(xs),
        "out_dims None": f.vmap(lambda r: (r, lib.ones(2), 3), out_dims=(0, None, None))(xs),
        "unbatched output": f.vmap(lambda r: lib.ones(2))(xs),
        "pytree output": f.vmap(lambda r: {"a": r * 2, "b": [r.sum()]})(xs),
        "kwargs unbatched": f.vmap(lambda r, scale=1.0: r * scale)(xs, scale=w),
        "chunk_size": f.vmap(lambda r: r.exp(), chunk_size=3)(xs),
        "chunked pytree": f.vmap(lambda r: (r.sum(), {"d": r * r}), chunk_size=2)(xs),
        "vmap of vmap": f.vmap(f.vmap(lambda a: a * a.sum()))(t(lib, 2, 3, 4)),
        "captured in place, unbatched": f.vmap(
            lambda r, c: (c.add_(1.0), r * 2)[1], in_dims=(0, None)
        )(xs, t(lib, 3, seed=2)),  # fmt: skip
        "in place on batched input": f.vmap(lambda r, c: r.add_(c), in_dims=(0, None))(
            xs.clone(), w
        ),
        "module": f.vmap(linear(lib))(xs),
        "batch norm eval": f.vmap(lib.nn.BatchNorm1d(3).eval())(t(lib, 5, 4, 3)),
        "empty batch": f.vmap(lambda r: r * 2)(lib.zeros(0, 3)),
    }


def test_vmap_matches_torch():
    twin(vmap_programs, grad_fn_names=False)  # "module": FuncTransformBackward0, see below


def composition_programs(lib):
    f = lib.func
    w, xs, ys = t(lib, 3), t(lib, 5, 3, seed=1), t(lib, 5, seed=2)
    loss = lambda w, x, y: ((w * x).sum().tanh() - y) ** 2  # noqa: E731
    return {
        "vmap(grad)": f.vmap(f.grad(loss), in_dims=(None, 0, 0))(w, xs, ys),
        "vmap(grad_and_value)": f.vmap(f.grad_and_value(loss), in_dims=(None, 0, 0))(w, xs, ys),
        "grad(vmap)": f.grad(lambda w: f.vmap(loss, in_dims=(None, 0, 0))(w, xs, ys).sum())(w),
        "vmap(jacrev)": f.vmap(f.jacrev(lambda x: x.sin() * x.sum()))(xs),
        "vmap(hessian)": f.vmap(f.hessian(lambda x: (x**3).sum()))(xs),
        "jacfwd(grad)": f.jacfwd(f.grad(lambda x: (x.sin() ** 2).sum()))(w),
        "grad(grad(grad))": f.grad(f.grad(f.grad(lambda x: x**4)))(lib.tensor(1.5)),
        "vmap(vjp_fn)": f.vmap(f.vjp(lambda x: x.exp() * x.sum(), w)[1])(lib.eye(3)),
    }


def test_transforms_compose_like_torch():
    twin(composition_programs)


# ---------------------------------------------------------------- functional_call
class _Tied:
    """Two Linear layers sharing one weight, as a module of either library."""

    @staticmethod
    def make(lib):
        class Tied(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = linear(lib, 2, 2, seed=3), linear(lib, 2, 2, seed=5)
                self.b.weight = self.a.weight

            def forward(self, x):
                return self.b(self.a(x))

        return Tied()


def functional_call_programs(lib):
    fc = lib.func.functional_call
    m, x = linear(lib), t(lib, 4, 3, seed=7)
    p = {"weight": t(lib, 2, 3, seed=8), "bias": t(lib, 2, seed=9)}
    bn = lib.nn.BatchNorm1d(3)
    buffers = {k: v.clone() for k, v in bn.named_buffers()}
    bn_out = fc(bn, ({}, buffers), (x,))
    tied, ones = _Tied.make(lib), lib.ones(1, 2)
    w = t(lib, 2, 2, seed=10)
    return {
        "args tuple": fc(m, p, (x,)),
        "single arg": fc(m, p, x),
        "kwargs": fc(m, p, (), {"input": x}),
        "tuple of dicts": fc(m, ({"weight": p["weight"]}, {"bias": p["bias"]}), (x,)),
        "list of dicts": fc(m, [p], (x,)),
        "partial dict": fc(m, {"bias": p["bias"]}, (x,)),
        "unexpected key ignored": fc(m, {**p, "foo": x}, (x,)),
        "strict": fc(m, p, (x,), strict=True),
        "buffers updated in place": (bn_out, buffers["running_mean"], bn.running_mean),
        "tied: one name sets both": fc(tied, {"a.weight": w}, (ones,)),
        "tied: other name": fc(tied, {"b.weight": w}, (ones,)),
        "untied": fc(tied, {"a.weight": w}, (ones,), tie_weights=False),
        "tied: same value twice": fc(tied, {"a.weight": w, "b.weight": w}, (ones,)),
        "tied: two values": raises(
            fc, tied, {"a.weight": w, "b.weight": ones.t() @ ones}, (ones,)
        ),  # fmt: skip
        "module unchanged": (m.weight, m.bias),
    }


def test_functional_call_takes_pytorchs_forms_and_matches_it():
    twin(functional_call_programs)


def test_functional_call_gradients_reach_the_given_tensors_like_torch():
    def prog(lib):
        m, x = linear(lib), t(lib, 4, 3, seed=7)
        p = {"weight": t(lib, 2, 3, seed=8).requires_grad_(), "bias": t(lib, 2, seed=9)}
        lib.func.functional_call(m, p, (x,)).pow(2).sum().backward()
        return p["weight"].grad, m.weight.grad

    twin(prog, grad_fn_names=False)


def test_stack_module_state_and_ensembling_match_torch():
    def prog(lib):
        models = [linear(lib, seed=s) for s in (1, 4, 7)]
        params, buffers = lib.func.stack_module_state(models)
        base = linear(lib, seed=11)
        x = t(lib, 5, 3, seed=12)
        out = lib.func.vmap(
            lambda p, b, x: lib.func.functional_call(base, (p, b), (x,)), in_dims=(0, 0, None)
        )(params, buffers, x)
        bn_buffers = lib.func.stack_module_state([lib.nn.BatchNorm1d(2) for _ in range(2)])[1]
        return params, buffers, out.detach(), sorted(bn_buffers), base.weight

    twin(prog, grad_fn_names=False)


# ---------------------------------------------------------------- randomness
def test_vmap_randomness_same_draws_once_and_different_draws_per_element():
    tape.manual_seed(0)
    same = tape.func.vmap(lambda x: x + tape.rand(3), randomness="same")(tape.zeros(4, 3))
    different = tape.func.vmap(lambda x: x + tape.rand(3), randomness="different")(tape.zeros(4, 3))
    dropped = tape.func.vmap(lambda x: tape.nn.functional.dropout(x, 0.5), randomness="different")(
        tape.ones(8, 64)
    )
    again = tape.func.vmap(lambda x: x + tape.rand(3), randomness="different")(tape.zeros(4, 3))
    assert all(np.array_equal(row, same.numpy()[0]) for row in same.numpy())
    assert len({tuple(row) for row in different.numpy()}) == 4
    assert len({tuple(row) for row in dropped.numpy()}) == 8
    assert set(np.unique(dropped.numpy())) == {0.0, 2.0}
    assert not np.array_equal(again.numpy(), different.numpy())  # the generator advanced
    assert isinstance(tape.default_generator.key, type(tape.random.default_generator.key))
    assert tape.rand(2).shape == (2,)  # no traced key left in the generator


def test_vmap_randomness_error_mode_is_the_default_like_torch():
    def prog(lib):
        return raises(lib.func.vmap(lambda x: x * lib.randn(())), t(lib, 3))

    _, error = twin(prog)
    assert error.message.startswith("vmap: called random operation while in randomness error")


# ---------------------------------------------------------------- results on the tape
def tape_link_programs(lib):
    f = lib.func
    m = linear(lib)
    x = t(lib, 3).requires_grad_()
    g = f.grad(lambda z: (z**3).sum())(x)
    (g * g).sum().backward()
    out = f.vmap(m)(t(lib, 4, 3, seed=3))  # the module's parameters require grad
    out.pow(2).sum().backward()
    y = t(lib, 3, seed=4).requires_grad_()
    with lib.no_grad():
        unlinked = f.grad(lambda z: (z**3).sum())(y)
    twice = f.jacrev(lambda z: z.sin() * z)(y).sum()
    twice.backward()
    return {
        "x.grad through grad": x.grad,
        "module grads through vmap": (m.weight.grad, m.bias.grad, out.requires_grad),
        "no_grad: not linked": unlinked.requires_grad,
        "jacrev result": y.grad,
        "second backward": raises(twice.backward),
        "vjp results require grad": [r.requires_grad for r in f.vjp(lambda z: z.sin(), x)[:1]],
    }


def test_transform_results_are_part_of_the_tape_graph_like_torchs():
    twin(tape_link_programs, grad_fn_names=False)


def test_backward_through_vjp_results_raises_instead_of_losing_the_gradient():
    x = tape.tensor(arr(3), requires_grad=True)
    out, vjp_fn = tape.func.vjp(lambda z: z.sin(), x)
    (g,) = vjp_fn(tape.ones(3))
    for result in (out, g):
        with pytest.raises(RuntimeError, match=r"funcgrad.tape.func: backward reached the result"):
            result.sum().backward()


def test_create_graph_through_a_transform_result_raises():
    x = tape.tensor(arr(3), requires_grad=True)
    g = tape.func.grad(lambda z: (z**3).sum())(x)
    with pytest.raises(NotImplementedError, match="create_graph=True through the result"):
        tape.autograd.grad(g.sum(), x, create_graph=True)


# ---------------------------------------------------------------- under tape.jit
def test_transforms_run_under_tape_jit_and_match_eager():
    tape.manual_seed(0)
    model = tape.nn.Sequential(tape.nn.Linear(4, 8), tape.nn.Tanh(), tape.nn.Linear(8, 1))
    optimizer = tape.optim.SGD(model.parameters(), lr=0.1)
    x, y = tape.tensor(arr(6, 4, seed=1)), tape.tensor(arr(6, 1, seed=2))

    def per_sample_norms(x, y):
        params = {k: v.detach() for k, v in model.named_parameters()}

        def loss(p, xi, yi):
            return ((tape.func.functional_call(model, p, (xi[None],)) - yi[None]) ** 2).mean()

        grads = tape.func.vmap(tape.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
        return sum(g.flatten(1).pow(2).sum(1) for g in grads.values()).sqrt()

    def step(x, y):  # clip each sample's gradient to norm 1, then average (DP-SGD style)
        optimizer.zero_grad()
        scale = (1.0 / per_sample_norms(x, y)).clamp(max=1.0)
        loss = (((model(x) - y) ** 2).squeeze(1) * scale).mean()
        loss.backward()
        optimizer.step()
        return loss

    eager_norms = per_sample_norms(x, y)
    np.testing.assert_allclose(
        tape.jit(per_sample_norms)(x, y).numpy(), eager_norms.numpy(), rtol=1e-5
    )
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    eager = [step(x, y).item() for _ in range(3)]
    model.load_state_dict(state)
    compiled = tape.jit(step)
    jitted = [compiled(x, y).item() for _ in range(3)]
    np.testing.assert_allclose(jitted, eager, rtol=1e-5)
    assert compiled.trace_count <= 2  # the first call has no .grad yet: one retrace at most


def test_a_vmapped_model_trains_under_tape_jit_like_the_plain_model():
    tape.manual_seed(0)
    model = linear(tape)
    optimizer = tape.optim.SGD(model.parameters(), lr=0.1)
    x = tape.tensor(arr(5, 3, seed=3))

    def step(forward):
        optimizer.zero_grad()
        loss = (forward(x) ** 2).mean()
        loss.backward()  # through the vmap's FuncTransformBackward0 node, in the program
        optimizer.step()
        return loss

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    plain = [step(model).item() for _ in range(3)]
    model.load_state_dict(state)
    compiled = tape.jit(lambda: step(tape.func.vmap(model)))
    vmapped = [compiled().item() for _ in range(3)]
    np.testing.assert_allclose(vmapped, plain, rtol=1e-5)


def test_vjp_and_random_vmap_under_tape_jit():
    def uses_vjp(z):
        _, vjp_fn = tape.func.vjp(lambda a: a.sin() * a, z)
        return vjp_fn(tape.ones(3))[0] + vjp_fn(2 * tape.ones(3))[0]

    z = tape.tensor(arr(3))
    np.testing.assert_allclose(tape.jit(uses_vjp)(z).numpy(), uses_vjp(z).numpy(), rtol=1e-6)
    noise = tape.func.vmap(lambda a: a + tape.rand(()), randomness="different")
    noisy = tape.jit(lambda z: noise(z))
    first, second = noisy(tape.zeros(4)).numpy(), noisy(tape.zeros(4)).numpy()
    assert len(set(first)) == 4 and not np.array_equal(first, second)
    assert tape.rand(2).shape == (2,)


def test_item_inside_a_transform_inside_tape_jit_raises_the_jit_error():
    step = tape.jit(lambda z: tape.func.grad(lambda a: a.sum() * a[0].item())(z))
    with pytest.raises(RuntimeError, match=r"funcgrad.tape.jit: .item\(\) needs a concrete value"):
        step(tape.tensor(arr(2)))


# ---------------------------------------------------------------- the hooks
def test_hooks_are_installed_only_while_a_transform_runs_even_after_errors():
    assert observe.transforms is None
    with pytest.raises(RuntimeError):
        tape.func.grad(lambda z: z * 2)(tape.tensor(arr(3)))
    assert observe.transforms is None and observe.active == 0 and not _levels.stack()
    x = tape.tensor(arr(3), requires_grad=True)
    assert (x * 2).grad_fn is not None  # the tape records again


def test_a_transform_in_one_thread_leaves_recording_in_another_alone():
    started, release, seen = threading.Event(), threading.Event(), {}

    def transformed(z):
        started.set()
        release.wait(timeout=30)
        return (z**2).sum()

    def worker():
        seen["grad"] = tape.func.grad(transformed)(tape.tensor(arr(3)))

    thread = threading.Thread(target=worker)
    thread.start()
    assert started.wait(timeout=60)
    x = tape.tensor(arr(3), requires_grad=True)
    y = (x * 3).sum()  # recorded, while the other thread is inside grad
    release.set()
    thread.join(timeout=60)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0)
    np.testing.assert_allclose(seen["grad"].numpy(), 2 * arr(3), rtol=1e-6)


# ---------------------------------------------------------------- errors
# Each program returns PyTorch's error for a list of misuses (`raises` records it); twin
# checks that funcgrad raises the same type with PyTorch's text first.
def grad_argument_errors(lib):
    grad, x, y = lib.func.grad, t(lib, 3), t(lib, 3, seed=1)
    dot = lambda a, b: (a * b).sum()  # noqa: E731
    total = lambda a: a.sum()  # noqa: E731
    return {
        "argnum out of range": raises(grad(dot, argnums=2), x, y),
        "argnum -3": raises(grad(dot, argnums=-3), x, y),
        "argnums a float": raises(grad(dot, argnums=1.0), x, y),
        "argnums empty": raises(grad(dot, argnums=()), x, y),
        "argnums repeated": raises(grad(dot, argnums=(0, 0)), x, y),
        "argnum not an int": raises(grad(total, argnums=(0, "a")), x),
        "argnum True": raises(grad(total, argnums=True), x),
        "no arguments": raises(grad(lambda: lib.ones(()))),
        "differentiated int": raises(grad(dot, argnums=1), x, 3),
        "integer tensor": raises(grad(lambda a: (a * 1.0).sum()), lib.tensor([1, 2])),
        "dict with an int leaf": raises(grad(lambda d: d["a"].sum()), {"a": x, "b": 1}),
        "not callable": raises(grad(3), x),
    }


def grad_output_errors(lib):
    grad, vjp, jvp, x = lib.func.grad, lib.func.vjp, lib.func.jvp, t(lib, 3)
    double = lambda a: a * 2  # noqa: E731
    return {
        "non-scalar output": raises(grad(double), x),
        "tuple output": raises(grad(lambda a: (a.sum(), a)), x),
        "float output": raises(grad(lambda a: 3.0), x),
        "has_aux without a pair": raises(grad(lambda a: a.sum(), has_aux=True), x),
        "has_aux with a list": raises(grad(lambda a: [a.sum(), a], has_aux=True), x),
        "aux an int": raises(grad(lambda a: (a.sum(), 1), has_aux=True), x),
        "aux None": raises(grad(lambda a: (a.sum(), None), has_aux=True), x),
        "vjp has_aux": raises(vjp, double, x, has_aux=True),
        "jvp has_aux": raises(jvp, double, (x,), (x,), has_aux=True),
        "jacrev has_aux": raises(lib.func.jacrev(double, has_aux=True), x),
        "jacfwd has_aux": raises(lib.func.jacfwd(double, has_aux=True), x),
        "jacrev float output": raises(lib.func.jacrev(lambda a: 3.0), x),
        "jvp float output": raises(jvp, lambda a: 3.0, (x,), (x,)),
    }


def vjp_jvp_argument_errors(lib):
    vjp, jvp, x = lib.func.vjp, lib.func.jvp, t(lib, 3)
    double = lambda a: a * 2  # noqa: E731
    _, vjp_fn = vjp(double, x)
    _, pair_fn = vjp(lambda a: (a * 2, {"a": a}), x)
    _, jvp_fn = lib.func.linearize(double, x)
    return {
        "jvp primals not a tuple": raises(jvp, double, x, x),
        "jvp tangents not a tuple": raises(jvp, double, (x,), x),
        "jvp structures differ": raises(jvp, double, (x,), (x, x)),
        "jvp tangent size": raises(jvp, double, (x,), (t(lib, 4),)),
        "jvp without primals": raises(jvp, lambda: lib.ones(2), (), ()),
        "jvp float primal": raises(jvp, double, (1.0,), (1.0,)),
        "jvp float tangent": raises(jvp, double, (x,), (1.0,)),
        "vjp float primal": raises(vjp, double, 3.0),
        "vjp integer primal": raises(vjp, double, lib.tensor([1, 2])),
        "vjp_fn cotangent shape": raises(vjp_fn, t(lib, 4)),
        "vjp_fn cotangent structure": raises(vjp_fn, (x, x)),
        "vjp_fn nested structure": raises(pair_fn, (x,)),
        "vjp_fn float cotangent": raises(vjp_fn, 1.0),
        "vjp_fn None cotangent": raises(vjp_fn, None),
        "linearize tangent shape": raises(jvp_fn, t(lib, 4)),
        "linearize tangent count": raises(jvp_fn, x, x),
    }


def vmap_argument_errors(lib):
    vmap, x, m = lib.func.vmap, t(lib, 3), t(lib, 2, 3)
    same = lambda a: a  # noqa: E731
    first = lambda a, b: a  # noqa: E731
    return {
        "in_dims structure": raises(vmap(first, in_dims=(0,)), x, x),
        "mapped sizes differ": raises(vmap(first), x, t(lib, 4)),
        "in_dim out of range": raises(vmap(same, in_dims=1), x),
        "in_dims a string": raises(vmap(same, in_dims="a"), x),
        "in_dims None": raises(vmap(same, in_dims=None), x),
        "in_dims a list": raises(vmap(first, in_dims=[0, None]), x, x),
        "in_dim for a float": raises(vmap(first, in_dims=(0, 0)), x, 2.0),
        "in_dim a float": raises(vmap(same, in_dims=(0.0,)), m),
        "nested in_dims": raises(vmap(lambda a: a, in_dims=((0,), None)), ((m,), x)),
        "0-dim input": raises(vmap(same), lib.tensor(1.0)),
        "nothing mapped": raises(vmap(same, in_dims=(None,)), x),
        "no inputs": raises(vmap(lambda: lib.ones(2))),
        "out_dims structure": raises(vmap(same, out_dims=(0, 1)), x),
        "out_dims a string": raises(vmap(same, out_dims="a"), m),
        "out_dim out of range": raises(vmap(same, out_dims=3), m),
        "batched output, out_dim None": raises(vmap(same, out_dims=None), m),
        "float output": raises(vmap(lambda a: 3.0), x),
        "None output": raises(vmap(lambda a: (a, None)), m),
        "randomness value": raises(vmap, same, randomness="foo"),
        "chunk_size 0": raises(vmap, same, chunk_size=0),
        "jacrev chunk_size 0": raises(lib.func.jacrev, same, chunk_size=0),
    }


def inside_transform_errors(lib):
    f, x = lib.func, t(lib, 3)

    def backward_then_sum(a):
        a.sum().backward()
        return a.sum()

    return {
        "backward in grad": raises(f.grad(backward_then_sum), x),
        "backward in vmap": raises(f.vmap(backward_then_sum), x),
        ".item() in vmap": raises(f.vmap(lambda a: a * a.item()), x),
        "float() in vmap": raises(f.vmap(lambda a: a * float(a)), x),
        "if in vmap": raises(f.vmap(lambda a: a if a > 0 else -a), x),
        ".tolist() in vmap": raises(f.vmap(lambda a: a.tolist()), x),
        "rand": raises(f.vmap(lambda a: a + lib.rand(1)), x),
        "rand_like": raises(f.vmap(lambda a: a + lib.rand_like(a)), x),
        "dropout": raises(f.vmap(lambda a: lib.nn.functional.dropout(a, 0.5)), t(lib, 3, 2)),
        "rand in jacfwd": raises(f.jacfwd(lambda a: a * lib.rand(3)), x),
        "saved tensor hooks around grad": _with_saved_hooks(lib, f.grad(lambda a: a.sum()), x),
        "... around vjp": _with_saved_hooks(lib, lambda a: f.vjp(lambda b: b.sin(), a), x),
        "... around hessian": _with_saved_hooks(lib, f.hessian(lambda a: a.sum()), x),
    }


def _with_saved_hooks(lib, fn, *args):
    with lib.autograd.graph.saved_tensors_hooks(lambda v: v, lambda v: v):
        return raises(fn, *args)


def inplace_errors(lib):
    f, ones, rows = lib.func, lib.ones(3), t(lib, 2, 3)

    def into_unbatched(write):
        return raises(f.vmap(write, in_dims=(None, 0)), ones, rows)

    def captured(write, transform="grad"):
        c = t(lib, 3, seed=2)
        fn = lambda a: (write(c, a), a.sum())[1]  # noqa: E731
        if transform == "vjp":
            return raises(f.vjp, fn, t(lib, 3))
        if transform == "jvp":
            return raises(f.jvp, fn, (t(lib, 3),), (t(lib, 3),))
        return raises(f.grad(fn), t(lib, 3))

    return {
        "vmap add_": into_unbatched(lambda s, o: s.add_(o)),
        "vmap mul_": into_unbatched(lambda s, o: s.mul_(o)),
        "vmap copy_": into_unbatched(lambda s, o: s.copy_(o)),
        "vmap fill_": into_unbatched(lambda s, o: s.fill_(o.sum())),
        "vmap setitem": into_unbatched(lambda s, o: s.__setitem__(slice(0, 3), o)),
        "vmap index_put": into_unbatched(lambda s, o: s.__setitem__(lib.tensor([0, 1, 2]), o)),
        "vmap a new tensor": raises(f.vmap(lambda o: lib.zeros(3).add_(o)), rows),
        "grad add_": captured(lambda c, a: c.add_(a)),
        "grad setitem": captured(lambda c, a: c.__setitem__(0, a[0])),
        "grad zero_": captured(lambda c, a: c.zero_()),
        "vjp add_": captured(lambda c, a: c.add_(a), "vjp"),
        "jvp mul_": captured(lambda c, a: c.mul_(2.0), "jvp"),
        "grad's own input": raises(f.grad(lambda a: a.mul_(2).sum()), t(lib, 3)),
    }


def module_errors(lib):
    f, nn, x = lib.func, lib.nn, t(lib, 4, 3)
    bn = nn.BatchNorm1d(3)
    bn_params = {k: v.detach() for k, v in bn.named_parameters()}
    stack, fc = f.stack_module_state, f.functional_call
    w, frozen = lib.ones(2, 3), nn.Linear(2, 2).requires_grad_(False)
    return {
        "stack no models": raises(stack, []),
        "stack shapes differ": raises(stack, [nn.Linear(3, 2), nn.Linear(3, 4)]),
        "stack classes differ": raises(stack, [nn.Linear(3, 2), nn.Tanh()]),
        "stack modes differ": raises(stack, [nn.Linear(3, 2), nn.Linear(3, 2).eval()]),
        "stack requires_grad": raises(stack, [nn.Linear(2, 2), frozen]),
        "batch norm stats in grad": raises(
            f.grad(lambda p, x: fc(bn, p, (x,)).sum()), bn_params, x
        ),
        "batch norm stats in vmap": raises(f.vmap(lambda x: bn(x).sum()), t(lib, 5, 4, 3)),
        "strict": raises(fc, nn.Linear(3, 2), {"weight": w, "foo": lib.ones(1)}, (x,), strict=True),
        "repeated key": raises(fc, nn.Linear(3, 2), ({"weight": w}, {"weight": w}), (x,)),
        "float value": raises(fc, nn.Linear(3, 2), {"weight": 1.0}, (x,)),
        "not a dict": raises(fc, nn.Linear(3, 2), 3, (x,)),
        "a list of ints": raises(fc, nn.Linear(3, 2), [3], (x,)),
    }


ERROR_PROGRAMS = [
    grad_argument_errors,
    grad_output_errors,
    vjp_jvp_argument_errors,
    vmap_argument_errors,
    inside_transform_errors,
    inplace_errors,
    module_errors,
]


@pytest.mark.parametrize("program", ERROR_PROGRAMS, ids=lambda p: p.__name__)
def test_errors_match_torch_func(program):
    expected, _ = twin(program)
    for name, error in expected.items():  # each entry shows one of PyTorch's errors
        assert isinstance(error, Raised), name


def test_autograd_grad_inside_a_transform_raises_funcgrads_error():
    def inner(x):
        return tape.autograd.grad(x.sum(), x)[0].sum()

    with pytest.raises(RuntimeError, match="torch.autograd.grad was called inside a torch.func"):
        tape.func.grad(inner)(tape.tensor(arr(3)))


def test_custom_autograd_function_inside_a_transform_is_refused():
    def prog(lib):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = t(lib, 3)
        return raises(lib.func.grad(lambda a: Square.apply(a).sum()), x), raises(
            lib.func.vmap(Square.apply), x
        )

    twin(prog)

    class WithSetup(tape.autograd.Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    with pytest.raises(NotImplementedError, match="custom autograd.Function WithSetup"):
        tape.func.grad(lambda a: WithSetup.apply(a).sum())(tape.tensor(arr(3)))


def test_jacfwd_randomness_different_is_refused():
    with pytest.raises(NotImplementedError, match="randomness='different' is not supported"):
        tape.func.jacfwd(lambda x: x, randomness="different")


# ---------------------------------------------------------------- torch.func scripts, ported
IMPORTS = [  # (PyTorch's import line, the tape's): the only lines a port changes
    (r"^import torch$", "import funcgrad.tape as torch"),
    (r"^from torch import nn$", "from funcgrad.tape import nn"),
    (r"^import torch\.nn\.functional as F$", "import funcgrad.tape.nn.functional as F"),
    (r"^from torch\.func import (.*)$", r"from funcgrad.tape.func import \1"),
]


def _load(name: str, source: str):
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102
    finally:
        del sys.modules[name]
    return module


def _ported(source: str) -> str:
    lines = source.splitlines()
    for i in range(len(lines)):
        for pattern, replacement in IMPORTS:
            lines[i] = re.sub(pattern, replacement, lines[i])
    changed = [(a, b) for a, b in zip(source.splitlines(), lines) if a != b]
    assert changed and all(a.startswith(("import ", "from ")) for a, _ in changed), changed
    return "\n".join(lines) + "\n"


def _assert_same(expected, actual, path="result"):
    if isinstance(expected, dict):
        assert expected.keys() == actual.keys(), path
        for k in expected:
            _assert_same(expected[k], actual[k], f"{path}[{k!r}]")
    elif isinstance(expected, np.ndarray):
        np.testing.assert_allclose(actual, expected, rtol=2e-4, atol=2e-5, err_msg=path)
    else:
        assert actual == expected, path


@functools.cache
def _both_ways(program: str) -> tuple:
    """(PyTorch's results, the tape's) of a torch.func script in tests/func_programs."""
    source = (PROGRAMS / f"{program}.py").read_text()
    assert "funcgrad" not in source  # a real PyTorch program
    expected = _load(f"func_program_torch_{program}", source).run()
    return expected, _load(f"func_program_tape_{program}", _ported(source)).run()


@pytest.mark.parametrize("program", sorted(p.stem for p in PROGRAMS.glob("[!_]*.py")))
def test_torch_func_programs_run_on_the_tape_with_only_their_imports_changed(program):
    _assert_same(*_both_ways(program))


@pytest.mark.parametrize("form", [0, 1], ids=["torch", "tape"])
def test_per_sample_gradients_equal_the_per_sample_backward_loop(form):
    result = _both_ways("per_sample_grads")[form]
    for key in [k for k in result if k.startswith("vmap_")]:
        np.testing.assert_allclose(
            result[key], result["loop_" + key[5:]], rtol=1e-4, atol=1e-6, err_msg=key
        )


def test_ensemble_outputs_equal_each_model_on_its_batch():
    result = _both_ways("ensembling")[1]
    np.testing.assert_allclose(result["own_batch"], result["loop"], rtol=1e-5, atol=1e-6)
    assert result["stacked_weight_shape"] == (3, 16, 5) and result["stacked_requires_grad"]
