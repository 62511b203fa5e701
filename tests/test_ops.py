"""Tests for funcgrad.tape.ops: every op of the table, checked by tests parametrized over it.

Adding a differentiable op to `OPS` (with its `sample`) adds its tests here automatically.
Oracles, all computed at run time: `jax.grad` of the same computation written functionally
with `op.fn`, numerical differences (`jax.test_util.check_grads`, in float64), and real
PyTorch for node names, values and gradients of a representative subset.

Sample points. Float inputs are drawn without replacement from a grid of points
`h * (k + 1/2)` in (-1.25, 1.25), where 0.5 is a multiple of the step `h` (0.05 for samples
of up to 50 values, finer for larger ones), then jittered by less than `h / 5`. So every
value is at least `0.3 * h` away from every multiple of 0.5 (the kinks of abs, relu,
leaky_relu, elu, sign and clamp(-0.5, 0.5); the jumps of floor, ceil, round and `x % 0.5`),
and all float values of one op (across all its inputs) differ by at least `0.6 * h`: no
ties for max, min, maximum, minimum, amax, amin, max_pool2d. With h = 0.05 both margins are
an order of magnitude above the numerical check's eps (1e-3). The range also keeps tan away
from its poles. `positive=True` samples are uniform in (0.5, 2), `positive=(low, high)` ones
in that interval (for ops defined on one: asin, atanh, erfinv, logit, acosh). Integer index
inputs are drawn without replacement when there are enough values (a scatter with duplicate indices
has no well-defined gradient); boolean masks are uniform.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax.test_util import check_grads

import funcgrad.tape as tape
from funcgrad.tape import autograd
from funcgrad.tape.ops import OPS
from funcgrad.tape.tensor import apply

DIFFERENTIABLE = [op for op in OPS.values() if op.differentiable]
NON_DIFFERENTIABLE = [op for op in OPS.values() if not op.differentiable]

by_op = functools.partial(pytest.mark.parametrize, "op", ids=lambda op: op.name)


# ---------------------------------------------------------------- building a sample


def _kink_free_floats(rng, n):
    """`n` distinct floats in (-1.25, 1.25), each away from every multiple of 0.5."""
    m = max(10, -(-n // 5))  # grid step h = 0.5 / m; the grid holds 5 * m points
    h = 0.5 / m
    grid = h * (np.arange(-(5 * m) // 2, (5 * m) // 2) + 0.5)
    values = rng.choice(grid, size=n, replace=False)
    return values + rng.uniform(-h / 5, h / 5, size=n)


def _sample(op, seed=0):
    """The op's sample inputs as numpy arrays / python scalars, and its static kwargs.

    Returns (args, float_positions, static): float inputs are float32 numpy arrays.
    """
    if not op.sample:
        raise AssertionError(f"op {op.name!r} is differentiable but has no sample")
    rng = np.random.default_rng(seed)
    specs, positive = op.sample["inputs"], op.sample["positive"]
    float_positions = [
        i for i, s in enumerate(specs) if isinstance(s, tuple) and (not s or isinstance(s[0], int))
    ]
    sizes = [int(np.prod(specs[i], dtype=np.int64)) for i in float_positions]
    if positive:  # True: (0.5, 2); a (low, high) pair: that interval (asin, erfinv, ...)
        low, high = positive if isinstance(positive, tuple) else (0.5, 2.0)
        flat = rng.uniform(low, high, size=sum(sizes))
    else:
        flat = _kink_free_floats(rng, sum(sizes))
    chunks = iter(np.split(flat, np.cumsum(sizes)[:-1]))
    args = []
    for spec in specs:
        if not isinstance(spec, tuple):
            args.append(spec)  # a python scalar
        elif spec and spec[0] == "bool":
            args.append(rng.random(spec[1]) < 0.5)
        elif spec and spec[0] == "int":
            shape, high = spec[1], spec[2]
            n = int(np.prod(shape, dtype=np.int64))
            args.append(rng.choice(high, size=n, replace=n > high).reshape(shape))
        else:
            args.append(next(chunks).reshape(spec).astype(np.float32))
    return args, float_positions, dict(op.sample["static"])


def _is_float(x):
    return jnp.issubdtype(x.dtype, jnp.inexact)


def _outputs(op, out):
    return tuple(out) if op.multi else (out,)


def _functional_outputs(op, args, float_positions, static):
    """The op as a function of its float inputs only (the other inputs are constants)."""
    fn = functools.partial(op.fn, **static)
    args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]

    def outputs(*floats):
        full = list(args)
        for i, x in zip(float_positions, floats, strict=True):
            full[i] = jnp.asarray(x)
        return _outputs(op, fn(*full))

    return outputs


def _output_weights(op, args, float_positions, static, rng):
    """A fixed random weight per floating output (None for integer outputs)."""
    outputs = _functional_outputs(op, args, float_positions, static)
    outs = jax.eval_shape(outputs, *[args[i] for i in float_positions])
    return [rng.standard_normal(o.shape).astype(np.float32) if _is_float(o) else None for o in outs]


def _functional_loss(op, args, float_positions, static, weights):
    """`sum((out * w).sum())` over the floating outputs, as a function of the float inputs."""
    outputs = _functional_outputs(op, args, float_positions, static)

    def loss(*floats):
        outs = outputs(*floats)
        return sum(jnp.sum(o * w) for o, w in zip(outs, weights, strict=True) if w is not None)

    return loss


def _tape_run(op, args, float_positions, static):
    """Runs the op on the tape with the float inputs as leaves; returns (leaves, outputs)."""
    inputs = [
        tape.tensor(a, requires_grad=i in float_positions) if isinstance(a, np.ndarray) else a
        for i, a in enumerate(args)
    ]
    leaves = [inputs[i] for i in float_positions]
    return leaves, _outputs(op, apply(op.name, *inputs, **static))


def _weighted(outs, weights):
    """The floating outputs and their weights as tape tensors: backward of `outs` with
    `grad_tensors=weights` is the gradient of `sum((out * w).sum())`, with no extra ops."""
    pairs = [(o, tape.tensor(w)) for o, w in zip(outs, weights, strict=True) if w is not None]
    return [o for o, _ in pairs], [w for _, w in pairs]


def _grad_or_zeros(leaf):
    return np.zeros(leaf.shape, np.float32) if leaf.grad is None else leaf.grad.detach().numpy()


# ---------------------------------------------------------------- the table is complete


def test_every_differentiable_op_has_a_sample():
    missing = [op.name for op in DIFFERENTIABLE if not op.sample]
    assert not missing, f"differentiable ops without a sample: {missing}"


def test_every_op_name_matches_its_table_key():
    assert [op.name for op in OPS.values()] == list(OPS)


# ---------------------------------------------------------------- gradients


@by_op(DIFFERENTIABLE)
def test_op_gradient_matches_jax_grad(op):
    args, float_positions, static = _sample(op)
    weights = _output_weights(op, args, float_positions, static, np.random.default_rng(1))

    leaves, outs = _tape_run(op, args, float_positions, static)
    autograd.backward(*_weighted(outs, weights))

    loss = _functional_loss(op, args, float_positions, static, weights)
    floats = [args[i] for i in float_positions]
    expected = jax.jit(jax.grad(loss, argnums=tuple(range(len(floats)))))(*floats)
    for leaf, e in zip(leaves, expected, strict=True):
        assert leaf.grad is not None, f"{op.name}: no gradient reached a float input"
        assert leaf.grad.shape == leaf.shape
        np.testing.assert_allclose(leaf.grad.numpy(), e, rtol=1e-5, atol=1e-5)


# Ops whose PyTorch gradient is by definition not the derivative of their forward:
# Embedding(scale_grad_by_freq=True) divides each row's gradient by its index count. Their
# gradients are compared with jax.grad above and with real PyTorch in test_nn_more.py.
NOT_A_DERIVATIVE = {"embedding_scaled"}


@by_op([op for op in DIFFERENTIABLE if op.name not in NOT_A_DERIVATIVE])
def test_op_gradient_passes_numerical_check(op):
    args, float_positions, static = _sample(op)
    weights = _output_weights(op, args, float_positions, static, np.random.default_rng(1))
    with jax.enable_x64(True):  # restored on exit: other tests keep float32
        loss = _functional_loss(op, args, float_positions, static, weights)
        floats = [jnp.asarray(args[i], jnp.float64) for i in float_positions]
        check_grads(jax.jit(loss), floats, order=1, modes=["rev"], eps=1e-3, atol=1e-4, rtol=1e-4)
    assert not jax.config.jax_enable_x64


@by_op(DIFFERENTIABLE)
def test_op_double_backward_matches_jax(op):
    args, float_positions, static = _sample(op)
    rng = np.random.default_rng(1)
    weights = _output_weights(op, args, float_positions, static, rng)
    weights2 = [rng.standard_normal(args[i].shape).astype(np.float32) for i in float_positions]

    leaves, outs = _tape_run(op, args, float_positions, static)
    float_outs, ws = _weighted(outs, weights)
    grads = autograd.grad(float_outs, leaves, ws, create_graph=True, allow_unused=True)
    second = [
        (g, tape.tensor(w))
        for g, w in zip(grads, weights2, strict=True)
        if g is not None and g.requires_grad
    ]
    # An op linear in its inputs has first grads that do not depend on them: nothing to
    # backward, and its second derivative is zero (checked against jax below all the same).
    if second:
        autograd.backward([g for g, _ in second], [w for _, w in second])

    loss = _functional_loss(op, args, float_positions, static, weights)
    argnums = tuple(range(len(float_positions)))

    def grad_dot_w2(*floats):
        gs = jax.grad(loss, argnums=argnums)(*floats)
        return sum(jnp.sum(g * w) for g, w in zip(gs, weights2, strict=True))

    floats = [args[i] for i in float_positions]
    expected = jax.jit(jax.grad(grad_dot_w2, argnums=argnums))(*floats)
    for leaf, e in zip(leaves, expected, strict=True):
        np.testing.assert_allclose(_grad_or_zeros(leaf), e, rtol=1e-5, atol=1e-5)


def test_double_backward_reaches_leaves_through_a_nonlinear_op():
    # Guards the test above: for a non-linear op the second-order path must exist.
    args, float_positions, static = _sample(OPS["tanh"])
    leaves, outs = _tape_run(OPS["tanh"], args, float_positions, static)
    (g,) = autograd.grad(outs[0].sum(), leaves, create_graph=True)
    assert g.requires_grad
    g.sum().backward()
    assert leaves[0].grad is not None


# ---------------------------------------------------------------- non-differentiable ops

_NON_DIFFERENTIABLE_ARITY = {
    "eq": 2,
    "ne": 2,
    "lt": 2,
    "le": 2,
    "gt": 2,
    "ge": 2,
    "logical_not": 1,
    "logical_and": 2,
    "logical_or": 2,
    "isnan": 1,
    "floor_divide": 2,
    "argmax": 1,
    "argmin": 1,
    "all": 1,
    "any": 1,
    "isinf": 1,
    "isfinite": 1,
    "isposinf": 1,
    "isneginf": 1,
    "signbit": 1,
    "logical_xor": 2,
    "isclose": 2,
    "count_nonzero": 1,
}


@by_op(NON_DIFFERENTIABLE)
def test_non_differentiable_op_output_does_not_require_grad(op):
    assert op.name in _NON_DIFFERENTIABLE_ARITY, f"add {op.name!r} to _NON_DIFFERENTIABLE_ARITY"
    rng = np.random.default_rng(0)
    inputs = [
        tape.tensor(_kink_free_floats(rng, 6).reshape(2, 3).astype(np.float32), requires_grad=True)
        for _ in range(_NON_DIFFERENTIABLE_ARITY[op.name])
    ]
    out = apply(op.name, *inputs)
    assert out.requires_grad is False
    assert out.grad_fn is None
    assert out.is_leaf


# ---------------------------------------------------------------- against real PyTorch


def _index(t):
    return t.tensor([3, 0, 2])


def _gather_index(t):
    return t.tensor([[0, 3], [1, 1], [2, 0]])


def _mask(t):
    return t.tensor([True, False, False, True])


# case -> (the table op it records, expression of a torch-like module `t` and float inputs,
#          float input shapes, whether the inputs are positive)
TORCH_CASES = {
    "add": ("add", lambda t, x, y: x + y, [(3, 4), (4,)], False),
    "sub": ("sub", lambda t, x, y: x - y, [(3, 4), (3, 1)], False),
    "rsub": ("rsub", lambda t, x: 2.0 - x, [(3,)], False),
    "mul": ("mul", lambda t, x, y: x * y, [(2, 3), (2, 3)], False),
    "div": ("div", lambda t, x, y: x / y, [(2, 3), (3,)], True),
    "rdiv": ("rdiv", lambda t, x: 3.0 / x, [(4,)], True),
    "neg": ("neg", lambda t, x: -x, [(3,)], False),
    "pow": ("pow", lambda t, x: x**3, [(3,)], False),
    "pow_tensor": ("pow_tensor", lambda t, x, y: x**y, [(3,), (3,)], True),
    "remainder": ("remainder", lambda t, x, y: x % y, [(8,), (8,)], True),
    "remainder_scalar": ("remainder_scalar", lambda t, x: x % 0.5, [(4,)], False),
    "rpow": ("rpow", lambda t, x: 2.0**x, [(3,)], False),
    "exp": ("exp", lambda t, x: x.exp(), [(3, 2)], False),
    "log": ("log", lambda t, x: x.log(), [(3,)], True),
    "tanh": ("tanh", lambda t, x: x.tanh(), [(3,)], False),
    "sigmoid": ("sigmoid", lambda t, x: x.sigmoid(), [(3,)], False),
    "relu": ("relu", lambda t, x: x.relu(), [(6,)], False),
    "sqrt": ("sqrt", lambda t, x: x.sqrt(), [(3,)], True),
    "square": ("square", lambda t, x: x.square(), [(3,)], False),
    "abs": ("abs", lambda t, x: x.abs(), [(4,)], False),
    "clamp": ("clamp", lambda t, x: x.clamp(-0.5, 0.5), [(6,)], False),
    "sign": ("sign", lambda t, x: x.sign(), [(3,)], False),
    "floor": ("floor", lambda t, x: x.floor(), [(3,)], False),
    "round": ("round", lambda t, x: x.round(), [(3,)], False),
    "maximum": ("maximum", lambda t, x, y: t.maximum(x, y), [(5,), (5,)], False),
    "softmax": ("softmax", lambda t, x: x.softmax(1), [(2, 5)], False),
    "log_softmax": ("log_softmax", lambda t, x: x.log_softmax(-1), [(2, 5)], False),
    "mm": ("mm", lambda t, x, y: x @ y, [(3, 4), (4, 2)], False),
    "bmm": ("bmm", lambda t, x, y: x.bmm(y), [(2, 3, 4), (2, 4, 2)], False),
    "matmul_3d_3d": ("matmul", lambda t, x, y: x @ y, [(2, 3, 4), (2, 4, 2)], False),
    "matmul": ("matmul", lambda t, x, y: x @ y, [(2, 3, 4), (4, 5)], False),
    "sum": ("sum", lambda t, x: x.sum(), [(2, 3)], False),
    "sum_dim": ("sum_dim", lambda t, x: x.sum((0, 2), keepdim=True), [(2, 3, 2)], False),
    "mean": ("mean", lambda t, x: x.mean(), [(2, 3)], False),
    "mean_dim": ("mean_dim", lambda t, x: x.mean(1), [(2, 3)], False),
    "max": ("max", lambda t, x: x.max(), [(2, 3)], False),
    "max_dim": ("max_dim", lambda t, x: x.max(dim=1).values, [(3, 4)], False),
    "amax": ("amax", lambda t, x: x.amax(1), [(3, 4)], False),
    "logsumexp": ("logsumexp", lambda t, x: x.logsumexp(1), [(3, 4)], False),
    "var": ("var", lambda t, x: x.var(1), [(3, 4)], False),
    "std": ("std", lambda t, x: x.std(), [(5,)], False),
    "norm": ("norm", lambda t, x: x.norm(dim=1), [(3, 4)], False),
    "cumsum": ("cumsum", lambda t, x: x.cumsum(1), [(3, 4)], False),
    "view": ("view", lambda t, x: x.view(3, 2), [(2, 3)], False),
    "reshape": ("view", lambda t, x: x.reshape(3, 2), [(2, 3)], False),
    "transpose": ("transpose", lambda t, x: x.transpose(0, 2), [(2, 3, 4)], False),
    "t": ("t", lambda t, x: x.t(), [(2, 3)], False),
    "permute": ("permute", lambda t, x: x.permute(1, 2, 0), [(2, 3, 4)], False),
    "diagonal": ("diagonal", lambda t, x: x.diagonal(1), [(3, 4)], False),
    "squeeze": ("squeeze", lambda t, x: x.squeeze(), [(2, 1, 3)], False),
    "squeeze_dim": ("squeeze_dim", lambda t, x: x.squeeze(1), [(2, 1, 3)], False),
    "unsqueeze": ("unsqueeze", lambda t, x: x.unsqueeze(1), [(2, 3)], False),
    "expand": ("expand", lambda t, x: x.expand(2, 3, 4), [(3, 1)], False),
    "repeat": ("repeat", lambda t, x: x.repeat(2, 1), [(2, 3)], False),
    "flip": ("flip", lambda t, x: x.flip(1), [(2, 3)], False),
    "clone": ("clone", lambda t, x: x.clone(), [(3,)], False),
    "cat": ("cat", lambda t, x, y: t.cat([x, y], 0), [(2, 3), (1, 3)], False),
    "stack": ("stack", lambda t, x, y: t.stack([x, y], 1), [(3,), (3,)], False),
    "split": ("split", lambda t, x: x.split(2, 0)[1], [(5, 2)], False),
    "split_with_sizes": (
        "split_with_sizes",
        lambda t, x: x.split([1, 3, 1], 0)[1],
        [(5, 2)],
        False,
    ),
    "unbind": ("unbind", lambda t, x: x.unbind(1)[0], [(3, 2)], False),
    "where": ("where", lambda t, x, y: t.where(x > y, x, y), [(4,), (4,)], False),
    "masked_fill": ("masked_fill", lambda t, x: x.masked_fill(_mask(t), 0.5), [(4,)], False),
    "gather": ("gather", lambda t, x: x.gather(1, _gather_index(t)), [(3, 4)], False),
    "select": ("select", lambda t, x: x[1], [(3, 4)], False),
    "slice": ("slice", lambda t, x: x[0:2, 1::2], [(3, 4)], False),
    "index": ("index", lambda t, x: x[_index(t)], [(5, 3)], False),
}


def _torch_case_inputs(name):
    _, _, shapes, positive = TORCH_CASES[name]
    rng = np.random.default_rng(0)
    sizes = [int(np.prod(s)) for s in shapes]
    flat = rng.uniform(0.5, 2.0, sum(sizes)) if positive else _kink_free_floats(rng, sum(sizes))
    return [
        c.reshape(s).astype(np.float32)
        for c, s in zip(np.split(flat, np.cumsum(sizes)[:-1]), shapes, strict=True)
    ]


def _run_both(name):
    expr = TORCH_CASES[name][1]
    arrays = _torch_case_inputs(name)
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    xf = [tape.tensor(a, requires_grad=True) for a in arrays]
    return expr(torch, *xt), xt, expr(tape, *xf), xf


@pytest.mark.parametrize("name", TORCH_CASES)
def test_op_node_name_matches_pytorch(name):
    yt, _, yf, _ = _run_both(name)
    assert yf.grad_fn.name() == OPS[TORCH_CASES[name][0]].node  # the case runs the op it names
    assert type(yf.grad_fn).__name__ == type(yt.grad_fn).__name__
    assert yf.grad_fn.name() == yt.grad_fn.name()


@pytest.mark.parametrize("name", TORCH_CASES)
def test_op_value_and_gradient_match_pytorch(name):
    yt, xt, yf, xf = _run_both(name)
    np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    (yt * torch.tensor(w)).sum().backward()
    (yf * tape.tensor(w)).sum().backward()
    for a, b in zip(xf, xt, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_backward_from_two_outputs_of_one_multi_output_op_matches_pytorch():
    # Both roots are edges of one SplitBackward0 node: it must run once, with both grads.
    grads = []
    for lib in (torch, tape):
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        a, b = x.split(2)
        lib.autograd.backward([a, b], [lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])])
        grads.append(np.asarray(x.grad.tolist()))
    np.testing.assert_array_equal(grads[1], grads[0])
