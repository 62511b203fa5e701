"""Tests for funcgrad.functional: pullbacks as values, shared-trunk pullbacks, accumulation.

Oracle: ``jax.grad`` / ``jax.value_and_grad`` of the same computation, computed at run time.
"""

import doctest
import functools
import gc
import importlib
import pkgutil
import weakref

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcgrad.functional as F
from funcgrad.functional import (
    Pullback,
    accumulate_grads,
    residual_bytes,
    residual_bytes_of,
    shared_trunk_vjp,
    vjp,
)

TORCH_FREED_TEXT = "Trying to backward through the graph a second time"


def assert_trees_close(actual, expected, rtol=1e-6, atol=0.0):
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected)
    for a, e in zip(
        jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=rtol, atol=atol)


def sin_times(x):
    return jnp.sin(x) * x


@pytest.fixture
def x():
    return jax.random.normal(jax.random.key(0), (5,), jnp.float32)


# ---------------------------------------------------------------- Pullback: reuse and free


def test_pullback_reused_twice_gives_same_gradients(x):
    y, pb = vjp(sin_times, x)
    ct = jnp.ones_like(y)
    (g1,) = pb(ct)
    (g2,) = pb(ct)
    (expected,) = jax.vjp(sin_times, x)[1](ct)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(g1, jax.grad(lambda x: sin_times(x).sum())(x), rtol=1e-6)
    np.testing.assert_array_equal(g1, expected)
    assert not pb.is_freed


def test_freed_pullback_raises_with_retain_graph_hint(x):
    _, pb = vjp(sin_times, x)
    pb.free()
    assert pb.is_freed
    with pytest.raises(RuntimeError, match=TORCH_FREED_TEXT) as info:
        pb(jnp.ones_like(x))
    message = str(info.value)
    assert message.startswith(TORCH_FREED_TEXT)
    assert "funcgrad:" in message and "keep the Pullback" in message
    assert message.index("funcgrad:") > message.index("retain_graph=True")


def test_call_with_retain_false_frees_after_one_call(x):
    _, pb = vjp(sin_times, x)
    (g,) = pb(jnp.ones_like(x), retain=False)
    np.testing.assert_allclose(g, jax.grad(lambda x: sin_times(x).sum())(x), rtol=1e-6)
    assert pb.is_freed
    with pytest.raises(RuntimeError, match=TORCH_FREED_TEXT):
        pb(jnp.ones_like(x))


def test_free_releases_residual_arrays(x):
    _, pb = vjp(sin_times, x)
    intermediates = [leaf for leaf in jax.tree_util.tree_leaves(pb) if leaf is not x]
    assert intermediates, "sin(x) * x should save intermediates such as cos(x)"
    refs = [weakref.ref(leaf) for leaf in intermediates]
    del intermediates
    gc.collect()
    assert all(ref() is not None for ref in refs)  # alive while the pullback is kept
    pb.free()
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert pb.residual_bytes == 0 and jax.tree_util.tree_leaves(pb) == []


def test_vjp_with_has_aux_returns_aux(x):
    y, pb, aux = vjp(lambda x: (sin_times(x), {"norm": jnp.linalg.norm(x)}), x, has_aux=True)
    np.testing.assert_allclose(aux["norm"], jnp.linalg.norm(x), rtol=1e-6)
    (g,) = pb(jnp.ones_like(y))
    np.testing.assert_allclose(g, jax.grad(lambda x: sin_times(x).sum())(x), rtol=1e-6)


def test_pullback_of_several_inputs_and_pytree_outputs(x):
    def f(a, params):
        return {"u": a * params["w"], "v": jnp.sum(jnp.tanh(a))}

    params = {"w": x + 1.0}
    out, pb = vjp(f, x, params)
    ct = {"u": jnp.full_like(out["u"], 2.0), "v": jnp.ones_like(out["v"])}
    expected = jax.vjp(f, x, params)[1](ct)
    assert_trees_close(pb(ct), expected)


@pytest.mark.parametrize(
    "cotangent, match",
    [
        (jnp.ones(4), r"shape \(4,\).*output it pairs with has shape \(5,\)"),
        (jnp.ones(5, jnp.float16), r"dtype float16.*dtype float32"),
        ((jnp.ones(5), jnp.ones(5)), "structure"),
    ],
    ids=["shape", "dtype", "structure"],
)
def test_pullback_rejects_mismatched_cotangent(x, cotangent, match):
    _, pb = vjp(sin_times, x)
    with pytest.raises(ValueError, match=match):
        pb(cotangent)
    assert not pb.is_freed


def test_pullback_accepts_python_scalar_cotangent_for_scalar_output(x):
    _, pb = vjp(lambda x: jnp.sum(x**2), x)
    np.testing.assert_allclose(pb(1.0)[0], 2 * x, rtol=1e-6)


def test_vjp_rejects_non_callable(x):
    with pytest.raises(TypeError, match="f must be callable"):
        vjp(x, x)


# ---------------------------------------------------------------- residual bytes


def test_residual_bytes_counts_unique_buffers(x):
    _, pb = jax.vjp(lambda a, b: a * b, x, x)  # each input saved for the other: x twice
    leaves = jax.tree_util.tree_leaves(pb)
    assert sum(leaf is x for leaf in leaves) == 2
    expected = sum(leaf.nbytes for leaf in leaves) - x.nbytes
    assert residual_bytes(pb) == expected
    assert expected == x.nbytes


def test_residual_bytes_same_for_raw_pullback_and_pullback(x):
    _, raw = jax.vjp(sin_times, x)
    _, wrapped = vjp(sin_times, x)
    expected = sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(raw))
    assert residual_bytes(raw) == residual_bytes(wrapped) == wrapped.residual_bytes == expected
    assert expected > 0


def test_residual_bytes_rejects_non_array_leaves():
    with pytest.raises(TypeError, match="jax.vjp"):
        residual_bytes(lambda c: c)


def test_residual_bytes_of_matches_eager_upper_bound(x):
    w = jax.random.normal(jax.random.key(1), (5, 7))

    def mlp(w, x):
        return jnp.sum(jnp.tanh(jnp.tanh(x @ w) @ w.T))

    _, pb = jax.vjp(mlp, w, x)
    assert residual_bytes_of(mlp, w, x) == residual_bytes(pb) > 0  # no aliasing: exact

    def mul(a, b):
        return a * b

    _, aliased = jax.vjp(mul, x, x)
    all_leaves = sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(aliased))
    assert residual_bytes_of(mul, x, x) == all_leaves > residual_bytes(aliased)


def test_residual_bytes_of_counts_shapes_without_allocating():
    big = jax.ShapeDtypeStruct((50_000, 50_000), jnp.float32)  # 10 GB if it were allocated
    assert residual_bytes_of(jnp.sin, big) == 50_000 * 50_000 * np.dtype(np.float32).itemsize


# ---------------------------------------------------------------- shared trunk, several heads


class Trunk(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(16)(x))
        return nn.relu(nn.Dense(8)(x))


def mse_head(head, y, params, features):
    return jnp.mean((head.apply(params, features)[:, 0] - y) ** 2)


def bce_head(head, y, params, features):
    logits = head.apply(params, features)[:, 0]
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y))


@pytest.fixture
def multi_task():
    k = jax.random.split(jax.random.key(2), 6)
    x = jax.random.normal(k[0], (12, 4))
    trunk, head = Trunk(), nn.Dense(1)
    trunk_params = trunk.init(k[1], x)
    features = trunk.apply(trunk_params, x)
    head_params = [head.init(k[2], features), head.init(k[3], features)]
    y_reg = jax.random.normal(k[4], (12,))
    y_cls = (jax.random.uniform(k[5], (12,)) > 0.5).astype(jnp.float32)
    head_fns = [functools.partial(mse_head, head, y_reg), functools.partial(bce_head, head, y_cls)]
    return trunk.apply, head_fns, trunk_params, head_params, x


def summed_loss_grads(trunk_fn, head_fns, trunk_params, head_params, x):
    def total(trunk_params, head_params):
        features = trunk_fn(trunk_params, x)
        return sum(fn(p, features) for fn, p in zip(head_fns, head_params, strict=True))

    return jax.grad(total, argnums=(0, 1))(trunk_params, head_params)


@pytest.mark.parametrize("sum_cotangents", [True, False])
def test_shared_trunk_pullback_equals_grad_of_summed_loss(multi_task, sum_cotangents):
    trunk_fn, head_fns, trunk_params, head_params, x = multi_task
    out = shared_trunk_vjp(*multi_task, sum_cotangents=sum_cotangents)
    expected_trunk, expected_heads = summed_loss_grads(*multi_task)
    features = trunk_fn(trunk_params, x)
    for loss, fn, p in zip(out.losses, head_fns, head_params, strict=True):
        np.testing.assert_allclose(loss, fn(p, features), rtol=1e-6)
    assert_trees_close(out.trunk_grads, expected_trunk, rtol=1e-6, atol=1e-7)
    assert_trees_close(list(out.head_grads), expected_heads, rtol=1e-6)


def test_shared_trunk_vjp_runs_trunk_once(multi_task):
    trunk_fn, *rest = multi_task
    calls = []

    def counting_trunk(params, x):
        calls.append(1)
        return trunk_fn(params, x)

    shared_trunk_vjp(counting_trunk, *rest, sum_cotangents=False)
    assert len(calls) == 1


def test_shared_trunk_vjp_rejects_mismatched_heads_and_nonscalar_loss(multi_task):
    trunk_fn, head_fns, trunk_params, head_params, x = multi_task
    with pytest.raises(ValueError, match="2 head_fns but 1 head_params"):
        shared_trunk_vjp(trunk_fn, head_fns, trunk_params, head_params[:1], x)
    with pytest.raises(ValueError, match="head 0 returned a loss of shape"):
        shared_trunk_vjp(trunk_fn, [lambda p, h: h @ p], trunk_params, [jnp.ones(8)], x)
    with pytest.raises(TypeError, match=r"head_fns\[1\] must be callable"):
        shared_trunk_vjp(trunk_fn, [head_fns[0], 3], trunk_params, head_params, x)


# ---------------------------------------------------------------- gradient accumulation


def mlp_loss(params, batch):
    hidden = jnp.tanh(batch["x"] @ params["w1"] + params["b1"])
    return jnp.mean((hidden @ params["w2"] - batch["y"]) ** 2)


@pytest.fixture
def regression():
    k = jax.random.split(jax.random.key(3), 5)
    params = {
        "w1": jax.random.normal(k[0], (3, 6)),
        "b1": jax.random.normal(k[1], (6,)),
        "w2": jax.random.normal(k[2], (6,)),
    }
    batch = {"x": jax.random.normal(k[3], (24, 3)), "y": jax.random.normal(k[4], (24,))}
    return params, batch


@pytest.mark.parametrize("num_micro_batches", [1, 3, 8])
def test_accumulate_grads_equals_full_batch(regression, num_micro_batches):
    params, batch = regression
    loss, grads = accumulate_grads(mlp_loss, params, batch, num_micro_batches)
    expected_loss, expected_grads = jax.value_and_grad(mlp_loss)(params, batch)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5, atol=1e-6)
    assert_trees_close(grads, expected_grads, rtol=1e-5, atol=1e-6)


def test_accumulate_grads_rejects_indivisible_batch(regression):
    params, batch = regression
    with pytest.raises(ValueError, match=r"batch size 24 .* not divisible by num_micro_batches=5"):
        accumulate_grads(mlp_loss, params, batch, 5)


@pytest.mark.parametrize("bad", [0, -2, 2.0, True])
def test_accumulate_grads_rejects_non_positive_int_count(regression, bad):
    params, batch = regression
    with pytest.raises(ValueError, match="num_micro_batches must be a positive int"):
        accumulate_grads(mlp_loss, params, batch, bad)


def test_accumulate_grads_rejects_leaves_with_different_batch_sizes(regression):
    params, batch = regression
    with pytest.raises(ValueError, match="same leading"):
        accumulate_grads(mlp_loss, params, {**batch, "y": batch["y"][:20]}, 4)


# ---------------------------------------------------------------- under jax.jit


def test_pullback_crosses_jit(x):
    y, pb = vjp(sin_times, x)
    ct = jnp.arange(5.0)
    (inside,) = jax.jit(lambda pb, ct: pb(ct))(pb, ct)
    np.testing.assert_allclose(inside, pb(ct)[0], rtol=1e-6)

    made_in_jit = jax.jit(lambda x: vjp(sin_times, x)[1])(x)
    assert isinstance(made_in_jit, Pullback)
    np.testing.assert_allclose(made_in_jit(ct)[0], pb(ct)[0], rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        jax.jit(lambda pb: pb(jnp.ones(3)))(pb)


def test_residual_bytes_of_pullback_made_inside_jit(x):
    made_in_jit = jax.jit(lambda x: vjp(sin_times, x)[1])(x)
    jitted_leaves = jax.tree_util.tree_leaves(made_in_jit)
    assert jitted_leaves and all(isinstance(leaf, jax.Array) for leaf in jitted_leaves)
    assert 0 < made_in_jit.residual_bytes <= residual_bytes_of(sin_times, x)
    assert made_in_jit.residual_bytes == residual_bytes(jax.vjp(sin_times, x)[1])


def test_accumulate_grads_under_jit(regression):
    params, batch = regression
    step = jax.jit(accumulate_grads, static_argnums=(0, 3))
    loss, grads = step(mlp_loss, params, batch, 4)
    expected_loss, expected_grads = jax.value_and_grad(mlp_loss)(params, batch)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5, atol=1e-6)
    assert_trees_close(grads, expected_grads, rtol=1e-5, atol=1e-6)


def test_shared_trunk_vjp_under_jit(multi_task):
    trunk_fn, head_fns, trunk_params, head_params, x = multi_task
    step = jax.jit(functools.partial(shared_trunk_vjp, trunk_fn, head_fns))
    out = step(trunk_params, head_params, x)
    expected_trunk, expected_heads = summed_loss_grads(*multi_task)
    assert_trees_close(out.trunk_grads, expected_trunk, rtol=1e-5, atol=1e-6)
    assert_trees_close(list(out.head_grads), expected_heads, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- docs


def test_module_doctests_pass():
    modules = [F] + [
        importlib.import_module(info.name)
        for info in pkgutil.iter_modules(F.__path__, F.__name__ + ".")
    ]
    results = [doctest.testmod(m, verbose=False) for m in modules]
    assert sum(r.attempted for r in results) > 0
    assert sum(r.failed for r in results) == 0
