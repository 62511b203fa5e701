"""funcgrad.tape.optim against torch.optim (real PyTorch), and against optax run functionally.

Every trajectory starts from the same numpy weights, copied into a torch model and a tape
model written with raw tensors (`x @ W + b`, relu, mean squared error), and is compared after
every step: relative error (max |a - b| / max |b| per tensor) <= 1e-5.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import funcgrad.tape as tape
from funcgrad.tape import optim

TOL = 1e-5
_rng = np.random.default_rng(0)
X = _rng.standard_normal((8, 4)).astype(np.float32)
Y = _rng.standard_normal((8, 3)).astype(np.float32)
INIT = [(_rng.standard_normal(s) * 0.5).astype(np.float32) for s in [(4, 6), (6,), (6, 3), (3,)]]


def make_params(lib, arrays=INIT):
    return [lib.tensor(np.array(a), requires_grad=True) for a in arrays]


def mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).relu()
    return ((h @ w2 + b2 - y) ** 2).mean()


def data(lib):
    return lib.tensor(X), lib.tensor(Y)


def rel_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-30))


def numpy_of(t):
    return t.detach().numpy()


def assert_params_close(tape_params, torch_params, tol=TOL):
    for i, (ours, ref) in enumerate(zip(tape_params, torch_params)):
        err = rel_err(numpy_of(ours), numpy_of(ref))
        assert err <= tol, f"parameter {i}: relative error {err:.2e}"


class Pair:
    """A torch model and its tape twin, trained side by side."""

    def __init__(self, name, *args, params=None, **kwargs):
        self.torch_params = make_params(torch) if params is None else params[0]
        self.tape_params = make_params(tape) if params is None else params[1]
        self.torch_opt = getattr(torch.optim, name)(self._arg(torch, args), **kwargs)
        self.tape_opt = getattr(optim, name)(self._arg(tape, args), **kwargs)

    def _arg(self, lib, args):
        params = self.torch_params if lib is torch else self.tape_params
        if args:  # param groups given as index lists: [{"params": [0, 1], "lr": ...}, ...]
            return [{**g, "params": [params[i] for i in g["params"]]} for g in args[0]]
        return params

    def step(self, loss_fn=mlp_loss, set_to_none=True):
        losses = []
        for lib, params, opt in (
            (torch, self.torch_params, self.torch_opt),
            (tape, self.tape_params, self.tape_opt),
        ):
            opt.zero_grad(set_to_none=set_to_none)
            loss = loss_fn(params, *data(lib))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert rel_err(losses[1], losses[0]) <= TOL
        assert_params_close(self.tape_params, self.torch_params)

    def for_both(self, fn):
        fn(self.torch_opt)
        fn(self.tape_opt)


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, eps=1e-3)),
    ("RMSprop", dict(lr=0.005, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, eps=1e-2, maximize=True)),
]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=lambda c: str(c))
def test_20_steps_match_torch_optim(name, kwargs):
    pair = Pair(name, **kwargs)
    for _ in range(20):
        pair.step()


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [CONFIGS[1], CONFIGS[7], CONFIGS[13], CONFIGS[14], CONFIGS[17]],
    ids=["SGD", "Adam", "RMSprop", "RMSprop-centered", "Adagrad"],
)
def test_state_dict_matches_torch_names_and_values(name, kwargs):
    pair = Pair(name, **kwargs)
    ours, ref = pair.tape_opt.state_dict()["state"], pair.torch_opt.state_dict()["state"]
    assert sorted(ours) == sorted(ref)  # empty, but for Adagrad's eager state
    for index, named in ref.items():
        assert list(ours[index]) == list(named)
    for _ in range(3):
        pair.step()
    ours, ref = pair.tape_opt.state_dict(), pair.torch_opt.state_dict()
    assert ours["param_groups"] == ref["param_groups"]
    for p, q in zip(pair.tape_params, pair.torch_params):  # optimizer.state[param]
        assert list(pair.tape_opt.state[p]) == list(pair.torch_opt.state[q])
    assert sorted(ours["state"]) == sorted(ref["state"])
    for index, named in ref["state"].items():
        assert list(ours["state"][index]) == list(named)
        for key, value in named.items():
            assert rel_err(ours["state"][index][key].numpy(), value.numpy()) <= TOL, key


def test_changing_lr_between_steps_takes_effect_like_torch():
    for name, kwargs in (CONFIGS[1], CONFIGS[6]):
        pair = Pair(name, **kwargs)
        for step in range(8):
            if step == 4:
                pair.for_both(lambda opt: opt.param_groups[0].update(lr=0.02))
            pair.step()


def test_changing_betas_and_momentum_between_steps_takes_effect_like_torch():
    pair = Pair("Adam", lr=0.01)
    for step in range(6):
        if step == 3:
            pair.for_both(lambda opt: opt.param_groups[0].update(betas=(0.5, 0.9)))
        pair.step()
    pair = Pair("SGD", lr=0.1, momentum=0.9)
    for step in range(6):
        if step == 3:
            pair.for_both(lambda opt: opt.param_groups[0].update(momentum=0.3))
        pair.step()


def test_params_whose_grad_is_none_are_skipped_like_torch():
    # An extra parameter the loss never uses, and b2 used on even steps only: with Adam the
    # skipped steps must not advance b2's own step count (bias correction), as in PyTorch.
    extra = np.ones(5, np.float32)
    params = (make_params(torch, INIT + [extra]), make_params(tape, INIT + [extra]))
    pair = Pair("Adam", lr=0.01, params=params)

    def loss_fn_for(step):
        def loss_fn(ps, x, y):
            w1, b1, w2, b2 = ps[:4]
            out = (x @ w1 + b1).relu() @ w2
            return (((out + b2 if step % 2 == 0 else out) - y) ** 2).mean()

        return loss_fn

    for step in range(7):
        pair.step(loss_fn_for(step))
        assert pair.tape_params[4].grad is None
    np.testing.assert_array_equal(numpy_of(pair.tape_params[4]), extra)
    ours, ref = pair.tape_opt.state_dict()["state"], pair.torch_opt.state_dict()["state"]
    assert 4 not in ours and 4 not in ref
    assert ours[3]["step"].item() == ref[3]["step"].item() == 4


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_matches_torch(set_to_none):
    # w2 receives a gradient at the first step only; later, a None .grad skips it while a
    # zeroed .grad still moves it through the momentum buffer, in both libraries.
    pair = Pair("SGD", lr=0.1, momentum=0.9)

    def loss_fn_for(step):
        def loss_fn(ps, x, y):
            w1, b1, w2, b2 = ps
            h = (x @ w1 + b1).relu()
            out = h @ w2 if step == 0 else h[:, :3] * 0.5
            return ((out + b2 - y) ** 2).mean()

        return loss_fn

    for step in range(4):
        grads_before = [p.grad for p in pair.tape_params]
        pair.step(loss_fn_for(step), set_to_none=set_to_none)
        if step and not set_to_none:  # zeroed in place: the same tensor objects
            assert all(a is b for a, b in zip(grads_before, [p.grad for p in pair.tape_params]))
    pair.for_both(lambda opt: opt.zero_grad(set_to_none=set_to_none))
    for ours, ref in zip(pair.tape_params, pair.torch_params):
        assert (ours.grad is None) == (ref.grad is None)
        if ref.grad is not None:
            np.testing.assert_array_equal(ours.grad.numpy(), ref.grad.numpy())
            assert ours.grad.requires_grad == ref.grad.requires_grad


def test_param_groups_with_different_options_match_torch():
    groups = [{"params": [0, 1], "lr": 0.1}, {"params": [2, 3], "momentum": 0.5}]
    pair = Pair("SGD", groups, lr=0.02, momentum=0.9)
    for _ in range(5):
        pair.step()
    groups = [{"params": [0, 1]}, {"params": [2, 3], "lr": 0.03, "betas": (0.5, 0.9)}]
    pair = Pair("Adam", groups, lr=0.01)
    for _ in range(5):
        pair.step()
    assert pair.tape_opt.state_dict()["param_groups"] == pair.torch_opt.state_dict()["param_groups"]


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("Adam", dict(lr=0.01)),
        ("SGD", dict(lr=0.05, momentum=0.9)),
        ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
        ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1)),
    ],
    ids=["Adam", "SGD", "RMSprop", "Adagrad"],
)
def test_add_param_group_mid_training_matches_torch(name, kwargs):
    pair = Pair(name, [{"params": [0, 1]}], **kwargs)
    for step in range(6):
        if step == 3:
            pair.torch_opt.add_param_group({"params": pair.torch_params[2:], "lr": 0.005})
            pair.tape_opt.add_param_group({"params": pair.tape_params[2:], "lr": 0.005})
            ours, ref = pair.tape_opt.state_dict(), pair.torch_opt.state_dict()
            assert ours["param_groups"] == ref["param_groups"]
            assert sorted(ours["state"]) == sorted(ref["state"])
        pair.step()
    ours, ref = pair.tape_opt.state_dict(), pair.torch_opt.state_dict()
    assert ours["param_groups"] == ref["param_groups"]
    assert sorted(ours["state"]) == sorted(ref["state"])


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [CONFIGS[4], CONFIGS[11], CONFIGS[14], CONFIGS[17]],
    ids=["SGD", "AdamW", "RMSprop", "Adagrad"],
)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    pair = Pair(name, **kwargs)
    for _ in range(4):
        pair.step()
    saved = pair.tape_opt.state_dict()
    fresh = make_params(tape, [numpy_of(p) for p in pair.tape_params])
    pair.tape_params = fresh
    pair.tape_opt = getattr(optim, name)(fresh, lr=123.0)
    pair.tape_opt.load_state_dict(saved)
    assert pair.tape_opt.param_groups[0]["lr"] == kwargs["lr"]
    for _ in range(4):
        pair.step()


def test_load_state_dict_from_a_converted_torch_state_dict_continues_identically():
    pair = Pair("Adam", lr=0.01, amsgrad=True)
    for _ in range(3):
        pair.step()
    ref = pair.torch_opt.state_dict()
    converted = {
        "state": {i: {k: v.numpy() for k, v in s.items()} for i, s in ref["state"].items()},
        "param_groups": ref["param_groups"],
    }
    pair.tape_params = make_params(tape, [numpy_of(p) for p in pair.torch_params])
    pair.tape_opt = optim.Adam(pair.tape_params)
    pair.tape_opt.load_state_dict(converted)
    for _ in range(3):
        pair.step()


def test_step_with_closure_returns_its_loss_and_runs_it_with_grad_enabled():
    pair = Pair("Adam", lr=0.01)
    for _ in range(3):
        losses = []
        for lib, params, opt in (
            (torch, pair.torch_params, pair.torch_opt),
            (tape, pair.tape_params, pair.tape_opt),
        ):
            seen = []

            def closure(lib=lib, params=params, opt=opt, seen=seen):
                opt.zero_grad()
                seen.append(lib.is_grad_enabled())
                loss = mlp_loss(params, *data(lib))
                loss.backward()
                seen.append(loss)
                return loss

            with lib.no_grad():
                returned = opt.step(closure)
            assert seen[0] is True
            assert returned is seen[1]
            losses.append(returned.item())
        assert rel_err(losses[1], losses[0]) <= TOL
        assert_params_close(pair.tape_params, pair.torch_params)
    assert pair.tape_opt.step() is None


def test_step_bumps_the_version_counter_like_torch():
    messages = []
    for lib in (torch, tape):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        (w * 3).sum().backward()
        y = (w * w).sum()  # saves w
        version = w._version
        opt.step()
        assert w._version == version + 1
        with pytest.raises(RuntimeError) as info:
            y.backward()
        messages.append(str(info.value).split("\n")[0])
    assert messages[1].startswith(messages[0][: messages[0].index("Hint")])


def test_step_writes_through_to_the_tensor_a_parameter_was_detached_from():
    for lib in (torch, tape):
        base = lib.tensor([1.0, 2.0])
        w = base.detach().requires_grad_()
        opt = lib.optim.SGD([w], lr=0.5)
        (w * w).sum().backward()
        opt.step()
        np.testing.assert_array_equal(base.numpy(), [0.0, 0.0])


def test_repr_matches_torch():
    groups = [{"params": [0]}, {"params": [1, 2, 3], "lr": 0.5}]
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        pair = Pair(name, groups)
        assert repr(pair.tape_opt) == repr(pair.torch_opt)


# --------------------------------------------------------------------------- errors


def _p(lib):
    return lib.tensor([1.0, 2.0], requires_grad=True)


BAD_CALLS = {
    "sgd_lr": lambda lib, p: lib.optim.SGD([p], lr=-1),
    "sgd_momentum": lambda lib, p: lib.optim.SGD([p], momentum=-0.5),
    "sgd_weight_decay": lambda lib, p: lib.optim.SGD([p], weight_decay=-1),
    "nesterov_without_momentum": lambda lib, p: lib.optim.SGD([p], nesterov=True),
    "nesterov_with_dampening": lambda lib, p: lib.optim.SGD(
        [p], momentum=0.9, dampening=0.1, nesterov=True
    ),
    "adam_lr": lambda lib, p: lib.optim.Adam([p], lr=-1e-3),
    "adam_eps": lambda lib, p: lib.optim.Adam([p], eps=-1.0),
    "adam_beta0": lambda lib, p: lib.optim.Adam([p], betas=(1.0, 0.999)),
    "adam_beta1": lambda lib, p: lib.optim.Adam([p], betas=(0.9, -0.1)),
    "adam_int_betas": lambda lib, p: lib.optim.Adam([p], betas=(0, 0.999)),
    "adam_weight_decay": lambda lib, p: lib.optim.Adam([p], weight_decay=-0.1),
    "adamw_lr": lambda lib, p: lib.optim.AdamW([p], lr=-2),
    "lbfgs_lr": lambda lib, p: lib.optim.LBFGS([p], lr=-1),
    "rmsprop_lr": lambda lib, p: lib.optim.RMSprop([p], lr=-1),
    "rmsprop_eps": lambda lib, p: lib.optim.RMSprop([p], eps=-1.0),
    "rmsprop_momentum": lambda lib, p: lib.optim.RMSprop([p], momentum=-0.1),
    "rmsprop_weight_decay": lambda lib, p: lib.optim.RMSprop([p], weight_decay=-1),
    "rmsprop_alpha": lambda lib, p: lib.optim.RMSprop([p], alpha=-0.5),
    "adagrad_lr": lambda lib, p: lib.optim.Adagrad([p], lr=-1),
    "adagrad_lr_decay": lambda lib, p: lib.optim.Adagrad([p], lr_decay=-1),
    "adagrad_weight_decay": lambda lib, p: lib.optim.Adagrad([p], weight_decay=-1),
    "adagrad_initial": lambda lib, p: lib.optim.Adagrad([p], initial_accumulator_value=-1),
    "adagrad_eps": lambda lib, p: lib.optim.Adagrad([p], eps=-1),
    "lbfgs_groups": lambda lib, p: lib.optim.LBFGS([{"params": [p]}, {"params": [_p(lib)]}]),
    "empty": lambda lib, p: lib.optim.SGD([], lr=0.1),
    "tensor_as_params": lambda lib, p: lib.optim.SGD(p, lr=0.1),
    "not_a_tensor": lambda lib, p: lib.optim.SGD([p, 1.0], lr=0.1),
    "non_leaf": lambda lib, p: lib.optim.SGD([p * 2], lr=0.1),
    "set_of_params": lambda lib, p: lib.optim.SGD([{"params": {p}}], lr=0.1),
    "param_in_two_groups": lambda lib, p: lib.optim.SGD([{"params": [p]}, {"params": [p]}]),
    "group_not_a_dict": lambda lib, p: lib.optim.SGD([p]).add_param_group([p]),
    "names_missing": lambda lib, p: lib.optim.SGD([("a", p), _p(lib)]),
    "load_wrong_group_count": lambda lib, p: lib.optim.SGD([p]).load_state_dict(
        lib.optim.SGD([{"params": [p]}, {"params": [_p(lib)]}]).state_dict()
    ),
    "load_wrong_group_size": lambda lib, p: lib.optim.SGD([p]).load_state_dict(
        lib.optim.SGD([p, _p(lib)]).state_dict()
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_invalid_arguments_raise_torchs_error(case):
    with pytest.raises(Exception) as ref:
        BAD_CALLS[case](torch, _p(torch))
    with pytest.raises(ref.type, match="^" + re.escape(str(ref.value))):
        BAD_CALLS[case](tape, _p(tape))


def test_changing_a_structural_option_after_construction_raises():
    w = _p(tape)
    opt = optim.SGD([w], lr=0.1)
    opt.param_groups[0]["momentum"] = 0.9  # PyTorch would create a momentum buffer now
    (w * w).sum().backward()
    with pytest.raises(ValueError, match=re.escape("param_groups[0]: 'momentum' != 0 changed")):
        opt.step()


def test_differentiable_true_is_rejected():
    with pytest.raises(NotImplementedError, match="not recorded on the tape"):
        optim.SGD([_p(tape)], differentiable=True)


# --------------------------------------------------------------------------- any optax tx


def _functional_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = jax.nn.relu(x @ w1 + b1)
    return jnp.mean((h @ w2 + b2 - y) ** 2)


def test_optimizer_runs_an_optax_transformation_like_jax_grad_and_optax():
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=0.01, b1=0.8)
    params = make_params(tape)
    opt = optim.Optimizer(params, tx)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["b1"] == 0.8

    ref = [jnp.asarray(a) for a in INIT]
    state = tx.init(ref)
    grad_fn, update_fn = jax.jit(jax.grad(_functional_loss)), jax.jit(tx.update)
    for step in range(6):
        if step == 3:
            opt.param_groups[0]["lr"] = 0.05
            state.hyperparams["learning_rate"] = jnp.asarray(0.05)
        opt.zero_grad()
        mlp_loss(params, *data(tape)).backward()
        opt.step()
        updates, state = update_fn(grad_fn(ref, X, Y), state, ref)
        ref = optax.apply_updates(ref, updates)
        assert_params_close(params, [tape.tensor(np.asarray(a)) for a in ref])


def test_optimizer_rejects_an_option_the_transformation_cannot_take():
    with pytest.raises(ValueError, match="param group option 'lr' has no effect"):
        optim.Optimizer([{"params": [_p(tape)], "lr": 0.1}], optax.sgd(0.1))
    with pytest.raises(TypeError, match="tx must be an optax.GradientTransformation"):
        optim.Optimizer([_p(tape)], 0.1)


def test_optimizer_state_dict_round_trips_optax_states():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)
    params = make_params(tape)
    opt = optim.Optimizer(params, tx)
    for _ in range(2):
        opt.zero_grad()
        mlp_loss(params, *data(tape)).backward()
        opt.step()
    twin_params = make_params(tape, [numpy_of(p) for p in params])
    twin = optim.Optimizer(twin_params, tx)
    twin.load_state_dict(opt.state_dict())
    for ps, o in ((params, opt), (twin_params, twin)):
        o.zero_grad()
        mlp_loss(ps, *data(tape)).backward()
        o.step()
    assert_params_close(twin_params, params, tol=0)


# --------------------------------------------------------------------------- under jax.jit


def test_step_traces_under_jax_jit_with_the_lifted_state_and_keeps_lr_dynamic():
    # What funcgrad.tape.jit does, by hand: lift params, grads and _state_arrays() into a
    # jitted function, run step() on tracers, write the outputs back.
    eager_params, jit_params = make_params(tape), make_params(tape)
    eager_opt = optim.Adam(eager_params, lr=0.01, weight_decay=0.1)
    jit_opt = optim.Adam(jit_params, lr=0.01, weight_decay=0.1)
    traces = []

    def pure_step(param_arrays, grad_arrays, state):
        traces.append(1)
        for p, a, g in zip(jit_params, param_arrays, grad_arrays):
            p._data, p._grad = a, tape.Tensor._wrap(g)
        jit_opt._load_state_arrays(state)
        jit_opt.step()
        return [p._data for p in jit_params], jit_opt._state_arrays()

    compiled = jax.jit(pure_step)
    for step in range(5):
        if step == 2:
            for opt in (eager_opt, jit_opt):
                opt.param_groups[0]["lr"] = 0.03
        for params, opt in ((eager_params, eager_opt), (jit_params, jit_opt)):
            opt.zero_grad()
            mlp_loss(params, *data(tape)).backward()
        eager_opt.step()
        new_params, state = compiled(
            [p._data for p in jit_params],
            [p.grad._data for p in jit_params],
            jit_opt._state_arrays(),
        )
        for p, a in zip(jit_params, new_params):
            p._data = a
        jit_opt._load_state_arrays(state)
        assert_params_close(jit_params, eager_params, tol=1e-6)
    assert len(traces) == 1
    assert jit_opt._bound_hyperparams is None
    assert jit_opt.state_dict()["state"][0]["step"].item() == 5


def test_lbfgs_refuses_to_be_lifted_into_a_compiled_step():
    with pytest.raises(NotImplementedError, match="LBFGS cannot run under funcgrad.tape.jit"):
        optim.LBFGS([_p(tape)])._state_arrays()


# --------------------------------------------------------------------------- LBFGS


def _rosenbrock_run(lib, steps, **kwargs):
    x = lib.tensor([-1.5, 2.0], requires_grad=True)
    opt = lib.optim.LBFGS([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    trajectory = []
    for _ in range(steps):
        loss = opt.step(closure)
        trajectory.append((loss.item(), numpy_of(x).copy()))
    return trajectory, opt


def test_lbfgs_without_line_search_follows_torchs_trajectory():
    kwargs = dict(lr=0.1, max_iter=5, history_size=4)
    ref, ref_opt = _rosenbrock_run(torch, 4, **kwargs)
    ours, our_opt = _rosenbrock_run(tape, 4, **kwargs)
    for (loss_ref, x_ref), (loss, x) in zip(ref, ours):
        assert rel_err(loss, loss_ref) <= TOL
        assert rel_err(x, x_ref) <= TOL
    ref_state, our_state = ref_opt.state_dict()["state"][0], our_opt.state_dict()["state"][0]
    assert sorted(our_state) == sorted(ref_state)
    for key in ("func_evals", "n_iter"):
        assert our_state[key] == ref_state[key]
    for key in ("d", "prev_flat_grad", "H_diag"):
        assert rel_err(our_state[key].numpy(), ref_state[key].numpy()) <= 1e-4, key


def test_lbfgs_with_strong_wolfe_converges_like_torch():
    kwargs = dict(line_search_fn="strong_wolfe", max_iter=50)
    ref, _ = _rosenbrock_run(torch, 2, **kwargs)
    ours, opt = _rosenbrock_run(tape, 2, **kwargs)
    np.testing.assert_allclose(ours[-1][1], [1.0, 1.0], atol=1e-4)
    np.testing.assert_allclose(ours[-1][1], ref[-1][1], atol=1e-4)
    assert ours[0][0] == ref[0][0]
    # The state survives a round trip through state_dict.
    x = opt.param_groups[0]["params"][0]
    twin = optim.LBFGS([x], line_search_fn="strong_wolfe")
    twin.load_state_dict(opt.state_dict())
    assert twin.state_dict()["state"][0]["n_iter"] == opt.state_dict()["state"][0]["n_iter"]
