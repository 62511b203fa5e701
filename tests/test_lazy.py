"""Lazy segments (`funcgrad.tape.set_lazy`): the same observations as PyTorch, at every
boundary of a segment, through the op-by-op fallback and through the compiled program.

Every program here runs in real PyTorch and in funcgrad.tape with lazy segments on
(`twin` compares them); `compiled` runs the tape side twice more with compile-at-first-
sight, so that a backward over the segment goes through one compiled program, and checks
that it did (the cache's hit or compile counters moved). The fuzzer's random programs run
here in lazy mode too, compiled at first sight (fewer than its 1,000; lazy segments are on
by default, so the whole suite runs lazily, and `pytest --eager` runs it op by op).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from fuzz.programs import programs
from fuzz.test_fuzz_tape import check
from hypothesis import HealthCheck, given, settings
from torch_twin import arr, raises, twin

import funcgrad.tape as tape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lazy(compile_first_sight=False):
    return tape.lazy.lazy_segments(compile_at_first_sight=compile_first_sight)


def compiled_runs():
    """The counters that show a backward went through a compiled program."""
    info = tape.lazy.cache_info()
    return info["hits"] + info["compiles"]


def lazy_twin(prog, *, expect_compiled=None, **options):
    """`twin` with lazy segments on, op by op at first sight, then compiled at first
    sight; `expect_compiled`: whether the compiled program must (True) or must not
    (False) have run a backward."""
    with lazy():
        twin(prog, **options)
    before = compiled_runs()
    with lazy(compile_first_sight=True):
        twin(prog, **options)
    if expect_compiled is not None:
        assert (compiled_runs() > before) == expect_compiled


# ---------------------------------------------------------------- the compiled path
def test_chain_backward_compiles_once_and_hits_after():
    x0, w0 = arr(4, 4, seed=1), arr(4, 4, seed=2)
    tape.lazy.clear_cache()

    def step(lib, x, w):
        x.grad = w.grad = None
        y = x
        for _ in range(5):
            y = (y * w).sin() + 0.5
        loss = y.tanh().sum()
        loss.backward()
        return loss, x.grad, w.grad

    def prog(lib):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        return [step(lib, x, w) for _ in range(3)]

    with lazy():
        twin(prog)
    info = tape.lazy.cache_info()
    # first sight op by op, the second compiles, the third hits
    assert (info["op_by_op"], info["compiles"], info["hits"]) == (1, 1, 1)
    assert info["compile_seconds"] > 0 and info["size"] == 1


def test_pending_tensor_alive_at_backward_gets_its_value_and_grad_fn():
    def prog(lib):
        x = lib.tensor(arr(3, seed=3), requires_grad=True)
        y = x.exp() * 2
        z = (y - 1).sum()
        z.backward()
        return y, z, x.grad, y.grad_fn.name(), z.requires_grad

    lazy_twin(prog, expect_compiled=True)


def test_mlp_step_matches_torch():
    def prog(lib):
        w1 = lib.tensor(arr(8, 16, seed=4), requires_grad=True)
        b1 = lib.tensor(arr(16, seed=5), requires_grad=True)
        w2 = lib.tensor(arr(16, 4, seed=6), requires_grad=True)
        x = lib.tensor(arr(5, 8, seed=7))
        out = []
        for _ in range(2):
            for p in (w1, b1, w2):
                p.grad = None
            loss = (lib.relu(x @ w1 + b1) @ w2).pow(2).mean()
            loss.backward()
            out.append((loss.item(), w1.grad, b1.grad, w2.grad))
        return out

    lazy_twin(prog, expect_compiled=True)


def test_one_leaf_used_many_times_accumulates_once_into_an_existing_grad():
    def prog(lib):
        w = lib.tensor(arr(3, seed=8), requires_grad=True)
        w.grad = lib.ones(3)
        before = w.grad
        ((w * w) * w + w).sum().backward()
        return w.grad, before  # .grad accumulates in place, as PyTorch's does

    lazy_twin(prog, expect_compiled=True)


def test_scalars_change_without_a_recompile():
    x0 = arr(4, seed=9)
    with lazy(compile_first_sight=True):
        x = tape.tensor(x0, requires_grad=True)
        (x * 2.0).sum().backward()
        compiles = tape.lazy.cache_info()["compiles"]
        for scale in (3.0, 4.0):
            x.grad = None
            (x * scale).sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), np.full(4, scale, np.float32))
        assert tape.lazy.cache_info()["compiles"] == compiles


# ---------------------------------------------------------------- segment boundaries
def test_print_mid_segment():
    def prog(lib):
        x = lib.tensor(arr(3, seed=10), requires_grad=True)
        y = x.sin()
        text = repr(y)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            print(y * 2)
        (y * x).sum().backward()
        return text.split("grad_fn")[1], out.getvalue().split("grad_fn")[1], x.grad

    lazy_twin(prog)


def test_item_bool_tolist_and_numpy_mid_segment():
    def prog(lib):
        x = lib.tensor(arr(3, seed=11), requires_grad=True)
        y = (x * 3).sum()
        first = y.item()
        taken = bool(y > 0)
        z = (x.exp() * y).sum()
        listed = (x * 2).tolist()
        as_numpy = (x + 1).detach().numpy()
        z.backward()
        return first, taken, listed, as_numpy, z, x.grad

    lazy_twin(prog)


def test_tensor_hook_mid_segment_sees_and_replaces_the_grad():
    def prog(lib):
        x = lib.tensor(arr(3, seed=12), requires_grad=True)
        seen = []
        y = x.sin() * 2
        y.register_hook(lambda g: seen.append(g.clone()) or g * 10)
        z = (y * y).sum()
        z.backward()
        return seen, x.grad

    lazy_twin(prog, expect_compiled=False)


def test_leaf_hooks_and_post_accumulate_hooks_run():
    def prog(lib):
        x = lib.tensor(arr(3, seed=13), requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(("hook", g.clone())))
        x.register_post_accumulate_grad_hook(lambda t: seen.append(("post", t.grad.clone())))
        (x.tanh() * 3).sum().backward()
        return seen, x.grad

    lazy_twin(prog, expect_compiled=False)


def test_in_place_write_to_a_saved_pending_tensor_fails_backward_as_in_torch():
    def prog(lib):
        x = lib.tensor(arr(3, seed=14), requires_grad=True)
        y = x.exp()  # ExpBackward0 saves its result
        z = (y * 2).sum()
        y.add_(1)
        return raises(z.backward), y

    lazy_twin(prog, expect_compiled=False)


def test_in_place_write_to_a_saved_leaf_under_no_grad_fails_backward_as_in_torch():
    def prog(lib):
        x = lib.tensor(arr(3, seed=15), requires_grad=True)
        z = (x * x).sum()
        with lib.no_grad():
            x.mul_(2)
        return raises(z.backward), x.grad

    lazy_twin(prog, expect_compiled=False)


def test_in_place_write_mid_segment_that_is_not_saved():
    def prog(lib):
        x = lib.tensor(arr(3, seed=16), requires_grad=True)
        y = x + 1  # AddBackward0 saves nothing
        y.mul_(3)
        z = (y.sin() * x).sum()
        z.backward()
        return y, z, x.grad, y._version

    lazy_twin(prog)


def test_no_grad_region_mid_segment():
    def prog(lib):
        x = lib.tensor(arr(3, seed=17), requires_grad=True)
        y = x.sin()
        with lib.no_grad():
            c = y * 2  # reads y's value: runs the segment
        z = (y * c).sum()
        z.backward()
        return c, z, x.grad

    lazy_twin(prog)


def test_backward_twice_raises_and_retain_graph_keeps_the_graph():
    def prog(lib):
        x = lib.tensor(arr(3, seed=18), requires_grad=True)
        z = (x.sin() * x).sum()
        z.backward()
        twice = raises(z.backward)
        w = (x.cos() * x).sum()
        w.backward(retain_graph=True)
        w.backward()
        return twice, x.grad

    lazy_twin(prog)


def test_retain_graph_frees_what_backward_frees():
    def prog(lib):
        x = lib.tensor(arr(3, seed=19), requires_grad=True)
        y = x.exp()
        z = (y * x).sum()
        w = (y * 2).sum()
        z.backward(retain_graph=True)
        w.backward()
        return raises(z.backward), x.grad

    lazy_twin(prog)


def test_autograd_grad_and_create_graph_fall_back():
    def prog(lib):
        x = lib.tensor(arr(3, seed=20), requires_grad=True)
        y = (x**3).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        g.sum().backward()
        return g, x.grad

    # (the tape names create_graph's nodes differently in eager mode too)
    lazy_twin(prog, expect_compiled=False, grad_fn_names=False)


def test_shape_errors_surface_at_the_op_that_caused_them():
    def prog(lib):
        x = lib.tensor(arr(3, seed=21), requires_grad=True)
        y = x.sin()
        bad = raises(lambda: y + lib.ones(4))
        z = y.sum()
        z.backward()
        return bad, x.grad

    lazy_twin(prog)


def test_graph_bytes_of_a_pending_graph_are_pytorchs():
    x0 = arr(1000, seed=22)
    eager_x = tape.tensor(x0, requires_grad=True)
    eager = tape.graph_bytes((eager_x.exp() * eager_x).sum())
    with lazy():
        x = tape.tensor(x0, requires_grad=True)
        before = tape.live_graph_bytes()
        y = (x.exp() * x).sum()
        assert tape.graph_bytes(y) == eager == 8000
        assert tape.live_graph_bytes() - before == 8000
        y.backward()
        assert tape.live_graph_bytes() - before == 0


def test_live_graph_bytes_are_zero_after_a_compiled_backward():
    with lazy(compile_first_sight=True):
        before = tape.live_graph_bytes()
        x = tape.tensor(arr(100, seed=23), requires_grad=True)
        y = (x.exp() * x).sum()
        y.backward()
        assert tape.live_graph_bytes() == before


# ---------------------------------------------------------------- cache discipline
def test_recompiles_warn_once():
    tape.lazy.clear_cache()
    with lazy(compile_first_sight=True), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(1, 13):  # a new shape every step
            x = tape.ones(n, requires_grad=True)
            (x * 2).sum().backward()
    texts = [str(w.message) for w in caught if "lazy segments" in str(w.message)]
    assert len(texts) == 1 and "compiled in a row" in texts[0]
    assert tape.lazy.cache_info()["compiles"] == 12


def test_cache_is_bounded():
    tape.lazy.clear_cache()
    tape.lazy.set_cache_size(2)
    try:
        with lazy(compile_first_sight=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for n in range(1, 5):
                x = tape.ones(n, requires_grad=True)
                (x * 2).sum().backward()
        assert tape.lazy.cache_info()["size"] == 2
        with pytest.raises(ValueError, match="at least 1"):
            tape.lazy.set_cache_size(0)
    finally:
        tape.lazy.set_cache_size(64)


def test_lazy_is_on_by_default_and_the_environment_variable_turns_it_off():
    code = "import funcgrad.tape as t; print(t.is_lazy())"
    env = dict(os.environ)
    outs = []
    for value in (None, "1", "0", ""):
        env.pop("FUNCGRAD_LAZY", None)
        if value is not None:
            env["FUNCGRAD_LAZY"] = value
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
        )
        outs.append(done.stdout.strip())
    assert outs == ["True", "True", "False", "True"]
    env["FUNCGRAD_LAZY"] = "yes"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode != 0 and "FUNCGRAD_LAZY must be 0 or 1" in done.stderr


# ---------------------------------------------------------------- the fuzzer, lazily
N_LAZY_PROGRAMS = 150


@settings(
    max_examples=N_LAZY_PROGRAMS,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(programs())
def test_random_tape_programs_in_lazy_mode_observe_the_same_as_in_torch(program):
    with lazy(compile_first_sight=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # recompiles: every program is new
        check(program)
