"""The repository's examples as comparison cases: which examples there are, which forms
each has, and the paradigm (the column) each form gives.

A form is a module of an example's folder that defines `run()` (`torch_ref.py`,
`tape.py`, `functional.py`, and any new one, such as `torch_func.py`): it gets a column as
soon as its file exists. It is measured through its `workload()` (examples/README.md says
what it returns); a form without one shows in its column why it was not measured. The
`tape` form gets a second column: the same workload compiled by `funcgrad.tape.jit`.

The examples live beside the `funcgrad` package in a source checkout (they are not
installed), so this module finds them there and makes them importable.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import funcgrad
from funcgrad.tape import jit

from .measure import Case, Paradigm
from .workload import Unavailable, Workload

__all__ = [
    "DEFAULT_TOLERANCE",
    "NO_EXAMPLES",
    "examples_dir",
    "available",
    "forms",
    "paradigm_ids",
    "form_module",
    "workload",
    "case",
]

# form file -> (paradigm id, column label); a form not listed gets its file name for both
FORM_PARADIGMS = {
    "torch_ref": ("pytorch", "PyTorch eager"),
    "torch_func": ("torch_func", "torch.func"),
    "tape": ("tape", "tape eager"),
    "tape_func": ("tape_func", "tape, torch.func API"),
    "functional": ("functional", "JAX functional (jit)"),
}
COMPILED_FORMS = {"tape": ("tape_jit", "tape.jit")}  # also measured under funcgrad.tape.jit
PARADIGM_ORDER = ("pytorch", "torch_func", "tape", "tape_func", "tape_jit", "functional")
EXAMPLE_ORDER = ("retain_graph", "higher_order", "multitask", "grad_accumulation", "style_transfer")
DEFAULT_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}

NO_EXAMPLES = (
    "funcgrad compare: the examples were not found at {path}. They live in funcgrad's "
    "source checkout, beside the funcgrad package: run from a clone (pip install -e .)."
)


def examples_dir() -> Path:
    return Path(funcgrad.__file__).resolve().parents[1] / "examples"


def _importable() -> Path:
    folder = examples_dir()
    if not (folder / "__init__.py").exists():
        raise FileNotFoundError(NO_EXAMPLES.format(path=folder))
    if str(folder.parent) not in sys.path:
        sys.path.insert(0, str(folder.parent))
    return folder


def available() -> list[str]:
    """The examples, in the README's order (an example folder with at least one form)."""
    folder = _importable()
    found = [p.name for p in folder.iterdir() if (p / "__init__.py").exists() and forms(p.name)]
    known = [e for e in EXAMPLE_ORDER if e in found]
    return known + sorted(set(found) - set(known))


def forms(example: str) -> list[str]:
    """The form files of an example: its modules that define `run()`."""
    folder = examples_dir() / example
    return sorted(p.stem for p in folder.glob("*.py") if "\ndef run(" in "\n" + p.read_text())


def paradigm_ids(example: str) -> list[str]:
    ids = []
    for form in forms(example):
        ids.append(FORM_PARADIGMS.get(form, (form, form))[0])
        if form in COMPILED_FORMS:
            ids.append(COMPILED_FORMS[form][0])
    order = {k: i for i, k in enumerate(PARADIGM_ORDER)}
    return sorted(ids, key=lambda k: (order.get(k, len(order)), k))


def form_module(example: str, form: str):
    """The imported form module; `Unavailable` if it needs PyTorch and PyTorch is missing."""
    _importable()
    try:
        return importlib.import_module(f"{examples_dir().name}.{example}.{form}")
    except ImportError as err:
        if err.name == "torch":
            raise Unavailable(f"PyTorch is not installed ({err})") from err
        raise


def workload(example: str, form: str, *, seed: int = 0, quick: bool = False) -> Workload:
    """The form's `workload()`, checked; `Unavailable` if it has none."""
    where = f"{examples_dir().name}/{example}/{form}.py"
    module = form_module(example, form)
    if not hasattr(module, "workload"):
        raise Unavailable(f"{where} defines no workload() (see examples/README.md)")
    return Workload.of(module.workload(seed=seed, quick=quick), where)


def case(example: str, *, seed: int = 0, quick: bool = False, only=None) -> Case:
    """The example as a `Case`: one paradigm per form (and tape.jit), `only` those ids."""
    _importable()
    paradigms = []
    for form in forms(example):
        variants = [(*FORM_PARADIGMS.get(form, (form, form)), False)]
        if form in COMPILED_FORMS:
            variants.append((*COMPILED_FORMS[form], True))
        for paradigm_id, label, compiled in variants:

            def build(form=form, compiled=compiled):
                found = workload(example, form, seed=seed, quick=quick)
                return found.compiled(jit) if compiled else found

            paradigms.append(Paradigm(paradigm_id, label, build))
    order = {k: i for i, k in enumerate(PARADIGM_ORDER)}
    paradigms.sort(key=lambda p: (order.get(p.id, len(order)), p.id))
    if only is not None:
        paradigms = [p for p in paradigms if p.id in only]
    package = importlib.import_module(f"{examples_dir().name}.{example}")
    return Case(example, paradigms, dict(getattr(package, "TOLERANCE", DEFAULT_TOLERANCE)))
