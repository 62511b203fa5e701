"""The layers, activations, resizing modules and losses of the wider PyTorch surface
(nn/conv.py, nn/normalization.py, nn/activations.py, nn/resizing.py, nn/dropout.py,
nn/losses.py, nn/functional_*.py) against real PyTorch, at run time.

As in test_nn.py: the weights of a real torch module are loaded into the tape module
(`load_state_dict(torch_module.state_dict())`), both run the same input, and outputs,
every parameter's `.grad` and the input's `.grad` are compared; node names, reprs, errors
and warnings are compared with `torch_twin.twin`.
"""

import warnings

import numpy as np
import pytest
import torch
from test_nn import _compare_forward_backward, _randomize, _tape_twin
from torch_twin import arr, raises, twin, warns

import funcgrad.tape as tape
from funcgrad.tape import nn

IMG = (2, 4, 5, 6)
SEQ = (2, 4, 7)

# case -> (constructor of a torch-like `nn` namespace, input shape)
LAYER_CASES = {
    "conv1d": (lambda n: n.Conv1d(4, 6, 3), SEQ),
    "conv1d_strided_padded_dilated_groups": (
        lambda n: n.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2),
        SEQ,
    ),
    "conv1d_same_no_bias": (lambda n: n.Conv1d(4, 3, 4, padding="same", bias=False), SEQ),
    "conv1d_reflect": (lambda n: n.Conv1d(4, 3, 3, padding=2, padding_mode="reflect"), SEQ),
    "conv1d_circular_same": (
        lambda n: n.Conv1d(4, 3, 4, padding="same", padding_mode="circular"),
        SEQ,
    ),
    "conv1d_unbatched": (lambda n: n.Conv1d(4, 6, 3, padding=1), SEQ[1:]),
    "conv2d_replicate": (lambda n: n.Conv2d(4, 3, 3, padding=1, padding_mode="replicate"), IMG),
    "conv2d_circular": (
        lambda n: n.Conv2d(4, 3, (3, 5), padding=(1, 2), padding_mode="circular"),
        IMG,
    ),  # fmt: skip
    "conv_transpose2d": (lambda n: n.ConvTranspose2d(4, 3, 3), IMG),
    "conv_transpose2d_dcgan": (
        lambda n: n.ConvTranspose2d(4, 3, 4, stride=2, padding=1, bias=False),
        IMG,
    ),
    "conv_transpose2d_output_padding_groups_dilation": (
        lambda n: n.ConvTranspose2d(
            4, 6, 3, stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2)
        ),  # fmt: skip
        IMG,
    ),
    "conv_transpose2d_unbatched": (lambda n: n.ConvTranspose2d(4, 2, 3, stride=2), IMG[1:]),
    "conv_transpose1d": (lambda n: n.ConvTranspose1d(4, 2, 3, stride=3, padding=1), SEQ),
    "layer_norm": (lambda n: n.LayerNorm(7), SEQ),
    "layer_norm_2d_shape": (lambda n: n.LayerNorm((5, 6)), IMG),
    "layer_norm_no_affine": (lambda n: n.LayerNorm(7, elementwise_affine=False), SEQ),
    "layer_norm_no_bias": (lambda n: n.LayerNorm(7, bias=False), SEQ),
    "group_norm": (lambda n: n.GroupNorm(2, 4), IMG),
    "group_norm_no_affine": (lambda n: n.GroupNorm(4, 4, affine=False), SEQ),
    "hardtanh": (lambda n: n.Hardtanh(-0.5, 0.5), IMG),
    "relu6": (lambda n: n.ReLU6(), IMG),
    "hardsigmoid": (lambda n: n.Hardsigmoid(), IMG),
    "hardswish": (lambda n: n.Hardswish(), IMG),
    "mish": (lambda n: n.Mish(), IMG),
    "selu": (lambda n: n.SELU(), IMG),
    "celu": (lambda n: n.CELU(0.5), IMG),
    "elu": (lambda n: n.ELU(0.7), IMG),
    "log_sigmoid": (lambda n: n.LogSigmoid(), IMG),
    "softsign": (lambda n: n.Softsign(), IMG),
    "softplus": (lambda n: n.Softplus(beta=2.0, threshold=1.0), IMG),
    "threshold": (lambda n: n.Threshold(0.1, -1.0), IMG),
    "glu": (lambda n: n.GLU(1), IMG),
    "prelu": (lambda n: n.PReLU(), IMG),
    "prelu_per_channel": (lambda n: n.PReLU(4), IMG),
    "softmin": (lambda n: n.Softmin(dim=1), IMG),
    "softmax2d": (lambda n: n.Softmax2d(), IMG),
    "tanhshrink": (lambda n: n.Tanhshrink(), IMG),
    "upsample_nearest": (lambda n: n.Upsample(scale_factor=2), IMG),
    "upsample_nearest_size": (lambda n: n.Upsample(size=(7, 4)), IMG),
    "upsample_nearest_fractional": (lambda n: n.Upsample(scale_factor=1.7), IMG),
    "upsample_nearest_exact": (lambda n: n.Upsample(scale_factor=1.5, mode="nearest-exact"), IMG),
    "upsample_bilinear": (lambda n: n.Upsample(scale_factor=2, mode="bilinear"), IMG),
    "upsample_bilinear_align_corners": (
        lambda n: n.Upsample(size=(9, 4), mode="bilinear", align_corners=True),
        IMG,
    ),
    "upsample_bilinear_fractional": (
        lambda n: n.Upsample(scale_factor=(1.5, 0.7), mode="bilinear"),
        IMG,
    ),  # fmt: skip
    "upsample_linear_1d": (lambda n: n.Upsample(scale_factor=2.5, mode="linear"), SEQ),
    "upsample_nearest_1d": (lambda n: n.Upsample(size=10), SEQ),
    "upsampling_nearest2d": (lambda n: n.UpsamplingNearest2d(scale_factor=3), IMG),
    "upsampling_bilinear2d": (lambda n: n.UpsamplingBilinear2d(scale_factor=2), IMG),
    "zero_pad2d": (lambda n: n.ZeroPad2d((1, 2, 0, 3)), IMG),
    "constant_pad1d": (lambda n: n.ConstantPad1d(2, 0.5), SEQ),
    "reflection_pad2d": (lambda n: n.ReflectionPad2d((1, 2, 3, 0)), IMG),
    "reflection_pad1d": (lambda n: n.ReflectionPad1d(3), SEQ),
    "replication_pad2d": (lambda n: n.ReplicationPad2d(2), IMG),
    "replication_pad1d": (lambda n: n.ReplicationPad1d((4, 1)), SEQ),
    "circular_pad2d": (lambda n: n.CircularPad2d((1, 0, 2, 3)), IMG),
    "circular_pad1d": (lambda n: n.CircularPad1d(2), SEQ),
    "unflatten": (lambda n: n.Unflatten(2, (5, 1, 6)), (2, 4, 30)),
    "dropout2d_eval": (lambda n: n.Dropout2d(0.3).eval(), IMG),
    "dcgan_generator_block": (
        lambda n: n.Sequential(
            n.ConvTranspose2d(4, 3, 4, 2, 1, bias=False),
            n.BatchNorm2d(3),
            n.ReLU(True),
            n.ConvTranspose2d(3, 2, 4, 2, 1, bias=False),
            n.Tanh(),
        ),  # fmt: skip
        IMG,
    ),
    "dcgan_discriminator_block": (
        lambda n: n.Sequential(
            n.Conv2d(4, 3, 4, 2, 1, bias=False),
            n.BatchNorm2d(3),
            n.LeakyReLU(0.2, inplace=True),
            n.Dropout2d(0.0),
            n.Flatten(),
            n.Linear(18, 1),
            n.Sigmoid(),
        ),  # fmt: skip
        IMG,
    ),
}


@pytest.mark.parametrize("case", LAYER_CASES)
def test_layer_output_and_grads_match_torch(case):
    make, shape = LAYER_CASES[case]
    tm = _randomize(make(torch.nn))
    fm = _tape_twin(tm, make(nn))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _compare_forward_backward(tm, fm, x)


def test_layer_state_dict_keys_shapes_and_reprs_match_torch():
    def prog(lib):
        modules = [make(lib.nn) for make, _ in LAYER_CASES.values()]
        return [
            (repr(m), [(k, tuple(v.shape)) for k, v in m.state_dict().items()]) for m in modules
        ]

    twin(prog)


def test_transposed_convolution_output_size_argument_like_torch():
    def prog(lib):
        up = lib.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
        x = lib.ones(1, 2, 4, 4)
        return [
            up(x, output_size=[8, 8]).shape,
            up(x, output_size=(1, 3, 7, 8)).shape,
            raises(up, x, output_size=[10, 8]),
            raises(up, x, output_size=[8]),
        ]

    twin(prog)


def test_default_init_of_new_layers_follows_torch_bounds():
    tape.manual_seed(0)
    for make in (
        lambda n: n.Conv1d(16, 32, 5),
        lambda n: n.ConvTranspose2d(16, 32, 4, groups=2),
        lambda n: n.ConvTranspose1d(8, 6, 3),
    ):
        fm, tm = make(nn), make(torch.nn)
        fan_in = int(np.prod(tm.weight.shape[1:]))
        bound = 1 / np.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) and the bias rule
        for (name, pt), (_, pf) in zip(tm.named_parameters(), fm.named_parameters(), strict=True):
            f = pf.detach().numpy()
            assert np.abs(f).max() <= bound * (1 + 1e-6), name
            assert np.abs(f).max() > bound * 0.8, name
            assert pt.shape == tuple(pf.shape)
    for n_layer, (tm, fm) in enumerate(
        [
            (torch.nn.LayerNorm(5), nn.LayerNorm(5)),
            (torch.nn.GroupNorm(2, 4), nn.GroupNorm(2, 4)),
            (torch.nn.PReLU(3, 0.1), nn.PReLU(3, 0.1)),
        ]  # fmt: skip
    ):
        for k, v in tm.state_dict().items():
            np.testing.assert_array_equal(
                fm.state_dict()[k].numpy(), v.numpy(), err_msg=str(n_layer)
            )


# ---------------------------------------------------------------- node names
def _node_names(lib):
    f = lib.nn.functional
    x = lib.tensor(arr(2, 3, 6, 6), requires_grad=True)
    s = lib.tensor(arr(2, 3, 7, seed=1), requires_grad=True)
    p = lib.tensor(arr(4, 5, seed=2, low=0.1, high=0.9), requires_grad=True)
    t = lib.tensor(arr(4, 5, seed=3, low=0.0, high=1.0))
    logp = lib.tensor(arr(4, 5, seed=4), requires_grad=True).log_softmax(1)
    return {
        "conv1d": f.conv1d(s, lib.tensor(arr(4, 3, 3, seed=5))),
        "conv_transpose2d": f.conv_transpose2d(x, lib.tensor(arr(3, 2, 3, 3, seed=6)), stride=2),
        "layer_norm": f.layer_norm(s, (7,)),
        "group_norm": f.group_norm(x, 3),
        "dropout2d": f.dropout2d(x, 0.5),
        "dropout1d": f.dropout1d(s, 0.5),
        "nearest": f.interpolate(x, scale_factor=2),
        "bilinear": f.interpolate(x, size=(4, 9), mode="bilinear", align_corners=True),
        "linear": f.interpolate(s, scale_factor=2, mode="linear"),
        "area": f.interpolate(x, size=(3, 2), mode="area"),
        "pad_constant": f.pad(x, (1, 2)),
        "pad_reflect": f.pad(x, (1, 2, 2, 1), mode="reflect"),
        "pad_replicate": f.pad(s, (1, 2), mode="replicate"),
        "pad_circular": f.pad(x, (1, 2, 2, 1), mode="circular"),
        "bce": f.binary_cross_entropy(p, t),
        "bce_weight_none": f.binary_cross_entropy(p, t, lib.tensor(arr(5)), reduction="none"),
        "l1": f.l1_loss(p, t),
        "l1_none": f.l1_loss(p, t, reduction="none"),
        "smooth_l1": f.smooth_l1_loss(p, t),
        "smooth_l1_beta0": f.smooth_l1_loss(p, t, beta=0.0),
        "huber": f.huber_loss(p, t, delta=0.5),
        "kl_batchmean": f.kl_div(logp, t, reduction="batchmean"),
        "kl_sum_log_target": f.kl_div(logp, t.log(), reduction="sum", log_target=True),
        "kl_none": f.kl_div(logp, t, reduction="none"),
        "leaky_relu_inplace": f.leaky_relu(p * 1, 0.2, inplace=True),
        "elu_inplace": f.elu(p * 1, inplace=True),
        "hardtanh_inplace": f.hardtanh_(p * 1),
        "one_hot": f.one_hot(lib.tensor([0, 2, 1]), 4),
    }


def test_functional_node_names_match_torch():
    def prog(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _node_names(lib)

    expected, actual = {}, {}
    for lib, out in ((torch, expected), (tape, actual)):
        for k, v in prog(lib).items():
            out[k] = (type(v.grad_fn).__name__ if v.grad_fn is not None else None, tuple(v.shape))
    assert actual == expected


# ---------------------------------------------------------------- interpolation and padding values
INTERPOLATE_CASES = [
    ((1, 2, 5), {"scale_factor": 1.3}),
    ((1, 2, 5), {"size": 3}),
    ((1, 2, 5), {"scale_factor": 0.5, "mode": "linear"}),
    ((1, 2, 5), {"size": 11, "mode": "linear", "align_corners": True}),
    ((1, 2, 4, 5), {"scale_factor": (2, 3)}),
    ((1, 2, 4, 5), {"size": (3, 7), "mode": "nearest-exact"}),
    ((1, 2, 4, 5), {"scale_factor": 0.6, "mode": "bilinear"}),
    ((1, 2, 4, 5), {"scale_factor": 1.5, "mode": "bilinear", "recompute_scale_factor": True}),
    ((1, 2, 4, 5), {"size": (1, 1), "mode": "bilinear", "align_corners": True}),
    ((1, 2, 6, 4), {"scale_factor": 0.5, "mode": "area"}),
    ((1, 2, 3, 4, 5), {"scale_factor": 2}),
    ((1, 2, 3, 4, 5), {"size": (2, 5, 3), "mode": "trilinear"}),
]


@pytest.mark.parametrize(("shape", "kwargs"), INTERPOLATE_CASES, ids=str)
def test_interpolate_values_and_grads_match_torch(shape, kwargs):
    def prog(lib):
        x = lib.tensor(arr(*shape), requires_grad=True)
        y = lib.nn.functional.interpolate(x, **kwargs)
        (y * lib.tensor(arr(*y.shape, seed=1))).sum().backward()
        return y, x.grad

    twin(prog, rtol=1e-5, atol=1e-6)


PAD_CASES = [
    ((2, 3, 4), (1, 2), "constant", 0.5),
    ((2, 3, 4), (-1, 2), "constant", None),
    ((2, 3, 4, 5), (1, 2, 3, 0), "constant", None),
    ((2, 3, 4, 5), (2, 1, 0, 3), "reflect", None),
    ((3, 4, 5), (2, 1, 0, 3), "reflect", None),
    ((2, 3, 4, 5), (2, 4, 1, 3), "replicate", None),
    ((2, 3, 4, 5), (2, 4, 1, 3), "circular", None),
    ((2, 3, 4), (3, 4), "circular", None),
    ((2, 3, 4), (3, 3), "replicate", None),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2), "reflect", None),
]


@pytest.mark.parametrize(("shape", "amounts", "mode", "value"), PAD_CASES, ids=str)
def test_pad_values_and_grads_match_torch(shape, amounts, mode, value):
    def prog(lib):
        x = lib.tensor(arr(*shape), requires_grad=True)
        y = lib.nn.functional.pad(x, amounts, mode=mode, value=value)
        (y * lib.tensor(arr(*y.shape, seed=1))).sum().backward()
        return y, x.grad

    twin(prog)


def test_pad_interpolate_and_conv_argument_errors_match_torch():
    def prog(lib):
        f = lib.nn.functional
        x = lib.ones(1, 2, 3, 3)
        return [
            raises(f.pad, x, (3, 3, 0, 0), mode="reflect"),
            raises(f.pad, x, (0, 0, 1, 3), mode="reflect"),
            raises(f.pad, x, (1,)),
            raises(f.pad, x, (1,) * 10),
            raises(f.pad, x, (1, 1), mode="wrap"),
            raises(f.pad, x, (4, 4, 0, 0), mode="circular"),
            raises(f.pad, x, (1, 1), mode="reflect"),
            raises(f.pad, x, (1, 1, 1, 1), mode="replicate", value=1.0),
            raises(f.interpolate, x, scale_factor=2, align_corners=True),
            raises(f.interpolate, x, size=4, scale_factor=2),
            raises(f.interpolate, x),
            raises(f.interpolate, x, size=(2, 2, 2)),
            raises(f.interpolate, x, scale_factor=2, mode="linear"),
            raises(f.conv1d, lib.ones(2, 3, 5), lib.ones(4, 2, 3)),
            raises(f.conv1d, lib.ones(2, 2, 3, 5), lib.ones(4, 2, 3)),
            raises(f.conv_transpose2d, lib.ones(2, 5, 5, 5), lib.ones(4, 3, 3, 3)),
            raises(
                f.conv_transpose2d,
                lib.ones(1, 4, 5, 5),
                lib.ones(4, 3, 3, 3),
                stride=2,
                output_padding=2,
            ),  # fmt: skip
            raises(f.layer_norm, lib.ones(2, 3), (4,)),
            raises(f.group_norm, lib.ones(2, 6, 3), 4),
            raises(f.glu, lib.ones(3, 3)),
            raises(f.one_hot, lib.tensor([0, 5]), 3),
            raises(f.one_hot, lib.tensor([-1]), 3),
            raises(f.dropout1d, lib.ones(3), 0.5),
            raises(lib.nn.GroupNorm, 4, 6),
            raises(lib.nn.Conv1d, 4, 6, 3, groups=4),
            raises(lib.nn.Conv1d, 4, 6, 3, padding="same", stride=2),
            raises(lib.nn.ConvTranspose2d, 4, 6, 3, padding_mode="reflect"),
            raises(lib.nn.Hardtanh, 1.0, 0.0),
            raises(lib.nn.Unflatten, 1, 6),
            raises(lib.nn.Unflatten, 1, (2, 3.0)),
        ]

    twin(prog)


def test_unknown_padding_mode_names_the_valid_ones():
    # PyTorch prints a Python set here, whose order differs from process to process.
    with pytest.raises(ValueError, match="padding_mode must be one of .*'circular'.*'mirror'"):
        nn.Conv1d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Invalid padding string 'full', should be one of"):
        nn.ConvTranspose1d(4, 6, 3, padding="full")


def test_dropout2d_zeroes_whole_channels_and_warns_like_torch():
    tape.manual_seed(0)
    y = nn.functional.dropout2d(tape.ones(8, 64, 3, 3), 0.25)
    per_channel = y.numpy().reshape(8 * 64, 9)
    assert set(np.unique(per_channel).tolist()) <= {0.0, float(np.float32(1) / np.float32(0.75))}
    assert (per_channel == per_channel[:, :1]).all()  # a channel is kept or dropped whole
    assert 0.15 < (per_channel[:, 0] == 0).mean() < 0.35

    def prog(lib):
        f = lib.nn.functional
        lib.manual_seed(5)  # PyTorch's masks, from its stream: the same channels dropped
        x = lib.tensor(arr(2, 5, 3, 3), requires_grad=True)
        masks = [f.dropout2d(x, 0.4), lib.nn.Dropout1d(0.3)(x[0]), f.dropout3d(x, 0.5)]
        sum(m.sum() for m in masks).backward()
        return [
            *masks,
            x.grad,
            warns(lambda: f.dropout2d(lib.ones(2, 3, 4), 0.5, training=False).shape),
            warns(lambda: f.dropout2d(lib.ones(2, 3), 0.5, training=False).shape),
            warns(lambda: f.dropout2d(lib.ones(1, 2, 3, 3), 0.0).shape),
        ]

    twin(prog)


# ---------------------------------------------------------------- losses
LOSS_CASES = {
    "bce": (lambda n: n.BCELoss(), "prob"),
    "bce_sum_weight": (
        lambda n: n.BCELoss(weight=_lib(n).tensor(arr(5, seed=7, low=0.1)), reduction="sum"),
        "prob",
    ),  # fmt: skip
    "bce_none": (lambda n: n.BCELoss(reduction="none"), "prob"),
    "l1": (lambda n: n.L1Loss(), "float"),
    "l1_sum": (lambda n: n.L1Loss(reduction="sum"), "float"),
    "smooth_l1": (lambda n: n.SmoothL1Loss(), "float"),
    "smooth_l1_beta": (lambda n: n.SmoothL1Loss(beta=0.3, reduction="none"), "float"),
    "smooth_l1_beta0": (lambda n: n.SmoothL1Loss(beta=0.0), "float"),
    "huber": (lambda n: n.HuberLoss(delta=0.4), "float"),
    "kl_batchmean": (lambda n: n.KLDivLoss(reduction="batchmean"), "logprob"),
    "kl_sum_log_target": (lambda n: n.KLDivLoss(reduction="sum", log_target=True), "logprob"),
    "kl_none": (lambda n: n.KLDivLoss(reduction="none"), "logprob"),
}


def _lib(n):
    return torch if n is torch.nn else tape


def _loss_inputs(kind):
    rng = np.random.default_rng(0)
    if kind == "prob":
        return rng.uniform(0.05, 0.95, (4, 5)), rng.uniform(0, 1, (4, 5))
    if kind == "logprob":
        x = rng.standard_normal((4, 5))
        logp = x - np.log(np.exp(x).sum(1, keepdims=True))
        t = rng.uniform(0.1, 1, (4, 5))
        return logp, t / t.sum(1, keepdims=True)
    return rng.standard_normal((4, 5)), rng.standard_normal((4, 5))


@pytest.mark.parametrize("case", LOSS_CASES)
def test_loss_value_and_grads_match_torch(case):
    make, kind = LOSS_CASES[case]
    x, t = (a.astype(np.float32) for a in _loss_inputs(kind))
    if case == "kl_sum_log_target":
        t = np.log(t).astype(np.float32)

    def prog(lib):
        xs, ts = lib.tensor(x, requires_grad=True), lib.tensor(t, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = make(lib.nn)(xs, ts)
        (loss * lib.tensor(arr(*loss.shape, seed=1))).sum().backward()
        return loss, xs.grad, ts.grad

    twin(prog, rtol=1e-5, atol=1e-6)


def test_bce_gradient_at_saturated_probabilities_matches_torch():
    # A sigmoid that saturates to exactly 0 or 1 in float32: the logs are clamped at -100,
    # and PyTorch's gradient is (x - t) / max(x (1 - x), 1e-12), not the clamp's 0.
    def prog(lib):
        x = lib.tensor(np.array([0.0, 1.0, 1.0, 0.0, 0.5], np.float32), requires_grad=True)
        t = lib.tensor(np.array([1.0, 0.0, 1.0, 0.0, 1.0], np.float32))
        loss = lib.nn.functional.binary_cross_entropy(x, t, reduction="sum")
        loss.backward()
        z = lib.tensor(np.array([30.0, -30.0], np.float32), requires_grad=True)
        lib.nn.BCELoss()(z.sigmoid(), lib.tensor([0.0, 1.0])).backward()
        return loss, x.grad, z.grad

    twin(prog, rtol=1e-6, atol=0)


def test_loss_warnings_and_errors_match_torch():
    def prog(lib):
        f = lib.nn.functional
        logp, t = lib.tensor(arr(3, 4)).log_softmax(1), lib.tensor(arr(3, 4, low=0.0))
        p = lib.tensor(arr(3, 4, low=0.1, high=0.9))
        return [
            warns(f.kl_div, logp, t),
            warns(lambda: lib.nn.KLDivLoss()(logp, t)),
            warns(f.l1_loss, p, lib.tensor(arr(4))),
            warns(f.smooth_l1_loss, p, lib.tensor(arr(1, 4))),
            warns(f.binary_cross_entropy, p, t, size_average=False),
            raises(f.binary_cross_entropy, p * 2, t),
            raises(f.binary_cross_entropy, p, lib.tensor(arr(4))),
            raises(f.kl_div, logp, t, reduction="avg"),
            raises(f.smooth_l1_loss, p, t, beta=-1.0),
            raises(f.huber_loss, p, t, delta=0.0),
            raises(lambda: lib.nn.L1Loss(reduction="mean_all")(p, t)),
        ]

    twin(prog)


# ---------------------------------------------------------------- embedding options, nn.utils
def test_embedding_max_norm_scale_grad_by_freq_and_from_pretrained_match_torch():
    def prog(lib):
        weight = lib.tensor(arr(6, 3, seed=4, low=-2.0, high=2.0))
        idx = lib.tensor([[0, 2, 2], [5, 2, 0]])
        e = lib.nn.Embedding.from_pretrained(weight.clone(), freeze=False, max_norm=1.5,
                                             scale_grad_by_freq=True)  # fmt: skip
        out = e(idx)
        (out * lib.tensor(arr(2, 3, 3, seed=5))).sum().backward()
        frozen = lib.nn.Embedding.from_pretrained(weight, padding_idx=1)
        return [out, e.weight, e.weight.grad, repr(frozen), frozen.weight.requires_grad,
                raises(lib.nn.Embedding.from_pretrained, lib.ones(3))]  # fmt: skip

    twin(prog)


def test_clip_grad_norm_and_value_and_parameter_vectors_match_torch():
    def prog(lib):
        model = lib.nn.Linear(4, 3)
        model.load_state_dict({"weight": lib.tensor(arr(3, 4)), "bias": lib.tensor(arr(3))})
        (model(lib.tensor(arr(5, 4, seed=1))) ** 2).sum().backward()
        total = lib.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        after = [p.grad.clone() for p in model.parameters()]
        lib.nn.utils.clip_grad_value_(model.parameters(), 0.05)
        inf_norm = lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type="inf")
        vec = lib.nn.utils.parameters_to_vector(model.parameters())
        lib.nn.utils.vector_to_parameters(vec * 2, model.parameters())
        return [total, after, [p.grad for p in model.parameters()], inf_norm, vec,
                [p.detach() for p in model.parameters()]]  # fmt: skip

    twin(prog)
