"""Measuring one case (an example, or a user's model) in every paradigm: agreement, time,
memory. The result is one entry of the report's `cases` list (see SCHEMA.md).

The timing method is the benchmarks' (benchmarks/README.md): each paradigm's first calls
are timed on their own (time to the first gradient, and the first step: tracing and
compiling for the compiled forms, per-op kernels for the eager tape), then every paradigm
is warmed up, and the timed rounds are interleaved (one step of each paradigm per round), so
that load from other processes hits them alike. Times are medians with their quartiles.
A step is timed until its work is done: the loss it returns and what its workload says it
`produced` (parameters, optimizer state, gradients), since JAX (the tape's eager ops too)
returns before the work it dispatched is computed.

Agreement: each paradigm's first-step gradients against the reference paradigm's (PyTorch
eager when it ran, else the functional form), per parameter: the largest absolute error,
that error relative to the reference's largest magnitude, and PASS when every entry is
within the case's tolerance (`numpy.allclose`). This module prints nothing and knows no
example: cases come from `examples.py` or `model.py`.
"""

from __future__ import annotations

import statistics
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import numpy as np

from .workload import Unavailable, Workload, framework, retained_bytes, to_float, to_numpy, wait

__all__ = ["Paradigm", "Case", "Settings", "agreement", "measure_case"]

REFERENCE_ORDER = ("pytorch", "functional")  # the agreement reference: the first that ran


@dataclass
class Paradigm:
    """One column: `build()` returns its `Workload`, or raises `Unavailable` (with why)."""

    id: str
    label: str
    build: Callable[[], Workload]


@dataclass
class Case:
    """One row group: the same work in several paradigms, and the tolerance they agree to.

    `tolerance`: `rtol` and `atol` as in `numpy.allclose`; `atol_of_max` (optional) adds that
    fraction of the reference gradient's largest magnitude to `atol`.
    """

    name: str
    paradigms: list[Paradigm]
    tolerance: dict = field(default_factory=lambda: {"rtol": 1e-5, "atol": 1e-6})


@dataclass
class Settings:
    steps: int = 10  # steps whose losses are reported (the final loss is the last)
    repeats: int = 20  # timed rounds
    warmup: int = 3  # untimed steps per paradigm before the rounds


class _WaitedStep:
    """A workload's step that returns only once its work is done: the loss it returns and
    what it `produced` (JAX dispatches asynchronously: a tape step returns while its
    backward and optimizer update still run, and unwaited they would be timed as part of
    the next paradigm's step). Records how long its first call took (the compile, for
    compiled forms)."""

    def __init__(self, workload: Workload):
        self.step, self.produced, self.first_s = workload.step, workload.produced, None

    def __call__(self):
        start = time.perf_counter()
        out = self.step()
        wait(out, None if self.produced is None else self.produced())
        if self.first_s is None:
            self.first_s = time.perf_counter() - start
        return out


def _timed(step: _WaitedStep) -> float:
    """Seconds of one call of `step`, until everything it computes is ready."""
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _peak_device_bytes(kind: str):
    """(bytes, note): the device's peak memory where its framework reports one."""
    if kind == "torch":
        import torch  # only reached when a PyTorch form ran

        if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
            return torch.cuda.max_memory_allocated(), "torch.cuda.max_memory_allocated"
        return None, "PyTorch runs on the CPU: no device memory statistics"
    stats = (jax.config.jax_default_device or jax.devices()[0]).memory_stats()
    if not stats or "peak_bytes_in_use" not in stats:
        return None, "JAX reports no memory statistics for this device (CPU)"
    return int(stats["peak_bytes_in_use"]), "peak_bytes_in_use: the process's peak so far"


def _prepare(paradigm: Paradigm, settings: Settings, tick) -> tuple[dict, _WaitedStep | None]:
    """Builds the workload and takes its first gradients, graph bytes and losses; returns
    the record and the step to time (None if it cannot run)."""
    record = {"id": paradigm.id, "label": paradigm.label, "status": "ok", "reason": None}
    tick(f"{paradigm.label}: first calls")
    try:
        workload = paradigm.build()
        start = time.perf_counter()
        grads = workload.grads()
        wait(grads)
        first_grads_s = time.perf_counter() - start
        kind = framework(next(iter(grads.values()), None))
        record["_grads"] = {name: to_numpy(g) for name, g in grads.items()}
        nbytes, how, note = None, None, workload.no_graph
        if workload.graph is not None:
            (nbytes, how), note = retained_bytes(workload.graph, workload.graph_bytes), None
        record["memory"] = {"retained_graph_bytes": nbytes, "retained_graph_how": how,
                            "retained_graph_note": note}  # fmt: skip
        step = _WaitedStep(workload)
        if workload.losses is None:
            losses = [to_float(step()) for _ in range(settings.steps)]
        else:
            losses = [float(v) for v in workload.losses(settings.steps, step)]
        peak, note = _peak_device_bytes(kind)
        record["memory"].update(device_peak_bytes=peak, device_peak_note=note)
        record["losses"] = losses
        record["final_loss"] = losses[-1] if losses else None
        record["unit"] = workload.unit
        record["time"] = {"first_grads_s": first_grads_s}
        return record, step
    except Unavailable as err:
        record.update(status="unavailable", reason=str(err))
    except Exception as err:  # one broken paradigm must not hide the others' results
        traceback.print_exc()
        record.update(status="error", reason=f"{type(err).__name__}: {err}")
    return record, None


def _time_rounds(running: dict, settings: Settings, tick) -> dict:
    """Warm-up, then rounds in which every paradigm's step runs once; the samples (s)."""
    for paradigm_id, step in running.items():
        tick(f"{paradigm_id}: warm-up")
        for _ in range(settings.warmup):
            step()
    samples = {k: [] for k in running}
    for r in range(settings.repeats):
        tick(f"round {r + 1}/{settings.repeats}")
        for paradigm_id, step in running.items():
            samples[paradigm_id].append(_timed(step))
    return samples


def _time_stats(samples: list) -> dict:
    q1, _, q3 = (
        statistics.quantiles(samples, n=4, method="inclusive") if len(samples) > 1 else samples * 3
    )
    return {
        "median_s": statistics.median(samples),
        "q1_s": q1,
        "q3_s": q3,
        "min_s": min(samples),
        "max_s": max(samples),
        "samples": len(samples),
    }


def agreement(grads: dict, reference: dict, tolerance: dict) -> dict:
    """Per-parameter errors of `grads` against `reference` and the verdict at `tolerance`.

    Example:
        >>> import numpy as np
        >>> a = agreement({"w": np.array([1.0, 2.0])}, {"w": np.array([1.0, 2.001])},
        ...               {"rtol": 1e-3, "atol": 0.0})
        >>> a["passed"], round(a["params"][0]["max_abs_error"], 6)
        (True, 0.001)
    """
    params, rtol = [], tolerance["rtol"]
    for name, ref in reference.items():
        got = grads.get(name)
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        atol = tolerance["atol"] + tolerance.get("atol_of_max", 0.0) * scale
        if got is None or got.shape != ref.shape:
            found = "missing" if got is None else f"shape {list(got.shape)}"
            params.append({"name": name, "shape": list(ref.shape), "max_abs_error": None,
                           "max_rel_error": None, "passed": False, "note": found})  # fmt: skip
            continue
        err = float(np.max(np.abs(got - ref))) if ref.size else 0.0
        params.append({
            "name": name,
            "shape": list(ref.shape),
            "max_abs_error": err,
            "max_rel_error": err / scale if scale else err,
            "passed": bool(np.allclose(got, ref, rtol=rtol, atol=atol)),
        })  # fmt: skip
    extra = sorted(set(grads) - set(reference))
    for name in extra:
        params.append({"name": name, "shape": list(grads[name].shape), "max_abs_error": None,
                       "max_rel_error": None, "passed": False,
                       "note": "not in the reference"})  # fmt: skip
    return {"passed": all(p["passed"] for p in params), "params": params}


def measure_case(case: Case, settings: Settings, tick: Callable[[str], None] = lambda s: None):
    """Runs `case` in each of its paradigms; returns its entry of the report (a dict)."""
    records, running = [], {}
    with warnings.catch_warnings():
        # tape.jit retraces once when the .grads go from None to tensors: expected here
        warnings.filterwarnings("ignore", message="funcgrad.tape.jit: retracing")
        for paradigm in case.paradigms:
            record, step = _prepare(paradigm, settings, lambda s: tick(f"{case.name}: {s}"))
            records.append(record)
            if step is not None:
                running[paradigm.id] = step
        samples = _time_rounds(running, settings, lambda s: tick(f"{case.name}: {s}"))

    grads = {r["id"]: r.pop("_grads", None) for r in records}
    ran = [r for r in records if r["status"] == "ok"]
    for record in ran:  # a form's own loop may not call the step: then its warm-up is first
        record["time"]["first_step_s"] = running[record["id"]].first_s
        record["time"].update(_time_stats(samples[record["id"]]))
    fastest = min((r["time"]["median_s"] for r in ran), default=None)
    ids = [r["id"] for r in ran]
    reference = next((k for k in REFERENCE_ORDER if k in ids), ids[0] if ids else None)
    for record in records:
        if record["status"] != "ok":
            record.update(unit=None, time=None, memory=None, agreement=None, losses=[],
                          final_loss=None)  # fmt: skip
            continue
        record["time"]["ratio_to_fastest"] = record["time"]["median_s"] / fastest
        record["agreement"] = {
            "reference": reference,
            **agreement(grads[record["id"]], grads[reference], case.tolerance),
        }
    return {"name": case.name, "reference": reference, "tolerance": dict(case.tolerance),
            "paradigms": records}  # fmt: skip
