"""Random small nn models trained a few steps with SGD / Adam / AdamW must follow PyTorch's
trajectory, and the same step compiled with funcgrad.tape.jit must follow the eager one.

Each example draws an MLP (widths, activations, an optional BatchNorm1d or LayerNorm),
sometimes after a recurrent layer (RNN, GRU or LSTM, one or two layers, maybe
bidirectional, its last step's output) over a short sequence, a loss (MSE, cross entropy,
BCE on logits or on probabilities, L1, smooth L1, Huber), an optimizer with its options,
and a number of steps. The tape model's initial weights are
copied into a torch model of the same structure; both get the same NumPy batches. After
every step the losses are compared, and at the end the parameters, their `.grad`s and the
BatchNorm running statistics. Then the tape model is trained again from the same start,
its step under `funcgrad.tape.jit`, and compared with the eager tape run (to float32
rounding: XLA may fuse differently inside one program). The tolerances grow with the
recipe's conditioning: PyTorch trains it in float64 too, and the float32 runs may differ
by a few times PyTorch's own float32 error (`SLACK`, `float32_error`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from torch_twin import assert_same

import funcgrad.tape as tape
from funcgrad.tape.compile import RetraceWarning

from .programs import STATS

N_MODELS = 30
BATCH = 4
ACTIVATIONS = ["ReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "LeakyReLU", "ELU", "SELU", "CELU",
               "Mish", "Hardswish", "Hardtanh", "Softplus", "PReLU"]  # fmt: skip
RECURRENT = ["RNN", "GRU", "LSTM"]
SEQ_LEN = 3


@st.composite
def recipes(draw):
    n_in = draw(st.sampled_from([3, 4]))
    hidden = draw(st.lists(st.sampled_from([2, 5]), min_size=0, max_size=2))
    loss = draw(st.sampled_from(["mse", "cross_entropy", "bce", "bce_prob", "l1", "smooth_l1",
                                 "huber"]))  # fmt: skip
    n_out = draw(st.sampled_from([1, 3])) if loss != "cross_entropy" else 3
    layers = []
    width = n_in
    if draw(st.integers(0, 3)) == 0:  # a sequence model: a recurrent layer, its last step
        kind, h = draw(st.sampled_from(RECURRENT)), draw(st.sampled_from([2, 4]))
        bidirectional = draw(st.booleans())
        layers.append((kind, n_in, h, draw(st.integers(1, 2)), bidirectional))
        width = h * (2 if bidirectional else 1)
    for h in hidden:
        norm = draw(st.sampled_from([None, None, None, "BatchNorm1d", "LayerNorm"]))
        # No bias before a BatchNorm (as usual): its gradient is 0 up to rounding noise,
        # which Adam would scale up to a full step of either sign. Nor a LayerNorm of two
        # features: its output is +-1 whatever the input, so the gradient before it is noise.
        if norm == "LayerNorm" and h == 2:
            norm = None
        layers.append(("Linear", width, h, norm != "BatchNorm1d"))
        if norm:
            layers.append((norm, h))
        layers.append((draw(st.sampled_from(ACTIVATIONS)),))
        width = h
    layers.append(("Linear", width, n_out, True))
    # Nor a bias anywhere before a BatchNorm: through a ReLU that is linear over the batch
    # (all of it positive) and a bias-free Linear, an earlier bias still only shifts the
    # BatchNorm's input by a constant, so its gradient is rounding noise too.
    last_norm = max((i for i, spec in enumerate(layers) if spec[0] == "BatchNorm1d"), default=-1)
    layers = [
        ("Linear", *spec[1:3], False) if spec[0] == "Linear" and i < last_norm else spec
        for i, spec in enumerate(layers)
    ]
    name = draw(st.sampled_from(["SGD", "Adam", "AdamW"]))
    lr = draw(st.sampled_from([0.1, 0.01]))
    if name == "SGD":
        momentum = draw(st.sampled_from([0.0, 0.9]))
        options = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": draw(st.sampled_from([0.0, 0.01])),
            "nesterov": momentum > 0 and draw(st.booleans()),
        }
    else:
        options = {
            "lr": lr,
            "betas": draw(st.sampled_from([(0.9, 0.999), (0.5, 0.9)])),
            "weight_decay": draw(st.sampled_from([0.0, 0.01])),
            "amsgrad": draw(st.booleans()),
        }
    steps = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    return {"n_in": n_in, "n_out": n_out, "layers": layers, "loss": loss, "optim": name,
            "options": options, "steps": steps, "seed": seed}  # fmt: skip


def _last_step(lib, spec):
    """A recurrent layer that returns its output at the last step (a sequence classifier's
    first half), as a module of `lib`."""

    class LastStep(lib.nn.Module):
        def __init__(self):
            super().__init__()
            kind, n_in, hidden, num_layers, bidirectional = spec
            self.rnn = getattr(lib.nn, kind)(n_in, hidden, num_layers,
                                             bidirectional=bidirectional)  # fmt: skip

        def forward(self, x):
            output, _ = self.rnn(x)
            return output[-1]

    return LastStep()


def build(lib, recipe):
    layers = []
    for spec in recipe["layers"]:
        if spec[0] == "Linear":
            layers.append(lib.nn.Linear(spec[1], spec[2], bias=spec[3]))
        elif spec[0] in ("BatchNorm1d", "LayerNorm"):
            layers.append(getattr(lib.nn, spec[0])(spec[1]))
        elif spec[0] in RECURRENT:
            layers.append(_last_step(lib, spec))
        elif spec[0] == "LeakyReLU":
            layers.append(lib.nn.LeakyReLU(0.1))
        elif spec[0] == "Hardtanh":
            layers.append(lib.nn.Hardtanh(-0.5, 0.5))
        else:
            layers.append(getattr(lib.nn, spec[0])())
    if recipe["loss"] == "bce_prob":
        layers.append(lib.nn.Sigmoid())
    model = lib.nn.Sequential(*layers)
    criterion = {
        "mse": lib.nn.MSELoss,
        "cross_entropy": lib.nn.CrossEntropyLoss,
        "bce": lib.nn.BCEWithLogitsLoss,
        "bce_prob": lib.nn.BCELoss,
        "l1": lib.nn.L1Loss,
        "smooth_l1": lambda: lib.nn.SmoothL1Loss(beta=0.5),
        "huber": lambda: lib.nn.HuberLoss(delta=0.5),
    }[recipe["loss"]]()
    optimizer = getattr(lib.optim, recipe["optim"])(model.parameters(), **recipe["options"])
    return model, criterion, optimizer


def batches(lib, recipe):
    rng = np.random.default_rng(recipe["seed"])
    out = []
    sequence = recipe["layers"][0][0] in RECURRENT
    for _ in range(recipe["steps"]):
        shape = (SEQ_LEN, BATCH, recipe["n_in"]) if sequence else (BATCH, recipe["n_in"])
        x = rng.standard_normal(shape).astype(np.float32)
        if recipe["loss"] == "cross_entropy":
            t = lib.tensor(rng.integers(0, recipe["n_out"], BATCH))
        elif recipe["loss"] in ("bce", "bce_prob"):
            t = lib.tensor((rng.uniform(size=(BATCH, recipe["n_out"])) < 0.5).astype(np.float32))
        else:
            t = lib.tensor(rng.standard_normal((BATCH, recipe["n_out"])).astype(np.float32))
        out.append((lib.tensor(x), t))
    return out


def initial_weights(model):
    return {k: np.array(v.detach().numpy(), copy=True) for k, v in model.state_dict().items()}


def observe(model):
    params = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    buffers = {n: np.asarray(b.detach().numpy(), np.float64) for n, b in model.named_buffers()}
    return params, grads, buffers


def train(lib, recipe, weights, compiled=False, double=False):
    lib.manual_seed(recipe["seed"])
    model, criterion, optimizer = build(lib, recipe)
    state = {k: lib.tensor(v) for k, v in weights.items()}
    model.load_state_dict(state)
    if double:  # (before the optimizer's first step: its state follows the parameters)
        model.double()

    def step(x, t):
        optimizer.zero_grad()
        loss = criterion(model(x), t)
        loss.backward()
        optimizer.step()
        return loss

    if compiled:
        step = tape.jit(step)
    losses = []
    with warnings.catch_warnings():  # the .grads appear after the first call: one retrace,
        warnings.simplefilter("error", RetraceWarning)  # expected, so without a warning
        for x, t in batches(lib, recipe):
            if double:
                x, t = x.double(), (t.double() if t.is_floating_point() else t)
            losses.append(float(step(x, t).item()))
    return losses, observe(model)


# How far two float32 runs of one recipe may drift apart, beyond atol + rtol * |value|:
# SLACK times PyTorch's own float32 error, measured against the same run in float64.
# Rounding in float32 is amplified by the computation's conditioning, which the recipe
# alone does not bound: BatchNorm over 4 samples of a near-constant feature (a saturated
# sigmoid) divides a difference of nearly equal float32 numbers by its tiny spread, and
# its output and everything after it carry errors of 1e-5 and more in PyTorch too. Both
# libraries round differently there, so they can be as far apart as each is from the
# exact answer; a well-conditioned recipe has a float32 error near 1e-7 and gets the
# plain tolerance. A funcgrad bug (a wrong formula, a missed term) is far outside this.
SLACK = 4.0


def float32_error(t32, t64) -> dict:
    """PyTorch's float32 error per observed quantity: the largest |float32 - float64|."""
    losses32, obs32 = t32
    losses64, obs64 = t64
    error = {"losses": float(np.max(np.abs(np.subtract(losses32, losses64))))}
    for kind, a, b in zip(("parameter", "grad", "buffer"), obs32, obs64):
        for name in a:
            diff = np.abs(np.asarray(a[name], np.float64) - np.asarray(b[name], np.float64))
            error[kind, name] = float(diff.max()) if diff.size else 0.0
    return error


def assert_close_runs(expected, actual, error, rtol, atol, what):
    """The two float32 runs agree within rtol / atol plus SLACK times PyTorch's error."""
    losses, obs = actual
    t_losses, t_obs = expected
    np.testing.assert_allclose(
        losses, t_losses, rtol=rtol, atol=atol + SLACK * error["losses"], err_msg=what
    )
    for kind, a, b in zip(("parameter", "grad", "buffer"), obs, t_obs):
        assert a.keys() == b.keys(), what
        for name in b:
            tol = atol + SLACK * error[kind, name]
            assert_same(b[name], a[name], rtol=rtol, atol=tol, path=f"{what}\n{kind} {name}")


@settings(
    max_examples=N_MODELS,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(recipes())
def test_random_models_train_as_in_torch_eagerly_and_under_jit(recipe):
    tape.manual_seed(recipe["seed"])
    weights = initial_weights(build(tape, recipe)[0])
    run = train(tape, recipe, weights)
    t_run = train(torch, recipe, weights)
    error = float32_error(t_run, train(torch, recipe, weights, double=True))
    assert_close_runs(t_run, run, error, 1e-4, 1e-5, str(recipe))
    j_run = train(tape, recipe, weights, compiled=True)
    assert_close_runs(run, j_run, error, 1e-5, 1e-6, f"{recipe}\njit")
    STATS["models"] = STATS.get("models", 0) + 1
    STATS["model_steps"] = STATS.get("model_steps", 0) + 3 * recipe["steps"]
