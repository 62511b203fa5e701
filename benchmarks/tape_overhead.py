"""Per-op overhead of the eager tape: funcgrad.tape (op by op, and with lazy segments) vs
PyTorch eager vs JAX eager.

Two workloads, forward + backward, each timed for the eager systems in one run:

- chain: 100 elementwise ops (alternating ``* 1.01``, ``sin``, ``+ 0.1``, ``tanh``) on a 4x4
  float32 tensor, then ``.sum()``. The arrays are tiny, so this measures the fixed cost per
  recorded op (dispatch, node bookkeeping, calling the pullback).
- mlp: a 10-layer MLP (width 256, batch 64; ``x @ W + b``, ``relu`` between layers), loss
  ``mean(out ** 2)``; gradients of all 20 parameters. Here real compute dilutes the overhead.

The tape runs three ways: op by op (``funcgrad.tape``, the default), with lazy segments
repeated (``tape lazy``: the same graph every call, so after the first two calls each
backward is one cached compiled program), and with lazy segments at first sight
(``tape lazy 1st``: each call inside ``funcgrad.tape.lazy.first_sight()``, which sets the
cache aside, so its segment runs op by op: what a graph seen once costs). The one compile
of each workload's program is reported apart (``compile_seconds``). JAX eager means
``jax.grad`` called without ``jax.jit``. Every timed call includes waiting
for the gradients (``block_until_ready()`` on the JAX arrays; PyTorch CPU is synchronous).
The MLP parameters come from one NumPy initialisation shared by all three, and the script
checks that the three systems compute the same gradients before timing them.

Run with ``make bench`` or ``python benchmarks/tape_overhead.py [--repeats N] [--json PATH]``.
Results are medians over ``--repeats`` timed calls after a warm-up (which also compiles the
tape's per-op kernels), and ratios against PyTorch eager.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import torch

import funcgrad
import funcgrad.tape as tape

SYSTEMS = ("funcgrad.tape", "tape lazy", "tape lazy 1st", "PyTorch eager", "JAX eager")
# The issues' targets: a tape system's median time as a multiple of PyTorch eager's, at most.
TARGETS = {
    ("chain", "funcgrad.tape"): 5.0,
    ("mlp", "funcgrad.tape"): 1.5,
    ("chain", "tape lazy"): 1.0,
    ("chain", "tape lazy 1st"): 3.0,
    ("mlp", "tape lazy"): 1.0,
}


def first_sight(step: Callable) -> Callable:
    """The step with the lazy cache set aside: its graph runs as if never seen."""

    def run():
        with tape.lazy.first_sight():
            return step()

    return run


def tape_variants(step: Callable) -> tuple[Callable, Callable, Callable]:
    """The tape step op by op, with lazy segments, and with lazy segments at first sight."""

    def eager():
        with tape.lazy.lazy_segments(False):
            return step()

    def lazy():
        with tape.lazy.lazy_segments(True):
            return step()

    return eager, lazy, first_sight(lazy)


@dataclass(frozen=True)
class Sizes:
    chain_ops: int = 100
    chain_shape: tuple[int, int] = (4, 4)
    mlp_layers: int = 10
    mlp_width: int = 256
    mlp_batch: int = 64


FULL = Sizes()
QUICK = Sizes(chain_ops=8, chain_shape=(4, 4), mlp_layers=2, mlp_width=16, mlp_batch=4)


# ---------------------------------------------------------------- chain: 100 elementwise ops
def chain(x, n_ops: int, sin: Callable, tanh: Callable):
    """The same op sequence for every system; `sin`/`tanh` are the system's functions."""
    for i in range(n_ops):
        step = i % 4
        if step == 0:
            x = x * 1.01
        elif step == 1:
            x = sin(x)
        elif step == 2:
            x = x + 0.1
        else:
            x = tanh(x)
    return x.sum()


def chain_steps(sizes: Sizes, seed: int) -> dict[str, Callable]:
    x0 = np.random.default_rng(seed).standard_normal(sizes.chain_shape).astype(np.float32)
    n = sizes.chain_ops

    xt = tape.tensor(x0, requires_grad=True)

    def tape_step():
        xt.grad = None
        chain(xt, n, tape.sin, tape.tanh).backward()
        return xt.grad.array.block_until_ready()

    xp = torch.tensor(x0, requires_grad=True)

    def torch_step():
        xp.grad = None
        chain(xp, n, torch.sin, torch.tanh).backward()
        return xp.grad

    xj = jnp.asarray(x0)
    grad_fn = jax.grad(lambda x: chain(x, n, jnp.sin, jnp.tanh))

    def jax_step():
        return grad_fn(xj).block_until_ready()

    return dict(zip(SYSTEMS, (*tape_variants(tape_step), torch_step, jax_step), strict=True))


# ---------------------------------------------------------------- mlp: 10 x (x @ W + b, relu)
def mlp_params(sizes: Sizes, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One NumPy initialisation (PyTorch Linear's uniform bound 1/sqrt(fan_in)) for all."""
    rng = np.random.default_rng(seed)
    w = sizes.mlp_width
    bound = 1.0 / np.sqrt(w)
    return [
        (
            rng.uniform(-bound, bound, (w, w)).astype(np.float32),
            rng.uniform(-bound, bound, (w,)).astype(np.float32),
        )
        for _ in range(sizes.mlp_layers)
    ]


def mlp_loss(params, x, relu: Callable):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = relu(x)
    return (x**2).mean()


def mlp_steps(sizes: Sizes, seed: int) -> dict[str, Callable]:
    params = mlp_params(sizes, seed)
    x0 = (
        np.random.default_rng(seed + 1)
        .standard_normal((sizes.mlp_batch, sizes.mlp_width))
        .astype(np.float32)
    )

    pt = [
        (tape.tensor(w, requires_grad=True), tape.tensor(b, requires_grad=True)) for w, b in params
    ]
    flat_t = [p for layer in pt for p in layer]
    xt = tape.tensor(x0)

    def tape_step():
        for p in flat_t:
            p.grad = None
        mlp_loss(pt, xt, tape.relu).backward()
        return [p.grad.array.block_until_ready() for p in flat_t]

    pp = [
        (torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
        for w, b in params
    ]
    flat_p = [p for layer in pp for p in layer]
    xp = torch.tensor(x0)

    def torch_step():
        for p in flat_p:
            p.grad = None
        mlp_loss(pp, xp, torch.relu).backward()
        return [p.grad for p in flat_p]

    pj = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
    xj = jnp.asarray(x0)
    grad_fn = jax.grad(lambda p: mlp_loss(p, xj, jax.nn.relu))

    def jax_step():
        grads = jax.block_until_ready(grad_fn(pj))
        return [g for layer in grads for g in layer]

    return dict(zip(SYSTEMS, (*tape_variants(tape_step), torch_step, jax_step), strict=True))


# ---------------------------------------------------------------- timing and report
def as_numpy(grads) -> list[np.ndarray]:
    grads = grads if isinstance(grads, list) else [grads]
    return [g.numpy() if isinstance(g, torch.Tensor) else np.asarray(g) for g in grads]


def check_same_grads(name: str, steps: dict[str, Callable]) -> None:
    """Fails loudly if the systems disagree: a benchmark of different maths is worthless."""
    ref = as_numpy(steps["PyTorch eager"]())
    # Three calls each: the lazy tape's third runs the compiled program.
    for system, step in [(s, f) for s, f in steps.items() for _ in range(3)]:
        for i, (got, want) in enumerate(zip(as_numpy(step()), ref, strict=True)):
            if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
                err = np.max(np.abs(got - want))
                raise SystemExit(
                    f"{name}: {system}'s gradient {i} differs from PyTorch eager's (max abs "
                    f"error {err:.3g}); the benchmark would compare different computations."
                )


def median_seconds(steps: dict[str, Callable], repeats: int, warmup: int) -> dict[str, float]:
    """Median wall time per system. The systems take turns, one call each per round, so
    that drift in the machine's load affects all alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {s: [] for s in steps}
    for _ in range(repeats):
        for system, step in steps.items():
            start = time.perf_counter()
            step()
            times[system].append(time.perf_counter() - start)
    return {s: statistics.median(t) for s, t in times.items()}


def run(sizes: Sizes, repeats: int, warmup: int, seed: int) -> dict:
    workloads = {
        "chain": (
            f"{sizes.chain_ops} elementwise ops on "
            f"{sizes.chain_shape[0]}x{sizes.chain_shape[1]} float32, fwd+bwd",
            chain_steps(sizes, seed),
        ),
        "mlp": (
            f"MLP {sizes.mlp_layers} x Linear({sizes.mlp_width}) + relu, batch "
            f"{sizes.mlp_batch}, fwd+bwd",
            mlp_steps(sizes, seed),
        ),
    }
    results = {}
    for name, (description, steps) in workloads.items():
        tape.lazy.clear_cache()
        check_same_grads(name, steps)
        seconds = median_seconds(steps, repeats, warmup)
        base = seconds["PyTorch eager"]
        results[name] = {
            "description": description,
            "median_ms": {s: t * 1e3 for s, t in seconds.items()},
            "ratio_vs_pytorch_eager": {s: t / base for s, t in seconds.items()},
            # The lazy program's one compile, and its hits (first sights never compile).
            "lazy_cache": tape.lazy.cache_info(),
        }
    return results


def environment() -> dict:
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "python": platform.python_version(),
        "funcgrad": funcgrad.__version__,
        "jax": jax.__version__,
        "torch": torch.__version__,
        "jax_backend": jax.default_backend(),
        # Other processes on the machine slow the three systems unequally: report the load.
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def report(results: dict, env: dict, repeats: int, full_size: bool) -> str:
    lines = [
        f"funcgrad tape overhead  ({env['date']}; {env['machine']}; jax {env['jax']}, "
        f"torch {env['torch']}; median of {repeats})",
        f"load average before the run: {env['load_average_1min']} (1 min; this machine has "
        f"{os.cpu_count()} cores)",
    ]
    width = 24
    header = f"{'':{width}}" + "".join(f"{s:>16}" for s in SYSTEMS)
    lines.append(
        "tape lazy: lazy segments on, the same graph each call (one compiled program); "
        "tape lazy 1st: lazy at first sight (op by op)"
    )
    for name, r in results.items():
        lines += ["", f"{name}: {r['description']}", header]
        lines.append(
            f"{'  median time':{width}}"
            + "".join(f"{r['median_ms'][s]:>13.3f} ms" for s in SYSTEMS)
        )
        lines.append(
            f"{'  ratio vs PyTorch eager':{width}}"
            + "".join(f"{r['ratio_vs_pytorch_eager'][s]:>15.2f}x" for s in SYSTEMS)
        )
        cache = r["lazy_cache"]
        lines.append(
            f"  lazy program compiles: {cache['compiles']} "
            f"({cache['compile_seconds'] / max(cache['compiles'], 1):.3f} s each)"
        )
    lines.append("")
    for (name, system), limit in TARGETS.items():
        ratio = results[name]["ratio_vs_pytorch_eager"][system]
        verdict = "met" if ratio <= limit else "NOT met"
        if not full_size:
            verdict = "not judged (--quick sizes)"
        lines.append(
            f"target {name}: {system} <= {limit:g}x PyTorch eager: {verdict} ({ratio:.2f}x)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=100, help="timed calls per system and workload (default 100)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="untimed calls first, which also compile the tape's kernels",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes (a smoke test of the script; no targets judged)",
    )
    parser.add_argument("--seed", type=int, default=0, help="NumPy seed of inputs and params")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be >= 1 and --warmup >= 0")

    sizes = QUICK if args.quick else FULL
    env = environment()
    results = run(sizes, args.repeats, args.warmup, args.seed)
    print(report(results, env, args.repeats, not args.quick))
    if args.json:
        payload = {
            "environment": env,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "quick": args.quick,
            "targets": [
                {"workload": n, "system": s, "at_most": v} for (n, s), v in TARGETS.items()
            ],
            "results": results,
        }
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
