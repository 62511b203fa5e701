"""What every example script shares: its command line, a progress bar, the device line.

Each example module exposes `run(**options) -> dict` (used by the tests and by
`funcgrad compare`) and `main(argv)` (the command line, which prints the dict readably).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import numpy as np
import optax


def parser(description: str, *, steps: int = 1, seed: int = 0) -> argparse.ArgumentParser:
    """The options every example takes: --steps, --seed, --out."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--steps", type=int, default=steps, help=f"optimisation steps (default {steps})")
    p.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    p.add_argument("--out", default=None, help="directory to write results.json (and images) to")
    return p


def progress(iterable, total: int | None = None, desc: str = ""):
    """A tqdm bar on stderr, shown only for loops long enough to want one, and only on a
    terminal: in logs and CI its carriage-return updates would fill the capture."""
    from tqdm.auto import tqdm

    total = total if total is not None else len(iterable)
    quiet = total < 20 or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, disable=quiet, file=sys.stderr)


def device_line() -> str:
    d = jax.devices()[0]
    return f"JAX device: {d.platform} ({d.device_kind})"


def report(title: str, results: dict, out: str | None) -> None:
    """Prints the results and, with --out, writes them as JSON."""
    print(f"== {title}")
    for key, value in results.items():
        print(f"  {key:28s} {_fmt(value)}")
    if out:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "results.json")
        with open(path, "w") as f:
            json.dump({k: _jsonable(v) for k, v in results.items()}, f, indent=2)
        print(f"  wrote {path}")


def _fmt(value) -> str:
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and arr.size > 6:
            return f"shape {arr.shape}, norm {np.linalg.norm(arr):.6g}"
        if arr.dtype.kind == "f":
            return (
                np.array2string(arr, precision=5, separator=", ")
                if arr.ndim
                else f"{float(arr):.6g}"
            )
    except Exception:  # not array-like: print as is
        pass
    return str(value)


def _jsonable(value):
    arr = np.asarray(value) if not isinstance(value, (str, type(None))) else value
    if isinstance(arr, np.ndarray):
        return arr.tolist()
    return arr


def optax_step(loss_and_grads, optimizer, params) -> tuple:
    """`(step, first_grads, produced)` for `funcgrad compare`'s workloads: `step() -> loss`
    is one jitted optax update of `params`, which it keeps between calls; `first_grads()`
    returns the gradients of the first step without taking it (the same compiled program);
    `produced()` what the last step computed: `[params, opt_state, grads]`.
    `loss_and_grads(params) -> (loss, grads)`."""

    @jax.jit
    def train_step(params, opt_state):
        loss, grads = loss_and_grads(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, grads

    first = (params, optimizer.init(params))
    state = [*first, None]

    def step():
        state[0], state[1], loss, state[2] = train_step(*state[:2])
        return loss

    return step, lambda: train_step(*first)[3], lambda: state


class Timer:
    """Context manager measuring wall time in seconds (`t.seconds`)."""

    def __enter__(self):
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t
        return False
