"""Threads: independent graphs can run backward from several threads at once, and grad
mode is per thread, as in PyTorch.

Oracles: the same computation run single-threaded (and in real PyTorch), and PyTorch's own
behaviour for the grad-mode programs (the same threaded program runs with torch and with
funcgrad.tape, and both must observe the same).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch_twin import arr

import funcgrad.tape as tape

N_THREADS = 4
ROUNDS = 20


def train_like(lib, seed, rounds=ROUNDS):
    """A small graph per round (matmul, tanh, softmax, a retained graph, a hook);
    returns the parameters' accumulated grads and the last loss."""
    w = lib.tensor(arr(4, 3, seed=seed), requires_grad=True)
    b = lib.tensor(arr(3, seed=seed + 100), requires_grad=True)
    seen = []
    b.register_hook(lambda g: seen.append(1))
    loss = None
    for r in range(rounds):
        x = lib.tensor(arr(5, 4, seed=seed * 1000 + r))
        h = (x @ w + b).tanh()
        loss = h.softmax(-1).max(-1)[0].sum() + (h * h).mean()
        loss.backward(retain_graph=True)
        (h.sum() * 0.5).backward()
    return w.grad.numpy(), b.grad.numpy(), loss.item(), len(seen)


def run_in_threads(fn, n=N_THREADS):
    """Runs fn(i) in n threads started together; returns results, re-raises errors."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors:
        raise errors[0]
    return results


def test_backward_on_independent_graphs_in_threads_matches_single_threaded():
    expected = [train_like(tape, seed) for seed in range(N_THREADS)]
    reference = [train_like(torch, seed) for seed in range(N_THREADS)]
    got = run_in_threads(lambda i: train_like(tape, i))
    for (w, b, loss, hooks), (w0, b0, loss0, hooks0), (wt, bt, loss_t, hookst) in zip(
        got, expected, reference, strict=True
    ):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)
        assert loss == loss0 and hooks == hooks0
        np.testing.assert_allclose(w, wt, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b, bt, rtol=1e-5, atol=1e-6)
        assert hooks == hookst
        assert loss == pytest.approx(loss_t, rel=1e-5)


def test_autograd_grad_with_create_graph_in_threads_matches_single_threaded():
    def second_derivative(lib, i):
        x = lib.tensor(arr(6, seed=i) + 1.5, requires_grad=True)
        total = 0.0
        for _ in range(ROUNDS):
            (g,) = lib.autograd.grad((x.exp() * x.sin()).sum(), x, create_graph=True)
            (h,) = lib.autograd.grad(g.sum(), x)
            total += float(h.sum().item())
        return total

    expected = [second_derivative(tape, i) for i in range(N_THREADS)]
    assert run_in_threads(lambda i: second_derivative(tape, i)) == expected
    for i, value in enumerate(expected):
        assert value == pytest.approx(second_derivative(torch, i), rel=1e-5)


def grad_mode_program(lib):
    """Thread A holds no_grad() while thread B computes; a third thread starts while the
    main thread is under no_grad. Returns what each observed."""
    x = lib.tensor(arr(3), requires_grad=True)
    a_entered, b_done = threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with lib.no_grad():
            a_entered.set()
            b_done.wait(timeout=60)
            seen["a: enabled inside no_grad"] = lib.is_grad_enabled()
            seen["a: result requires grad"] = (x * 2).requires_grad
        seen["a: enabled after"] = lib.is_grad_enabled()

    def thread_b():
        a_entered.wait(timeout=60)
        seen["b: enabled while a is in no_grad"] = lib.is_grad_enabled()
        y = (x * 3).sum()
        seen["b: result requires grad"] = y.requires_grad
        (g,) = lib.autograd.grad(y, x)
        seen["b: grad"] = g.tolist()
        with lib.inference_mode():
            seen["b: inference mode"] = lib.is_inference_mode_enabled()
        b_done.set()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with lib.no_grad():
        child = threading.Thread(target=lambda: seen.update(child=lib.is_grad_enabled()))
        child.start()
        child.join(timeout=60)
        seen["main: enabled under no_grad"] = lib.is_grad_enabled()
    seen["main: inference mode"] = lib.is_inference_mode_enabled()
    return seen


def test_grad_mode_is_per_thread_as_in_pytorch():
    expected = grad_mode_program(torch)
    assert grad_mode_program(tape) == expected
    assert expected["b: result requires grad"] and not expected["a: result requires grad"]
    assert expected["child"]  # a new thread starts with grad enabled


def test_set_grad_enabled_in_one_thread_does_not_change_another():
    def worker(i):
        tape.set_grad_enabled(i % 2 == 0)
        try:
            x = tape.ones(2, requires_grad=True)
            flags = []
            for _ in range(50):
                flags.append((x * 2).requires_grad)
            return flags
        finally:
            tape.set_grad_enabled(True)

    results = run_in_threads(worker)
    for i, flags in enumerate(results):
        assert flags == [i % 2 == 0] * 50
    assert tape.is_grad_enabled()


def test_graph_memory_counters_while_threads_build_and_free_graphs():
    stop = threading.Event()
    readings = []

    def reader():
        while not stop.is_set():
            readings.append(tape.live_graph_bytes())

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        run_in_threads(lambda i: train_like(tape, i, rounds=10))
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert readings and all(r >= 0 for r in readings)
    assert tape.live_graph_bytes() == 0
