"""The import graph has the shape ARCHITECTURE.md draws: one-way layers, no cycles.

Reads every module of `funcgrad/`, `examples/` and `benchmarks/` with `ast` (imports inside
function bodies included) and checks:

- no import cycle among them;
- no upward import across the layers, bottom to top: the functional core
  (`funcgrad.functional`, `funcgrad.convert`, `funcgrad.checkpoint`) <- the tape core
  (dtypes, errors, grad modes, the random stream, Tensor, the op table, dispatch, engine,
  ...) <- the autograd API, custom `Function`, module backward hooks <- `nn`, `optim`,
  `utils.data`, `save`/`load` <- `jit` (`funcgrad.tape.compile`) <- the public
  `funcgrad.tape` namespace <- the tools (demo, compare, docs, examples, benchmarks);
- an import inside a function body is only ever of an optional dependency (torch, tqdm, ...):
  never of a funcgrad module, which would hide a cycle from the import system;
- no module assigns an attribute of a class or module it imported from another funcgrad
  module (`ops.Tensor = Tensor`, `Tensor._jit_trace = ctx`): a lower layer gets what it
  needs from above by injection (an argument, a registered observer), not by patching;
- no example `functional.py` reaches `funcgrad.tape`, even through other modules.

How it was checked that these tests fail on a tangled tree: run on the tree at `bf5a51c`
(before the redesign), six of its ten cases failed: the cycle `funcgrad.tape.autograd ->
funcgrad.tape.tensor -> funcgrad.tape.autograd`, one of a strongly connected component of
ten modules (autograd, compile, creation, engine, function, ops, ops_nn, saved_hooks,
tensor, tensor_methods); the upward imports `funcgrad.tape.tensor:262 -> autograd` (core ->
autograd API), `tensor:379 -> compile` and `tensor_methods:210 -> compile` (core -> jit);
25 function-local import statements (e.g. `funcgrad.tape.tensor:67 ->
funcgrad.tape.creation`, `funcgrad.tape.optim.lbfgs:386 -> collections`,
`examples.common:34 -> jax`); the patched attributes `funcgrad.tape.tensor:458 _ops.Tensor`
and `funcgrad.tape.compile:932 Tensor._jit_trace`; and the examples
`multitask/functional.py` and `style_transfer/functional.py`, which reach the tape through
`funcgrad.tape.nn.convert`.

A new module must be given a layer in `LAYERS` below: the test fails for a module it
cannot place.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ("funcgrad", "examples", "benchmarks")

# Bottom to top. A module belongs to the layer of the longest name below that is it or one
# of its packages (`funcgrad.tape.nn` covers `funcgrad.tape.nn.module`). "=" marks a name
# that covers only itself, not its submodules.
LAYERS = (
    (
        "the functional core",
        (
            "=funcgrad",
            "funcgrad.functional",
            "funcgrad.convert",
            "funcgrad.lbfgs",
            "funcgrad.checkpoint",
        ),
    ),
    (
        "the tape core",
        (
            "funcgrad.tape.dtypes",
            "funcgrad.tape.errors",
            "funcgrad.tape.grad_mode",
            "funcgrad.tape.anomaly_mode",
            "funcgrad.tape.random",
            "funcgrad.tape.hooks",
            "funcgrad.tape.hook_results",
            "funcgrad.tape._base",
            "funcgrad.tape.devices",
            "funcgrad.tape._convert",
            "funcgrad.tape.promotion",
            "funcgrad.tape.indexing",
            "funcgrad.tape._op",
            "funcgrad.tape.ops",
            "funcgrad.tape.ops_nn",
            "funcgrad.tape.ops_math",
            "funcgrad.tape.ops_arrange",
            "funcgrad.tape.ops_layers",
            "funcgrad.tape.ops_rnn",
            "funcgrad.tape.saved_hooks",
            "funcgrad.tape.saved_attrs",
            "funcgrad.tape.engine",
            "funcgrad.tape.lazy",
            "funcgrad.tape.views",
            "funcgrad.tape.dispatch",
            "funcgrad.tape.backward",
            "funcgrad.tape.observe",
            "funcgrad.tape.methods",
            "funcgrad.tape.tensor_methods",
            "funcgrad.tape.tensor",
            "funcgrad.tape.printing",
            "funcgrad.tape.creation",
            "funcgrad.tape.random_ops",
            "funcgrad.tape.legacy",
            "funcgrad.tape.functions",
            "funcgrad.tape.linalg",
            "funcgrad.tape.functions_more",
            "funcgrad.tape.memory",
            "funcgrad.tape.state",
        ),
    ),
    (
        "the autograd API",
        (
            "funcgrad.tape.autograd",
            "funcgrad.tape.function",
            "funcgrad.tape.backward_hooks",
            "funcgrad.tape.graph_view",
            "funcgrad.tape.draw",
        ),
    ),
    (
        "nn and optim",
        (
            "funcgrad.tape.nn",
            "funcgrad.tape.optim",
            "funcgrad.tape.utils",
            "funcgrad.tape.serialization",
            # torch.func (it calls modules through nn.functional_call), and
            # torch.autograd.functional, built on it
            "funcgrad.tape.func",
            "funcgrad.tape.autograd.functional",
            "funcgrad.tape.autograd._strict",
        ),
    ),
    ("jit", ("funcgrad.tape.compile",)),
    ("the public funcgrad.tape namespace", ("=funcgrad.tape",)),
    (
        "the tools",
        (
            "funcgrad.demo",
            "funcgrad.__main__",
            "funcgrad.compare",
            "funcgrad.docs",
            "examples",
            "benchmarks",
        ),
    ),
)

# Imports that may stay inside a function: optional dependencies, imported where they are
# used so that the library imports without them.
OPTIONAL = frozenset(
    {"torch", "torchvision", "tqdm", "sklearn", "skimage", "matplotlib", "graphviz", "IPython"}
)


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _layer(name: str) -> int | None:
    best, best_len = None, -1
    for rank, (_, names) in enumerate(LAYERS):
        for entry in names:
            exact = entry.startswith("=")
            entry = entry.lstrip("=")
            covers = name == entry or (not exact and name.startswith(entry + "."))
            if covers and len(entry) > best_len:
                best, best_len = rank, len(entry)
    return best


class _Import:
    def __init__(self, target: str, line: int, local: bool, bound: dict):
        self.target, self.line, self.local, self.bound = target, line, local, bound


def _resolve(name: str) -> str | None:
    """The module a dotted import name refers to (itself, or its longest known package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str) -> list[_Import]:
    """Every import statement of module `name`: the module it loads, its line, whether it is
    inside a function, and the local names it binds (name -> dotted path of the object)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    local_nodes = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for node in ast.walk(fn)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    }
    found = []
    for node in ast.walk(tree):
        local = id(node) in local_nodes
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module
            for alias in node.names:
                full = f"{source}.{alias.name}"
                target = full if full in MODULES else source
                bound = {alias.asname or alias.name: full}
                found.append(_Import(target, node.lineno, local, bound))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound = {alias.asname: alias.name} if alias.asname else {}
                found.append(_Import(alias.name, node.lineno, local, bound))
    return found


IMPORTS = {name: _imports(name) for name in MODULES}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, imports in IMPORTS.items():
        targets = {_resolve(i.target) for i in imports}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, components, counter = {}, {}, set(), [], [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def _shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module, for the failure message."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    return component


def test_every_module_has_a_layer():
    unplaced = [name for name in MODULES if _layer(name) is None]
    assert not unplaced, f"give these modules a layer in LAYERS (tests/test_layers.py): {unplaced}"


def test_import_graph_has_no_cycles():
    graph = _graph()
    cycles = [
        f"{' -> '.join(_shortest_cycle(graph, c))}  (one cycle of {len(c)} modules: {c})"
        for c in _cycles(graph)
    ]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for name, imports in IMPORTS.items():
        layer = _layer(name)
        for i in imports:
            target = _resolve(i.target)
            if target is None or layer is None or _layer(target) is None:
                continue
            if _layer(target) > layer:
                upward.append(
                    f"{name}:{i.line} -> {target} ({LAYERS[layer][0]} -> "
                    f"{LAYERS[_layer(target)][0]})"
                )
    assert not upward, "imports from a layer above:\n" + "\n".join(upward)


def test_imports_inside_functions_are_only_of_optional_dependencies():
    hidden = []
    for name, imports in IMPORTS.items():
        for i in imports:
            if i.local and i.target.partition(".")[0] not in OPTIONAL:
                hidden.append(f"{name}:{i.line} -> {i.target}")
    assert not hidden, (
        "imports inside functions (move them to the top; if that makes a cycle, the code is "
        "in the wrong module):\n" + "\n".join(hidden)
    )


def _imported_object(dotted: str):
    module, _, attr = dotted.rpartition(".")
    if dotted in sys.modules or _resolve(dotted) == dotted:
        return importlib.import_module(dotted)
    return getattr(importlib.import_module(module), attr, None)


def test_no_module_patches_attributes_of_classes_or_modules_it_imported():
    patched = []
    for name, imports in IMPORTS.items():
        if not name.startswith("funcgrad"):
            continue
        bound = {}
        for i in imports:
            if _resolve(i.target) is not None and i.target.startswith("funcgrad"):
                bound.update(i.bound)
        tree = ast.parse(MODULES[name].read_text())
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for target in targets:
                for t in ast.walk(target):
                    if (
                        isinstance(t, ast.Attribute)
                        and isinstance(t.value, ast.Name)
                        and t.value.id in bound
                    ):
                        obj = _imported_object(bound[t.value.id])
                        if inspect.isclass(obj) or inspect.ismodule(obj):
                            patched.append(f"{name}:{node.lineno} {t.value.id}.{t.attr}")
    assert not patched, "attributes patched from another module:\n" + "\n".join(patched)


@pytest.mark.parametrize(
    "example", sorted(n for n in MODULES if n.startswith("examples.") and n.endswith(".functional"))
)
def test_example_functional_forms_do_not_reach_the_tape(example):
    graph = _graph()
    seen, stack, via = {example}, [example], {example: None}
    while stack:
        node = stack.pop()
        for child in graph[node]:
            if child not in seen:
                seen.add(child)
                via[child] = node
                stack.append(child)
    tape = sorted(m for m in seen if m == "funcgrad.tape" or m.startswith("funcgrad.tape."))
    chains = []
    for m in tape[:3]:
        chain, node = [], m
        while node is not None:
            chain.append(node)
            node = via[node]
        chains.append(" -> ".join(reversed(chain)))
    assert not tape, f"{example} imports funcgrad.tape:\n" + "\n".join(chains)
