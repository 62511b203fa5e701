"""One multi-task training step, four ways: PyTorch eager, tape eager (lazy segments off
and on), tape under `funcgrad.tape.jit`, and a hand-written `jax.jit(jax.value_and_grad)` +
optax step.

The model is the multi-task network of the examples scaled to 32x32x3 images: a shared conv
trunk (conv-relu-conv-relu-pool-conv-relu-pool-linear-relu) and two 10-way heads, batch 64.
The PyTorch-style step is `zero_grad`, forward, `(loss1 + loss2).backward()`,
`optimizer.step()` (SGD with momentum); the JAX step is the summed loss's `value_and_grad`
and `optax.sgd`: the same XLA work. One more row times the tape.jit step written with
`loss1.backward(retain_graph=True); loss2.backward()`, which backwards the trunk twice.
All start from one NumPy initialisation; the script checks that the first step's loss is
the same everywhere, and its updated parameters in PyTorch and on the tape, before timing.

The tape eager step runs twice: with lazy segments off (op by op) and on
(`funcgrad.tape.lazy.lazy_segments`, each step's pending segment run at its backward),
whatever the process default; issue 9's target is the lazy step within 1.05x of tape.jit's.

Reported: the median time of a step after warm-up (systems take turns each round, so load
from other processes hits them alike), its ratio to the hand-written JAX step, and for the
two compiled steps the time of their first call (trace + XLA compile). `tape.jit` traces
twice: on the first call the `.grad`s are None, afterwards they are tensors (the state's
structure changed); both compile times are reported.

Run with `python benchmarks/train_step.py [--repeats N] [--json PATH] [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import funcgrad.tape as tape
from funcgrad import convert

# The targets: tape.jit's step time and first-call compile time against the
# hand-written JAX step's, at most.
TARGETS = {"step": 1.05, "compile": 2.0}
EAGER_VS_JIT = 1.05  # issue 9: the eager step (lazy segments on) against tape.jit's, at most
LR, MOMENTUM = 0.05, 0.9


def sizes(quick: bool) -> dict:
    return {"batch": 8, "image": 16, "features": 16} if quick else {
        "batch": 64, "image": 32, "features": 64}  # fmt: skip


def initial_state(s: dict, seed: int) -> dict:
    """PyTorch-layout weights of MultiTaskNet, uniform in PyTorch's default bounds."""
    flat = 32 * (s["image"] // 4) ** 2
    shapes = {
        "trunk.0.weight": (16, 3, 3, 3), "trunk.0.bias": (16,),
        "trunk.2.weight": (32, 16, 3, 3), "trunk.2.bias": (32,),
        "trunk.5.weight": (32, 32, 3, 3), "trunk.5.bias": (32,),
        "trunk.9.weight": (s["features"], flat), "trunk.9.bias": (s["features"],),
        "head1.weight": (10, s["features"]), "head1.bias": (10,),
        "head2.weight": (10, s["features"]), "head2.bias": (10,),
    }  # fmt: skip
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in shapes.items():
        fan_in = np.prod(shapes[name.replace("bias", "weight")][1:])
        out[name] = rng.uniform(-(fan_in**-0.5), fan_in**-0.5, shape).astype(np.float32)
    return out


def batch(s: dict, seed: int):
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((s["batch"], 3, s["image"], s["image"])).astype(np.float32)
    y1, y2 = (rng.integers(0, 10, s["batch"]).astype(np.int32) for _ in range(2))
    return x, y1, y2


# ---------------------------------------------------------------- PyTorch and the tape
def pytorch_style(lib, s: dict, state: dict, data, retain: bool = False):
    """Model, optimiser and step written once against `lib` (torch or funcgrad.tape).

    retain=False backwards the summed loss (the same XLA work as the JAX step); retain=True
    backwards the two losses in turn through the retained trunk graph (two trunk backwards).
    """
    nn = lib.nn
    flat = 32 * (s["image"] // 4) ** 2

    class MultiTaskNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(flat, s["features"]), nn.ReLU(),
            )  # fmt: skip
            self.head1 = nn.Linear(s["features"], 10)
            self.head2 = nn.Linear(s["features"], 10)

        def forward(self, x):
            h = self.trunk(x)
            return self.head1(h), self.head2(h)

    model = MultiTaskNet()
    model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    optimizer = lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    x, y1, y2 = lib.tensor(data[0]), lib.tensor(data[1]).long(), lib.tensor(data[2]).long()

    def step(x, y1, y2):
        optimizer.zero_grad()
        out1, out2 = model(x)
        loss1, loss2 = loss_fn(out1, y1), loss_fn(out2, y2)
        if retain:
            loss1.backward(retain_graph=True)
            loss2.backward()
        else:
            (loss1 + loss2).backward()
        optimizer.step()
        return loss1 + loss2

    return model, step, (x, y1, y2)


# ---------------------------------------------------------------- hand-written JAX
class Trunk(fnn.Module):
    features: int

    @fnn.compact
    def __call__(self, x):  # NHWC
        x = fnn.relu(fnn.Conv(16, (3, 3), padding=1)(x))
        x = fnn.max_pool(fnn.relu(fnn.Conv(32, (3, 3), padding=1)(x)), (2, 2), (2, 2))
        x = fnn.max_pool(fnn.relu(fnn.Conv(32, (3, 3), padding=1)(x)), (2, 2), (2, 2))
        return fnn.relu(fnn.Dense(self.features)(x.reshape((x.shape[0], -1))))


def jax_step(s: dict, state: dict, data):
    chw = (32, s["image"] // 4, s["image"] // 4)
    conv = {f"Conv_{i}": f"trunk.{j}" for i, j in enumerate((0, 2, 5))}
    params = {"trunk": {"params": {
        **{k: {"kernel": convert.oihw_to_hwio(state[f"{v}.weight"]), "bias": state[f"{v}.bias"]}
           for k, v in conv.items()},
        "Dense_0": {"kernel": convert.linear_to_kernel(state["trunk.9.weight"], chw),
                    "bias": state["trunk.9.bias"]},
    }}}  # fmt: skip
    for h in ("head1", "head2"):
        params[h] = {"params": {"kernel": state[f"{h}.weight"].T, "bias": state[f"{h}.bias"]}}
    params = jax.tree.map(jnp.asarray, params)
    trunk, head = Trunk(s["features"]), fnn.Dense(10)
    tx = optax.sgd(LR, momentum=MOMENTUM)

    def loss_fn(params, x, y1, y2):
        h = trunk.apply(params["trunk"], x)
        ce = optax.softmax_cross_entropy_with_integer_labels
        return (
            ce(head.apply(params["head1"], h), y1).mean()
            + ce(head.apply(params["head2"], h), y2).mean()
        )

    @jax.jit
    def step(params, opt_state, x, y1, y2):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y1, y2)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    x = convert.nchw_to_nhwc(jnp.asarray(data[0]))
    return step, params, tx.init(params), (x, jnp.asarray(data[1]), jnp.asarray(data[2]))


# ---------------------------------------------------------------- timing
def _eager(lazy: bool, step, args, model) -> None:
    """One tape eager step with lazy segments off or on, waited for: its loss and the
    parameters the optimizer wrote (JAX dispatches asynchronously; a compiled step's
    parameters come out of the program that makes its loss)."""
    with tape.lazy.lazy_segments(lazy):
        loss = step(*args)
    jax.block_until_ready([loss.array, *(p.array for p in model.parameters())])


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument("--quick", action="store_true", help="tiny sizes, no verdicts")
    args = p.parse_args(argv)
    s = sizes(args.quick)
    state, data = initial_state(s, args.seed), batch(s, args.seed)

    torch_model, torch_step, torch_args = pytorch_style(torch, s, state, data)
    eager_model, eager_step, tape_args = pytorch_style(tape, s, state, data)
    lazy_model, lazy_step, lazy_args = pytorch_style(tape, s, state, data)
    _, jit_body, jit_args = pytorch_style(tape, s, state, data)
    _, retain_body, retain_args = pytorch_style(tape, s, state, data, retain=True)
    jstep, jparams, jopt, jargs = jax_step(s, state, data)

    # ---- first calls: compile times of the two compiled steps
    compiled, compiled_retain = tape.jit(jit_body), tape.jit(retain_body)
    box = {}

    def jax_first():
        box["jax"] = jstep(jparams, jopt, *jargs)
        jax.block_until_ready(box["jax"])

    compile_jax = timed(jax_first)
    compile_tape_first = timed(lambda: box.update(tape=compiled(*jit_args).item()))
    # the second call traces again, silently: the .grads exist now
    compile_tape_retrace = timed(lambda: compiled(*jit_args).array.block_until_ready())
    for _ in range(2):
        compiled_retain(*retain_args)

    # ---- the same step everywhere (PyTorch and eager tape: one step from the start)
    first_loss = torch_step(*torch_args).item()
    with tape.lazy.lazy_segments(False):
        eager_step(*tape_args)
    with tape.lazy.lazy_segments(True):
        lazy_step(*lazy_args)
    for name, loss in (("jax.jit", float(box["jax"][2])), ("tape.jit", box["tape"])):
        np.testing.assert_allclose(loss, first_loss, rtol=1e-4, err_msg=f"{name}: first loss")
    ref = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    for name, model in (("tape eager", eager_model), ("tape eager, lazy", lazy_model)):
        for k, v in model.state_dict().items():
            np.testing.assert_allclose(np.asarray(v.array), ref[k], rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name}: {k}")  # fmt: skip

    # ---- steady state: systems take turns, medians
    jstate = {"params": box["jax"][0], "opt": box["jax"][1]}

    def jax_call():
        jstate["params"], jstate["opt"], loss = jstep(jstate["params"], jstate["opt"], *jargs)
        loss.block_until_ready()

    calls = {
        "PyTorch eager": lambda: torch_step(*torch_args).item(),
        "tape eager": lambda: _eager(False, eager_step, tape_args, eager_model),
        "tape eager, lazy": lambda: _eager(True, lazy_step, lazy_args, lazy_model),
        "tape.jit": lambda: compiled(*jit_args).array.block_until_ready(),
        "jax.jit + optax": jax_call,
        "tape.jit, retain_graph": lambda: compiled_retain(*retain_args).array.block_until_ready(),
    }
    for fn in calls.values():
        for _ in range(args.warmup):
            fn()
    times, cpu = {k: [] for k in calls}, {k: [] for k in calls}
    for _ in range(args.repeats):
        for k, fn in calls.items():
            before = time.process_time()
            times[k].append(timed(fn))
            cpu[k].append(time.process_time() - before)
    medians = {k: statistics.median(v) for k, v in times.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu.items()}
    base = medians["jax.jit + optax"]
    result = {
        "sizes": s,
        "median_ms": {k: v * 1e3 for k, v in medians.items()},
        "ratio_vs_jax_jit": {k: v / base for k, v in medians.items()},
        "compile_s": {
            "jax.jit + optax": compile_jax,
            "tape.jit first call": compile_tape_first,
            "tape.jit retrace (second call)": compile_tape_retrace,
        },  # fmt: skip
        "load_average": os.getloadavg()[0],
        "traces": compiled.trace_count,
        # CPU time of this process (all its threads) per step: under load, the wall time
        # is mostly waiting for a core, the CPU time the work the step did.
        "median_cpu_ms": {k: v * 1e3 for k, v in cpu_medians.items()},
        "eager_vs_tape_jit": {
            k: medians[k] / medians["tape.jit"] for k in ("tape eager", "tape eager, lazy")
        },
        "eager_vs_tape_jit_cpu": {
            k: cpu_medians[k] / cpu_medians["tape.jit"] for k in ("tape eager", "tape eager, lazy")
        },
    }
    print(f"train step, batch {s['batch']} of {s['image']}x{s['image']}x3, "
          f"{args.repeats} rounds (load average {result['load_average']:.2f})")  # fmt: skip
    for k in calls:
        print(f"  {k:24s} {medians[k] * 1e3:9.3f} ms   {medians[k] / base:6.2f}x jax.jit   "
              f"CPU {cpu_medians[k] * 1e3:9.3f} ms")  # fmt: skip
    for k, v in result["compile_s"].items():
        print(f"  compile: {k:32s} {v:7.2f} s   {v / compile_jax:5.2f}x jax.jit")
    for k, v in result["eager_vs_tape_jit"].items():
        print(f"  {k} / tape.jit: {v:.2f}x (CPU time: {result['eager_vs_tape_jit_cpu'][k]:.2f}x)")
    if not args.quick:
        lazy_ratio = result["eager_vs_tape_jit"]["tape eager, lazy"]
        print(f"  target eager (lazy) <= {EAGER_VS_JIT}x tape.jit: {lazy_ratio:.2f}x "
              f"{'met' if lazy_ratio <= EAGER_VS_JIT else 'NOT met'}")  # fmt: skip
        step_ratio = medians["tape.jit"] / base
        compile_ratio = compile_tape_first / compile_jax
        print(f"  target step <= {TARGETS['step']}x: {step_ratio:.2f}x "
              f"{'met' if step_ratio <= TARGETS['step'] else 'NOT met'}")  # fmt: skip
        print(f"  target compile <= {TARGETS['compile']}x: {compile_ratio:.2f}x "
              f"{'met' if compile_ratio <= TARGETS['compile'] else 'NOT met'}")  # fmt: skip
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
