"""`funcgrad.lbfgs`: PyTorch's L-BFGS on a flat JAX vector follows `torch.optim.LBFGS`.

The reference is real PyTorch at run time, on the same problems from the same start: the
trajectories (loss and parameters after each step) and the state's counters must agree.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from funcgrad.lbfgs import lbfgs_step

START = [-1.5, 2.0]


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _torch_run(steps, clamp=None, **kwargs):
    x = torch.tensor(START, requires_grad=True)
    opt = torch.optim.LBFGS([x], **kwargs)

    def closure():
        if clamp is not None:
            with torch.no_grad():
                x.clamp_(*clamp)  # the closure changes the parameters in place
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    trajectory = [(opt.step(closure).item(), x.detach().numpy().copy()) for _ in range(steps)]
    return trajectory, opt.state_dict()["state"][0]


def _jax_run(steps, clamp=None, **kwargs):
    # not jitted: XLA's fusion would round the ill-conditioned Rosenbrock differently from
    # PyTorch's op-by-op arithmetic, and L-BFGS amplifies rounding step by step
    value_and_grad = jax.value_and_grad(rosenbrock)

    def closure(x):
        if clamp is not None:
            x = jnp.clip(x, *clamp)
        loss, grad = value_and_grad(x)
        return x, loss, grad

    x, state, trajectory = jnp.asarray(START), None, []
    for _ in range(steps):
        x, loss, state = lbfgs_step(closure, x, state, **kwargs)
        trajectory.append((float(loss), np.asarray(x)))
    return trajectory, state


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.1, "max_iter": 5, "history_size": 4},
        {"line_search_fn": "strong_wolfe", "max_iter": 4},
        {"line_search_fn": "strong_wolfe", "max_iter": 4, "clamp": (-1.2, 0.9)},
    ],
    ids=["fixed-step", "strong-wolfe", "closure-clamps"],
)
def test_lbfgs_step_follows_torch_optim_lbfgs(kwargs):
    # a dozen iterations: beyond that, float32 rounding differences between the two grow
    # (the line search's branches amplify them), as between any two float32 programs
    ref, ref_state = _torch_run(3, **kwargs)
    ours, state = _jax_run(3, **kwargs)
    for (loss_ref, x_ref), (loss, x) in zip(ref, ours):
        np.testing.assert_allclose(loss, loss_ref, rtol=1e-4)
        np.testing.assert_allclose(x, x_ref, rtol=1e-4, atol=1e-6)
    assert state["func_evals"] == ref_state["func_evals"]
    assert state["n_iter"] == ref_state["n_iter"]
    np.testing.assert_allclose(state["d"], ref_state["d"].numpy(), rtol=1e-3, atol=1e-6)


def test_lbfgs_step_with_strong_wolfe_reaches_the_minimum():
    trajectory, _ = _jax_run(3, line_search_fn="strong_wolfe", max_iter=50)
    np.testing.assert_allclose(trajectory[-1][1], [1.0, 1.0], atol=1e-4)


def test_an_unknown_line_search_raises_pytorchs_error():
    x = torch.tensor(START, requires_grad=True)
    opt = torch.optim.LBFGS([x], line_search_fn="backtracking")

    def torch_closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    with pytest.raises(RuntimeError) as torch_error:
        opt.step(torch_closure)

    def closure(x):
        return x, rosenbrock(x), jax.grad(rosenbrock)(x)

    with pytest.raises(RuntimeError) as ours:
        lbfgs_step(closure, jnp.asarray(START), line_search_fn="backtracking")
    assert str(ours.value) == str(torch_error.value)
