"""The public modules of funcgrad and the public names of each, for the API reference.

A module's public names are its `__all__` when it has one. Until every public module has
one, they are read from the module's source the way a reader (and ruff) reads re-exports:
what it defines at top level, what it imports as `name as name` or with `# noqa: F401`
(imported to be re-exported), and what it star-imports from a module with an `__all__`.
Names starting with `_` are private either way.

The public modules are `funcgrad`'s top-level modules (less the `demo` script) and, from
there, every public name that is a funcgrad module (`funcgrad.tape.nn`, ...).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import types

SCRIPTS = {"demo", "__main__"}  # run with `python -m`, not imported by users


def public_names(module: types.ModuleType) -> list[str]:
    """The module's public names, in the order the module lists or binds them."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    source = inspect.getsource(module)
    lines = source.splitlines()
    names: list[str] = []
    for node in ast.parse(source).body:
        names.extend(_bound_publicly(module, node, lines))
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


def _bound_publicly(module, node, lines) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        reexported = "noqa: F401" in "\n".join(lines[node.lineno - 1 : node.end_lineno])
        out = []
        for alias in node.names:
            if alias.name == "*":
                source = importlib.import_module(_resolve(module, node))
                out.extend(getattr(source, "__all__", []))
            elif reexported or alias.asname == alias.name:
                out.append(alias.asname or alias.name)
        return out
    return []


def _resolve(module, node: ast.ImportFrom) -> str:
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    return importlib.util.resolve_name("." * node.level + (node.module or ""), package)


def is_funcgrad_module(obj) -> bool:
    return isinstance(obj, types.ModuleType) and obj.__name__.startswith("funcgrad")


def public_modules() -> list[str]:
    """Every public module's dotted name: the top-level ones, then their public submodules."""
    import funcgrad

    # The package's own `__all__` lists names, not its subpackages (importing `funcgrad`
    # imports neither the tape nor JAX), so the roots are its public top-level modules.
    roots = [f"funcgrad.{m.name}" for m in pkgutil.iter_modules(funcgrad.__path__)
             if not m.name.startswith("_") and m.name not in SCRIPTS]  # fmt: skip
    found, queue = [], list(roots)
    while queue:
        name = queue.pop(0)
        if name in found:
            continue
        found.append(name)
        module = importlib.import_module(name)
        for attr in public_names(module):
            value = getattr(module, attr, None)
            if is_funcgrad_module(value):
                queue.append(value.__name__)
    return found


def documented_here(module: types.ModuleType, name: str) -> bool:
    """Whether autodoc documents `module.name` itself: funcgrad's own functions and classes.

    A class exported by several public modules (`funcgrad.tape.Generator` is
    `funcgrad.tape.random.Generator`) is documented on the first of them only: autodoc
    registers a class under its defining name too, so a second entry would describe the same
    object twice. The rest (dtype aliases of JAX's, module-level values such as
    `default_generator`, a class documented elsewhere) are listed with what they are instead.
    """
    value = getattr(module, name)
    if isinstance(value, types.ModuleType):
        return False
    owner = getattr(value, "__module__", None) or ""
    if not owner.startswith("funcgrad"):
        return False
    if inspect.isclass(value):
        return _class_pages().get(value) == module.__name__
    return inspect.isfunction(value)


@functools.cache
def _class_pages() -> dict[type, str]:
    """Each funcgrad class and the first public module (in `public_modules` order) exporting
    it: the page that documents it."""
    pages: dict[type, str] = {}
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in public_names(module):
            value = getattr(module, name, None)
            if inspect.isclass(value):
                pages.setdefault(value, module_name)
    return pages
