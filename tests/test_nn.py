"""Tests for funcgrad.tape.nn against real PyTorch (torch 2.13, CPU), computed at run time.

Layers: the weights of a real torch module are loaded into the tape module with
`load_state_dict(torch_module.state_dict())`; both run the same input; outputs, every
parameter's `.grad` and the input's `.grad` are compared (float32 tolerances). Module
machinery (names, state dicts, repr, hooks, modes) is compared with torch's behaviour on
the same model. Random draws (init, dropout) differ from torch's bits, so their
distributions are compared instead.
"""

import copy
import math
import re
import warnings

import numpy as np
import pytest
import torch
from torch_twin import arr, raises, twin

import funcgrad.tape as tape
import funcgrad.tape.nn.functional as F
from funcgrad.tape import nn

RTOL, ATOL = 1e-4, 1e-5


# ---------------------------------------------------------------- helpers
def _np(t):
    return t.detach().numpy()


def _tape_twin(torch_module, tape_module):
    """Loads the torch module's real state dict into the tape module; both in its mode."""
    tape_module.load_state_dict(torch_module.state_dict())
    tape_module.train(torch_module.training)
    return tape_module


def _compare_forward_backward(tm, fm, x, *, x_requires_grad=True, rtol=RTOL, atol=ATOL):
    """Same input through both modules, then backward of sum(y * w) for a fixed random w."""
    xt = torch.tensor(x, requires_grad=x_requires_grad)
    xf = tape.tensor(x, requires_grad=x_requires_grad)
    yt, yf = tm(xt), fm(xf)
    np.testing.assert_allclose(_np(yf), _np(yt), rtol=rtol, atol=atol)
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    (yt * torch.tensor(w)).sum().backward()
    (yf * tape.tensor(w)).sum().backward()
    if x_requires_grad:
        np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol)
    tp, fp = dict(tm.named_parameters()), dict(fm.named_parameters())
    assert list(fp) == list(tp)
    for name in tp:
        np.testing.assert_allclose(
            fp[name].grad.numpy(), tp[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )
    return yt, yf


IMG = (2, 4, 7, 7)  # one image shape for most layer cases: fewer JAX compilations

# case -> (constructor of a torch-like `nn` namespace, input shape)
LAYER_CASES = {
    "linear": (lambda n: n.Linear(5, 3), (4, 5)),
    "linear_no_bias": (lambda n: n.Linear(5, 3, bias=False), (4, 5)),
    "linear_3d_input": (lambda n: n.Linear(5, 3), (2, 4, 5)),
    "linear_1d_input": (lambda n: n.Linear(5, 3), (5,)),
    "conv2d": (lambda n: n.Conv2d(4, 6, 3), IMG),
    "conv2d_stride_padding": (lambda n: n.Conv2d(4, 6, 3, stride=2, padding=1), IMG),
    "conv2d_rect_kernel_tuple_padding": (lambda n: n.Conv2d(4, 3, (3, 2), padding=(1, 2)), IMG),
    "conv2d_same_even_kernel_dilated": (
        lambda n: n.Conv2d(4, 6, 4, padding="same", dilation=2),
        IMG,
    ),
    "conv2d_valid_groups_no_bias": (
        lambda n: n.Conv2d(4, 6, 3, padding="valid", groups=2, bias=False),
        IMG,
    ),
    "conv2d_depthwise_strided_dilated": (
        lambda n: n.Conv2d(4, 4, 3, stride=(2, 1), dilation=(1, 2), groups=4),
        IMG,
    ),
    "conv2d_unbatched": (lambda n: n.Conv2d(4, 6, 3, padding=1), IMG[1:]),
    "max_pool2d": (lambda n: n.MaxPool2d(2), IMG),
    "max_pool2d_padding_ceil": (lambda n: n.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), IMG),
    "max_pool2d_dilation": (lambda n: n.MaxPool2d(2, stride=1, dilation=2), IMG),
    "avg_pool2d": (lambda n: n.AvgPool2d(2), IMG),
    "avg_pool2d_padding_ceil": (lambda n: n.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), IMG),
    "avg_pool2d_exclude_pad": (
        lambda n: n.AvgPool2d((3, 2), stride=2, padding=1, count_include_pad=False),
        IMG,
    ),
    "avg_pool2d_exclude_pad_ceil": (
        lambda n: n.AvgPool2d(2, padding=1, ceil_mode=True, count_include_pad=False),
        IMG,
    ),
    "avg_pool2d_ceil_window_past_the_edge": (lambda n: n.AvgPool2d(2, ceil_mode=True), IMG),
    "max_pool2d_ceil_window_past_the_edge": (lambda n: n.MaxPool2d(2, ceil_mode=True), IMG),
    "avg_pool2d_divisor_override": (lambda n: n.AvgPool2d(2, divisor_override=3), IMG),
    "adaptive_avg_pool2d_global": (lambda n: n.AdaptiveAvgPool2d((1, 1)), IMG),
    "adaptive_avg_pool2d_uneven": (lambda n: n.AdaptiveAvgPool2d((3, 2)), IMG),
    "adaptive_avg_pool2d_none": (lambda n: n.AdaptiveAvgPool2d((None, 4)), IMG),
    "relu": (lambda n: n.ReLU(), IMG),
    "sigmoid": (lambda n: n.Sigmoid(), IMG),
    "tanh": (lambda n: n.Tanh(), IMG),
    "gelu": (lambda n: n.GELU(), IMG),
    "gelu_tanh": (lambda n: n.GELU(approximate="tanh"), IMG),
    "silu": (lambda n: n.SiLU(), IMG),
    "leaky_relu": (lambda n: n.LeakyReLU(0.2), IMG),
    "softmax": (lambda n: n.Softmax(dim=1), IMG),
    "log_softmax": (lambda n: n.LogSoftmax(dim=-1), IMG),
    "flatten": (lambda n: n.Flatten(), IMG),
    "identity": (lambda n: n.Identity(54, unused=True), IMG),
    "dropout_eval": (lambda n: n.Dropout(0.3).eval(), IMG),
    "batch_norm2d_train": (lambda n: n.BatchNorm2d(4), IMG),
    "batch_norm2d_eval": (lambda n: n.BatchNorm2d(4).eval(), IMG),
    "batch_norm2d_no_affine": (lambda n: n.BatchNorm2d(4, affine=False), IMG),
    "batch_norm2d_no_running_stats_eval": (
        lambda n: n.BatchNorm2d(4, track_running_stats=False).eval(),
        IMG,
    ),
    "batch_norm1d": (lambda n: n.BatchNorm1d(5), (4, 5)),
    "sequential": (
        lambda n: n.Sequential(n.Conv2d(4, 3, 3), n.ReLU(), n.Flatten(), n.Linear(75, 2)),
        IMG,
    ),
}


def _randomize(module):
    """Non-trivial torch weights and buffers (BatchNorm starts at ones and zeros)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(
                torch.rand(p.shape, generator=g) + 0.5
                if p.ndim == 1 and "Norm" in repr(module)
                else torch.randn(p.shape, generator=g) * 0.5
            )
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g))
    return module


@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_output_and_grads_match_torch(case):
    make, shape = LAYER_CASES[case]
    tm = _randomize(make(torch.nn))
    fm = _tape_twin(tm, make(nn))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _compare_forward_backward(tm, fm, x)
    for (name, bt), (name_f, bf) in zip(tm.named_buffers(), fm.named_buffers(), strict=True):
        assert name == name_f
        np.testing.assert_allclose(bf.numpy(), bt.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def test_embedding_with_padding_idx_matches_torch():
    tm = torch.nn.Embedding(6, 3, padding_idx=-2)
    fm = _tape_twin(tm, nn.Embedding(6, 3, padding_idx=-2))
    idx = np.array([[0, 4, 2], [4, 5, 1]])
    yt, yf = tm(torch.tensor(idx)), fm(tape.tensor(idx))
    np.testing.assert_allclose(_np(yf), _np(yt))
    w = arr(*yt.shape, seed=3)
    (yt * torch.tensor(w)).sum().backward()
    (yf * tape.tensor(w)).sum().backward()
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=RTOL)
    assert fm.padding_idx == tm.padding_idx == 4
    assert not fm.weight.grad.numpy()[4].any()


# ---------------------------------------------------------------- node names
def _node_names(lib):
    f = lib.nn.functional
    x = lib.tensor(arr(2, 3, 6, 6), requires_grad=True)
    w = lib.tensor(arr(4, 3, 3, 3, seed=1), requires_grad=True)
    m = lib.tensor(arr(4, 5, seed=2), requires_grad=True)
    lw, lb = lib.tensor(arr(3, 5, seed=3), requires_grad=True), lib.tensor(arr(3, seed=4))
    target = lib.tensor([0, 2, 1, 0])
    ce = f.cross_entropy(m, target)
    return {
        "conv": f.conv2d(x, w),
        "conv_bias": f.conv2d(x, w, lib.tensor(arr(4))),
        "max_pool": f.max_pool2d(x, 2),
        "avg_pool": f.avg_pool2d(x, 2),
        "adaptive_1x1": f.adaptive_avg_pool2d(x, 1),
        "adaptive": f.adaptive_avg_pool2d(x, 4),
        "bn_train": f.batch_norm(x, None, None, training=True),
        "bn_eval": f.batch_norm(x, lib.zeros(3), lib.ones(3), lib.ones(3), lib.zeros(3)),
        "linear": f.linear(m, lw, lb),
        "linear_no_bias": f.linear(m, lw),
        "linear_3d": f.linear(m.reshape(2, 2, 5), lw, lb),
        "linear_3d_no_bias": f.linear(m.reshape(2, 2, 5), lw),
        "cross_entropy": ce,
        "cross_entropy_inner": ce.grad_fn.next_functions[0][0].name(),
        "cross_entropy_smoothed": f.cross_entropy(m, target, label_smoothing=0.1),
        "nll": f.nll_loss(m, target),
        "mse": f.mse_loss(m, lib.zeros(4, 5)),
        "bce": f.binary_cross_entropy_with_logits(m, lib.ones(4, 5)),
        "embedding": f.embedding(target, m),
        "dropout": f.dropout(m, 0.5),
        "gelu": f.gelu(m),
        "silu": f.silu(m),
        "leaky_relu": f.leaky_relu(m),
        "flatten": lib.flatten(x, 1),
        "softmax": f.softmax(m, 1),
        "log_softmax": f.log_softmax(m, dim=1),
        "relu": f.relu(m),
    }


def test_functional_node_names_match_torch():
    expected, actual = {}, {}
    for lib, out in ((torch, expected), (tape, actual)):
        for k, v in _node_names(lib).items():
            out[k] = v if isinstance(v, str) else type(v.grad_fn).__name__
    assert actual == expected


# ---------------------------------------------------------------- losses
def _loss_cases(n):
    return {
        "mse_mean": (lambda: n.MSELoss(), "float"),
        "mse_sum": (lambda: n.MSELoss(reduction="sum"), "float"),
        "mse_none": (lambda: n.MSELoss(reduction="none"), "float"),
        "ce_mean": (lambda: n.CrossEntropyLoss(), "index"),
        "ce_sum": (lambda: n.CrossEntropyLoss(reduction="sum"), "index"),
        "ce_none": (lambda: n.CrossEntropyLoss(reduction="none"), "index"),
        "ce_weight_ignore": (
            lambda: n.CrossEntropyLoss(
                weight=_lib(n).tensor([0.2, 1.0, 2.0, 0.5, 1.5]), ignore_index=1
            ),
            "index",
        ),
        "ce_smoothing": (lambda: n.CrossEntropyLoss(label_smoothing=0.2), "index"),
        "ce_smoothing_weight_ignore": (
            lambda: n.CrossEntropyLoss(
                weight=_lib(n).tensor([0.2, 1.0, 2.0, 0.5, 1.5]),
                ignore_index=1,
                label_smoothing=0.3,
            ),
            "index",
        ),
        "ce_smoothing_sum_ignore": (
            lambda: n.CrossEntropyLoss(reduction="sum", ignore_index=3, label_smoothing=0.1),
            "index",
        ),
        "ce_probabilities": (lambda: n.CrossEntropyLoss(label_smoothing=0.1), "probs"),
        "ce_probabilities_weight_sum": (
            lambda: n.CrossEntropyLoss(
                weight=_lib(n).tensor([0.2, 1.0, 2.0, 0.5, 1.5]), reduction="sum"
            ),
            "probs",
        ),
        "ce_spatial": (lambda: n.CrossEntropyLoss(), "spatial"),
        "nll": (lambda: n.NLLLoss(), "index"),
        "nll_weight_none": (
            lambda: n.NLLLoss(weight=_lib(n).tensor([0.2, 1.0, 2.0, 0.5, 1.5]), reduction="none"),
            "index",
        ),
        "bce_logits": (lambda: n.BCEWithLogitsLoss(), "float01"),
        "bce_logits_weights": (
            lambda: n.BCEWithLogitsLoss(
                weight=_lib(n).tensor([1.0, 0.5, 2.0, 1.0, 0.1]),
                pos_weight=_lib(n).tensor([3.0, 1.0, 0.5, 2.0, 1.0]),
                reduction="sum",
            ),
            "float01",
        ),
    }


def _lib(n):
    return torch if n is torch.nn else tape


LOSS_NAMES = list(_loss_cases(nn))


@pytest.mark.parametrize("case", LOSS_NAMES)
def test_loss_value_and_grads_match_torch(case):
    rng = np.random.default_rng(0)
    kind = _loss_cases(nn)[case][1]
    shape = (6, 5, 2, 3) if kind == "spatial" else (6, 5)
    x = rng.standard_normal(shape).astype(np.float32)
    if kind in ("index", "spatial"):
        target = rng.integers(0, 5, (6, 2, 3) if kind == "spatial" else (6,))
        tt, tf = torch.tensor(target), tape.tensor(target)
    else:
        target = (
            rng.uniform(0, 1, shape).astype(np.float32)
            if kind != "float"
            else rng.standard_normal(shape).astype(np.float32)
        )
        if kind == "probs":
            target = target / target.sum(1, keepdims=True)
        tt, tf = torch.tensor(target, requires_grad=True), tape.tensor(target, requires_grad=True)
    xt, xf = torch.tensor(x, requires_grad=True), tape.tensor(x, requires_grad=True)
    lt, lf = _loss_cases(torch.nn)[case][0]()(xt, tt), _loss_cases(nn)[case][0]()(xf, tf)
    np.testing.assert_allclose(_np(lf), _np(lt), rtol=RTOL, atol=ATOL)
    w = rng.standard_normal(tuple(lt.shape)).astype(np.float32)
    (lt * torch.tensor(w)).sum().backward()
    (lf * tape.tensor(w)).sum().backward()
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    if tt.requires_grad:
        np.testing.assert_allclose(tf.grad.numpy(), tt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_loss_argument_errors_match_torch():
    def prog(lib):
        f = lib.nn.functional
        x = lib.tensor(arr(3, 4))
        return [
            raises(f.binary_cross_entropy_with_logits, x, lib.zeros(4, 3)),
            raises(f.mse_loss, x, x, reduction="avg"),
            raises(f.cross_entropy, x, lib.tensor([0, 1, 4])),
            raises(lambda: lib.nn.CrossEntropyLoss(label_smoothing=1.5)(x, lib.tensor([0, 1, 2]))),
        ]

    twin(prog)


def test_legacy_size_average_warns_and_reduces_like_torch():
    def prog(lib):
        x, y = lib.tensor(arr(3, 4)), lib.tensor(arr(3, 4, seed=1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = lib.nn.functional.mse_loss(x, y, size_average=False)
        return out, [str(w.message) for w in caught]

    twin(prog)


def test_mse_loss_warns_on_broadcasting_target_like_torch():
    def prog(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = lib.nn.functional.mse_loss(lib.tensor(arr(3, 4)), lib.tensor(arr(4)))
        return out, [str(w.message) for w in caught]

    twin(prog)


# ---------------------------------------------------------------- functional argument errors
def test_conv_and_pool_argument_errors_match_torch():
    def prog(lib):
        f = lib.nn.functional
        x = lib.tensor(arr(2, 3, 6, 6))
        return [
            raises(f.conv2d, x, lib.tensor(arr(5, 2, 3, 3))),
            raises(f.conv2d, x, lib.tensor(arr(6, 3, 3, 3)), groups=2),
            raises(f.conv2d, x, lib.tensor(arr(6, 3, 3, 3)), stride=2, padding="same"),
            raises(f.conv2d, lib.tensor(arr(3, 4)), lib.tensor(arr(6, 3, 3, 3))),
            raises(f.max_pool2d, x, 2, padding=2),
            raises(f.avg_pool2d, x, 2, padding=2),
            raises(f.dropout, x, 1.5),
            raises(f.batch_norm, lib.tensor(arr(1, 3)), None, None, training=True),
            raises(lambda: lib.nn.BatchNorm2d(3)(lib.tensor(arr(2, 3, 4)))),
            raises(lambda: lib.nn.BatchNorm1d(3)(x)),
        ]

    twin(prog)


# ---------------------------------------------------------------- batch norm and dropout
@pytest.mark.parametrize("momentum", [0.3, None])
def test_batch_norm_running_stats_follow_torch_over_train_and_eval_steps(momentum):
    tm = torch.nn.BatchNorm2d(4, momentum=momentum)
    fm = _tape_twin(tm, nn.BatchNorm2d(4, momentum=momentum))
    for step in range(3):
        x = arr(*IMG, seed=step) * (step + 1) + step
        yt, yf = tm(torch.tensor(x)), fm(tape.tensor(x))
        np.testing.assert_allclose(_np(yf), _np(yt), rtol=RTOL, atol=ATOL)
    for (name, bt), (_, bf) in zip(tm.named_buffers(), fm.named_buffers(), strict=True):
        np.testing.assert_allclose(bf.numpy(), bt.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)
    assert int(fm.num_batches_tracked.item()) == 3
    tm.eval(), fm.eval()
    x = arr(*IMG, seed=9)
    np.testing.assert_allclose(
        _np(fm(tape.tensor(x))), _np(tm(torch.tensor(x))), rtol=RTOL, atol=ATOL
    )
    assert int(fm.num_batches_tracked.item()) == 3  # eval does not count


def test_batch_norm_two_forwards_then_one_backward_matches_torch():
    tm = _randomize(torch.nn.BatchNorm2d(4))
    fm = _tape_twin(tm, nn.BatchNorm2d(4))
    a, b = arr(*IMG, seed=1), arr(*IMG, seed=2)
    xt = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    xf = [tape.tensor(v, requires_grad=True) for v in (a, b)]
    (tm(xt[0]) * tm(xt[1])).sum().backward()
    (fm(xf[0]) * fm(xf[1])).sum().backward()
    for t, f in zip(xt, xf, strict=True):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=RTOL)
    np.testing.assert_allclose(fm.running_var.numpy(), tm.running_var.numpy(), rtol=RTOL)


def test_dropout_zeroes_a_fraction_p_and_scales_the_rest():
    tape.manual_seed(0)
    x = tape.ones(200_000, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    values = y.detach().numpy()
    assert abs((values == 0).mean() - 0.3) < 0.005
    np.testing.assert_allclose(values[values != 0], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # grad = mask / (1 - p) = y / x


def test_dropout_is_reproducible_under_manual_seed_and_differs_between_calls():
    x = tape.ones(1000)
    tape.manual_seed(5)
    a, b = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    tape.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert (a != b).any()


def test_dropout_in_eval_or_with_p_zero_returns_the_input_like_torch():
    def prog(lib):
        x = lib.tensor(arr(3, 4), requires_grad=True)
        d = lib.nn.Dropout(0.4)
        d.eval()
        return [
            d(x) is x,
            lib.nn.functional.dropout(x, 0.0) is x,
            d.training,
            lib.nn.functional.dropout(x, 1.0),
        ]

    twin(prog)


def test_inplace_dropout_and_relu_modify_the_input_like_torch():
    def prog(lib):
        x = lib.tensor(arr(50), requires_grad=True)
        y = x * 1
        lib.nn.ReLU(inplace=True)(y)
        z = y * 1
        lib.nn.Dropout(0.5, inplace=True)(z)
        z.sum().backward()
        kept = (z != 0) | (y == 0)
        return [y, kept.all(), (x.grad[z != 0] == 2.0).all()]

    twin(prog, grad_fn_names=False)


# ---------------------------------------------------------------- a small multi-task CNN
class _Net:
    """The same model for a torch-like `nn`: conv-relu-pool-conv-relu-pool, two heads."""

    @staticmethod
    def make(n):
        class Net(n.Module):
            def __init__(self):
                super().__init__()
                self.trunk = n.Sequential(
                    n.Conv2d(3, 8, 3, padding=1),
                    n.BatchNorm2d(8),
                    n.ReLU(),
                    n.MaxPool2d(2),
                    n.Conv2d(8, 16, 3, padding=1),
                    n.ReLU(),
                    n.AdaptiveAvgPool2d((1, 1)),
                    n.Flatten(),
                )
                self.heads = n.ModuleDict({"cls": n.Linear(16, 5), "reg": n.Linear(16, 2)})
                self.dropout = n.Dropout(0.2)

            def forward(self, x):
                h = self.dropout(self.trunk(x))
                return self.heads["cls"](h), self.heads["reg"](h)

        return Net()


def test_multitask_cnn_losses_and_grads_match_torch():
    tm = _Net.make(torch.nn)
    fm = _tape_twin(tm, _Net.make(nn))
    tm.dropout.p = fm.dropout.p = 0.0  # random masks differ between libraries
    x = arr(4, 3, 12, 12)
    labels, targets = np.array([0, 3, 4, 1]), arr(4, 2, seed=1)
    losses = []
    for lib, m in ((torch, tm), (tape, fm)):
        cls, reg = m(lib.tensor(x))
        loss = lib.nn.CrossEntropyLoss()(cls, lib.tensor(labels)) + 0.5 * lib.nn.MSELoss()(
            reg, lib.tensor(targets)
        )
        loss.backward()
        losses.append(loss.item())
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    tp = dict(tm.named_parameters())
    for name, p in fm.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tp[name].grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )
    for name, b in fm.named_buffers():
        np.testing.assert_allclose(
            b.numpy(), dict(tm.named_buffers())[name].numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )


# ---------------------------------------------------------------- registration and traversal
def test_names_children_modules_and_state_dict_keys_match_torch():
    def prog(lib):
        m = _Net.make(lib.nn)
        m.register_buffer("scratch", lib.zeros(2), persistent=False)
        m.shared = m.heads["cls"]  # the same module twice: deduplicated
        return {
            "parameters": [n for n, _ in m.named_parameters()],
            "buffers": [n for n, _ in m.named_buffers()],
            "children": [n for n, _ in m.named_children()],
            "modules": [n for n, _ in m.named_modules()],
            "n_modules": len(list(m.modules())),
            "n_parameters": len(list(m.parameters())),
            "state_dict": list(m.state_dict()),
            "types": [type(v).__name__ for v in m.state_dict().values()],
            "submodule": repr(m.get_submodule("trunk.4")),
            "parameter": tuple(m.get_parameter("heads.reg.bias").shape),
        }

    twin(prog)


def test_assignment_rules_and_their_errors_match_torch():
    def prog(lib):
        m = lib.nn.Linear(2, 2)
        results = [raises(setattr, m, "weight", lib.zeros(2, 2))]
        m.weight = None
        m.extra = lib.nn.Parameter(lib.ones(1))
        m.plain = lib.ones(1)  # a plain tensor attribute is not registered
        results += [[n for n, _ in m.named_parameters()], [n for n, _ in m.named_buffers()]]
        del m.extra
        results += [
            [n for n, _ in m.named_parameters()],
            raises(m.register_buffer, "a.b", lib.zeros(1)),
            raises(m.register_parameter, "bias2", lib.zeros(1)),
            raises(getattr, m, "missing"),
        ]
        return results

    twin(prog)


def test_register_before_init_raises_like_torch():
    def prog(lib):
        class Bad(lib.nn.Module):
            def __init__(self):
                self.w = lib.nn.Parameter(lib.ones(1))

        return raises(Bad)

    twin(prog)


def test_train_eval_and_requires_grad_propagate_like_torch():
    def prog(lib):
        m = _Net.make(lib.nn)
        m.eval()
        flags = [mod.training for mod in m.modules()]
        m.trunk.train()
        flags += [mod.training for mod in m.modules()]
        m.requires_grad_(False)
        return flags, [p.requires_grad for p in m.parameters()], m.train() is m

    twin(prog)


def test_zero_grad_sets_to_none_or_zeroes_in_place():
    m = nn.Linear(3, 2)
    m(tape.ones(1, 3)).sum().backward()
    grad = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is grad and not grad.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_module_to_casts_floating_tensors_only_and_keeps_parameters():
    m = nn.BatchNorm2d(3)
    weight = m.weight
    assert m.to(tape.float16) is m and m.weight is weight
    assert m.weight.dtype == np.float16 and m.running_mean.dtype == np.float16
    assert np.issubdtype(m.num_batches_tracked.dtype, np.integer)
    m.float().to("cpu")
    assert m.weight.dtype == np.float32


def test_deepcopy_gives_independent_parameters_and_buffers():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    c = copy.deepcopy(m)
    assert isinstance(c[0].weight, nn.Parameter) and c[0].weight is not m[0].weight
    c[1](tape.ones(4, 2) * tape.arange(4.0).reshape(4, 1))
    assert not np.array_equal(c[1].running_mean.numpy(), m[1].running_mean.numpy())
    np.testing.assert_array_equal(c[0].weight.detach().numpy(), m[0].weight.detach().numpy())


def test_containers_index_slice_append_and_delete_like_torch():
    def prog(lib):
        n = lib.nn
        s = n.Sequential(n.Linear(2, 3), n.ReLU(), n.Linear(3, 1))
        first, last, sliced = s[0], s[-1], s[1:]
        s.append(n.Sigmoid())
        del s[1]
        ml = n.ModuleList([n.ReLU(), n.ReLU(), n.Tanh()])
        ml.append(n.ReLU())
        md = n.ModuleDict({"a": n.ReLU()})
        md["b"] = n.Tanh()
        return [
            repr(first),
            repr(last),
            repr(sliced),
            repr(s),
            len(s),
            repr(ml),
            len(ml),
            repr(ml[1:]),
            list(md.keys()),
            "a" in md,
            repr(md),
            raises(lambda: s[10]),
        ]

    twin(prog)


# ---------------------------------------------------------------- state dicts
def test_state_dict_values_alias_parameters_and_keep_vars_returns_them():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and sd["weight"].is_leaf
    np.testing.assert_array_equal(sd["weight"].numpy(), m.weight.detach().numpy())
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_accepts_torch_numpy_jax_and_tape_values():
    tm = _Net.make(torch.nn)
    sd = tm.state_dict()
    for convert in (
        lambda v: v,
        lambda v: v.numpy(),
        lambda v: tape.tensor(v.numpy()).array,
        lambda v: tape.tensor(v.numpy()),
    ):
        fm = _Net.make(nn)
        params_before = list(fm.parameters())
        result = fm.load_state_dict({k: convert(v) for k, v in sd.items()})
        assert result.missing_keys == [] and result.unexpected_keys == []
        assert list(fm.parameters()) == params_before  # loaded in place
        for k, v in fm.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), sd[k].numpy(), err_msg=k)
    assert np.issubdtype(fm.state_dict()["trunk.1.num_batches_tracked"].dtype, np.integer)


def test_load_state_dict_missing_unexpected_and_size_errors_match_torch():
    def prog(lib):
        m = _Net.make(lib.nn)
        sd = m.state_dict()
        del sd["trunk.0.bias"], sd["heads.reg.weight"]
        sd["trunk.9.weight"] = lib.zeros(1)
        sd["extra"] = lib.zeros(1)
        bad = dict(m.state_dict())
        bad["heads.cls.bias"] = lib.zeros(7)
        loose = m.load_state_dict(sd, strict=False)
        return [
            raises(m.load_state_dict, sd),
            list(loose.missing_keys),
            list(loose.unexpected_keys),
            raises(m.load_state_dict, bad),
            raises(m.load_state_dict, bad, strict=False),
            repr(m.load_state_dict(m.state_dict())),
        ]

    twin(prog)


# ---------------------------------------------------------------- repr
def test_repr_matches_torch():
    def prog(lib):
        n = lib.nn
        modules = [
            n.Linear(3, 2),
            n.Linear(3, 2, bias=False),
            n.Conv2d(3, 8, 3),
            n.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=1, bias=False),
            n.Conv2d(4, 8, 3, padding="same", groups=4),
            n.Conv2d(4, 8, 1, padding="valid"),
            n.MaxPool2d(2),
            n.MaxPool2d(3, 2, 1, ceil_mode=True),
            n.AvgPool2d(2),
            n.AdaptiveAvgPool2d((1, 1)),
            n.AdaptiveAvgPool2d(4),
            n.ReLU(),
            n.ReLU(inplace=True),
            n.Sigmoid(),
            n.Tanh(),
            n.GELU(),
            n.GELU("tanh"),
            n.SiLU(),
            n.LeakyReLU(0.2),
            n.Softmax(dim=1),
            n.Flatten(),
            n.Dropout(0.1),
            n.BatchNorm2d(8),
            n.BatchNorm1d(4, affine=False, momentum=None),
            n.Embedding(10, 3, padding_idx=0),
            n.Identity(),
            n.MSELoss(),
            n.CrossEntropyLoss(),
            n.BCEWithLogitsLoss(),
            _Net.make(n),
        ]
        return [repr(m) for m in modules]

    twin(prog)


# ---------------------------------------------------------------- default initialisation
@pytest.mark.parametrize(
    "make",
    [
        lambda n: n.Linear(800, 300),
        lambda n: n.Conv2d(32, 64, 5),
        lambda n: n.Conv2d(32, 64, 3, groups=4),
    ],
    ids=["linear", "conv2d", "conv2d_groups"],
)
def test_default_init_follows_torch_distributions(make):
    tape.manual_seed(0)
    fm, tm = make(nn), make(torch.nn)
    fan_in = math.prod(tm.weight.shape[1:])
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)), and the bias rule
    for (name, pt), (_, pf) in zip(tm.named_parameters(), fm.named_parameters(), strict=True):
        t, f = pt.detach().numpy(), pf.detach().numpy()
        n = t.size
        # U(-b, b): std b / sqrt(3); the sample std's relative spread is about sqrt(0.2 / n)
        spread = 5 * math.sqrt(0.2 / n)
        for sample in (t, f):
            assert np.abs(sample).max() <= bound * (1 + 1e-6), name
            assert np.abs(sample).max() > bound * (1 - 10 / n), name
            assert abs(sample.mean()) < 5 * bound / math.sqrt(3 * n), name
            np.testing.assert_allclose(
                sample.std(), bound / math.sqrt(3), rtol=spread, err_msg=name
            )


def test_default_init_is_reproducible_under_manual_seed():
    tape.manual_seed(3)
    a = nn.Linear(4, 4)
    tape.manual_seed(3)
    b = nn.Linear(4, 4)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    assert not np.array_equal(a.weight.detach().numpy(), nn.Linear(4, 4).weight.detach().numpy())


def test_embedding_and_batch_norm_init_like_torch():
    e = nn.Embedding(2000, 50, padding_idx=3)
    w = e.weight.detach().numpy()
    assert not w[3].any()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01
    bn, tbn = nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)
    for k, v in tbn.state_dict().items():
        np.testing.assert_array_equal(bn.state_dict()[k].numpy(), v.numpy())


def test_init_functions_follow_torch_formulas():
    shape = (400, 300)
    tape.manual_seed(0)
    for name, kwargs in [
        ("xavier_uniform_", {"gain": 2.0}),
        ("xavier_normal_", {}),
        ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
        ("kaiming_uniform_", {"nonlinearity": "tanh"}),
        ("normal_", {"mean": 1.0, "std": 0.5}),
        ("uniform_", {"a": -2, "b": 1}),
        ("trunc_normal_", {"std": 0.02}),
    ]:
        f = getattr(nn.init, name)(tape.empty(*shape), **kwargs).numpy()
        t = getattr(torch.nn.init, name)(torch.empty(*shape), **kwargs).numpy()
        np.testing.assert_allclose(f.mean(), t.mean(), atol=0.02 * t.std() + 1e-3, err_msg=name)
        np.testing.assert_allclose(f.std(), t.std(), rtol=0.02, err_msg=name)
        np.testing.assert_allclose(
            [f.min(), f.max()], [t.min(), t.max()], rtol=0.2, atol=0.2 * t.std(), err_msg=name
        )
    for gain in ("linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert nn.init.calculate_gain(gain) == torch.nn.init.calculate_gain(gain)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain(
        "leaky_relu", 0.2
    )


def test_init_errors_match_torch():
    def prog(lib):
        return [
            raises(lib.nn.init.xavier_uniform_, lib.zeros(3)),
            raises(lib.nn.init.calculate_gain, "swish"),
            raises(lib.nn.init.kaiming_uniform_, lib.zeros(2, 2), mode="fan_avg"),
        ]

    twin(prog)


# ---------------------------------------------------------------- hooks
def test_forward_pre_hook_and_forward_hook_replace_input_and_output_like_torch():
    def prog(lib):
        m = lib.nn.Linear(3, 2)
        m.load_state_dict({"weight": lib.tensor(arr(2, 3)), "bias": lib.tensor(arr(2))})
        calls = []
        h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        h2 = m.register_forward_hook(lambda mod, args, out: calls.append(args[0]) or out + 1)
        x = lib.tensor(arr(4, 3, seed=1))
        y1 = m(x)
        h1.remove()
        h2.remove()
        return [y1, m(x), calls]

    twin(prog)


def test_full_backward_hook_sees_and_replaces_grads_like_torch():
    def prog(lib):
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
        m.load_state_dict(
            {
                k: lib.tensor(arr(*v.shape, seed=i))
                for i, (k, v) in enumerate(m.state_dict().items())
            }
        )
        seen = []

        def hook(mod, grad_input, grad_output):
            seen.append((type(mod).__name__, grad_input, grad_output))
            return tuple(g * 3 for g in grad_input)

        handles = [m[1].register_full_backward_hook(hook), m.register_full_backward_hook(hook)]
        pre = m[2].register_full_backward_pre_hook(lambda mod, go: (go[0] * 0.5,))
        x = lib.tensor(arr(5, 3, seed=9), requires_grad=True)
        y = m(x)
        (y * lib.tensor(arr(5, 2, seed=4))).sum().backward()
        grads = [x.grad] + [p.grad for p in m.parameters()]
        for h in handles + [pre]:
            h.remove()
        x.grad = None
        m(x).sum().backward()
        return seen, grads, x.grad, y.grad_fn.name()

    twin(prog)


def test_full_backward_hook_without_input_grads_warns_like_torch():
    def prog(lib):
        m = lib.nn.Linear(3, 2)
        seen = []
        m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, len(go))))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m(lib.ones(4, 3)).sum().backward()
        messages = [str(w.message) for w in caught]
        return seen, messages

    twin(prog)


def test_full_backward_hook_with_non_tensor_argument_and_wrong_return_like_torch():
    def prog(lib):
        class Scale(lib.nn.Module):
            def forward(self, x, k):
                return x * k

        m = Scale()
        seen = []
        m.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
        x = lib.tensor(arr(3), requires_grad=True)
        m(x, 3.0).sum().backward()
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0],))
        return seen, x.grad, raises(lambda: m(x, 2.0).sum().backward())

    twin(prog)


def test_backward_hook_handle_works_as_context_manager():
    m = nn.ReLU()
    calls = []
    with m.register_full_backward_hook(lambda *a: calls.append(1)):
        m(tape.ones(2, requires_grad=True)).sum().backward()
    m(tape.ones(2, requires_grad=True)).sum().backward()
    assert calls == [1]


# ---------------------------------------------------------------- Parameter
def test_parameter_repr_and_flags_match_torch():
    def prog(lib):
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        q = lib.nn.Parameter(lib.tensor([1.0]), requires_grad=False)
        return [
            repr(p),
            p.requires_grad,
            p.is_leaf,
            q.requires_grad,
            (p * 2).grad_fn.name(),
            isinstance(p, lib.Tensor),
            type(p * 2).__name__,
        ]

    twin(prog)


def test_missing_forward_raises_like_torch():
    def prog(lib):
        return raises(lambda: lib.nn.Module()(lib.ones(1)))

    twin(prog)


def test_unsupported_options_fail_loudly():
    with pytest.raises(NotImplementedError, match=re.escape("interpolate(mode='bicubic')")):
        F.interpolate(tape.ones(1, 1, 4, 4), scale_factor=2, mode="bicubic")
    with pytest.raises(NotImplementedError, match="return_indices"):
        F.max_pool2d(tape.ones(1, 1, 4, 4), 2, return_indices=True)
