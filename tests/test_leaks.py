"""Nothing leaked: the tape frees what PyTorch frees, when PyTorch frees it.

Oracles: JAX's own count of live device buffers (`jax.live_arrays()`) and the tape's count
of bytes held by not-yet-freed nodes (`funcgrad.tape.live_graph_bytes()`,
`funcgrad.tape.graph_bytes(...)`), measured after `gc.collect()`. A leak shows as a count
that grows with the number of steps, or bytes that stay after the tensors that own them
are gone.
"""

from __future__ import annotations

import gc
import warnings
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad.functional as F
import funcgrad.tape as tape
from funcgrad.tape.compile import RetraceWarning

STEPS = 10_000


def live_arrays() -> int:
    gc.collect()
    return len(jax.live_arrays())


def tiny_step(x):
    """Forward and backward of a small graph (mul, sin, sum), then zero_grad-like reset."""
    y = (x * x).sin().sum()
    y.backward()
    x.grad = None


def test_ten_thousand_steps_without_retain_graph_keep_live_arrays_flat_and_no_graph():
    x = tape.tensor(np.arange(3, dtype=np.float32), requires_grad=True)
    for _ in range(50):  # compile, and let caches settle
        tiny_step(x)
    before = live_arrays()
    for step in range(STEPS):
        tiny_step(x)
        if step == STEPS // 2:
            middle = live_arrays()
    after = live_arrays()
    assert middle == before and after == before, (before, middle, after)
    assert tape.live_graph_bytes() == 0


def test_grad_accumulation_keeps_one_grad_array_per_leaf():
    x = tape.tensor(np.ones(3, np.float32), requires_grad=True)
    (x * 2).sum().backward()
    before = live_arrays()
    for _ in range(200):
        (x * 2).sum().backward()  # .grad accumulates in place
    assert live_arrays() == before
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * 201)


def test_a_freed_graph_holds_no_bytes_even_while_its_tensors_live():
    x = tape.tensor(np.ones((4, 5), np.float32), requires_grad=True)
    y = (x.exp() * x).sum()
    assert tape.graph_bytes(y) > 0
    y.backward()
    assert tape.graph_bytes(y) == 0
    assert tape.live_graph_bytes() == 0


def test_retained_graph_is_released_when_its_tensors_go_out_of_scope():
    gc.collect()
    assert tape.live_graph_bytes() == 0
    base = live_arrays()
    x = tape.tensor(np.ones((64, 64), np.float32), requires_grad=True)
    h = (x @ x).tanh()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    held = tape.graph_bytes(y)
    # tanh saves its result (64x64), h * h saves h twice (one buffer), x @ x saves x.
    assert held >= 2 * 64 * 64 * 4
    assert tape.live_graph_bytes() == held
    y.backward()  # the second backward frees it
    assert tape.live_graph_bytes() == 0
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    assert tape.live_graph_bytes() > 0
    del y, h
    gc.collect()
    assert tape.live_graph_bytes() == 0
    x.grad = None
    del x
    assert live_arrays() == base


def test_retained_graph_of_autograd_grad_is_released_with_its_output():
    x = tape.tensor(np.ones(100, np.float32), requires_grad=True)
    y = (x.sigmoid() * x).sum()
    (g,) = tape.autograd.grad(y, x, retain_graph=True)
    assert tape.live_graph_bytes() > 0
    del y
    gc.collect()
    assert tape.live_graph_bytes() == 0
    assert g.shape == x.shape


def test_create_graph_graph_is_released_when_the_grads_go_out_of_scope():
    x = tape.tensor(np.ones(10, np.float32), requires_grad=True)
    y = (x.exp() * x).sum()
    (g,) = tape.autograd.grad(y, x, create_graph=True)
    g.sum().backward()
    assert x.grad is not None
    del y, g
    x.grad = None
    gc.collect()
    assert tape.live_graph_bytes() == 0


def test_an_error_in_backward_leaves_no_graph_behind():
    x = tape.tensor(np.ones(3, np.float32), requires_grad=True)
    y = x.exp()
    z = (y * 2).sum()
    with tape.no_grad():
        y.mul_(2)  # exp saved its result: the backward below fails
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    del y, z
    gc.collect()
    assert tape.live_graph_bytes() == 0


def test_pullback_free_releases_its_residuals():
    x = jnp.ones((256, 256), jnp.float32)
    base = live_arrays()
    y, pb = F.vjp(lambda a: jnp.tanh(a @ a), x)
    assert pb.residual_bytes >= 256 * 256 * 4
    holding = live_arrays()
    assert holding > base + 1  # y and at least one residual buffer
    pb(jnp.ones_like(y))  # calling it keeps it
    assert not pb.is_freed and pb.residual_bytes > 0
    pb.free()
    assert pb.is_freed and pb.residual_bytes == 0
    assert live_arrays() < holding
    del y
    assert live_arrays() == base


def test_pullback_called_with_retain_false_frees_itself():
    x = jnp.ones((32,), jnp.float32)
    y, pb = F.vjp(jnp.sin, x)
    pb(jnp.ones_like(y), retain=False)
    assert pb.is_freed and pb.residual_bytes == 0
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second"):
        pb(jnp.ones_like(y))


def test_jitted_training_step_keeps_device_memory_flat():
    tape.manual_seed(0)
    model = tape.nn.Sequential(tape.nn.Linear(4, 8), tape.nn.ReLU(), tape.nn.Linear(8, 1))
    opt = tape.optim.Adam(model.parameters(), lr=1e-2)
    x = tape.tensor(np.ones((16, 4), np.float32))
    t = tape.tensor(np.zeros((16, 1), np.float32))

    @tape.jit
    def step(x, t):
        opt.zero_grad()
        loss = ((model(x) - t) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    with warnings.catch_warnings():  # the .grads appear after the first call: one retrace,
        warnings.simplefilter("error", RetraceWarning)  # expected, so without a warning
        for _ in range(5):
            step(x, t)
    traces, before = step.trace_count, live_arrays()
    losses = [step(x, t).item() for _ in range(300)]
    assert live_arrays() == before
    assert step.trace_count == traces
    assert losses[-1] < losses[0]
    assert tape.live_graph_bytes() == 0


# ---------------------------------------------------------------- custom Function and hooks
class _Square(tape.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


def test_custom_function_frees_its_saved_intermediate_after_backward():
    a = tape.tensor(np.ones(1000, np.float32), requires_grad=True)
    h = a * 3  # MulBackward0 keeps only the Python 3
    y = _Square.apply(h).sum()
    assert tape.live_graph_bytes() == tape.graph_bytes(y) == h.nbytes  # what ctx saved
    intermediate = weakref.ref(h)
    del h
    gc.collect()
    assert intermediate() is not None  # saved for the backward that has not run yet
    y.backward()
    gc.collect()
    assert intermediate() is None
    assert tape.live_graph_bytes() == 0
    np.testing.assert_allclose(a.grad.numpy(), 18.0)


def test_custom_function_with_retain_graph_keeps_its_saved_tensor_until_the_last_backward():
    a = tape.tensor(np.ones(1000, np.float32), requires_grad=True)
    h = a * 3
    y = _Square.apply(h).sum()
    intermediate = weakref.ref(h)
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert intermediate() is not None and tape.live_graph_bytes() == 4000
    y.backward()
    gc.collect()
    assert intermediate() is None and tape.live_graph_bytes() == 0
    np.testing.assert_allclose(a.grad.numpy(), 36.0)


def test_module_full_backward_hook_keeps_no_intermediate_after_backward():
    tape.manual_seed(0)
    lin, act = tape.nn.Linear(10, 10), tape.nn.Tanh()
    seen = []
    act.register_full_backward_hook(lambda m, grad_in, grad_out: seen.append(len(grad_in)))
    x = tape.randn(4, 10, requires_grad=True)
    h = lin(x)
    out = act(h).sum()
    # The hook's identity nodes save nothing; tanh saves its input (a view of h's array).
    assert tape.live_graph_bytes() == tape.graph_bytes(out) > 0
    intermediate = weakref.ref(h)
    del h
    out.backward()
    gc.collect()
    assert seen == [1]
    assert intermediate() is None
    assert tape.live_graph_bytes() == 0


# ---------------------------------------------------------------- one byte counter
def _pullbacks(*tensors):
    seen, stack = set(), [t.grad_fn for t in tensors]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(n for n, _ in node.next_functions)
    return [n.pullback for n in seen if n.pullback is not None]


def test_graph_bytes_live_graph_bytes_and_pullback_residual_bytes_agree():
    gc.collect()
    x = tape.tensor(np.ones((64, 64), np.float32), requires_grad=True)
    h = (x @ x).tanh()
    y = (h * h).sum()
    pullbacks = _pullbacks(y)
    assert all(isinstance(p, F.SavedPullback) for p in pullbacks)
    assert tape.graph_bytes(y) == tape.live_graph_bytes() == F.residual_bytes(pullbacks)
    # x @ x saves x, tanh saves its result h, h * h saves h twice: two 16 KiB buffers (as
    # PyTorch's saved tensors: tanh's result and mul's operands are one storage)
    assert tape.graph_bytes(y) == 2 * x.nbytes
    s = x.sin()
    assert s.grad_fn.pullback.residual_bytes == tape.graph_bytes(s) == x.nbytes
    y.backward()
    assert all(p.is_freed and p.residual_bytes == 0 for p in pullbacks)
    assert tape.graph_bytes(y) == 0 and tape.live_graph_bytes() == tape.graph_bytes(s)


def test_byte_counters_count_one_buffer_once_whatever_holds_it():
    x = tape.tensor(np.ones(1000, np.float32), requires_grad=True)
    h = x * 2
    # The Function's pullback keeps the tensor h; sin's keeps h's array: one buffer.
    y = _Square.apply(h) + h.sin()
    assert tape.graph_bytes(y) == tape.live_graph_bytes() == h.nbytes
