"""Each example's three forms (PyTorch, funcgrad.tape, functional JAX) agree.

PyTorch runs for real here: the reference numbers come from torch at test time.
"""

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

FORMS = ("torch_ref", "tape", "functional")


def _run_all(example: str, **options) -> dict:
    return {
        form: importlib.import_module(f"examples.{example}.{form}").run(**options) for form in FORMS
    }


def _assert_close(results: dict, keys, rtol=1e-5, atol=1e-6):
    reference = results["torch_ref"]
    for form in ("tape", "functional"):
        for key in keys:
            np.testing.assert_allclose(
                np.asarray(results[form][key]),
                np.asarray(reference[key]),
                rtol=rtol,
                atol=atol,
                err_msg=f"{form}: {key}",
            )


def test_retain_graph_three_forms_agree_and_fail_on_the_last_backward():
    results = _run_all("retain_graph", seed=3)
    _assert_close(results, ["grad_after_d", "grad_after_e", "grad_final"])
    torch_error = results["torch_ref"]["error_on_last_backward"]
    assert torch_error.startswith("Trying to backward through the graph a second time")
    for form in ("tape", "functional"):
        assert results[form]["error_on_last_backward"] == torch_error


def test_retain_graph_reports_what_each_side_retains():
    results = _run_all("retain_graph", seed=0)
    # PyTorch's saved-tensor hooks and the tape's count the same saved tensor (a, for a**2)
    assert results["tape"]["retained_bytes"] == results["torch_ref"]["retained_bytes"] > 0
    assert results["functional"]["retained_bytes"] > 0


def test_higher_order_penalty_gradients_and_hvp_agree():
    results = _run_all("higher_order", seed=1, steps=3)
    names = ("W1", "b1", "W2", "b2")
    keys = ["losses"] + [f"{p}_{n}" for p in ("grad", "hvp", "final") for n in names]
    _assert_close(results, keys, rtol=2e-4, atol=2e-5)
    assert results["functional"]["hvp_jvp_vs_grad_of_grad"] < 1e-4


def test_multitask_three_ways_give_the_same_gradients_and_losses():
    results = _run_all("multitask", seed=2, steps=4)
    for form in ("torch_ref", "tape"):
        assert results[form]["retain_vs_sum_max_diff"] < 1e-6
    assert results["functional"]["pullback_vs_summed_loss_max_diff"] < 1e-6
    reference = results["torch_ref"]["first_step_grads"]
    for form in ("tape", "functional"):
        for name, grad in reference.items():
            np.testing.assert_allclose(
                np.asarray(results[form]["first_step_grads"][name]),
                grad,
                rtol=1e-4,
                atol=1e-6,
                err_msg=f"{form}: {name}",
            )
    _assert_close(results, ["losses"], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_multitask_heads_reach_95_percent_held_out_accuracy_with_defaults(form):
    results = importlib.import_module(f"examples.multitask.{form}").run()
    assert results["accuracy_even"] >= 0.95
    assert results["accuracy_big"] >= 0.95


GRAD_ACCUMULATION_PARAMS = [f"final_{n}" for n in ("0.weight", "0.bias", "2.weight", "2.bias")]


def test_grad_accumulation_equals_the_full_batch_in_every_form():
    results = _run_all("grad_accumulation", seed=4, steps=3)
    for form in FORMS:
        assert results[form]["accumulated_vs_full_batch_max_diff"] < 1e-6, form
    _assert_close(results, ["losses", *GRAD_ACCUMULATION_PARAMS], rtol=1e-5, atol=1e-6)
    assert results["functional"]["multisteps_vs_scan_max_diff"] < 1e-6
    assert results["functional"]["data_parallel_vs_scan_max_diff"] < 1e-6


def test_grad_accumulation_sharded_over_8_simulated_devices_gives_the_same_update(tmp_path):
    code = (
        "import json, sys, numpy as np\n"
        "from examples.grad_accumulation.functional import run\n"
        "r = run(seed=4, steps=3)\n"
        "json.dump({k: np.asarray(v).tolist() for k, v in r.items()}, open(sys.argv[1], 'w'))\n"
    )
    path = tmp_path / "sharded.json"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    sharded = json.loads(path.read_text())
    assert sharded["devices"] == 8
    assert sharded["data_parallel_vs_scan_max_diff"] < 1e-6
    reference = importlib.import_module("examples.grad_accumulation.torch_ref").run(seed=4, steps=3)
    for key in GRAD_ACCUMULATION_PARAMS:
        np.testing.assert_allclose(np.asarray(sharded[key]), reference[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "example", ["retain_graph", "higher_order", "multitask", "grad_accumulation"]
)
@pytest.mark.parametrize("form", FORMS)
def test_example_scripts_run_from_the_command_line(example, form, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            f"examples.{example}.{form}",
            "--steps",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert f"== {example}" in out.stdout
    assert (tmp_path / "results.json").exists()
    helped = subprocess.run(
        [sys.executable, "-m", f"examples.{example}.{form}", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0 and "--seed" in helped.stdout
