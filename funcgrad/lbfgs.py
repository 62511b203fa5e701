"""PyTorch's L-BFGS (`torch.optim.LBFGS`) as a function of a flat JAX parameter vector.

`lbfgs_step(closure, x, state)` is one `LBFGS.step(closure)`: up to `max_iter` iterations of
the two-loop recursion over the last `history_size` correction pairs, each step length found
by PyTorch's strong-Wolfe line search (bracketing, then zoom by cubic interpolation) or a
fixed step. The arithmetic follows PyTorch's line by line, with float32 JAX arrays where
PyTorch keeps float32 tensors and Python floats where it keeps Python floats, so a program
that uses it follows PyTorch's trajectory to float32 rounding. The closure is the caller's:
typically a jitted `jax.value_and_grad`, so every loss evaluation is one compiled program
while the optimiser's branching on values stays in Python, as in PyTorch.

This is the functional layer: it knows nothing of the tape (`funcgrad.tape.optim.LBFGS`
builds on it), and it is not `optax.lbfgs`, which is a different method (its own zoom line
search, no loop of evaluations inside a step) and can run whole inside `jax.jit`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

__all__ = ["cubic_interpolate", "lbfgs_step", "strong_wolfe"]

ONLY_STRONG_WOLFE = "only 'strong_wolfe' is supported"


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through two points with values and slopes (PyTorch's).

    Example:
        >>> float(cubic_interpolate(0.0, 1.0, -1.0, 2.0, 1.0, 1.0))  # symmetric: the middle
        1.0
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = jnp.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """PyTorch's strong Wolfe line search along `d` from `x`, starting at step `t`.

    Args:
      obj_func: `obj_func(x, t, d) -> (loss as a float, flat gradient)` at `x + t * d`.
      x, t, d: the start, the first step length to try, the direction.
      f, g, gtd: the loss, flat gradient and directional derivative at `x`.
      c1, c2, tolerance_change, max_ls: PyTorch's constants and limits.

    Returns:
      `(loss, flat gradient, step length, evaluations)` at the step found.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> def obj(x, t, d):
        ...     return float(jnp.sum((x + t * d - 3.0) ** 2)), 2 * (x + t * d - 3.0)
        >>> x = jnp.zeros(2)
        >>> f, g = obj(x, 0.0, x)
        >>> _, _, t, _ = strong_wolfe(obj, x, 1.0, -g, f, g, float(jnp.dot(g, -g)))
        >>> round(float(t), 4)  # the exact minimiser along -g: x + t d = 3
        0.5
    """
    d_norm = jnp.max(jnp.abs(d))
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = jnp.dot(g_new, d)

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = jnp.dot(g_new, d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # Zoom: shrink the bracket until a point satisfies the strong Wolfe conditions.
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = jnp.dot(g_new, d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _direction(state: dict, flat_grad, d, t, prev_flat_grad, history_size: int):
    """The new search direction: -H g, H the limited-memory inverse Hessian (two loops)."""
    old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
    y = flat_grad - prev_flat_grad
    s = d * t
    ys = jnp.dot(y, s)
    if ys > 1e-10:  # keep the pair only if the curvature condition holds
        if len(old_dirs) == history_size:
            old_dirs.pop(0)
            old_stps.pop(0)
            ro.pop(0)
        old_dirs.append(y)
        old_stps.append(s)
        ro.append(1.0 / ys)
        state["H_diag"] = ys / jnp.dot(y, y)
    num_old = len(old_dirs)
    if "al" not in state:
        state["al"] = [None] * history_size
    al = state["al"]
    q = -flat_grad
    for i in range(num_old - 1, -1, -1):
        al[i] = jnp.dot(old_stps[i], q) * ro[i]
        q = q + (-al[i]) * old_dirs[i]
    r = q * state["H_diag"]
    for i in range(num_old):
        be_i = jnp.dot(old_dirs[i], r) * ro[i]
        r = r + (al[i] - be_i) * old_stps[i]
    return r


def lbfgs_step(
    closure: Callable,
    x: Any,
    state: dict | None = None,
    *,
    lr: float = 1,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
    line_search_fn: str | None = None,
) -> tuple:
    """One `torch.optim.LBFGS.step(closure)`, on a flat parameter vector.

    Args:
      closure: `closure(x) -> (x, loss, flat_grad)`: the loss and its gradient at `x`. It may
        return a changed `x` (PyTorch closures may change the parameters in place, as the
        style-transfer tutorial's clamp does); the step goes on from the returned `x`, except
        inside the line search, where PyTorch restores the parameters after each evaluation.
      x: the flat parameters (a 1-d JAX array).
      state: Optional. The dict returned by the previous call (PyTorch's `LBFGS` state:
        `d`, `t`, `old_dirs`, `old_stps`, `ro`, `H_diag`, `prev_flat_grad`, `prev_loss`,
        `func_evals`, `n_iter`); None to start.
      lr: Optional. PyTorch's `LBFGS` argument, with its default; so are `max_iter`,
        `max_eval`, `tolerance_grad`, `tolerance_change`, `history_size` and
        `line_search_fn`.

    Returns:
      `(x, loss, state)`: the parameters after the step, the closure's first loss of this
      step (what PyTorch's `step` returns), and the state for the next call.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> value_and_grad = jax.jit(jax.value_and_grad(lambda x: jnp.sum((x - 2.0) ** 2)))
        >>> def closure(x):
        ...     loss, grad = value_and_grad(x)
        ...     return x, loss, grad
        >>> x, loss, state = lbfgs_step(closure, jnp.zeros(3), line_search_fn="strong_wolfe")
        >>> x.round(4).tolist(), float(loss), state["func_evals"] >= 2
        ([2.0, 2.0, 2.0], 12.0, True)
    """
    state = {} if state is None else state
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    state.setdefault("func_evals", 0)
    state.setdefault("n_iter", 0)

    x, orig_loss, flat_grad = closure(x)
    loss = float(orig_loss)
    current_evals = 1
    state["func_evals"] += 1
    if jnp.max(jnp.abs(flat_grad)) <= tolerance_grad:
        return x, orig_loss, state

    d, t = state.get("d"), state.get("t")
    prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        state["n_iter"] += 1

        # ---- the descent direction
        if state["n_iter"] == 1:
            d = -flat_grad
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
        else:
            d = _direction(state, flat_grad, d, t, prev_flat_grad, history_size)
        prev_flat_grad, prev_loss = flat_grad, loss

        # ---- the step length
        if state["n_iter"] == 1:
            t = min(1.0, 1.0 / jnp.sum(jnp.abs(flat_grad))) * lr
        else:
            t = lr
        gtd = jnp.dot(flat_grad, d)
        if gtd > -tolerance_change:
            break

        ls_func_evals = 0
        if line_search_fn is not None:
            if line_search_fn != "strong_wolfe":  # checked here, as PyTorch does
                raise RuntimeError(ONLY_STRONG_WOLFE)

            def obj_func(x, t, d):  # the parameters go back to x afterwards, as in PyTorch
                _, f, g = closure(x + t * d)
                return float(f), g

            loss, flat_grad, t, ls_func_evals = strong_wolfe(
                obj_func, x, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
            )
            x = x + t * d
            opt_cond = jnp.max(jnp.abs(flat_grad)) <= tolerance_grad
        else:
            x = x + t * d
            opt_cond = False
            if n_iter != max_iter:  # re-evaluate only if another iteration follows (PyTorch)
                x, loss, flat_grad = closure(x)
                loss = float(loss)
                opt_cond = jnp.max(jnp.abs(flat_grad)) <= tolerance_grad
                ls_func_evals = 1
        current_evals += ls_func_evals
        state["func_evals"] += ls_func_evals

        # ---- stopping conditions
        if n_iter == max_iter or current_evals >= max_eval or opt_cond:
            break
        if jnp.max(jnp.abs(d * t)) <= tolerance_change:
            break
        if abs(loss - prev_loss) < tolerance_change:
            break

    state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
    return x, orig_loss, state
