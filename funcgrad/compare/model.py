"""`compare_model`: the paradigms side by side on your own tape module.

One loss-and-gradient evaluation, `loss_fn(model(x), y)` and its backward, measured as
`funcgrad compare` measures the examples: on the tape eager, under `funcgrad.tape.jit`,
functionally (`jax.value_and_grad` of `nn.functional_call`, jitted) and, given the PyTorch
twin of the module, in PyTorch eager from the same weights. The result is a `Report` with
the command's JSON schema.
"""

from __future__ import annotations

import copy
import importlib
import time

import jax
import numpy as np

import funcgrad.tape as tape
from funcgrad.tape import nn

from .measure import Case, Paradigm, Settings, measure_case
from .report import Report, current_device
from .workload import Workload

__all__ = ["NO_TORCH_LOSS", "BAD_BATCH", "compare_model"]

NO_TORCH_LOSS = (
    "compare_model: torch_model is given but no torch_loss_fn, and loss_fn ({loss}) is not a "
    "funcgrad.tape.nn loss module with a torch.nn twin of the same name. Pass "
    "torch_loss_fn, e.g. torch.nn.functional.cross_entropy."
)
BAD_BATCH = "compare_model: batch must be a pair (inputs, targets) of arrays, got {got}"


class _WithLoss(nn.Module):
    """The model and its loss as one module, so `functional_call` gives the loss itself."""

    def __init__(self, model, loss_fn):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, x, y):
        return self.loss_fn(self.model(x), y)


def _eager(model, loss_fn, x, y, unit) -> Workload:
    """The PyTorch-style evaluation, written once for torch and the tape."""
    params = dict(model.named_parameters())

    def graph():
        return loss_fn(model(x), y)

    def step():
        for p in params.values():
            p.grad = None
        loss = graph()
        loss.backward()
        return loss

    def grads():
        step()
        return {name: p.grad for name, p in params.items()}

    def produced():  # what a step computed besides its loss: the gradients
        return [p.grad for p in params.values()]

    return Workload(unit, grads, step, graph, produced=produced)


def _torch_loss(loss_fn):
    """The `torch.nn` twin of a tape loss module (same class name, same reduction)."""
    torch = importlib.import_module("torch")  # a torch_model was given: PyTorch is there
    twin = getattr(torch.nn, type(loss_fn).__name__, None)
    if not isinstance(loss_fn, nn.Module) or twin is None:
        raise ValueError(NO_TORCH_LOSS.format(loss=type(loss_fn).__name__))
    return twin(**{k: v for k, v in vars(loss_fn).items() if k == "reduction"})


def _torch_workload(model, torch_model, torch_loss_fn, x, y, unit) -> Workload:
    torch = importlib.import_module("torch")
    twin_model = copy.deepcopy(torch_model)  # the user's module keeps its own weights
    state = {k: torch.tensor(np.array(v.detach().array)) for k, v in
             model.state_dict().items()}  # fmt: skip
    twin_model.load_state_dict(state)
    tx, ty = (torch.as_tensor(np.asarray(a)) for a in (x, y))
    ty = ty.long() if not ty.is_floating_point() else ty
    return _eager(twin_model, torch_loss_fn, tx, ty, unit)


def _functional_workload(model, loss_fn, x, y, unit) -> Workload:
    whole = _WithLoss(model, loss_fn)
    params = {f"model.{n}": p.detach().array for n, p in model.named_parameters()}

    def loss_of(params):
        return nn.functional_call(whole, params, (x, y))

    value_and_grad = jax.jit(jax.value_and_grad(loss_of))

    def grads():
        return {n.removeprefix("model."): g for n, g in value_and_grad(params)[1].items()}

    last = {}  # the last step's gradients, what it computed besides the loss

    def step():
        loss, last["grads"] = value_and_grad(params)
        return loss

    return Workload(
        unit + " (jax.value_and_grad of nn.functional_call, jitted)",
        grads,
        step,
        lambda: jax.jit(lambda p: jax.vjp(loss_of, p)[1])(params),
        produced=lambda: last,
    )


def compare_model(
    model,
    loss_fn,
    batch,
    *,
    torch_model=None,
    torch_loss_fn=None,
    name: str | None = None,
    steps: int = 3,
    repeats: int = 20,
    warmup: int = 3,
    tolerance: dict | None = None,
) -> Report:
    """Agreement, time and memory of one loss-and-gradient evaluation in every paradigm.

    Args:
      model: a `funcgrad.tape.nn.Module`.
      loss_fn: `loss_fn(output, targets) -> scalar tensor` in tape ops (e.g.
        `nn.CrossEntropyLoss()`).
      batch: `(inputs, targets)`, NumPy or JAX arrays.
      torch_model: Optional. The module's PyTorch twin (same parameter names). A copy of it
        is loaded with the tape module's weights, so both start equal.
      torch_loss_fn: Optional. The PyTorch loss; by default the `torch.nn` class of the same
        name as `loss_fn` (with its `reduction`).
      name: Optional. The case's name in the report (default: the module's class name).
      steps: Optional. Evaluations whose losses are kept.
      repeats: Optional. Timed rounds.
      warmup: Optional. Untimed calls before them.
      tolerance: Optional. `{"rtol", "atol"}` for the gradients' agreement (default 1e-4,
        1e-5).

    Returns:
      A `Report` (its `data` follows `funcgrad/compare/SCHEMA.md`): print it for the
      table, `.markdown()`, `.to_json(path)`, `.plot(path)`, `.passed`. The tape module's
      `.grad` attributes are left set by the evaluations.

    Example:
        >>> import numpy as np
        >>> from funcgrad.tape import nn
        >>> from funcgrad.compare import compare_model
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
        >>> y = np.arange(16) % 3
        >>> report = compare_model(net, nn.CrossEntropyLoss(), (x, y), repeats=3, warmup=1)
        >>> [p["id"] for p in report.data["cases"][0]["paradigms"]], report.passed
        (['tape', 'tape_jit', 'functional'], True)
    """
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise ValueError(BAD_BATCH.format(got=type(batch).__name__))
    x, y = (np.asarray(a) if not isinstance(a, jax.Array) else a for a in batch)
    unit = f"loss and gradients of {type(model).__name__}, batch {len(x)}"
    tx, ty = tape.as_tensor(x), tape.as_tensor(y)
    paradigms = []
    if torch_model is not None:
        torch_loss_fn = torch_loss_fn or _torch_loss(loss_fn)
        paradigms.append(Paradigm("pytorch", "PyTorch eager", lambda: _torch_workload(
            model, torch_model, torch_loss_fn, x, y, unit)))  # fmt: skip
    paradigms += [
        Paradigm("tape", "tape eager", lambda: _eager(model, loss_fn, tx, ty, unit)),
        Paradigm(
            "tape_jit", "tape.jit", lambda: _eager(model, loss_fn, tx, ty, unit).compiled(tape.jit)
        ),  # fmt: skip
        Paradigm(
            "functional",
            "JAX functional (jit)",
            lambda: _functional_workload(model, loss_fn, x, y, unit),
        ),  # fmt: skip
    ]
    settings = Settings(steps=steps, repeats=repeats, warmup=warmup)
    case = Case(name or type(model).__name__, paradigms,
                dict(tolerance or {"rtol": 1e-4, "atol": 1e-5}))  # fmt: skip
    device = current_device()
    start = time.perf_counter()
    result = measure_case(case, settings)
    options = {"examples": [case.name], "paradigms": None, "steps": steps, "repeats": repeats,
               "warmup": warmup, "quick": False, "seed": None, "device": device.platform,
               "wall_s": round(time.perf_counter() - start, 2)}  # fmt: skip
    return Report([result], options, device, tool="funcgrad.compare.compare_model")
