"""What a retained graph keeps, in bytes: PyTorch, the tape, and two `jax.vjp` pullbacks.

Two workloads, each built six ways from one NumPy initialisation:

- `conv_trunk`: conv(3->16)-relu-conv(16->32)-relu-maxpool(2), batch 64, 32x32x3 (the
  first layers of train_step.py's trunk); the graph up to the pooled output;
- `mlp`: 10 layers of width 256, batch 64, `linear` + relu (bias), loss `mean(out ** 2)`.

The columns:

- PyTorch saved tensors: the tensors PyTorch's nodes save, seen through
  `torch.autograd.graph.saved_tensors_hooks`, counted once per storage (a tensor two nodes
  save, or a weight saved as its transpose view, is one buffer);
- `funcgrad.tape.graph_bytes`: the tape's graph, once per device buffer;
- `jax.vjp`: the residuals of a plain `jax.vjp` pullback of the Flax twin (jax.nn.relu),
  with `funcgrad.functional.residual_bytes` (once per buffer);
- `jax.vjp` + saving_output: the same with `funcgrad.functional.saving_output.relu`, whose
  VJP keeps only its output;
- `jit:` the last two with the forward under `jax.jit` (`jax.vjp(jax.jit(apply), params)`):
  the residuals are then outputs of one XLA program. Run eagerly, Flax's layers copy their
  input (`promote_dtype`'s `jnp.asarray` makes a new buffer), so a relu's kept output and
  the next layer's kept input are two buffers; under `jit` they are one.

The script checks that all forms compute the same outputs (rtol 1e-4) before it counts,
and that a backward without `retain_graph` leaves the tape's graph at 0 bytes. Byte counts
do not depend on the machine's load, but the script prints the load average, as the
others do.

    python benchmarks/retained_memory.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import sys

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import torch

import funcgrad
import funcgrad.tape as tape
from funcgrad import convert
from funcgrad.functional import residual_bytes, saving_output

COLUMNS = (
    "pytorch",
    "tape",
    "jax.vjp",
    "jax.vjp + saving_output",
    "jit: jax.vjp",
    "jit: jax.vjp + saving_output",
)
# Targets of issue 9: the tape at most PyTorch's bytes; the functional pullback with the
# output-saving rules at most 1.05x, on the conv trunk.
TARGETS = {("conv_trunk", "tape"): 1.0, ("conv_trunk", "jax.vjp + saving_output"): 1.05}


def sizes(quick: bool) -> dict:
    if quick:
        return {"batch": 2, "image": 8, "channels": (4, 8), "depth": 3, "width": 16}
    return {"batch": 64, "image": 32, "channels": (16, 32), "depth": 10, "width": 256}


# ---------------------------------------------------------------- the models
def conv_params(s: dict, rng) -> list[np.ndarray]:
    c1, c2 = s["channels"]
    shapes = [(c1, 3, 3, 3), (c1,), (c2, c1, 3, 3), (c2,)]
    return [rng.normal(scale=0.2, size=shape).astype(np.float32) for shape in shapes]


def mlp_params(s: dict, rng) -> list[np.ndarray]:
    w = s["width"]
    params = []
    for _ in range(s["depth"]):
        params += [rng.normal(scale=w**-0.5, size=(w, w)), rng.normal(scale=0.1, size=w)]
    return [p.astype(np.float32) for p in params]


def conv_trunk(lib, params, x):
    """PyTorch-style (NCHW): runs on torch and on funcgrad.tape."""
    F = lib.nn.functional
    h = F.relu(F.conv2d(x, params[0], params[1], padding=1))
    h = F.relu(F.conv2d(h, params[2], params[3], padding=1))
    return F.max_pool2d(h, 2)


def mlp(lib, params, x):
    F = lib.nn.functional
    for i in range(0, len(params), 2):
        x = F.linear(x, params[i], params[i + 1])
        if i + 2 < len(params):
            x = F.relu(x)
    return (x**2).mean()


class FlaxTrunk(fnn.Module):
    channels: tuple
    relu: object

    @fnn.compact
    def __call__(self, x):  # NHWC
        for c in self.channels:
            x = self.relu(fnn.Conv(c, (3, 3), padding=1)(x))
        return fnn.max_pool(x, (2, 2), (2, 2))


class FlaxMLP(fnn.Module):
    width: int
    depth: int
    relu: object

    @fnn.compact
    def __call__(self, x):
        for i in range(self.depth):
            x = fnn.Dense(self.width)(x)
            if i + 1 < self.depth:
                x = self.relu(x)
        return jnp.mean(x**2)


def flax_trunk_params(params):
    return {"params": {f"Conv_{i}": {"kernel": convert.oihw_to_hwio(jnp.asarray(params[2 * i])),
                                     "bias": jnp.asarray(params[2 * i + 1])}
                       for i in range(2)}}  # fmt: skip


def flax_mlp_params(params):
    return {"params": {f"Dense_{i}": {"kernel": jnp.asarray(params[2 * i]).T,
                                      "bias": jnp.asarray(params[2 * i + 1])}
                       for i in range(len(params) // 2)}}  # fmt: skip


# ---------------------------------------------------------------- counting
def torch_saved_bytes(build):
    """(bytes of the unique storages PyTorch's nodes save while `build()` runs, its output)."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = build()
    return sum(storages.values()), out


def measure(name: str, s: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    if name == "conv_trunk":
        params, model = conv_params(s, rng), conv_trunk
        x = rng.normal(size=(s["batch"], 3, s["image"], s["image"])).astype(np.float32)
        jax_x, jax_params = convert.nchw_to_nhwc(jnp.asarray(x)), flax_trunk_params(params)

        def flax(relu):
            return FlaxTrunk(s["channels"], relu)

        def as_nchw(y):
            return convert.nhwc_to_nchw(y)
    else:
        params, model = mlp_params(s, rng), mlp
        x = rng.normal(size=(s["batch"], s["width"])).astype(np.float32)
        jax_x, jax_params = jnp.asarray(x), flax_mlp_params(params)

        def flax(relu):
            return FlaxMLP(s["width"], s["depth"], relu)

        def as_nchw(y):
            return y

    def run(lib):
        return model(lib, [lib.tensor(p, requires_grad=True) for p in params], lib.tensor(x))

    counted, outputs = {}, {}
    counted["pytorch"], out = torch_saved_bytes(lambda: run(torch))
    outputs["pytorch"] = out.detach().numpy()
    out = run(tape)
    counted["tape"], outputs["tape"] = tape.graph_bytes(out), out.detach().numpy()
    out.sum().backward()
    freed = tape.graph_bytes(out)
    for column in COLUMNS[2:]:
        m = flax(saving_output.relu if column.endswith("saving_output") else jax.nn.relu)
        forward = functools.partial(m.apply, x=jax_x)
        forward = jax.jit(forward) if column.startswith("jit") else forward
        y, pullback = jax.vjp(forward, jax_params)
        counted[column], outputs[column] = residual_bytes(pullback), np.asarray(as_nchw(y))
    for column in COLUMNS[1:]:
        np.testing.assert_allclose(outputs[column], outputs["pytorch"], rtol=1e-4, atol=1e-5)
    if freed != 0:
        raise AssertionError(f"{name}: the tape's graph keeps {freed} bytes after backward")
    return {
        "bytes": counted,
        "ratio_vs_pytorch": {c: counted[c] / counted["pytorch"] for c in COLUMNS},
        "tape_bytes_after_backward": freed,
    }


# ---------------------------------------------------------------- report
def environment() -> dict:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "funcgrad": funcgrad.__version__,
        "jax": jax.__version__,
        "torch": torch.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def report(results: dict, env: dict, full_size: bool) -> str:
    lines = [
        f"retained graph bytes  ({env['date']}; {env['machine']}; jax {env['jax']}, "
        f"torch {env['torch']}; load average {env['load_average_1min']})",
        "",
        "| workload | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name, r in results.items():
        mb = " | ".join(f"{r['bytes'][c] / 1e6:.3f} MB" for c in COLUMNS)
        ratio = " | ".join(f"{r['ratio_vs_pytorch'][c]:.3f}x" for c in COLUMNS)
        lines += [f"| {name} | {mb} |", f"| ratio vs PyTorch | {ratio} |"]
    lines.append("")
    for (name, column), limit in TARGETS.items():
        ratio = results[name]["ratio_vs_pytorch"][column]
        verdict = ("met" if ratio <= limit else "NOT met") if full_size else "not judged (--quick)"
        lines.append(f"target {name}: {column} <= {limit:g}x PyTorch: {verdict} ({ratio:.3f}x)")
    lines.append("tape graph after a backward without retain_graph: "
                 + ", ".join(f"{n} {r['tape_bytes_after_backward']} bytes"
                             for n, r in results.items()))  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--seed", type=int, default=0, help="NumPy seed of inputs and params")
    args = parser.parse_args(argv)
    env = environment()
    s = sizes(args.quick)
    results = {name: measure(name, s, args.seed) for name in ("conv_trunk", "mlp")}
    print(report(results, env, not args.quick))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "sizes": s, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
