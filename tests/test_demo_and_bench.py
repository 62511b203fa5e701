"""The user-facing entry points: README code blocks, `python -m funcgrad.demo`, the benchmark.

Each README ```python block runs as written; the demo's gradients and error text are
checked against real PyTorch; the benchmark script runs at tiny sizes (no timing asserts).
"""

import inspect
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import funcgrad.functional
import funcgrad.tape
from funcgrad import demo
from funcgrad.tape.autograd import FunctionCtx

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
# A script (`python benchmarks/x.py`) has its own folder first on sys.path, not the checkout:
# this one's funcgrad is put first, so a worktree tests its own code, not an installed copy.
SCRIPT_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
}
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.DOTALL | re.MULTILINE)


def _squash(text: str) -> str:
    """Whitespace-insensitive form, for text the demo wraps over several lines."""
    return " ".join(text.split())


def _torch_second_backward_error() -> str:
    """First line of real PyTorch's error for a backward through a freed graph."""
    a = torch.rand(1, 4, requires_grad=True)
    e = ((a**2) * 2).sum()
    e.backward()
    with pytest.raises(RuntimeError) as info:
        e.backward()
    return str(info.value).splitlines()[0]


@pytest.fixture(scope="module")
def demo_output() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "funcgrad.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# ---------------------------------------------------------------- README
def test_readme_has_runnable_blocks_for_both_paradigms():
    assert len(PYTHON_BLOCKS) >= 3
    assert any("import funcgrad.tape as torch" in b for b in PYTHON_BLOCKS)
    assert any("from funcgrad.functional import vjp" in b for b in PYTHON_BLOCKS)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs(index, capsys):
    code = compile(PYTHON_BLOCKS[index], f"README.md python block {index}", "exec")
    exec(code, {"__name__": f"readme_block_{index}"})


def test_readme_tape_quickstart_prints_pytorchs_second_backward_error(capsys):
    block = next(b for b in PYTHON_BLOCKS if "retain_graph=True" in b)  # the first: quickstart
    exec(compile(block, "README.md tape quickstart", "exec"), {"__name__": "readme_tape"})
    assert _torch_second_backward_error() in capsys.readouterr().out


def test_readme_demo_excerpt_matches_the_demo(demo_output):
    excerpt = README.split("The demo runs the classic example both ways:", 1)[1]
    excerpt = re.search(r"```text\n(.*?)```", excerpt, flags=re.DOTALL).group(1)
    lines = demo_output.splitlines()
    shown = [line for line in excerpt.splitlines() if line.strip() != "..."]
    assert len(shown) >= 8
    for line in shown:
        if line.endswith("..."):
            assert any(out.startswith(line[:-3]) for out in lines), line
        else:
            assert line in lines, line


def _supported_names(section: str) -> list[str]:
    """The backticked API names in one part of README's 'What is supported'."""
    names = []
    for token in re.findall(r"`([^`]+)`", section):
        name = token.split("(")[0].removeprefix("ctx.")  # ctx: an autograd.Function's
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            names.append(name)
    return names


def _resolves(name: str, namespaces) -> bool:
    for namespace in namespaces:
        obj = namespace
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return True
    return False


def test_readme_lists_only_api_that_exists():
    section = README.split("## What is supported", 1)[1].split("\n## ", 1)[0]
    tape_part, rest = section.split("`funcgrad.functional` (", 1)
    functional_part, training_part = rest.split("`funcgrad.tape.nn`, ", 1)
    training_part, func_part = training_part.split("`funcgrad.tape.func` (", 1)
    # Words in those lists that are not API names: a node name, an exception, JAX's API.
    not_api = {
        "MulBackward0",
        "AttributeError",
        "funcgrad.tape",
        "jax.jit",
        "jax.lax.scan",
        "loss_i.backward",
        "funcgrad.tape.optim",
        "funcgrad.tape.jit",
        "torch.optim",
        "optax.GradientTransformation",
        "jax.grad",
        "print",
        "isinstance",
        "CopySlices",
        "funcgrad.tape.func",
    }
    tape_names = [n for n in _supported_names(tape_part) if n not in not_api]
    functional_names = [n for n in _supported_names(functional_part) if n not in not_api]
    assert len(tape_names) > 50 and len(functional_names) > 5
    tape = funcgrad.tape
    functional_autograd = tape.autograd.functional
    tape_spaces = (
        tape,
        tape.Tensor,
        FunctionCtx,
        tape.float32,  # a dtype object's attributes
        tape.cuda,
        tape.backends,
        tape.backends.cudnn,
        tape.autograd.graph,
        functional_autograd,
        types.SimpleNamespace(torch=tape, x=tape.ones(1)),  # `torch.float32`, `x.type`
        types.SimpleNamespace(  # the keyword arguments of autograd.functional it names
            **{
                name: None
                for fn in (functional_autograd.jacobian, functional_autograd.hessian)
                for name in inspect.signature(fn).parameters
            }
        ),
    )
    missing = [n for n in tape_names if not _resolves(n, tape_spaces)]
    functional_spaces = (funcgrad.functional, funcgrad.functional.Pullback)
    missing += [n for n in functional_names if not _resolves(n, functional_spaces)]
    training_names = [n for n in _supported_names(training_part) if n not in not_api]
    assert len(training_names) > 30
    training_spaces = (
        funcgrad.tape,
        funcgrad.tape.Tensor,
        funcgrad.tape.nn.Module,
        funcgrad.tape.optim.Optimizer,
    )
    missing += [n for n in training_names if not _resolves(n, training_spaces)]
    func_names = _supported_names(func_part)
    assert len(func_names) > 20
    func = funcgrad.tape.func
    parameters = {  # the transforms' keyword arguments the README names
        name
        for fn in (func.grad, func.vjp, func.jvp, func.jacrev, func.jacfwd, func.vmap,
                   func.functional_call, func.VJPFunction.__call__)
        for name in inspect.signature(fn).parameters
    }  # fmt: skip
    aliases = types.SimpleNamespace(torch=funcgrad.tape, vjp_fn=func.VJPFunction, funcgrad=funcgrad)
    missing += [
        n
        for n in func_names
        if n not in parameters and not _resolves(n, (func, aliases, funcgrad.tape))
    ]
    assert not missing, f"README promises API that does not exist: {missing}"


# ---------------------------------------------------------------- python -m funcgrad.demo
def _row_values(output: str, label: str) -> list[np.ndarray]:
    pattern = re.escape(label) + r"\s*=\s*\[([^\]]*)\]"
    return [np.array(m.split(), dtype=np.float32) for m in re.findall(pattern, output)]


def test_demo_tape_gradients_match_pytorch(demo_output):
    (a_values,) = _row_values(demo_output, "a")
    grad_d, grad_de = _row_values(demo_output, "a.grad")
    a = torch.tensor(a_values.reshape(1, 4), requires_grad=True)
    c = (a**2) * 2
    c.mean().backward(retain_graph=True)
    np.testing.assert_allclose(grad_d, a.grad.numpy().ravel(), atol=1e-3)
    c.sum().backward()
    np.testing.assert_allclose(grad_de, a.grad.numpy().ravel(), atol=1e-3)


def test_demo_shows_bytes_retained_then_freed(demo_output):
    assert re.search(r"graph_bytes\(c\) = [1-9]\d*  \(kept alive", demo_output)
    assert "graph_bytes(c) = 0  (freed by this backward)" in demo_output
    assert re.search(r"pullback\.residual_bytes = [1-9]\d*\n", demo_output)
    assert "pullback.residual_bytes = 0\n" in demo_output


def test_demo_functional_gradients_equal_the_tapes(demo_output):
    assert demo_output.count("equals tape: True") == 2
    assert "equals tape: False" not in demo_output


def test_demo_third_backward_prints_pytorchs_error(demo_output):
    assert _squash("RuntimeError: " + _torch_second_backward_error()) in _squash(demo_output)
    assert "RuntimeError, same first line as the tape's: True" in demo_output


def test_demo_seed_option_changes_the_input(capsys):
    assert demo.main(["--seed", "0"]) == 0
    seed0 = capsys.readouterr().out
    assert demo.main(["--seed", "1"]) == 0
    seed1 = capsys.readouterr().out
    assert "(seed 1)" in seed1
    assert _row_values(seed0, "a")[0].tolist() != _row_values(seed1, "a")[0].tolist()
    assert seed1.count("equals tape: True") == 2


def test_demo_help_exits_zero_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        demo.main(["--help"])
    assert info.value.code == 0
    assert "usage: python -m funcgrad.demo" in capsys.readouterr().out


# ---------------------------------------------------------------- benchmarks/tape_overhead.py
def test_benchmark_runs_and_prints_ratios(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/tape_overhead.py",
            "--quick",
            "--repeats",
            "2",
            "--warmup",
            "1",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        env=SCRIPT_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ratio vs PyTorch eager") == 2
    for system in ("funcgrad.tape", "PyTorch eager", "JAX eager"):
        assert system in result.stdout
    assert "target chain: funcgrad.tape <= 5x PyTorch eager: not judged" in result.stdout
    assert "target mlp: funcgrad.tape <= 1.5x PyTorch eager: not judged" in result.stdout
    payload = json.loads(out.read_text())
    assert payload["environment"]["jax"] and payload["environment"]["torch"] == torch.__version__
    for name in ("chain", "mlp"):
        ratios = payload["results"][name]["ratio_vs_pytorch_eager"]
        assert ratios["PyTorch eager"] == 1.0
        assert all(t > 0 for t in payload["results"][name]["median_ms"].values())


# ---------------------------------------------------------------- benchmarks/train_step.py
def test_train_step_benchmark_runs_checks_parity_and_reports_ratios(tmp_path):
    out = tmp_path / "train.json"
    command = [sys.executable, "benchmarks/train_step.py", "--quick", "--repeats", "2",
               "--warmup", "1", "--json", str(out)]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=SCRIPT_ENV, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr  # includes its first-loss parity checks
    payload = json.loads(out.read_text())
    assert payload["ratio_vs_jax_jit"]["jax.jit + optax"] == 1.0
    systems = {"PyTorch eager", "tape eager", "tape eager, lazy", "tape.jit", "jax.jit + optax",
               "tape.jit, retain_graph"}  # fmt: skip
    assert set(payload["median_ms"]) == set(payload["median_cpu_ms"]) == systems
    assert set(payload["eager_vs_tape_jit"]) == {"tape eager", "tape eager, lazy"}
    assert payload["traces"] == 2  # first call, then the retrace once .grad exists
    assert "compile: tape.jit first call" in result.stdout


# ---------------------------------------------------------------- benchmarks/example_forms.py
def test_example_forms_benchmark_runs_each_form_and_reports_the_ratio(tmp_path):
    out = tmp_path / "forms.json"
    command = [sys.executable, "benchmarks/example_forms.py", "--quick", "retain_graph",
               "--json", str(out)]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, env=SCRIPT_ENV, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    medians = json.loads(out.read_text())["median_s"]["retain_graph"]
    assert set(medians) == {"torch_ref", "tape", "functional"} and min(medians.values()) > 0
    assert "| retain_graph |" in result.stdout and "functional / tape" in result.stdout
