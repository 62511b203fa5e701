"""What the tape's graph keeps, in bytes, against what PyTorch's nodes save.

Oracle: real PyTorch (torch 2.13, CPU) run on the same program at test time, its saved
tensors seen through `torch.autograd.graph.saved_tensors_hooks` and counted once per
storage (a tensor saved by two nodes, or a weight saved as its transpose view, is one
buffer). `funcgrad.tape.graph_bytes` counts the tape's side the same way, once per device
buffer. The models are small versions of the benchmark's (benchmarks/retained_memory.py):
a conv-relu-conv-relu-maxpool trunk and an MLP with relu and bias.

Exact, not "at most": the tape keeps what PyTorch keeps, buffer for buffer, with one
deliberate exception, max-pooling, where PyTorch also saves the argmax indices (int64)
and the tape recomputes them from the saved input inside the jitted pullback; so the trunk
keeps PyTorch's bytes minus those of its integer saved tensors.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import funcgrad.tape as tape
from funcgrad.tape._op import result_rule
from funcgrad.tape.ops import OPS

ROOT = Path(__file__).resolve().parents[1]


def torch_saved(build):
    """Runs `build()` under saved-tensor hooks: (bytes of the unique storages PyTorch's nodes
    saved, the part of them with an integer dtype, what build returned)."""
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = (s.nbytes(), t.dtype.is_floating_point)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = build()
    total = sum(n for n, _ in storages.values())
    integer = sum(n for n, floating in storages.values() if not floating)
    return total, integer, out


def conv_trunk(lib, params, x):
    F = lib.nn.functional
    h = F.relu(F.conv2d(x, params[0], params[1], padding=1))
    h = F.relu(F.conv2d(h, params[2], params[3], padding=1))
    return F.max_pool2d(h, 2)


def mlp(lib, params, x):
    F = lib.nn.functional
    for i in range(0, len(params), 2):
        x = F.linear(x, params[i], params[i + 1])
        if i + 2 < len(params):
            x = F.relu(x)
    return (x**2).mean()


def _conv_case(rng):
    shapes = [(4, 3, 3, 3), (4,), (8, 4, 3, 3), (8,)]
    params = [rng.normal(scale=0.3, size=s).astype(np.float32) for s in shapes]
    return conv_trunk, params, rng.normal(size=(2, 3, 8, 8)).astype(np.float32)


def _mlp_case(rng):
    params = []
    for _ in range(3):
        params += [rng.normal(scale=0.2, size=(16, 16)), rng.normal(scale=0.1, size=16)]
    params = [p.astype(np.float32) for p in params]
    return mlp, params, rng.normal(size=(4, 16)).astype(np.float32)


CASES = {"conv_trunk": _conv_case, "mlp": _mlp_case}


def _run(lib, model, params, x):
    ps = [lib.tensor(p, requires_grad=True) for p in params]
    return model(lib, ps, lib.tensor(x)), ps


@pytest.mark.parametrize("case", CASES)
def test_graph_keeps_pytorchs_saved_bytes(case):
    model, params, x = CASES[case](np.random.default_rng(0))
    total, integer, (t_out, t_params) = torch_saved(lambda: _run(torch, model, params, x))
    out, f_params = _run(tape, model, params, x)
    # Only the trunk's max-pool saves integers (its indices); the MLP none: exactly equal.
    assert (integer > 0) == (case == "conv_trunk")
    assert tape.graph_bytes(out) == total - integer
    # and the gradients through the kept results are PyTorch's
    t_out.sum().backward()
    out.sum().backward()
    for t, f in zip(t_params, f_params):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_backward_without_retain_graph_leaves_zero_bytes(case):
    gc.collect()
    before = tape.live_graph_bytes()
    model, params, x = CASES[case](np.random.default_rng(1))
    out, _ = _run(tape, model, params, x)
    loss = out.sum()
    assert tape.graph_bytes(loss) > 0 and tape.live_graph_bytes() > before
    loss.backward(retain_graph=True)
    assert tape.graph_bytes(loss) > 0  # retained: a second backward may run
    loss.backward()
    assert tape.graph_bytes(loss) == 0 and tape.graph_bytes(out) == 0
    assert tape.live_graph_bytes() == before


# ---------------------------------------------------------------- one op at a time
RESULT_OPS = sorted(name for name, op in OPS.items() if result_rule(op, ()) is not None)
_DIM = {"softmax": (1,), "log_softmax": (1,)}


def test_every_output_saving_op_is_covered():
    assert set(RESULT_OPS) == {"relu", "sigmoid", "tanh", "exp", "expm1", "sqrt", "rsqrt",
                               "reciprocal", "tan", "softmax", "log_softmax"}  # fmt: skip


@pytest.mark.parametrize("name", RESULT_OPS)
def test_output_saving_op_keeps_its_result_shared_with_the_next_op(name):
    x0 = np.random.default_rng(2).uniform(0.5, 1.5, size=(3, 5)).astype(np.float32)
    w0 = np.random.default_rng(3).normal(size=(5, 2)).astype(np.float32)

    def build(lib):
        x = lib.tensor(x0, requires_grad=True)
        y = getattr(x, name)(*_DIM.get(name, ()))
        return y, y @ lib.tensor(w0, requires_grad=True), x

    total, _, (t_y, t_z, t_x) = torch_saved(lambda: build(torch))
    y, z, x = build(tape)
    # the op's node keeps y, the matmul keeps y and w: y is one buffer, as in PyTorch
    assert y.grad_fn.pullback.saved[0] is y._data
    assert tape.graph_bytes(y) == y.nbytes
    assert tape.graph_bytes(z) == total == y.nbytes + w0.nbytes
    t_z.sum().backward()
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t_x.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp", "softmax"])
def test_double_backward_through_a_kept_result_matches_pytorch(name):
    x0 = np.random.default_rng(4).normal(size=(2, 4)).astype(np.float32)

    def second(lib):
        x = lib.tensor(x0, requires_grad=True)
        y = getattr(x, name)(*_DIM.get(name, ()))
        (g,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (g * g).sum().backward()
        return g, x.grad

    for got, want in zip(second(tape), second(torch)):
        got, want = got.detach().numpy(), want.detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_in_place_change_of_a_kept_result_fails_backward_like_pytorch():
    def change(lib):
        x = lib.tensor(np.ones(3, np.float32), requires_grad=True)
        y = x.exp()
        y.add_(1)
        y.sum().backward()

    with pytest.raises(RuntimeError) as want:
        change(torch)
    with pytest.raises(RuntimeError) as got:
        change(tape)
    assert str(got.value).startswith(str(want.value).split("Hint")[0].strip()[:120])


# ---------------------------------------------------------------- views and create_graph
@pytest.fixture(params=[False, True], ids=["eager", "lazy"])
def lazy(request):
    """Each test once with lazy segments off and once on (a pending segment's bytes are
    counted exactly: reading them runs it)."""
    was = tape.is_lazy()
    tape.set_lazy(request.param)
    yield request.param
    tape.set_lazy(was)


def _gram_loss(lib, x0, w0, target0):
    # style_transfer's Gram matrix: mm saves `features` and its transpose view, one storage
    x = lib.tensor(x0, requires_grad=True)
    h = lib.nn.functional.conv2d(x, lib.tensor(w0), padding=1)
    a, b, c, d = h.size()
    features = h.view(a * b, c * d)
    gram = lib.mm(features, features.t()).div(a * b * c * d)
    return lib.nn.functional.mse_loss(gram, lib.tensor(target0)), x


def test_a_saved_view_keeps_its_storage_once(lazy):
    rng = np.random.default_rng(5)
    x0 = rng.normal(size=(1, 3, 16, 16)).astype(np.float32)
    w0 = rng.normal(size=(8, 3, 3, 3)).astype(np.float32)
    target0 = rng.normal(size=(8, 8)).astype(np.float32)
    total, integer, (t_loss, t_x) = torch_saved(lambda: _gram_loss(torch, x0, w0, target0))
    loss, x = _gram_loss(tape, x0, w0, target0)
    assert integer == 0 and tape.graph_bytes(loss) == total
    t_loss.backward()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), t_x.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert tape.graph_bytes(loss) == 0


def test_a_saved_view_of_a_rebound_base_keeps_the_views_values():
    # `.data = ...` rebinds the base without a version bump: the view keeps the old values
    # (PyTorch: the old storage), so backward reads those, not the base's new ones.
    def prog(lib):
        w = lib.tensor(arr_2x3(0), requires_grad=True)
        x = lib.tensor(arr_2x3(1)[:, 0], requires_grad=True)
        wt = w.t()
        w.data = lib.tensor(arr_2x3(2))
        y = lib.mv(wt, x)  # saves wt (for x's gradient)
        y.sum().backward()
        return x.grad.numpy(), w.grad.numpy()

    for got, want in zip(prog(tape), prog(torch)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def arr_2x3(seed):
    return np.random.default_rng(seed).normal(size=(2, 3)).astype(np.float32)


def _penalty_loss(lib, params, x0, v0):
    # higher_order's shape: a gradient inside the loss (create_graph), then its square
    w1, b1, w2 = (lib.tensor(p, requires_grad=True) for p in params)
    x = lib.tensor(x0, requires_grad=True)
    h = lib.tanh(x @ w1 + b1)
    (g,) = lib.autograd.grad(((h @ w2) * lib.tensor(v0)).sum(), x, create_graph=True)
    return (g * g).sum(), (w1, b1, w2)


def torch_graph_saved(*outputs) -> int:
    """Bytes of the unique storages that the nodes of the graph behind `outputs` save (their
    `_saved_*` tensors): what the graph keeps alive, unlike `torch_saved`, which also counts
    nodes that died during the build (a create_graph backward's inner graph)."""
    storages, seen = {}, set()
    stack = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for name in dir(node):
            if name.startswith("_saved_"):
                values = getattr(node, name)
                for t in values if isinstance(values, tuple | list) else (values,):
                    if isinstance(t, torch.Tensor):
                        s = t.untyped_storage()
                        storages[s.data_ptr()] = s.nbytes()
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return sum(storages.values())


def test_a_create_graph_backward_keeps_pytorchs_saved_bytes(lazy):
    rng = np.random.default_rng(6)
    params = [rng.normal(size=s).astype(np.float32) for s in ((4, 6), (6,), (6, 1))]
    x0, v0 = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 1)).astype(np.float32)
    t_loss, t_params = _penalty_loss(torch, params, x0, v0)
    loss, f_params = _penalty_loss(tape, params, x0, v0)
    # Each recorded backward saves what its VJP reads (add's: nothing; the mm's of the
    # second layer: only the incoming grad, as v needs none): exactly PyTorch's bytes.
    assert tape.graph_bytes(loss) == torch_graph_saved(t_loss)
    t_loss.backward()
    loss.backward()
    for t, f in zip(t_params, f_params):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- benchmarks/retained_memory.py
def test_retained_memory_benchmark_runs_and_counts_like_these_tests(tmp_path):
    out = tmp_path / "memory.json"
    command = [sys.executable, "benchmarks/retained_memory.py", "--quick", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's funcgrad
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr  # includes its output parity checks
    assert "not judged (--quick)" in result.stdout
    payload = json.loads(out.read_text())
    for name, r in payload["results"].items():
        counted = r["bytes"]
        assert r["ratio_vs_pytorch"]["pytorch"] == 1.0 and r["tape_bytes_after_backward"] == 0
        assert counted["jax.vjp + saving_output"] < counted["jax.vjp"]
        if name == "mlp":  # no integer saved tensors: the tape keeps exactly PyTorch's bytes
            assert counted["tape"] == counted["pytorch"]
        else:
            assert counted["tape"] < counted["pytorch"]
