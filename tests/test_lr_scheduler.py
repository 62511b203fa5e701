"""funcgrad.tape.optim.lr_scheduler against torch.optim.lr_scheduler (real PyTorch).

A torch model and its tape twin train side by side with the same scheduler; after every
epoch the learning rates (`get_last_lr()` and the param groups, momentum and betas included)
must be PyTorch's exactly, and the parameters within 1e-5 (relative). Warnings and errors
are compared by type and text.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch_twin import raises, twin

import funcgrad.tape as tape

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 3)).astype(np.float32)
Y = rng.standard_normal((8, 1)).astype(np.float32)
W0 = [rng.standard_normal((3, 1)).astype(np.float32), np.zeros(1, np.float32)]


def make(lib, optimizer, scheduler, **opt_kwargs):
    params = [lib.tensor(w.copy(), requires_grad=True) for w in W0]
    opt = getattr(lib.optim, optimizer)(params, **opt_kwargs)
    return params, opt, scheduler(lib.optim.lr_scheduler, opt)


def train_step(lib, params, opt):
    opt.zero_grad()
    loss = ((lib.tensor(X) @ params[0] + params[1] - lib.tensor(Y)) ** 2).mean()
    loss.backward()
    opt.step()


def rel_err(ours, ref) -> float:
    """max |a - b| / max |b| over all the parameters (a bias near zero has no scale of its
    own; the optimizer tests take this measure per tensor)."""
    a = np.concatenate([p.detach().numpy().ravel() for p in ours]).astype(np.float64)
    b = np.concatenate([p.detach().numpy().ravel() for p in ref]).astype(np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def group_options(opt):
    return [
        {k: v for k, v in g.items() if k != "params" and not callable(v)} for g in opt.param_groups
    ]


SCHEDULERS = {
    "step": lambda s, o: s.StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "exponential": lambda s, o: s.ExponentialLR(o, gamma=0.9),
    "cosine": lambda s, o: s.CosineAnnealingLR(o, T_max=4, eta_min=0.001),
    "lambda": lambda s, o: s.LambdaLR(o, lambda epoch: 1.0 / (1 + epoch)),
    "onecycle": lambda s, o: s.OneCycleLR(o, max_lr=0.5, total_steps=12),
    "onecycle_3phase_linear": lambda s, o: s.OneCycleLR(
        o, max_lr=[0.3], epochs=3, steps_per_epoch=4, anneal_strategy="linear", three_phase=True
    ),
    "multiplicative": lambda s, o: s.MultiplicativeLR(o, lambda epoch: 0.95 - 0.01 * epoch),
    "constant": lambda s, o: s.ConstantLR(o, factor=0.4, total_iters=4),
    "linear": lambda s, o: s.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6),
    "polynomial": lambda s, o: s.PolynomialLR(o, total_iters=8, power=2.0),
    "sequential_warmup_cosine": lambda s, o: s.SequentialLR(
        o,
        [s.LinearLR(o, start_factor=0.1, total_iters=3), s.CosineAnnealingLR(o, T_max=5)],
        milestones=[3],
    ),
    "sequential_three": lambda s, o: s.SequentialLR(
        o,
        [s.ConstantLR(o, factor=0.5, total_iters=2), s.ExponentialLR(o, 0.8), s.StepLR(o, 2)],
        milestones=[2, 7],
    ),
    "cyclic_triangular2": lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=2, step_size_down=3, mode="triangular2"
    ),
    "cyclic_exp_range": lambda s, o: s.CyclicLR(
        o, [0.02], [0.3], step_size_up=3, mode="exp_range", gamma=0.9, base_momentum=0.7
    ),
    "warm_restarts": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    "chained": lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o, factor=0.3, total_iters=3), s.ExponentialLR(o, gamma=0.9)]
    ),
}


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "RMSprop"])
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_schedule_matches_torch(optimizer, name):
    kwargs = {"lr": 0.1, "momentum": 0.9} if optimizer != "Adam" else {"lr": 0.1}
    pairs = [make(lib, optimizer, SCHEDULERS[name], **kwargs) for lib in (torch, tape)]
    (t_params, t_opt, t_sched), (params, opt, sched) = pairs
    assert sched.get_last_lr() == t_sched.get_last_lr()
    for _ in range(12):
        for lib, (ps, o, s) in zip((torch, tape), pairs):
            train_step(lib, ps, o)
            s.step()
        assert sched.get_last_lr() == t_sched.get_last_lr()
        assert group_options(opt) == group_options(t_opt)
        assert rel_err(params, t_params) <= 1e-5
    _assert_same_state(sched.state_dict(), t_sched.state_dict())


def _assert_same_state(ours: dict, ref: dict) -> None:
    """Same keys and values (the held schedulers' states too); functions are not compared."""
    assert ours.keys() == ref.keys()
    for key in ref:
        if key == "_schedulers":
            for a, b in zip(ours[key], ref[key], strict=True):
                _assert_same_state(a, b)
        elif key != "lr_lambdas":
            assert ours[key] == ref[key], key


def test_cosine_follows_a_hand_changed_rate_and_resumes_like_torch():
    def prog(lib):
        params, opt, sched = make(lib, "SGD", lambda s, o: s.CosineAnnealingLR(o, 5), lr=1.0)
        lrs = []
        for epoch in range(14):
            train_step(lib, params, opt)
            sched.step()
            if epoch == 3:
                opt.param_groups[0]["lr"] = 0.3
            lrs.append(sched.get_last_lr()[0])
        resumed = lib.optim.lr_scheduler.CosineAnnealingLR(opt, 5, last_epoch=2)
        return lrs, resumed.get_last_lr()

    twin(prog, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["onecycle", "sequential_warmup_cosine"])
def test_state_dict_round_trip_continues_like_torch(name):
    def prog(lib):
        params, opt, sched = make(lib, "SGD", SCHEDULERS[name], lr=0.1, momentum=0.9)
        for _ in range(4):
            train_step(lib, params, opt)
            sched.step()
        saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
        params2, opt2, sched2 = make(lib, "SGD", SCHEDULERS[name], lr=0.1, momentum=0.9)
        opt2.load_state_dict(saved_opt)
        sched2.load_state_dict(saved_sched)
        out = []
        for _ in range(5):
            train_step(lib, params2, opt2)
            sched2.step()
            out.append((sched2.get_last_lr(), opt2.param_groups[0]["momentum"]))
        return out

    twin(prog, rtol=0, atol=0)


def test_closed_form_with_epoch_argument_and_its_warning_match_torch():
    def prog(lib):
        out = []
        for name in ("step", "multistep", "exponential", "cosine", "constant", "linear"):
            params, opt, sched = make(lib, "SGD", SCHEDULERS[name], lr=0.2)
            train_step(lib, params, opt)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sched.step(7)
            out.append((sched.get_last_lr(), [str(w.message) for w in caught]))
        return out

    twin(prog, rtol=0, atol=0)


def test_warm_restarts_with_fractional_epochs_match_torch():
    def prog(lib):
        params, opt, sched = make(lib, "SGD", SCHEDULERS["warm_restarts"], lr=0.2)
        lrs = []
        for epoch in range(5):
            for i in range(3):  # PyTorch's documented use: step(epoch + i / iters)
                train_step(lib, params, opt)
                sched.step(epoch + i / 3)
                lrs.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
        sched.step(20)
        lrs.append((sched.get_last_lr(), sched.T_cur, sched.T_i))
        return lrs, raises(sched.step, -1)

    twin(prog, rtol=0, atol=0)


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [(w.category.__name__, str(w.message)) for w in caught]


def test_order_and_get_lr_warnings_match_torch():
    def prog(lib):
        params, opt, sched = make(lib, "SGD", SCHEDULERS["step"], lr=0.1)
        before = _warnings_of(sched.step)  # the scheduler stepped before the optimizer
        train_step(lib, params, opt)
        after = _warnings_of(sched.step)
        direct = _warnings_of(sched.get_lr)

        def replaced():
            other = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)
            s = lib.optim.lr_scheduler.StepLR(other, 2)
            other.step = lambda *a, **k: None  # overridden after the scheduler wrapped it
            s.step()

        return before, after, direct, _warnings_of(replaced)

    twin(prog)


def _scheduler_errors(lib):
    params, opt, _ = make(lib, "SGD", lambda s, o: None, lr=0.1)
    fresh = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)
    adagrad = lib.optim.Adagrad([lib.zeros(1, requires_grad=True)])
    sched = lib.optim.lr_scheduler
    one_cycle = sched.OneCycleLR(opt, 1.0, total_steps=2)
    opt.step()
    one_cycle.step()
    opt.step()
    one_cycle.step()
    return [
        raises(sched.StepLR, 3, 2),
        raises(sched.StepLR, fresh, 2, last_epoch=3),
        raises(sched.LambdaLR, opt, [lambda e: 1.0, lambda e: 2.0]),
        raises(sched.OneCycleLR, opt, 1.0),
        raises(sched.OneCycleLR, opt, 1.0, total_steps=0),
        raises(sched.OneCycleLR, opt, 1.0, epochs=0, steps_per_epoch=3),
        raises(sched.OneCycleLR, opt, 1.0, epochs=2, steps_per_epoch=-1),
        raises(sched.OneCycleLR, opt, 1.0, total_steps=5, pct_start=1.5),
        raises(sched.OneCycleLR, opt, 1.0, total_steps=5, anneal_strategy="exp"),
        raises(sched.OneCycleLR, opt, [1.0, 2.0], total_steps=5),
        raises(sched.OneCycleLR, adagrad, 1.0, total_steps=5),
        raises(one_cycle.step),
        raises(sched.ConstantLR, fresh, factor=1.5),
        raises(sched.LinearLR, fresh, start_factor=0.0),
        raises(sched.LinearLR, fresh, end_factor=2.0),
        raises(sched.MultiplicativeLR, fresh, 0.5),
        raises(sched.SequentialLR, fresh, [], milestones=[]),
        raises(sched.SequentialLR, fresh, [sched.StepLR(fresh, 2), object()], milestones=[2]),
        raises(sched.SequentialLR, fresh, [sched.ReduceLROnPlateau(fresh)], milestones=[]),
        raises(sched.SequentialLR, fresh, [sched.StepLR(opt, 2)], milestones=[]),
        raises(sched.SequentialLR, fresh, [sched.StepLR(fresh, 2)], milestones=[1]),
        raises(sched.ChainedScheduler, []),
        raises(sched.ChainedScheduler, [sched.StepLR(fresh, 2), sched.ReduceLROnPlateau(fresh)]),
        raises(sched.ChainedScheduler, [sched.StepLR(fresh, 2), sched.StepLR(opt, 2)]),
        raises(sched.ReduceLROnPlateau, fresh, factor=1.0),
        raises(sched.ReduceLROnPlateau, 3),
        raises(sched.ReduceLROnPlateau, fresh, min_lr=[0.1, 0.2]),
        raises(sched.ReduceLROnPlateau, fresh, mode="up"),
        raises(sched.ReduceLROnPlateau, fresh, threshold_mode="log"),
        raises(_plateau_after_a_new_group, lib),
        raises(sched.CyclicLR, fresh, 0.1, 1.0, mode="sawtooth"),
        raises(sched.CyclicLR, adagrad, 0.1, 1.0),
        raises(sched.CyclicLR, fresh, [0.1, 0.2], 1.0),
        raises(sched.CosineAnnealingWarmRestarts, fresh, T_0=0),
        raises(sched.CosineAnnealingWarmRestarts, fresh, T_0=2, T_mult=0),
        raises(sched.CosineAnnealingWarmRestarts, fresh, T_0=2, eta_min="0"),
    ]


def _plateau_after_a_new_group(lib):
    opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)
    plateau = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.01])
    opt.add_param_group({"params": [lib.zeros(1, requires_grad=True)]})
    plateau.step(1.0)
    plateau.step(2.0)  # no improvement: reduces, and finds two groups for one min_lr


def test_scheduler_errors_match_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin(_scheduler_errors)


# --------------------------------------------------------------------------- ReduceLROnPlateau
METRICS = [1.0, 0.9, 0.95, 0.9, 0.9, 0.91, 0.89, 0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6, 0.6]
PLATEAUS = {
    "min_rel": dict(patience=2, factor=0.5),
    "min_abs_cooldown": dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2),
    "max_rel_min_lr": dict(mode="max", patience=1, factor=0.3, min_lr=0.02),
    "max_abs_eps": dict(mode="max", patience=0, threshold_mode="abs", eps=0.05),
}


@pytest.mark.parametrize("name", sorted(PLATEAUS))
def test_reduce_lr_on_plateau_matches_torch(name):
    def prog(lib):
        params, opt, sched = make(
            lib, "SGD", lambda s, o: s.ReduceLROnPlateau(o, **PLATEAUS[name]), lr=0.1, momentum=0.9
        )
        out = []
        for metric in METRICS:
            train_step(lib, params, opt)
            sched.step(lib.tensor(metric) if metric < 0.6 else metric)  # tensors too
            out.append((sched.get_last_lr(), sched.best, sched.num_bad_epochs))
        return out, params

    twin(prog, rtol=1e-5)


def test_reduce_lr_on_plateau_state_dict_round_trip_continues_like_torch():
    def prog(lib):
        params, opt, sched = make(
            lib, "SGD", lambda s, o: s.ReduceLROnPlateau(o, mode="max", patience=1), lr=0.1
        )
        for metric in METRICS[:6]:
            sched.step(-metric)
        state = sched.state_dict()
        again = lib.optim.lr_scheduler.ReduceLROnPlateau(opt)
        again.load_state_dict(state)
        lrs = []
        for metric in METRICS[6:]:
            again.step(-metric)
            lrs.append(again.get_last_lr())
        return sorted(k for k in state if k != "mode_worse"), lrs

    twin(prog, rtol=0, atol=0)


# --------------------------------------------------------------------------- under tape.jit
def _step_of(params, opt):
    def step():
        train_step(tape, params, opt)

    return step


def test_compiled_steps_take_the_scheduled_rates_without_retracing():
    worlds = []
    for compiled in (False, True):
        params, opt, sched = make(tape, "Adam", SCHEDULERS["onecycle"], lr=0.1)
        step = _step_of(params, opt)
        fn = tape.jit(step) if compiled else step
        for _ in range(10):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn()
            sched.step()
        worlds.append((params, opt, fn))
    (eager, eager_opt, _), (traced, traced_opt, fn) = worlds
    for a, b in zip(traced, eager):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-5, atol=1e-7)
    assert group_options(traced_opt) == group_options(eager_opt)
    assert fn.trace_count <= 2  # .grad None at the first call, then tensors; never per rate


@pytest.mark.parametrize("kind", ["step", "plateau"])
def test_scheduler_step_inside_a_compiled_step_raises(kind):
    plateau = lambda s, o: s.ReduceLROnPlateau(o)  # noqa: E731
    params, opt, sched = make(
        tape, "SGD", SCHEDULERS["step"] if kind == "step" else plateau, lr=0.1
    )

    @tape.jit
    def step():
        train_step(tape, params, opt)
        sched.step() if kind == "step" else sched.step(0.5)

    with pytest.raises(RuntimeError, match=r"lr_scheduler.step\(\) was called inside"):
        step()
