"""`funcgrad compare`: its command line, its JSON schema, the Python API, the accounting.

The reference numbers come from the programs at run time (real PyTorch, the tape, JAX);
no test asserts a timing. The `--quick` run of every example is the acceptance test:
every agreement in it must PASS.
"""

import json
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import jax
import jax.numpy as jnp
import jsonschema
import numpy as np
import pytest
import torch

import funcgrad.tape as tape
from funcgrad.compare import SCHEMA_VERSION, compare_model, examples, measure
from funcgrad.compare.cli import main
from funcgrad.compare.measure import Case, Paradigm, Settings, agreement, measure_case
from funcgrad.compare.report import SCHEMA_PATH, Report
from funcgrad.compare.workload import Workload, retained_bytes
from funcgrad.functional import residual_bytes_of
from funcgrad.tape import nn

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads(SCHEMA_PATH.read_text())


def _valid(data: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    errors = [f"{list(e.path)}: {e.message}" for e in
              jsonschema.Draft202012Validator(SCHEMA).iter_errors(data)]  # fmt: skip
    assert not errors, "\n".join(errors)


def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------- the --quick run
# The examples without convolutions: XLA's CPU convolutions make multitask and
# style_transfer compile for long; `make demo` runs --quick over all five.
QUICK_EXAMPLES = ["retain_graph", "higher_order", "grad_accumulation"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """--quick, in every paradigm (fewer rounds: nothing is timed)."""
    out = tmp_path_factory.mktemp("compare")
    argv = [*QUICK_EXAMPLES, "--quick", "--repeats", "2", "--warmup", "1",
            "--json", str(out / "compare.json"), "--plot", str(out / "compare.png"),
            "--graph", str(out / "graphs")]  # fmt: skip
    code = main(argv)
    return code, out, json.loads((out / "compare.json").read_text())


@pytest.mark.slow
def test_quick_run_of_every_example_passes_in_every_paradigm(quick_run):
    code, _, data = quick_run
    assert [c["name"] for c in data["cases"]] == QUICK_EXAMPLES
    for case in data["cases"]:
        assert case["reference"] == "pytorch"
        ids = [p["id"] for p in case["paradigms"]]
        assert {"pytorch", "tape", "tape_jit", "functional"} <= set(ids), case["name"]
        for p in case["paradigms"]:
            assert p["status"] == "ok", (case["name"], p["id"], p["reason"])
            assert p["agreement"]["passed"], (case["name"], p["id"], p["agreement"])
            assert len(p["losses"]) == data["options"]["steps"]
            # every paradigm does the same work from the same weights: the same losses
            np.testing.assert_allclose(p["losses"], case["paradigms"][0]["losses"], rtol=1e-3)
    assert data["passed"] is True and code == 0


@pytest.mark.slow
def test_quick_run_writes_json_of_the_schema_a_png_and_the_graph_pictures(quick_run):
    import matplotlib.image

    _, out, data = quick_run
    assert data["schema_version"] == SCHEMA_VERSION == 1
    _valid(data)
    assert matplotlib.image.imread(out / "compare.png").ndim == 3
    pictures = sorted(p.name for p in (out / "graphs").iterdir())
    assert "retain_graph_1_before_backward.svg" in pictures
    assert "retain_graph_3_after_backward.png" in pictures


@pytest.mark.slow
def test_quick_run_memory_columns_say_what_they_counted(quick_run):
    _, _, data = quick_run
    retain = {p["id"]: p["memory"] for p in data["cases"][0]["paradigms"]}
    # retain_graph: PowBackward0 saves a (1 x 4 float32); PyTorch and the tape agree
    assert retain["pytorch"]["retained_graph_bytes"] == retain["tape"]["retained_graph_bytes"] == 16
    assert retain["functional"]["retained_graph_how"].startswith("funcgrad.functional")
    assert retain["tape_jit"]["retained_graph_bytes"] is None
    assert "XLA" in retain["tape_jit"]["retained_graph_note"]
    assert retain["tape"]["device_peak_bytes"] is None  # CPU: JAX reports no statistics


@pytest.mark.slow
@pytest.mark.parametrize("example", ["multitask", "style_transfer"])
def test_conv_examples_functional_workload_agrees_with_pytorch(example):
    """The conv examples' functional column (the tape's is checked by the examples' tests)."""
    case = examples.case(example, quick=True, only=["pytorch", "functional"])
    result = measure_case(case, Settings(steps=2, repeats=1, warmup=0))
    pytorch, functional = result["paradigms"]
    assert functional["status"] == "ok" and functional["agreement"]["passed"], functional
    np.testing.assert_allclose(functional["losses"], pytorch["losses"], rtol=1e-4)


# ---------------------------------------------------------------- the torch.func columns
FUNC_EXAMPLES = ["retain_graph", "higher_order", "multitask"]


@pytest.mark.slow
@pytest.mark.parametrize("example", FUNC_EXAMPLES)
def test_torch_func_columns_run_and_agree_with_pytorch(example):
    """Each example with a torch.func form has both columns (`torch_func` in PyTorch,
    `tape_func` on the tape), measured from their `workload()`s: the same gradients as
    PyTorch eager, the same losses, and the bytes the kept `vjp_fn` holds."""
    ids = ["pytorch", "torch_func", "tape", "tape_func"]
    assert set(ids) <= set(examples.paradigm_ids(example))
    case = examples.case(example, quick=True, only=ids)
    result = measure_case(case, Settings(steps=2, repeats=1, warmup=0))
    by_id = {p["id"]: p for p in result["paradigms"]}
    assert list(by_id) == ids
    for paradigm in ("torch_func", "tape_func"):
        p = by_id[paradigm]
        assert p["status"] == "ok", (paradigm, p["reason"])
        assert p["agreement"]["reference"] == "pytorch"
        assert p["agreement"]["passed"], (paradigm, p["agreement"])
        names = {q["name"] for q in p["agreement"]["params"]}
        assert names == {q["name"] for q in by_id["tape"]["agreement"]["params"]}
        np.testing.assert_allclose(p["losses"], by_id["pytorch"]["losses"], rtol=1e-4)
        memory = p["memory"]
        assert memory["retained_graph_bytes"] > 0 and "vjp_fn" in memory["retained_graph_how"]


# ---------------------------------------------------------------- arguments and errors
def test_unknown_example_lists_the_valid_ones(capsys):
    code, _, err = _run(["retain_grpah"], capsys)
    assert code == 2
    assert "unknown example 'retain_grpah'" in err
    for name in ("retain_graph", "higher_order", "multitask", "grad_accumulation"):
        assert name in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--steps", "-2"], "--steps must be at least 1"),
        (["--warmup", "-1"], "--warmup must be at least 0"),
        (["--paradigms", "tape,nonsense"], "unknown paradigm 'nonsense'"),
        (["--paradigms", ","], "unknown paradigm (none given)"),
    ],
)
def test_bad_option_values_exit_2_with_the_reason(argv, message, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2 and message in err and out == ""


@pytest.mark.parametrize("argv", [["--device", "abacus"], ["--steps", "many"]])
def test_malformed_options_are_argparse_errors(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: funcgrad compare" in capsys.readouterr().err


def test_absent_device_is_a_clear_error(capsys):
    missing = next(d for d in ("tpu", "gpu") if not _has_platform(d))
    code, _, err = _run(["retain_graph", "--device", missing], capsys)
    assert code == 2
    assert f"--device {missing}: JAX finds no {missing.upper()} on this machine" in err
    assert "(it has: cpu" in err


def _has_platform(name: str) -> bool:
    try:
        return bool(jax.devices(name))
    except RuntimeError:
        return False


WITHOUT_TORCH = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None  # `import torch` now raises ImportError, as if not installed
    from funcgrad.compare.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _without_torch(*argv, tmp_path):
    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_without_torch_the_pytorch_column_says_why_and_the_rest_runs(tmp_path):
    path = tmp_path / "out.json"
    done = _without_torch("retain_graph", "--quick", "--repeats", "1", "--warmup", "0",
                          "--json", str(path), tmp_path=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(path.read_text())
    _valid(data)
    (case,) = data["cases"]
    by_id = {p["id"]: p for p in case["paradigms"]}
    assert by_id["pytorch"]["status"] == "unavailable"
    assert "PyTorch is not installed" in by_id["pytorch"]["reason"]
    assert "PyTorch is not installed" in done.stdout
    assert case["reference"] == "functional"
    assert all(by_id[k]["agreement"]["passed"] for k in ("tape", "tape_jit", "functional"))
    assert data["environment"]["torch"] is None


def test_without_torch_asking_for_the_pytorch_column_is_an_error(tmp_path):
    done = _without_torch("retain_graph", "--paradigms", "pytorch,tape", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "--paradigms asks for pytorch, which needs PyTorch" in done.stderr
    assert "pip install torch==2.13.0" in done.stderr


def test_python_m_funcgrad_dispatches_and_the_console_script_is_declared(tmp_path):
    usage = subprocess.run([sys.executable, "-m", "funcgrad"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert usage.returncode == 2 and "compare" in usage.stdout and "demo" in usage.stdout
    bad = subprocess.run([sys.executable, "-m", "funcgrad", "comapre"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 2 and "unknown command 'comapre'" in bad.stderr
    helped = subprocess.run([sys.executable, "-m", "funcgrad", "compare", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert helped.returncode == 0 and "--quick" in helped.stdout and "--graph" in helped.stdout
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["scripts"]["funcgrad"] == "funcgrad.__main__:main"
    assert any(d.startswith("matplotlib") for d in project["optional-dependencies"]["compare"])


def test_progress_bars_are_quiet_off_a_terminal():
    from examples.common import progress
    from funcgrad.compare.cli import _Progress

    assert not sys.stderr.isatty()  # pytest captures it, as a log or CI would
    assert progress(range(50), desc="steps").disable
    assert _Progress(10).bar is None


# ---------------------------------------------------------------- measurement and verdicts
def test_agreement_fails_a_gradient_off_by_more_than_the_tolerance():
    reference = {"w": np.array([1.0, -2.0, 3.0]), "b": np.array([0.5])}
    close = {"w": reference["w"] * (1 + 1e-6), "b": reference["b"]}
    assert agreement(close, reference, {"rtol": 1e-5, "atol": 0.0})["passed"]
    off = {"w": reference["w"] + np.array([0.0, 0.0, 0.03]), "b": reference["b"]}
    result = agreement(off, reference, {"rtol": 1e-5, "atol": 0.0})
    assert not result["passed"]
    w = result["params"][0]
    assert w["name"] == "w" and not w["passed"] and w["max_abs_error"] == pytest.approx(0.03)
    assert w["max_rel_error"] == pytest.approx(0.01)
    missing = agreement({"w": reference["w"]}, reference, {"rtol": 1e-5, "atol": 0.0})
    assert not missing["passed"] and missing["params"][1]["note"] == "missing"


def _toy_paradigm(pid, scale=1.0, fail=False):
    x = jnp.arange(4.0)

    def build():
        if fail:
            raise ValueError("broken on purpose")

        def f(x):
            return jnp.sum(x**2)

        return Workload("f(x) = sum(x**2)", lambda: {"x": 2 * x * scale}, lambda: f(x),
                        lambda: jax.vjp(f, x)[1])  # fmt: skip

    return Paradigm(pid, pid, build)


def test_a_disagreeing_or_broken_paradigm_fails_the_report():
    settings = Settings(steps=2, repeats=2, warmup=0)
    good = measure_case(Case("toy", [_toy_paradigm("functional"), _toy_paradigm("tape")]),
                        settings)  # fmt: skip
    device = jax.devices()[0]
    assert Report([good], _options(), device, tool="funcgrad compare").passed
    wrong = measure_case(Case("toy", [_toy_paradigm("functional"), _toy_paradigm("tape", 1.01)]),
                         settings)  # fmt: skip
    report = Report([wrong], _options(), device, tool="funcgrad compare")
    assert not report.passed and "FAIL: x" in report.tables()
    paradigms = [_toy_paradigm("functional"), _toy_paradigm("tape", fail=True)]
    broken = measure_case(Case("toy", paradigms), settings)
    record = broken["paradigms"][1]
    assert record["status"] == "error" and record["reason"] == "ValueError: broken on purpose"
    report = Report([broken], _options(), device, tool="funcgrad compare")
    assert not report.passed
    _valid(report.data)


def test_a_timed_step_includes_the_backward_the_tape_dispatched_asynchronously(monkeypatch):
    # JAX dispatches the tape's ops asynchronously: `loss.backward()` returns while the
    # gradient is still being computed. A timed step must stop the clock only once what the
    # step produced (the workload's `produced`, here w.grad) is computed.
    w = tape.tensor(np.eye(512, dtype=np.float32) * 0.5, requires_grad=True)

    def step():
        w.grad = None
        h = w
        for _ in range(6):
            h = tape.tanh(h @ w)
        loss = h.sum()
        loss.backward()
        return loss

    def returns_before_its_gradient_is_computed():
        step()
        ready = w.grad.array.is_ready()
        jax.block_until_ready(w.grad.array)
        return not ready

    step()  # compiles the ops' kernels
    # the premise, without which this test could not fail
    assert any(returns_before_its_gradient_is_computed() for _ in range(3))

    clock, ready_when_read = time.perf_counter, []

    def perf_counter():  # every clock reading in measure.py: was the last gradient ready?
        if w.grad is not None:
            ready_when_read.append(w.grad.array.is_ready())
        return clock()

    def build():
        return Workload("tape backward", lambda: {"w": step() and w.grad}, step,
                        produced=lambda: w.grad)  # fmt: skip

    monkeypatch.setattr(measure.time, "perf_counter", perf_counter)
    result = measure_case(Case("async", [Paradigm("tape", "tape eager", build)]),
                          Settings(steps=1, repeats=3, warmup=1))  # fmt: skip
    monkeypatch.undo()
    assert result["paradigms"][0]["status"] == "ok"
    assert result["paradigms"][0]["time"]["samples"] == 3
    assert len(ready_when_read) >= 8 and all(ready_when_read), ready_when_read


def _options():
    return {"examples": ["toy"], "paradigms": None, "steps": 2, "repeats": 2, "warmup": 0,
            "quick": True, "seed": 0, "device": "cpu", "wall_s": 0.1}  # fmt: skip


def test_markdown_tables_have_a_row_per_paradigm():
    case = measure_case(Case("toy", [_toy_paradigm("functional"), _toy_paradigm("tape")]),
                        Settings(steps=1, repeats=1, warmup=0))  # fmt: skip
    text = Report([case], _options(), jax.devices()[0], tool="funcgrad compare").markdown()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| paradigm |") and len(rows) == 3
    assert all(row.count("|") == rows[0].count("|") for row in rows)


# ---------------------------------------------------------------- retained-graph accounting
def test_retained_bytes_exact_on_a_small_graph_in_each_framework():
    rng = np.random.default_rng(0)
    x0, w0 = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    # PyTorch's rules: mm saves x for W's gradient (x needs none, so W is not saved), tanh
    # saves its (2 x 4) result: 24 + 32 bytes.
    expected = x0.nbytes + 2 * 4 * 4

    def graph_of(lib):
        w = lib.tensor(w0, requires_grad=True)
        return lambda: (lib.tensor(x0) @ w).tanh().sum()

    assert retained_bytes(graph_of(torch)) == (
        expected,
        "PyTorch saved tensors (saved_tensors_hooks)",
    )
    assert retained_bytes(graph_of(tape)) == (expected, "funcgrad.tape.graph_bytes")

    def f(w):
        return jnp.sum(jnp.tanh(jnp.asarray(x0) @ w))

    nbytes, how = retained_bytes(lambda: jax.vjp(f, jnp.asarray(w0))[1])
    assert how.startswith("funcgrad.functional.residual_bytes")
    assert nbytes == residual_bytes_of(f, jnp.asarray(w0)) > 0


def test_retained_bytes_are_zero_once_a_backward_freed_the_graph():
    a = tape.tensor(np.ones((3, 5), np.float32), requires_grad=True)
    loss = (a.exp() * a).sum()
    assert tape.graph_bytes(loss) == 2 * a.numel() * 4  # exp's input and mul's saved inputs
    loss.backward()
    assert tape.graph_bytes(loss) == 0


# ---------------------------------------------------------------- the Python API
def test_compare_model_on_a_small_model_with_its_pytorch_twin():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    twin = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    before = [p.detach().clone() for p in twin.parameters()]
    rng = np.random.default_rng(1)
    batch = (rng.normal(size=(8, 5)).astype(np.float32), rng.integers(0, 3, 8))
    report = compare_model(net, nn.CrossEntropyLoss(), batch, torch_model=twin, steps=2,
                           repeats=2, warmup=1)  # fmt: skip
    _valid(report.data)
    (case,) = report.data["cases"]
    assert [p["id"] for p in case["paradigms"]] == ["pytorch", "tape", "tape_jit", "functional"]
    assert case["reference"] == "pytorch" and report.passed
    names = {q["name"] for q in case["paradigms"][3]["agreement"]["params"]}
    assert names == {"0.weight", "0.bias", "2.weight", "2.bias"}
    # the loss agrees with PyTorch's on the tape's weights; the user's twin is untouched
    reference = torch.nn.functional.cross_entropy(
        torch.func.functional_call(
            twin,
            {k: torch.tensor(np.array(v.array)) for k, v in net.state_dict().items()},  # fmt: skip
            torch.tensor(batch[0]),
        ),
        torch.tensor(batch[1]),
    )
    for p in case["paradigms"]:
        assert p["final_loss"] == pytest.approx(reference.item(), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(before, twin.parameters()))
    assert "tape.jit" in str(report) and report.to_json().startswith("{")


def test_compare_model_needs_a_torch_loss_it_can_find():
    twin = torch.nn.Linear(2, 1)
    with pytest.raises(
        ValueError, match="compare_model: torch_model is given but no torch_loss_fn"
    ):
        batch = (np.ones((4, 2), np.float32), np.ones((4, 1), np.float32))
        compare_model(nn.Linear(2, 1), lambda out, y: (out - y).pow(2).mean(), batch,
                      torch_model=twin)  # fmt: skip
    with pytest.raises(ValueError, match="batch must be a pair"):
        compare_model(nn.Linear(2, 1), nn.MSELoss(), np.ones((4, 2)))


# ---------------------------------------------------------------- forms plug in by existing
def test_a_new_form_file_gets_a_column_and_one_without_workload_says_why(tmp_path, monkeypatch):
    package = tmp_path / "toy_examples"
    (package / "toy").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "toy" / "__init__.py").write_text("TOLERANCE = {'rtol': 1e-6, 'atol': 0.0}\n")
    (package / "toy" / "data.py").write_text("X = [1.0, 2.0]\n")  # no run(): not a form
    (package / "toy" / "functional.py").write_text(
        textwrap.dedent("""
        import jax, jax.numpy as jnp
        def f(x):
            return jnp.sum(x ** 3)
        def run():
            return {}
        def workload(seed=0, quick=False):
            x = jnp.array([1.0, 2.0])
            return {"unit": "sum(x**3)", "grads": lambda: {"x": jax.grad(f)(x)},
                    "step": lambda: f(x), "graph": lambda: jax.vjp(f, x)[1]}
    """)
    )
    (package / "toy" / "new_form.py").write_text("def run():\n    return {}\n")
    monkeypatch.setattr(examples, "examples_dir", lambda: package)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert examples.available() == ["toy"]
    assert examples.forms("toy") == ["functional", "new_form"]
    case = examples.case("toy")
    assert [p.id for p in case.paradigms] == ["functional", "new_form"]
    result = measure_case(case, Settings(steps=1, repeats=1, warmup=0))
    functional, new = result["paradigms"]
    assert functional["status"] == "ok" and functional["agreement"]["passed"]
    assert new["status"] == "unavailable"
    assert (
        new["reason"]
        == "toy_examples/toy/new_form.py defines no workload() (see examples/README.md)"
    )
