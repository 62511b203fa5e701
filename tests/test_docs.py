"""The documentation site builds without a warning, and its API reference is complete.

The build runs every page's code (MyST-NB, `nb_execution_raise_on_error`), so a page whose
code fails fails this test; the browser checks of the built site are in
test_docs_browser.py.
"""

from __future__ import annotations

import html
import importlib
import inspect
import re
import sys

import pytest
from docs_site import DOCS

sys.path.insert(0, str(DOCS))
from _support import public_api, snippets  # noqa: E402 - the docs' helpers live in docs/


def test_docs_build_without_warnings(built_docs):
    done, out = built_docs
    log = done.stdout + done.stderr
    # -W: any Sphinx warning (a failing cell, a missing glue key, a bad link) fails the build
    assert done.returncode == 0, "the docs build failed:\n" + log[-8000:]
    assert "build succeeded" in log
    assert (out / "index.html").exists()


def test_public_names_are_all_when_a_module_has_one():
    import funcgrad.functional

    assert public_api.public_names(funcgrad.functional) == funcgrad.functional.__all__


def test_public_names_without_all_are_the_reexports_and_definitions(tmp_path, monkeypatch):
    """Until a module has an `__all__`: what it defines, what it imports as `x as x` or with
    `# noqa: F401` (re-exported), and what it star-imports; never a private name."""
    package = tmp_path / "fake_public"
    package.mkdir()
    (package / "inner.py").write_text("__all__ = ['starred']\nstarred = 1\nhidden = 2\n")
    (package / "__init__.py").write_text(
        "import json\n"
        "from .inner import hidden\n"
        "from .inner import hidden as hidden_alias\n"
        "from .inner import starred as starred_too  # noqa: F401\n"
        "from .inner import *  # noqa: F403\n"
        "from . import inner as inner\n"
        "from .inner import hidden as _private  # noqa: F401\n"
        "CONSTANT = 3\n"
        "def function(): pass\n"
        "class Class: pass\n"
        "def _helper(): pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fake_public")
    assert public_api.public_names(module) == [
        "starred_too",
        "starred",
        "inner",
        "CONSTANT",
        "function",
        "Class",
    ]


def test_public_modules_are_found_from_the_top_level_ones():
    modules = public_api.public_modules()
    expected = {"funcgrad.functional", "funcgrad.tape", "funcgrad.tape.nn", "funcgrad.tape.optim",
                "funcgrad.tape.nn.functional", "funcgrad.tape.autograd"}  # fmt: skip
    assert expected <= set(modules)
    assert "funcgrad.demo" not in modules and "funcgrad.tape.ops" not in modules


def test_api_reference_documents_every_public_name(built_docs):
    """Each public module has a page; each of its public names appears there: funcgrad's
    functions and classes as documented entries (an anchor `module.name`), submodules as a
    link to their page, the rest (dtype aliases, namespaces) by name in the page's table."""
    _, out = built_docs
    missing = []
    for name in public_api.public_modules():
        module = importlib.import_module(name)
        page = out / "api" / f"{name}.html"
        assert page.exists(), f"no API page for {name}"
        text = html.unescape(page.read_text())
        for public in public_api.public_names(module):
            value = getattr(module, public)
            if public_api.is_funcgrad_module(value):
                found = f'href="{value.__name__}.html"' in text  # a link to its own page
            elif public_api.documented_here(module, public):
                found = f'id="{name}.{public}"' in text  # an autodoc entry
            else:
                found = re.search(rf">{re.escape(public)}<", text)  # a row of the table
            if not found:
                missing.append(f"{name}.{public}")
    assert not missing, "missing from the API reference:\n" + "\n".join(missing)


def test_each_class_is_documented_on_one_page_only():
    """autodoc registers a class under its defining name as well, so a class documented on
    two pages fails the -W build ("duplicate object description"); this finds it in seconds."""
    pages: dict[type, list[str]] = {}
    for name in public_api.public_modules():
        module = importlib.import_module(name)
        for public in public_api.public_names(module):
            value = getattr(module, public)
            if inspect.isclass(value) and public_api.documented_here(module, public):
                pages.setdefault(value, []).append(name)
    twice = {cls.__qualname__: where for cls, where in pages.items() if len(where) > 1}
    assert not twice
    generator = importlib.import_module("funcgrad.tape").Generator
    assert pages[generator] == ["funcgrad.tape"]  # exported by funcgrad.tape.random as well


def test_paradigm_snippet_files_have_the_same_sections_in_every_paradigm():
    files = sorted((DOCS / "snippets" / "paradigms").glob("*.py"))
    assert len(files) >= 3
    reference = list(snippets.sections("paradigms/pytorch.py"))
    assert len(reference) >= 12
    for path in files:
        assert list(snippets.sections(f"paradigms/{path.name}")) == reference, path.name


def test_errors_page_keeps_every_heading_of_errors_md(built_docs):
    _, out = built_docs
    built = html.unescape(re.sub(r"<[^>]+>", "", (out / "errors.html").read_text()))
    built = re.sub(r"\s+", " ", built)
    headings = re.findall(r"^#{2,3} (.+)$", (DOCS / "errors.md").read_text(), flags=re.MULTILINE)
    assert len(headings) > 30
    for heading in headings:
        plain = re.sub(r"\s+", " ", heading.replace("`", ""))
        assert plain in built, heading


# PyTorch's import lines and the tape's in their place, as the snippets write them
IMPORTS = {
    "import torch": "import funcgrad.tape as torch",
    "from torch import nn": "from funcgrad.tape import nn",
}


def test_architecture_page_is_architecture_md(built_docs):
    _, out = built_docs
    built = html.unescape(re.sub(r"<[^>]+>", "", (out / "architecture.html").read_text()))
    headings = re.findall(r"^## (.+)$", (DOCS.parent / "ARCHITECTURE.md").read_text(), re.M)
    assert len(headings) >= 3
    for heading in headings:
        assert heading.replace("`", "") in built, heading


def test_costs_page_shows_the_compare_report(built_docs):
    """The page ran `funcgrad compare --json` and made its tables from the report."""
    _, out = built_docs
    built = html.unescape(re.sub(r"<[^>]+>", "", (out / "costs.html").read_text()))
    for shown in ("funcgrad compare retain_graph grad_accumulation --quick --json",
                  "every gradient agreed: True", "tape eager", "JAX functional (jit)",
                  "funcgrad.tape.graph_bytes", "None are recorded yet"):  # fmt: skip
        assert shown in built, shown


@pytest.mark.parametrize("folder", ["home", "paradigms", "retain", "retain_errors"])
def test_tape_snippets_are_the_pytorch_snippets_with_the_import_changed(folder):
    """As in the examples, the funcgrad.tape code on a page is PyTorch's with its imports
    changed: the files may differ in those lines and in their opening comment only."""

    def body(name):
        lines = (DOCS / "snippets" / folder / name).read_text().splitlines()
        # blank lines aside: the formatter sets funcgrad's imports apart from numpy's
        code = [line for line in lines if line.strip()]
        return [line for line in code if not line.startswith("# ") or line.startswith("# %%")]

    pytorch, tape = body("pytorch.py"), body("tape.py")
    assert "import torch" in pytorch and "import funcgrad.tape as torch" in tape
    assert [line for line in pytorch if line not in IMPORTS] == [
        line for line in tape if line not in IMPORTS.values()
    ]
    assert [IMPORTS[line] for line in pytorch if line in IMPORTS] == [
        line for line in tape if line in IMPORTS.values()
    ]


def test_retain_snippets_have_the_same_sections_in_every_paradigm():
    """The "When not to retain" page shows each section of docs/snippets/retain/ in the
    three paradigms' tabs; the error programs' functional file has one section per error."""
    reference = list(snippets.sections("retain/pytorch.py"))
    assert len(reference) >= 5
    for name in ("tape.py", "functional.py"):
        assert list(snippets.sections(f"retain/{name}")) == reference, name
    errors = list(snippets.sections("retain_errors/pytorch.py"))
    assert list(snippets.sections("retain_errors/tape.py")) == errors
    cases = [name.removesuffix("_bug") for name in errors if name.endswith("_bug")]
    assert cases == ["rnn", "gan", "step"]
    assert list(snippets.sections("retain_errors/functional.py")) == ["setup", *cases]


def test_retain_error_snippets_raise_pytorchs_error_on_the_tape():
    """Each bug program raises in PyTorch, and the tape raises an exception of the same
    type whose text starts as PyTorch's does (the page shows both texts in full)."""
    printed = {
        form: snippets.run_sections(f"retain_errors/{form}.py") for form in ("pytorch", "tape")
    }
    for case in ("rnn_bug", "gan_bug", "step_bug"):
        pytorch, tape = printed["pytorch"][case], printed["tape"][case]
        where, found, message = pytorch.partition("RuntimeError: ")  # where: "step 1: "
        assert found, (case, pytorch)
        assert tape.startswith(where + found + message[:40]), (case, pytorch, tape)
    for case in ("rnn_fix", "gan_fix", "step_fix"):
        assert printed["tape"][case] == printed["pytorch"][case], case


def _napoleon_warnings(docstring: str) -> list[str]:
    """The docutils warnings of a Google-style docstring, as the site's autodoc renders it."""
    import io

    import docutils.core
    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    rst = str(GoogleDocstring(docstring, Config(napoleon_numpy_docstring=False)))
    stream = io.StringIO()
    settings = {"report_level": 2, "halt_level": 5, "warning_stream": stream}
    docutils.core.publish_doctree(rst, settings_overrides=settings)
    sphinx_only = ("Unknown interpreted text role", "Unknown directive type")  # Sphinx's own
    lines = stream.getvalue().splitlines()
    problems = [line for line in lines if "WARNING" in line or "ERROR" in line]
    return [line for line in problems if not any(s in line for s in sphinx_only)]


def test_napoleon_check_sees_a_broken_docstring():
    assert _napoleon_warnings("Args:\n  a, b,\n    c: wrapped names\nReturns:\n  x `y`s\n")


def test_every_public_docstring_is_valid_rst():
    """Fast twin of the -W build for docstrings: a docstring docutils cannot parse fails here
    in a second instead of after the whole site's build."""
    import inspect

    bad = []
    for name in public_api.public_modules():
        module = importlib.import_module(name)
        for public in public_api.public_names(module):
            if not public_api.documented_here(module, public):
                continue
            value = getattr(module, public)
            members = [(public, value)]
            if inspect.isclass(value):
                members += [(f"{public}.{k}", v) for k, v in vars(value).items()
                            if not k.startswith("_") and callable(v)]  # fmt: skip
            for label, obj in members:
                doc = inspect.getdoc(obj)
                if doc:
                    bad += [f"{name}.{label}: {w}" for w in _napoleon_warnings(doc)]
    assert not bad, "\n".join(bad)
