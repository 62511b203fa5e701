"""Each example's three forms end to end: `python -m examples.NAME.FORM` at its defaults,
wall time from start to exit (imports, data, compilation and the whole run), as a user
meets it.

`funcgrad compare` times one step; this times the whole program, where compilation and a
form's choice of algorithm show (the functional style_transfer used to run optax's L-BFGS
inside one `lax.scan`, about 5x slower than the tape on CPU; it now runs PyTorch's L-BFGS
over a jitted closure). The forms of an example run one after the other, in rounds, and
the table gives each form's median over the rounds and the functional form's time over the
tape's (the issue's target: at most 1).

Run with `python benchmarks/example_forms.py [--rounds N] [--json PATH] [--quick] [EXAMPLE
...] [-- FORM OPTIONS]`; options after `--` go to every form (e.g. `-- --steps 100`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("retain_graph", "higher_order", "multitask", "grad_accumulation", "style_transfer")
FORMS = ("torch_ref", "tape", "functional")
QUICK_ARGS = {"multitask": ["--steps", "3"], "grad_accumulation": ["--steps", "2"],
              "higher_order": ["--steps", "2"],
              "style_transfer": ["--steps", "3", "--size", "16"]}  # fmt: skip


def run_form(example: str, form: str, args: list) -> float:
    """Seconds from starting `python -m examples.EXAMPLE.FORM ARGS` to its exit."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", f"examples.{example}.{form}", "--out", out,
                               *args], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"examples.{example}.{form} failed:\n{done.stderr}")
    return seconds


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=1, help="runs of each form (default 1)")
    p.add_argument("--json", default=None, help="also write the results as JSON")
    p.add_argument("--quick", action="store_true", help="a few steps each: a smoke test")
    p.add_argument("examples", nargs="*", default=list(EXAMPLES))
    argv = sys.argv[1:] if argv is None else list(argv)
    passed = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    load = os.getloadavg()[0]
    print(f"each form end to end (python -m examples.NAME.FORM {' '.join(passed)}), median of "
          f"{args.rounds} round(s); load average {load:.2f} before the run")  # fmt: skip
    print(f"| example | {' | '.join(FORMS)} | functional / tape |")
    print("|---|" + "---:|" * (len(FORMS) + 1), flush=True)
    medians = {}
    for example in args.examples:  # an example's forms take turns, round by round
        extra = (QUICK_ARGS.get(example, []) if args.quick else []) + passed
        seconds = {f: [] for f in FORMS}
        for _ in range(args.rounds):
            for form in FORMS:
                seconds[form].append(run_form(example, form, extra))
        m = medians[example] = {f: statistics.median(v) for f, v in seconds.items()}
        cells = " | ".join(f"{m[f]:.1f} s" for f in FORMS)
        print(f"| {example} | {cells} | {m['functional'] / m['tape']:.2f}x |", flush=True)
    result = {"load_average_1min": load, "rounds": args.rounds, "quick": args.quick,
              "form_options": passed, "median_s": medians}  # fmt: skip
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
