"""One model in both paradigms: Flax modules on the tape, tape modules as pure functions,
and weight conversion between PyTorch, tape and Flax layouts.

Oracles, computed at run time: `jax.grad` of the Flax `apply` (for `from_flax`), the tape's
own `.backward()` (for `functional_call` under `jax.grad` / `jax.jit`), and real PyTorch
(for the converted twin of a CNN).
"""

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch_twin import arr

import funcgrad.tape as tape
from funcgrad.tape import nn
from funcgrad.tape.nn import convert

RTOL, ATOL = 1e-4, 1e-5


class FlaxMLP(fnn.Module):
    @fnn.compact
    def __call__(self, x):
        return fnn.Dense(3)(jnp.tanh(fnn.Dense(16)(x)))


class FlaxCNN(fnn.Module):
    """The Flax twin of `tape_cnn` (NHWC activations, HWIO kernels)."""

    @fnn.compact
    def __call__(self, x):
        x = fnn.Conv(8, (3, 3), padding=1)(x)
        x = fnn.BatchNorm(use_running_average=True, epsilon=1e-5)(x)
        x = fnn.max_pool(jax.nn.relu(x), (2, 2), strides=(2, 2))
        x = jax.nn.relu(fnn.Conv(16, (3, 3), padding=1)(x))
        return fnn.Dense(5)(x.reshape(x.shape[0], -1))


def tape_cnn(n):
    """conv-bn-relu-pool-conv-relu-flatten-linear for 8x8 inputs, for a torch-like `nn`."""
    return n.Sequential(
        n.Conv2d(3, 8, 3, padding=1),
        n.BatchNorm2d(8),
        n.ReLU(),
        n.MaxPool2d(2),
        n.Conv2d(8, 16, 3, padding=1),
        n.ReLU(),
        n.Flatten(),
        n.Linear(16 * 4 * 4, 5),
    )


cnn_apply = jax.jit(FlaxCNN().apply)


def random_variables(model, x, seed):
    """Variables of model's structure with random values: `jax.eval_shape(model.init)`
    gives the structure without compiling Flax's initialisers (seconds per model)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)
    rng = np.random.default_rng(seed)

    def fill(path, s):
        value = rng.standard_normal(s.shape).astype(np.float32) * 0.3
        return jnp.asarray(np.abs(value) + 0.5 if path[-1].key == "var" else value)

    return jax.tree_util.tree_map_with_path(fill, shapes)


# tape submodule -> Flax module path (the Linear reads a flattened (16, 4, 4) feature map)
NAMES = {"0": "Conv_0", "1": "BatchNorm_0", "4": "Conv_1", "7": ("Dense_0", (16, 4, 4))}
X = arr(2, 3, 8, 8, seed=7)  # NCHW


def _trained_like_torch_cnn():
    """A torch CNN with non-trivial BatchNorm statistics, in eval mode."""
    torch.manual_seed(0)
    tm = tape_cnn(torch.nn)
    with torch.no_grad():
        tm[1].weight.uniform_(0.5, 1.5)
        tm[1].bias.uniform_(-0.5, 0.5)
        tm[1].running_mean.uniform_(-0.2, 0.2)
        tm[1].running_var.uniform_(0.5, 2.0)
    return tm.eval()


# ---------------------------------------------------------------- a Flax module on the tape
def test_from_flax_backward_grads_equal_jax_grad_of_the_apply():
    model, x = FlaxMLP(), arr(4, 5)
    variables = random_variables(model, x, 0)
    w = arr(4, 3, seed=1)
    fm = nn.from_flax(model, variables)
    xf = tape.tensor(x, requires_grad=True)
    y = fm(xf)
    (y * tape.tensor(w)).sum().backward()

    def loss(v, x):
        return jnp.sum(model.apply(v, x) * w)

    gv, gx = jax.jit(jax.grad(loss, argnums=(0, 1)))(variables, x)
    np.testing.assert_allclose(y.detach().numpy(), jax.jit(model.apply)(variables, x), rtol=RTOL)
    np.testing.assert_allclose(xf.grad.numpy(), gx, rtol=RTOL, atol=ATOL)
    names = [n for n, _ in fm.named_parameters()]
    assert names == ["Dense_0.bias", "Dense_0.kernel", "Dense_1.bias", "Dense_1.kernel"]
    for name, p in fm.named_parameters():
        layer, leaf = name.split(".")
        assert p.is_leaf and p.requires_grad
        np.testing.assert_allclose(
            p.grad.numpy(), gv["params"][layer][leaf], rtol=RTOL, atol=ATOL, err_msg=name
        )


def test_from_flax_apply_is_one_op_whose_inputs_are_the_leaves():
    model, x = FlaxMLP(), arr(4, 5)
    fm = nn.from_flax(model, random_variables(model, x, 0))
    xf = tape.tensor(x, requires_grad=True)
    y = fm(xf)
    assert y.grad_fn.name() == "FlaxApplyBackward0"
    edges = [node.variable for node, _ in y.grad_fn.next_functions]
    assert edges[0] is xf and edges[1:] == list(fm.parameters())


def test_from_flax_collections_become_buffers_and_state_dict_round_trips():
    model = FlaxCNN()
    variables = random_variables(model, convert.nchw_to_nhwc(X), 1)
    fm = nn.from_flax(model, variables)
    assert [n for n, _ in fm.named_buffers()] == [
        "batch_stats.BatchNorm_0.mean",
        "batch_stats.BatchNorm_0.var",
    ]
    assert "BatchNorm_0.scale" in dict(fm.named_parameters())
    sd = fm.state_dict()
    twin = nn.from_flax(model, random_variables(model, convert.nchw_to_nhwc(X), 2))
    twin.load_state_dict(sd)
    x = tape.tensor(convert.nchw_to_nhwc(X))
    np.testing.assert_array_equal(twin(x).detach().numpy(), fm(x).detach().numpy())
    assert repr(fm) == "FlaxModule(FlaxCNN)"


def test_sgd_steps_on_the_tape_update_the_flax_variables_like_jax():
    model, x, target = FlaxMLP(), arr(8, 5), arr(8, 3, seed=2)
    variables = random_variables(model, x, 3)
    fm = nn.from_flax(model, variables)
    lr = 0.1
    for _ in range(3):
        fm.zero_grad()
        loss = nn.MSELoss()(fm(tape.tensor(x)), tape.tensor(target))
        loss.backward()
        with tape.no_grad():
            for p in fm.parameters():
                p -= lr * p.grad

    def jax_loss(v):
        return jnp.mean((model.apply(v, x) - target) ** 2)

    grad = jax.jit(jax.grad(jax_loss))
    for _ in range(3):
        grads = grad(variables)
        variables = jax.tree_util.tree_map(lambda v, g: v - lr * g, variables, grads)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL),
        fm.flax_variables(),
        variables,
    )


# ---------------------------------------------------------------- a tape module as a function
def _params(module):
    return {k: v.detach().array for k, v in module.named_parameters()}


def test_functional_call_under_jax_grad_and_jit_equals_tape_backward():
    tm = _trained_like_torch_cnn()
    fm = nn.Sequential(*tape_cnn(nn)).eval()
    fm.load_state_dict(tm.state_dict())
    labels = np.array([1, 4])
    xf = tape.tensor(X, requires_grad=True)
    loss = nn.CrossEntropyLoss()(fm(xf), tape.tensor(labels))
    loss.backward()

    def jax_loss(params, x):
        logits = nn.functional_call(fm, params, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))

    params = _params(fm)
    value, (grads, gx) = jax.jit(jax.value_and_grad(jax_loss, argnums=(0, 1)))(params, X)
    np.testing.assert_allclose(value, loss.item(), rtol=1e-5)
    np.testing.assert_allclose(gx, xf.grad.numpy(), rtol=RTOL, atol=ATOL)
    for name, p in fm.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def test_functional_call_leaves_the_module_unchanged_and_leaks_no_tracers():
    tape.manual_seed(0)
    fm = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))  # training mode
    before = {k: v.detach().numpy().copy() for k, v in fm.state_dict().items()}
    weight = fm[0].weight
    out = jax.jit(lambda p, x: nn.functional_call(fm, p, x))(_params(fm), arr(6, 4))
    assert out.shape == (6, 4) and isinstance(out, jax.Array)
    assert fm[0].weight is weight and fm[0].weight.grad is None
    for k, v in fm.state_dict().items():  # concrete values, as before the call
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    assert tape.rand(2).shape == (2,)  # the generator holds no tracer


def test_functional_call_replaces_only_the_given_names_and_ignores_unknown_ones_like_torch():
    lin = nn.Linear(3, 2)
    x = arr(4, 3)
    out = nn.functional_call(lin, {"bias": jnp.ones(2)}, x)
    expected = x @ lin.weight.detach().numpy().T + 1
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    ignored = nn.functional_call(lin, {"bias": jnp.ones(2), "bais": jnp.ones(2)}, x)
    np.testing.assert_allclose(ignored, expected, rtol=1e-6)  # PyTorch ignores it too
    with pytest.raises(RuntimeError) as torch_error:
        torch.func.functional_call(torch.nn.Linear(3, 2), {"bais": torch.ones(2)}, (), strict=True)
    with pytest.raises(RuntimeError) as tape_error:
        nn.functional_call(lin, {"bais": jnp.ones(2)}, x, strict=True)
    assert str(tape_error.value) == str(torch_error.value)
    assert "Unexpected key(s): 'bais'." in str(tape_error.value)


# ---------------------------------------------------------------- layout conversion
KINDS = {
    "numpy": lambda a: a,
    "jax": jnp.asarray,
    "torch": torch.tensor,
    "tape": tape.tensor,
}


def _numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, tape.Tensor):
        return x.detach().numpy()
    return np.asarray(x)


@pytest.mark.parametrize("kind", KINDS)
def test_layout_conversions_round_trip_and_keep_the_array_kind(kind):
    make = KINDS[kind]
    cases = [
        (convert.nchw_to_nhwc, convert.nhwc_to_nchw, arr(2, 3, 4, 5), (2, 4, 5, 3)),
        (convert.oihw_to_hwio, convert.hwio_to_oihw, arr(8, 3, 5, 4), (5, 4, 3, 8)),
        (convert.linear_to_kernel, convert.kernel_to_linear, arr(10, 6), (6, 10)),
    ]
    for there, back, a, shape in cases:
        moved = there(make(a))
        assert type(moved) is type(make(a)) and tuple(moved.shape) == shape
        np.testing.assert_array_equal(_numpy(back(moved)), a)
    moved = convert.linear_to_kernel(make(arr(10, 2 * 3 * 4)), input_chw=(2, 3, 4))
    np.testing.assert_array_equal(
        _numpy(convert.kernel_to_linear(moved, input_chw=(2, 3, 4))), arr(10, 2 * 3 * 4)
    )


def test_layout_conversions_mean_the_same_layer():
    # conv: a PyTorch conv on NCHW equals a Flax conv on NHWC with the converted kernel
    w, b, x = arr(6, 3, 3, 2, seed=1), arr(6, seed=2), arr(2, 3, 7, 7, seed=3)
    yt = torch.nn.functional.conv2d(
        torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=1
    ).numpy()
    conv = fnn.Conv(6, (3, 2), padding=1)
    yf = conv.apply(
        {"params": {"kernel": convert.oihw_to_hwio(w), "bias": b}}, convert.nchw_to_nhwc(x)
    )
    np.testing.assert_allclose(convert.nhwc_to_nchw(np.asarray(yf)), yt, rtol=RTOL, atol=ATOL)
    # linear after flatten: NCHW flattened (C, H, W) against NHWC flattened (H, W, C)
    wl, feat = arr(5, 2 * 3 * 4, seed=4), arr(2, 2, 3, 4, seed=5)
    yt = feat.reshape(2, -1) @ wl.T
    kernel = convert.linear_to_kernel(wl, input_chw=(2, 3, 4))
    yf = convert.nchw_to_nhwc(feat).reshape(2, -1) @ kernel
    np.testing.assert_allclose(yf, yt, rtol=RTOL, atol=ATOL)


def test_layout_conversion_of_tape_tensors_is_differentiable():
    w = tape.tensor(arr(4, 3, 2, 2), requires_grad=True)
    k = convert.oihw_to_hwio(w)
    assert k.grad_fn.name() == "PermuteBackward0"
    (k * tape.tensor(convert.oihw_to_hwio(arr(4, 3, 2, 2, seed=1)))).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), arr(4, 3, 2, 2, seed=1))


def test_torch_tape_and_flax_twins_give_the_same_outputs_and_gradients():
    tm = _trained_like_torch_cnn()
    fm = nn.Sequential(*tape_cnn(nn)).eval()
    fm.load_state_dict(tm.state_dict())  # PyTorch -> tape: a real torch state dict
    variables = convert.to_flax(fm, NAMES)  # tape -> Flax
    w = arr(2, 5, seed=11)

    xt, xf = torch.tensor(X, requires_grad=True), tape.tensor(X, requires_grad=True)
    yt, yf = tm(xt), fm(xf)
    (yt * torch.tensor(w)).sum().backward()
    (yf * tape.tensor(w)).sum().backward()

    def flax_loss(params, x_nhwc):
        v = {"params": params, "batch_stats": variables["batch_stats"]}
        return jnp.sum(FlaxCNN().apply(v, x_nhwc) * w)

    x_nhwc = convert.nchw_to_nhwc(X)
    yj = cnn_apply(variables, x_nhwc)
    gp, gx = jax.jit(jax.grad(flax_loss, argnums=(0, 1)))(variables["params"], x_nhwc)
    for y in (yf.detach().numpy(), np.asarray(yj)):
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=RTOL, atol=ATOL)
    for g in (xf.grad.numpy(), convert.nhwc_to_nchw(np.asarray(gx))):
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    # Flax gradients, converted back to PyTorch layout, are the tape's and torch's grads
    grads_as_torch = convert.from_flax_variables(
        fm, {"params": gp, "batch_stats": variables["batch_stats"]}, NAMES
    )
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(
            fm.get_parameter(name).grad.numpy(), p.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )
        np.testing.assert_allclose(
            grads_as_torch[name], p.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )


def test_flax_variables_convert_to_a_tape_state_dict_and_back_exactly():
    variables = random_variables(FlaxCNN(), convert.nchw_to_nhwc(X), 4)
    fm = nn.Sequential(*tape_cnn(nn)).eval()
    steps_before = fm[1].num_batches_tracked.item()
    fm.load_state_dict(convert.from_flax_variables(fm, variables, NAMES))
    assert fm[1].num_batches_tracked.item() == steps_before
    np.testing.assert_allclose(
        fm(tape.tensor(X)).detach().numpy(),
        cnn_apply(variables, convert.nchw_to_nhwc(X)),
        rtol=RTOL,
        atol=ATOL,
    )
    back = convert.to_flax(fm, NAMES)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(variables)
    jax.tree_util.tree_map(np.testing.assert_array_equal, back, variables)


def test_conversion_of_an_unknown_layer_says_so():
    with pytest.raises(TypeError, match="no Flax layout is known for ReLU"):
        convert.to_flax(nn.Sequential(nn.ReLU()), {"0": "Dense_0"})
