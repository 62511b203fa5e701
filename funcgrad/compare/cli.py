"""`funcgrad compare [EXAMPLE ...]`: the command line over the examples.

Parses the options, checks them (unknown example, bad values, a device JAX does not
have, PyTorch missing when its column is asked for) with a clear message and exit
status 2, runs every example in every paradigm with a progress bar on a terminal (none in
logs), prints the tables, and writes the JSON, the plot and the graph pictures asked for.
Exit status: 0 when everything ran and agreed, 1 when a paradigm failed or disagreed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

import jax

from . import examples
from .graphs import draw_example_graphs
from .measure import Settings, measure_case
from .report import Report

__all__ = [
    "QUICK",
    "FULL",
    "UsageError",
    "parser",
    "settings",
    "select_examples",
    "select_paradigms",
    "select_device",
    "run",
    "main",
]

QUICK = Settings(steps=2, repeats=3, warmup=1)
FULL = Settings(steps=10, repeats=20, warmup=3)
DEVICES = ("cpu", "gpu", "tpu")


class UsageError(Exception):
    """A mistake in the command line: reported with its fix, exit status 2."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="funcgrad compare",
        description="Each example in every paradigm (PyTorch eager, torch.func, the tape "
        "eager and under jit, functional JAX): gradient agreement, time per step and "
        "retained-graph memory.",
    )
    p.add_argument("examples", nargs="*", metavar="EXAMPLE",
                   help="examples to compare (default: all)")  # fmt: skip
    p.add_argument("--device", choices=DEVICES, help="JAX device (default: the best present)")
    p.add_argument("--steps", type=int, help="steps whose losses are reported (default 10)")
    p.add_argument("--repeats", type=int, help="timed rounds (default 20)")
    p.add_argument("--warmup", type=int, help="untimed steps before the rounds (default 3)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, 2 steps, 3 rounds: a minute or two in all")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="the examples' seed (default 0)")
    p.add_argument("--paradigms", help="comma-separated paradigm ids to run (default: all), "
                   f"from {', '.join(examples.PARADIGM_ORDER)}")  # fmt: skip
    p.add_argument("--json", metavar="FILE", help="write the report as JSON (SCHEMA.md)")
    p.add_argument("--plot", metavar="FILE", help="write a PNG of time and memory")
    p.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    p.add_argument("--graph", metavar="DIR",
                   help="draw each example's tape graph before and after backward")  # fmt: skip
    return p


def settings(args) -> Settings:
    base = QUICK if args.quick else FULL
    chosen = Settings(
        steps=base.steps if args.steps is None else args.steps,
        repeats=base.repeats if args.repeats is None else args.repeats,
        warmup=base.warmup if args.warmup is None else args.warmup,
    )
    for name, low in (("steps", 1), ("repeats", 1), ("warmup", 0)):
        if getattr(chosen, name) < low:
            raise UsageError(f"--{name} must be at least {low}, got {getattr(chosen, name)}")
    return chosen


def select_examples(names: list) -> list:
    valid = examples.available()
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UsageError(
            f"unknown example {', '.join(map(repr, unknown))}; the examples are: {', '.join(valid)}"
        )
    return names or valid


def select_paradigms(text: str | None):
    if text is None:
        return None
    ids = [s.strip() for s in text.split(",") if s.strip()]
    bad = [i for i in ids if i not in examples.PARADIGM_ORDER]
    if bad or not ids:
        raise UsageError(
            f"--paradigms: unknown paradigm {', '.join(map(repr, bad)) or '(none given)'}; "
            f"choose from {', '.join(examples.PARADIGM_ORDER)}"
        )
    needs_torch = [i for i in ids if i in ("pytorch", "torch_func")]
    if needs_torch:
        try:
            importlib.import_module("torch")
        except ImportError as err:
            raise UsageError(
                f"--paradigms asks for {', '.join(needs_torch)}, which needs PyTorch, but "
                f"`import torch` failed ({err}). Install it (pip install torch==2.13.0, or "
                "pip install -e '.[test]'), or leave those columns out of --paradigms."
            ) from err
    return ids


def select_device(name: str | None):
    """The JAX device to run on: `name`'s first, or JAX's default (the best present)."""
    if name is None:
        return jax.devices()[0]
    try:
        return jax.devices(name)[0]
    except RuntimeError as err:
        present = sorted({d.platform for d in jax.devices()})
        raise UsageError(
            f"--device {name}: JAX finds no {name.upper()} on this machine (it has: "
            f"{', '.join(present)}). Install the jax build for it (e.g. jax[cuda12] for a "
            f"GPU) or choose --device {present[0]}.\n  ({err})"
        ) from err


class _Progress:
    """A tqdm bar on stderr when it is a terminal; silent otherwise (logs, CI)."""

    def __init__(self, total: int):
        self.bar = None
        if sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm
            except ImportError:  # tqdm is optional: no bar without it
                return
            self.bar = tqdm(total=total, file=sys.stderr, leave=False, dynamic_ncols=True)

    def __call__(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(text[:60])
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args) -> Report:
    chosen = settings(args)
    names = select_examples(args.examples)
    only = select_paradigms(args.paradigms)
    device = select_device(args.device)
    jax.config.update("jax_default_device", device)
    torch = sys.modules.get("torch")
    if device.platform == "gpu" and torch is not None and torch.cuda.is_available():
        torch.set_default_device("cuda")

    cases = [examples.case(n, seed=args.seed, quick=args.quick, only=only) for n in names]
    progress = _Progress(sum(2 * len(c.paradigms) + chosen.repeats for c in cases))
    start = time.perf_counter()
    try:
        results = [measure_case(c, chosen, progress) for c in cases]
    finally:
        progress.close()
    options = {
        "examples": names,
        "paradigms": only,
        "steps": chosen.steps,
        "repeats": chosen.repeats,
        "warmup": chosen.warmup,
        "quick": args.quick,
        "seed": args.seed,
        "device": device.platform,
        "wall_s": round(time.perf_counter() - start, 2),
    }
    return Report(results, options, device, tool="funcgrad compare")


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        report = run(args)
    except (UsageError, FileNotFoundError) as err:
        p.print_usage(sys.stderr)
        print(f"funcgrad compare: error: {err}", file=sys.stderr)
        return 2
    print(report.tables(markdown=args.markdown), end="")
    print(f"(the whole comparison took {report.data['options']['wall_s']:.1f} s)")
    if args.json:
        report.to_json(args.json)
        print(f"wrote {args.json}")
    if args.plot:
        report.plot(args.plot)
        print(f"wrote {args.plot}")
    if args.graph:
        for path in draw_example_graphs(report.data["options"]["examples"], args.graph,
                                        seed=args.seed, quick=args.quick):  # fmt: skip
            print(f"wrote {path}")
    return 0 if report.passed else 1
