"""Writes the API reference's source pages: one per public module, listing its public names.

conf.py calls `write_reference(docs_dir)` before Sphinx reads the sources. Each page holds
an `autosummary` table of the names autodoc documents (funcgrad's functions and classes),
each then documented on the same page (one page per module keeps the build fast: a page per
name made the site's navigation dominate the build time), links to the module's public
submodules, and a table of the other public names (dtype aliases, namespaces, values), so
every public name appears.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import types

from . import public_api

# Documented once, on their own entries: a subclass does not repeat what these define.
PUBLIC_BASES = "Module, Optimizer, Function, tuple, dict, object"

INDEX = """# API reference

Every public name of funcgrad, one page per public module. The lists are generated from
each module's public names (its `__all__`), so they cannot fall behind the code.

```{{toctree}}
:maxdepth: 1

{entries}
```
"""


def write_reference(docs_dir: pathlib.Path) -> list[str]:
    """Writes `docs_dir/api/*.md`; returns the module names. Unchanged files are not touched
    (Sphinx rebuilds what changed)."""
    api = docs_dir / "api"
    api.mkdir(exist_ok=True)
    modules = public_api.public_modules()
    pages = {"index.md": INDEX.format(entries="\n".join(modules))}
    for name in modules:
        pages[f"{name}.md"] = module_page(importlib.import_module(name))
    for stale in api.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
    for filename, text in pages.items():
        path = api / filename
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return modules


def module_page(module: types.ModuleType) -> str:
    names = public_api.public_names(module)
    documented = [n for n in names if public_api.documented_here(module, n)]
    submodules = [n for n in names if public_api.is_funcgrad_module(getattr(module, n))]
    others = [n for n in names if n not in documented and n not in submodules]
    # a namespace's contents (autograd.graph.saved_tensors_hooks) are documented where they
    # are defined: autodoc cannot import through a namespace
    nested = [item for n in others if isinstance(getattr(module, n), types.SimpleNamespace)
              for a, item in vars(getattr(module, n)).items() if not a.startswith("_")]  # fmt: skip
    targets = [f"{module.__name__}.{n}" for n in documented]
    targets += [f"{item.__module__}.{item.__qualname__}" for item in nested]
    parts = [f"# `{module.__name__}`\n", "```{eval-rst}", f".. automodule:: {module.__name__}"]
    if targets:  # the summary table, then each name documented on this page
        parts += ["", ".. autosummary::", "   :nosignatures:", ""]
        # the module's own names relative to it (autosummary's rule), the others in full
        parts += [f"   {n}" for n in documented]
        parts += [f"   ~{item.__module__}.{item.__qualname__}" for item in nested]
    parts.append("```\n")
    if submodules:
        parts.append("Public submodules:\n")
        parts += [f"- [`{getattr(module, n).__name__}`]({getattr(module, n).__name__}.md)"
                  for n in submodules]  # fmt: skip
        parts.append("")
    if others:
        parts += ["Other public names:\n", "| name | what it is |", "|---|---|"]
        parts += [f"| `{n}` | {describe(getattr(module, n))} |" for n in others]
        parts.append("")
    for target in targets:
        kind = "autoclass" if inspect.isclass(_resolve(target)) else "autofunction"
        parts += ["```{eval-rst}", f".. {kind}:: {target}"]
        if kind == "autoclass":
            # members from private bases (Tensor's methods), not those of public ones
            parts += ["   :members:", f"   :inherited-members: {PUBLIC_BASES}"]
            parts += ["   :show-inheritance:"]
        parts.append("```\n")
    return "\n".join(parts)


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def describe(value) -> str:
    """A table cell saying what a non-function public name is."""
    if isinstance(value, types.SimpleNamespace):
        attrs = ", ".join(f"`{a}`" for a in vars(value) if not a.startswith("_"))
        return f"a namespace of {attrs}"
    if inspect.isclass(value):
        return f"alias of `{value.__module__}.{value.__qualname__}`"
    kind = type(value)
    return f"a `{kind.__module__}.{kind.__qualname__}` instance"
