"""Runs an example's three forms for its page, and measures how far they agree.

Each example module has `run(**options) -> dict` (see examples/common.py). A page calls
`run_forms` in a hidden cell at small sizes, shows each form's printed report in synced
tabs, and a table of the differences computed here.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
from dataclasses import dataclass

import numpy as np

from examples.common import report

from .show import PARADIGMS, include, tab_set, text_block

# example form (module name) -> the paradigm's sync id in the pages' tab sets
FORMS = {"torch_ref": "pytorch", "tape": "tape", "functional": "functional"}


@dataclass
class FormRun:
    results: dict
    printed: str  # the report the form's command line prints for these results


def run_forms(example: str, **options) -> dict[str, FormRun]:
    """Runs `examples.<example>.<form>.run(**options)` for the three forms.

    An option a form's `run` does not take (the PyTorch forms' `line_search`) is left out for
    that form. Progress bars and other stderr output are dropped.
    """
    runs = {}
    for form, paradigm in FORMS.items():
        module = importlib.import_module(f"examples.{example}.{form}")
        accepted = inspect.signature(module.run).parameters
        kwargs = {k: v for k, v in options.items() if k in accepted}
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            results = module.run(**kwargs)
        call = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            shown = {k: v for k, v in results.items() if not isinstance(v, dict)}
            report(f"{example} / {PARADIGMS[paradigm]}", shown, None)
        text = f">>> examples.{example}.{form}.run({call})\n{printed.getvalue().rstrip()}"
        runs[form] = FormRun(results, text)
    return runs


def max_abs_diff(a, b) -> float:
    """Largest absolute difference between two arrays, or two dicts of arrays (same keys)."""
    if isinstance(a, dict):
        return max(max_abs_diff(a[k], b[k]) for k in a)
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def max_rel_diff(a, b) -> float:
    """max |a - b| / max |b|: the difference relative to the reference's scale."""
    if isinstance(a, dict):
        return max(max_rel_diff(a[k], b[k]) for k in a)
    scale = float(np.max(np.abs(np.asarray(b, np.float64))))
    return max_abs_diff(a, b) / scale if scale else max_abs_diff(a, b)


def agreement_rows(runs: dict[str, FormRun], keys: dict[str, str]) -> list[list[str]]:
    """Table rows: per result key (with its description), the tape's and the functional
    form's largest absolute and relative differences from PyTorch's."""
    reference = runs["torch_ref"].results
    rows = []
    for key, what in keys.items():
        row = [f"`{key}`", what]
        for form in ("tape", "functional"):
            other = runs[form].results[key]
            row.append(f"{max_abs_diff(other, reference[key]):.2e} "
                       f"({max_rel_diff(other, reference[key]):.1e})")  # fmt: skip
        rows.append(row)
    return rows


AGREEMENT_HEADER = [
    "result",
    "what it is",
    "funcgrad.tape vs PyTorch: max abs (rel) diff",
    "functional JAX vs PyTorch: max abs (rel) diff",
]


def code_tabs(example: str) -> str:
    """The example's three files in synced tabs (paths relative to docs/examples/)."""
    return tab_set({paradigm: include(f"../../examples/{example}/{form}.py")
                    for form, paradigm in FORMS.items()})  # fmt: skip


def output_tabs(runs: dict[str, FormRun]) -> str:
    """What each form printed, in synced tabs."""
    return tab_set({FORMS[form]: text_block(run.printed) for form, run in runs.items()})


def plot_per_form(ax, runs: dict[str, FormRun], key: str, column: int | None = None, **kw):
    """One line per form: `results[key]` (or one column of it) against its index."""
    styles = {"torch_ref": "-", "tape": "--", "functional": ":"}
    for form, run in runs.items():
        values = np.asarray(run.results[key])
        values = values if column is None else values[:, column]
        ax.plot(np.arange(1, len(values) + 1), values, styles[form], lw=2,
                label=PARADIGMS[FORMS[form]], **kw)  # fmt: skip
    ax.legend()
