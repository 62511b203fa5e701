"""funcgrad.tape.jit: a compiled stateful step gives the same results as running it eagerly.

The oracle is the eager tape itself: every test builds two identical worlds (parameters,
optimizer, buffers, random generator), runs the step eagerly in one and compiled in the other,
and compares losses, parameters, `.grad`s, optimizer state and version counters after every
step. Each misuse error is matched against its message constant.
"""

from __future__ import annotations

import logging
import re
import types
import warnings

import jax
import numpy as np
import pytest

import funcgrad.tape as torch
from funcgrad.tape import errors, nn, observe, optim
from funcgrad.tape.compile import RetraceWarning

STEPS = 5
_data_rng = np.random.default_rng(0)
BATCHES = [
    (
        _data_rng.normal(size=(8, 4)).astype(np.float32),
        _data_rng.normal(size=(8, 2)).astype(np.float32),
    )
    for _ in range(STEPS)
]


def _batch(i):
    x, y = BATCHES[i % len(BATCHES)]
    return torch.tensor(x), torch.tensor(y)


def _raw_params(seed=0):
    g = np.random.default_rng(seed)
    W = torch.tensor(g.normal(size=(4, 8)).astype(np.float32) * 0.5, requires_grad=True)
    b = torch.tensor(g.normal(size=(8,)).astype(np.float32) * 0.1, requires_grad=True)
    V = torch.tensor(g.normal(size=(8, 2)).astype(np.float32) * 0.5, requires_grad=True)
    return W, b, V


def _mse(out, y):
    return ((out - y) ** 2).mean()


class _World:
    """One copy of a step's state with its own random generator state, so that an eager and
    a compiled copy can run step by step side by side."""

    def __init__(self, make, compiled, **jit_kwargs):
        torch.manual_seed(0)
        self.step, self.state = make()
        self.rng = torch.get_rng_state()
        self.fn = torch.jit(self.step, **jit_kwargs) if compiled else self.step

    def __call__(self, *args, **kwargs):
        torch.set_rng_state(self.rng)
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.rng = torch.get_rng_state()


def _rng_arrays(state) -> dict:
    """A generator state as the arrays a compiled step lifts (mt19937 words, read position,
    cached normal value and its validity)."""
    return torch.Generator().set_state(state)._state_arrays()


def _leaves(value):
    leaves = jax.tree_util.tree_leaves(value, is_leaf=lambda x: isinstance(x, torch.Tensor))
    return [np.asarray(x._data if isinstance(x, torch.Tensor) else x) for x in leaves]


def _assert_close(a, b, what):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=1e-6, err_msg=what)


def _assert_same_state(eager: _World, compiled: _World):
    for name, value in eager.state.items():
        other = compiled.state[name]
        if isinstance(value, torch.Tensor):
            _assert_close(value._data, other._data, name)
            assert (value._grad is None) == (other._grad is None), f"{name}.grad None-ness"
            if value._grad is not None:
                _assert_close(value._grad._data, other._grad._data, f"{name}.grad")
            assert value._version == other._version, f"{name} version"
        elif isinstance(value, nn.Module):
            for (k, a), (_, b) in zip(value.state_dict().items(), other.state_dict().items()):
                _assert_close(a._data, b._data, f"{name}.{k}")
            for (k, a), (_, b) in zip(value.named_parameters(), other.named_parameters()):
                assert (a.grad is None) == (b.grad is None), f"{name}.{k}.grad None-ness"
                if a.grad is not None:
                    _assert_close(a.grad._data, b.grad._data, f"{name}.{k}.grad")
        else:  # an optimizer
            sa, sb = value.state_dict(), other.state_dict()
            assert sa["param_groups"] == sb["param_groups"]
            for x, y in zip(_leaves(sa["state"]), _leaves(sb["state"]), strict=True):
                _assert_close(x, y, f"{name} state")
    ra, rb = _rng_arrays(eager.rng), _rng_arrays(compiled.rng)
    for name in ("key", "pos", "valid"):  # the stream advanced by the same draws
        np.testing.assert_array_equal(ra[name], rb[name], err_msg=f"generator {name}")
    # The cached normal value: float32 arithmetic when traced, double when eager.
    _assert_close(ra["normal"], rb["normal"], "generator's cached normal value")


def _run_side_by_side(make, steps=STEPS, args=_batch, **jit_kwargs):
    eager, compiled = _World(make, False), _World(make, True, **jit_kwargs)
    for i in range(steps):
        a = eager(*args(i))
        b = compiled(*args(i))
        for x, y in zip(_leaves(a), _leaves(b), strict=True):
            _assert_close(x, y, f"result of step {i}")
        _assert_same_state(eager, compiled)
    return compiled


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RetraceWarning)
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- same numbers as eager
def test_compiled_step_matches_eager_with_raw_tensors_and_sgd_momentum():
    def make():
        W, b, V = _raw_params()
        opt = optim.SGD([W, b, V], lr=0.1, momentum=0.9, weight_decay=1e-3)

        def step(x, y):
            opt.zero_grad()
            loss = _mse((x @ W + b).relu() @ V, y)
            loss.backward()
            opt.step()
            return loss

        return step, {"W": W, "b": b, "V": V, "opt": opt}

    compiled = _quiet(_run_side_by_side, make)
    assert compiled.fn.trace_count == 2  # .grad None on the first call, then tensors


def test_compiled_step_matches_eager_with_modules_adam_batchnorm_and_dropout():
    def make():
        # No bias before the batch norm (as usual): its gradient is zero up to rounding,
        # which Adam would scale up to lr-sized steps that differ between programs.
        model = nn.Sequential(
            nn.Linear(4, 8, bias=False),
            nn.BatchNorm1d(8),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(8, 2),
        )
        opt = optim.Adam(model.parameters(), lr=1e-2)
        loss_fn = nn.MSELoss()

        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return step, {"model": model, "opt": opt}

    compiled = _quiet(_run_side_by_side, make)
    assert compiled.fn.trace_count == 2
    running = compiled.state["model"][1].num_batches_tracked
    assert int(running.item()) == STEPS


def test_two_backward_calls_with_retain_graph_match_eager():
    def make():
        W, b, V = _raw_params()
        U = torch.tensor(np.linspace(-1, 1, 8, dtype=np.float32)[:, None], requires_grad=True)
        opt = optim.SGD([W, b, V, U], lr=0.05)

        def step(x, y):
            opt.zero_grad()
            trunk = (x @ W + b).relu()
            loss_a = _mse(trunk @ V, y)
            loss_b = (trunk @ U).abs().mean()
            loss_a.backward(retain_graph=True)
            loss_b.backward()
            opt.step()
            return loss_a, loss_b

        return step, {"W": W, "b": b, "V": V, "U": U, "opt": opt}

    _quiet(_run_side_by_side, make)


def test_gradient_accumulation_over_micro_batches_matches_eager():
    def make():
        W, b, V = _raw_params()
        opt = optim.SGD([W, b, V], lr=0.1)

        def step(x, y):
            opt.zero_grad()
            total = 0.0
            for xs, ys in zip(x.chunk(4), y.chunk(4)):
                loss = _mse((xs @ W + b).relu() @ V, ys) / 4
                loss.backward()
                total = total + loss.detach()
            opt.step()
            return total

        return step, {"W": W, "b": b, "V": V, "opt": opt}

    _quiet(_run_side_by_side, make)


def test_tensor_hooks_run_inside_the_compiled_step_as_in_eager():
    def make():
        W, b, V = _raw_params()
        W.register_hook(lambda g: g * 0.5)
        seen = []
        V.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.shape))

        def step(x, y):
            W.grad = b.grad = V.grad = None
            h = (x @ W + b).relu()
            h.register_hook(lambda g: g.clamp(-0.01, 0.01))
            loss = _mse(h @ V, y)
            loss.backward()
            with torch.no_grad():
                for p in (W, b, V):
                    p.sub_(0.1 * p.grad)
            return loss

        return step, {"W": W, "b": b, "V": V}

    _quiet(_run_side_by_side, make)


def test_dropout_like_random_mask_advances_the_key_as_eager_does():
    def make():
        W, b, V = _raw_params()

        def step(x, y):
            W.grad = b.grad = V.grad = None
            h = (x @ W + b).relu()
            keep = torch.rand_like(h) > 0.5
            loss = _mse((h * keep / 0.5) @ V, y)
            loss.backward()
            with torch.no_grad():
                for p in (W, b, V):
                    p.sub_(0.1 * p.grad)
            return loss, torch.randn(3)

        return step, {"W": W, "b": b, "V": V}

    _quiet(_run_side_by_side, make)  # compares the key after every step


def test_integer_tensor_index_inside_compiled_step_matches_eager():
    def make():
        table = torch.tensor(np.arange(12, dtype=np.float32).reshape(6, 2), requires_grad=True)

        def step(idx):
            table.grad = None
            table[idx].pow(2).sum().backward()
            with torch.no_grad():
                table.sub_(0.1 * table.grad)
            return table.grad

        return step, {"table": table}

    index = lambda i: (torch.tensor([i % 6, (i + 2) % 6, 1]),)  # noqa: E731
    _quiet(_run_side_by_side, make, args=index)


def test_step_method_of_a_plain_object_finds_its_model_and_optimizer():
    class Trainer:
        def __init__(self):
            self.model = nn.Linear(4, 2)
            self.opt = optim.SGD(self.model.parameters(), lr=0.1, momentum=0.5)

        @torch.jit
        def step(self, x, y):
            self.opt.zero_grad()
            loss = _mse(self.model(x), y)
            loss.backward()
            self.opt.step()
            return loss

    torch.manual_seed(0)
    trainer = Trainer()
    torch.manual_seed(0)
    reference = Trainer()
    for i in range(3):
        got = _quiet(trainer.step, *_batch(i))
        want = Trainer.step.__wrapped__(reference, *_batch(i))
        _assert_close(got._data, want._data, "loss")
    for a, b in zip(trainer.model.parameters(), reference.model.parameters()):
        _assert_close(a._data, b._data, "parameter")


def test_tensors_declared_explicitly_are_state():
    def make():
        hidden = types.SimpleNamespace(w=torch.ones(3, requires_grad=True), calls=torch.zeros(()))

        def step(x):
            hidden.w.grad = None
            (hidden.w * x).sum().backward()
            with torch.no_grad():
                hidden.w.sub_(hidden.w.grad)
                hidden.calls.add_(1)
            return hidden.w

        return step, {"w": hidden.w, "calls": hidden.calls}

    eager, compiled = _World(make, False), _World(make, False)
    compiled.fn = torch.jit(compiled.step, tensors=[compiled.state["w"], compiled.state["calls"]])
    for i in range(3):
        x = torch.tensor([1.0, 2.0, float(i)])
        a, b = eager(x), _quiet(compiled, x)
        assert b is compiled.state["w"]  # a state tensor comes back as the live object
        _assert_close(a._data, b._data, "w")
        _assert_same_state(eager, compiled)


def test_nested_compiled_step_is_inlined_into_the_outer_program():
    inner = []

    def make(compile_inner):
        W, b, V = _raw_params()
        forward = lambda x: (x @ W + b).relu() @ V  # noqa: E731
        forward = torch.jit(forward) if compile_inner else forward
        inner.append(forward)

        def step(x, y):
            W.grad = b.grad = V.grad = None
            loss = _mse(forward(x), y)
            loss.backward()
            with torch.no_grad():
                for p in (W, b, V):
                    p.sub_(0.1 * p.grad)
            return loss

        return step, {"W": W, "b": b, "V": V}

    eager = _World(lambda: make(False), False)
    compiled = _World(lambda: make(True), True)
    for i in range(3):
        _assert_close(eager(*_batch(i))._data, _quiet(compiled, *_batch(i))._data, "loss")
        _assert_same_state(eager, compiled)
    assert inner[1].trace_count == 0  # it ran inside the outer trace, as plain Python


def test_changing_the_learning_rate_takes_effect_without_retracing():
    def make():
        W, b, V = _raw_params()
        opt = optim.SGD([W, b, V], lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = _mse((x @ W + b).relu() @ V, y)
            loss.backward()
            opt.step()
            return loss

        return step, {"W": W, "b": b, "V": V, "opt": opt}

    eager, compiled = _World(make, False), _World(make, True)
    for i in range(4):
        for world in (eager, compiled):
            world.state["opt"].param_groups[0]["lr"] = 0.1 / (i + 1)
        _assert_close(eager(*_batch(i))._data, _quiet(compiled, *_batch(i))._data, "loss")
        _assert_same_state(eager, compiled)
    assert compiled.fn.trace_count == 2


# ---------------------------------------------------------------- retracing
def _sgd_step():
    W, b, V = _raw_params()

    def step(x, y, scale=1.0):
        W.grad = b.grad = V.grad = None
        loss = _mse((x @ W + b).relu() @ V, y) * scale
        loss.backward()
        with torch.no_grad():
            for p in (W, b, V):
                p.sub_(0.1 * p.grad)
        return loss

    return step, (W, b, V)


def test_grads_appearing_after_the_first_call_retrace_once_without_a_warning(caplog):
    step, (W, b, V) = _sgd_step()
    compiled = torch.jit(step)
    with caplog.at_level(logging.INFO, logger="funcgrad.tape.jit"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RetraceWarning)
            compiled(*_batch(0))
            assert W.grad is not None and compiled.trace_count == 1
            # The .grads exist now: one more program, which every training loop needs, so
            # it is logged but not warned about.
            for i in range(1, STEPS):
                compiled(*_batch(i))
    assert compiled.trace_count == 2
    assert "tracing _sgd_step.<locals>.step" in caplog.text
    assert "tracing _sgd_step.<locals>.step again, now that the .grads of its state exist" in (
        caplog.text
    )


def test_an_optimizer_training_loop_compiles_twice_and_never_warns():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = optim.Adam(model.parameters(), lr=1e-2)

    @torch.jit
    def step(x, y):
        opt.zero_grad()
        loss = _mse(model(x), y)
        loss.backward()
        opt.step()
        return loss

    with warnings.catch_warnings():
        warnings.simplefilter("error", RetraceWarning)
        for i in range(STEPS):
            step(*_batch(i))
    assert step.trace_count == 2


def test_grads_appearing_together_with_a_new_shape_still_warn():
    step, (W, b, V) = _sgd_step()
    compiled = torch.jit(step)
    compiled(*_batch(0))
    x, y = _batch(1)
    with pytest.warns(RetraceWarning, match=re.escape("argument x changed")):
        compiled(torch.cat([x, x]), torch.cat([y, y]))
    assert compiled.trace_count == 2


def test_new_input_shape_retraces_and_a_seen_shape_does_not():
    step, (W, b, V) = _sgd_step()
    compiled = torch.jit(step)
    _quiet(compiled, *_batch(0))
    _quiet(compiled, *_batch(1))
    assert compiled.trace_count == 2
    compiled(*_batch(2))  # same shapes, new values: the program is reused
    assert compiled.trace_count == 2
    x, y = _batch(3)
    with pytest.warns(
        RetraceWarning, match=re.escape("argument x changed: float32[8, 4] -> float32[16, 4]")
    ):
        compiled(torch.cat([x, x]), torch.cat([y, y]))
    assert compiled.trace_count == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", RetraceWarning)
        compiled(*_batch(4))  # back to a shape already compiled
    assert compiled.trace_count == 3


def test_python_argument_change_retraces_with_its_old_and_new_value():
    step, (W, b, V) = _sgd_step()
    compiled = torch.jit(step)
    for _ in range(2):
        _quiet(compiled, *_batch(0), scale=1.0)
    with torch.no_grad():  # the loss at the current parameters, evaluated eagerly
        x, y = _batch(0)
        expected = 0.5 * _mse((x @ W + b).relu() @ V, y).item()
    hint = "argument scale changed: 1.0 -> 0.5; a Python number argument is a constant"
    with pytest.warns(RetraceWarning, match=re.escape(hint)):
        loss = compiled(*_batch(0), scale=0.5)
    assert compiled.trace_count == 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    with pytest.warns(RetraceWarning, match=re.escape("0.5 -> tensor float32[]")):
        compiled(*_batch(0), scale=torch.tensor(0.5))
    with warnings.catch_warnings():  # the fix: a tensor argument is an input of the program
        warnings.simplefilter("error", RetraceWarning)
        compiled(*_batch(0), scale=torch.tensor(0.25))
    assert compiled.trace_count == 4


def test_module_train_eval_switch_retraces_naming_the_flag():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))

    @torch.jit
    def predict(x):
        return model(x)

    x, _ = _batch(0)
    predict(x)
    model.eval()
    with pytest.warns(RetraceWarning, match=re.escape("model.training changed: True -> False")):
        out = predict(x)
    with torch.no_grad():
        _assert_close(out._data, model(x)._data, "eval output")


def test_returned_tensors_are_concrete_and_detached():
    step, (W, b, V) = _sgd_step()
    loss = torch.jit(step)(*_batch(0))
    assert loss.grad_fn is None and not loss.requires_grad
    assert isinstance(loss.item(), float)
    assert not isinstance(W._data, jax.core.Tracer) and not isinstance(
        W.grad._data, jax.core.Tracer
    )


def test_moving_inputs_to_the_device_inside_the_step_works_as_in_eager():
    W, b, V = _raw_params()

    @torch.jit
    def forward(x):
        return (x.to("cpu") @ W).sum()

    x = _batch(0)[0]
    _assert_close(forward(x)._data, (x @ W).sum()._data, "result")


def test_repr_of_a_traced_tensor_inside_the_step_shows_its_shape():
    W, b, V = _raw_params()
    shown = []

    @torch.jit
    def step(x):
        h = (x @ W + b).relu()
        shown.append(repr(h))
        return h

    step(_batch(0)[0])
    assert shown == ["tensor(<traced float32[8, 8]>, grad_fn=<ReluBackward0>)"]


# ---------------------------------------------------------------- misuse errors
def _traced_value_message(what):
    return re.escape(errors.TRACED_VALUE.format(what=what)[:80])


def test_item_inside_compiled_step_raises_with_the_fix():
    step, (W, b, V) = _sgd_step()

    @torch.jit
    def bad(x, y):
        return step(x, y).item()

    with pytest.raises(RuntimeError, match=_traced_value_message(".item()")):
        bad(*_batch(0))
    with pytest.raises(RuntimeError, match=re.escape("Return the tensor from the step")):
        bad(*_batch(0))


@pytest.mark.parametrize(
    "convert, what", [(float, "float()"), (int, "int()"), (lambda t: t.tolist(), ".tolist()")]
)
def test_python_number_conversion_inside_compiled_step_raises(convert, what):
    W, b, V = _raw_params()

    @torch.jit
    def bad(x):
        return convert((x @ W).sum())

    with pytest.raises(RuntimeError, match=_traced_value_message(what)):
        bad(_batch(0)[0])


def test_python_if_on_a_traced_tensor_raises_and_suggests_where():
    W, b, V = _raw_params()

    @torch.jit
    def bad(x):
        s = (x @ W).sum()
        if s > 0:
            return s
        return -s

    what = "bool() (a Python `if`, `while`, `and`, `or` or `not` on a tensor)"
    with pytest.raises(RuntimeError, match=_traced_value_message(what)):
        bad(_batch(0)[0])
    with pytest.raises(RuntimeError, match=re.escape("torch.where(cond, a, b)")):
        bad(_batch(0)[0])


def test_boolean_mask_index_inside_compiled_step_raises():
    @torch.jit
    def bad(x):
        return x[x > 0].sum()

    with pytest.raises(IndexError, match=re.escape(errors.BOOLEAN_MASK_INDEX[:60])):
        bad(_batch(0)[0])


def test_tensor_leaked_into_a_global_list_raises_naming_the_list():
    W, b, V = _raw_params()
    kept = []

    @torch.jit
    def bad(x):
        h = (x @ W + b).relu()
        kept.append(h)
        return h.sum()

    with pytest.raises(
        RuntimeError, match=re.escape("still referenced after it, by a list, but it was neither")
    ):
        bad(_batch(0)[0])


def test_tensor_leaked_into_an_attribute_of_a_plain_object_raises_naming_it():
    W, b, V = _raw_params()
    log = types.SimpleNamespace(last=None)

    @torch.jit
    def bad(x):
        log.last = x @ W
        return x.sum()

    with pytest.raises(
        RuntimeError, match=re.escape("by attribute of a SimpleNamespace object: .last, but")
    ):
        bad(_batch(0)[0])


def test_in_place_write_to_an_undeclared_tensor_raises_with_the_fix():
    hidden = types.SimpleNamespace(counter=torch.zeros(3))

    @torch.jit
    def bad(x):
        hidden.counter.add_(1)
        return x.sum()

    message = errors.UNDECLARED_STATE.format(
        step="test_in_place_write_to_an_undeclared_tensor_raises_with_the_fix.<locals>.bad",
        action="ran the in-place op 'add' on",
        desc="shape [3], dtype float32",
    )
    with pytest.raises(RuntimeError, match=re.escape(message)):
        bad(_batch(0)[0])
    torch.jit(bad.__wrapped__, tensors=[hidden.counter])(_batch(0)[0])  # the fix
    np.testing.assert_array_equal(hidden.counter.numpy(), np.ones(3))


def test_grad_into_an_undeclared_leaf_raises_with_the_fix():
    hidden = types.SimpleNamespace(w=torch.ones(4, requires_grad=True))

    @torch.jit
    def bad(x):
        loss = (x @ hidden.w).sum()
        loss.backward()
        return loss

    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "accumulated a .grad into a tensor that is not part of its state (shape [4], dtype "
            "float32, requires_grad=True)"
        ),
    ):
        bad(_batch(0)[0])
    with pytest.raises(RuntimeError, match=re.escape("funcgrad.tape.jit(step, tensors=[...])")):
        bad(_batch(0)[0])


def test_tensor_with_a_graph_stored_in_a_module_raises():
    model = nn.Linear(4, 2)

    @torch.jit
    def bad(x):
        model.last_output = model(x)
        return model.last_output.sum()

    message = errors.GRAPH_IN_STATE.format(
        step="test_tensor_with_a_graph_stored_in_a_module_raises.<locals>.bad",
        where="model.last_output",
        node="AddmmBackward0",
    )
    with pytest.raises(RuntimeError, match=re.escape(message[:150])):
        bad(_batch(0)[0])
    assert "last_output" not in model.__dict__  # the failed trace left the module as it was


def test_argument_with_a_grad_fn_raises():
    W, b, V = _raw_params()
    compiled = torch.jit(lambda h: h.sum())
    with pytest.raises(
        RuntimeError,
        match=r"argument h of the compiled step .*<lambda> is a tensor with a grad_fn "
        r"\(<MmBackward0>\)",
    ):
        compiled(_batch(0)[0] @ W)


def test_failed_trace_restores_the_state_and_the_next_call_works():
    step, (W, b, V) = _sgd_step()
    before = W._data

    @torch.jit
    def bad(x, y):
        loss = step(x, y)
        loss.item()
        return loss

    with pytest.raises(RuntimeError, match=re.escape(".item() needs a concrete value")):
        bad(*_batch(0))
    assert W._data is before and W.grad is None and W._version == 0
    assert observe.current() is None
    loss = torch.jit(step)(*_batch(0))  # the same state, compiled correctly
    assert W._version == 1 and np.isfinite(loss.item())
