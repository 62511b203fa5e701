"""Gradient accumulation with JAX, three ways that give the same update:

- `lax.scan` over micro-batches summing `jax.grad` (funcgrad.functional.accumulate_grads);
- `optax.MultiSteps`, which averages k micro-batch gradients inside the optimiser state;
- data parallel: the full batch sharded over devices with `jax.sharding`, one jitted step
  (on CPU, try `XLA_FLAGS=--xla_force_host_platform_device_count=8`).

    python -m examples.grad_accumulation.functional --steps 20
"""

import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from examples.common import optax_step, parser, progress, report
from examples.grad_accumulation.data import (
    HIDDEN,
    LEARNING_RATE,
    MICRO_BATCHES,
    MOMENTUM,
    batch_indices,
    digits,
    initial_state,
)  # fmt: skip
from funcgrad.functional import accumulate_grads


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        hidden = nn.relu(nn.Dense(HIDDEN)(x))  # Dense_0: Flax numbers layers as created
        return nn.Dense(10)(hidden)  # Dense_1


LAYERS = {"Dense_0": "0", "Dense_1": "2"}  # Flax layer -> PyTorch's nn.Sequential index


def to_flax(state: dict) -> dict:
    """PyTorch's (out, in) weights are Flax's (in, out) kernels transposed."""
    params = {}
    for flax_name, torch_name in LAYERS.items():
        params[flax_name] = {
            "kernel": jnp.asarray(state[f"{torch_name}.weight"].T),
            "bias": jnp.asarray(state[f"{torch_name}.bias"]),
        }
    return {"params": params}


def to_torch_names(variables: dict) -> dict:
    out = {}
    for flax_name, torch_name in LAYERS.items():
        layer = variables["params"][flax_name]
        out[f"final_{torch_name}.weight"] = layer["kernel"].T
        out[f"final_{torch_name}.bias"] = layer["bias"]
    return out


def run(seed: int = 0, steps: int = 20) -> dict:
    # ---- data, model and optimiser, from the shared initial weights
    x_all, y_all = (jnp.asarray(a) for a in digits())
    model = MLP()
    variables = to_flax(initial_state(seed))
    optimizer = optax.sgd(LEARNING_RATE, momentum=MOMENTUM)
    all_idx = jnp.asarray(batch_indices(len(x_all), steps, seed))

    def loss_fn(variables, batch):
        x, y = batch
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(variables, x), y).mean()

    # ---- one batch's gradient, accumulated over micro-batches with lax.scan
    @jax.jit
    def scan_step(variables, opt_state, x, y):
        loss, grads = accumulate_grads(loss_fn, variables, (x, y), MICRO_BATCHES)
        updates, opt_state = optimizer.update(grads, opt_state, variables)
        return optax.apply_updates(variables, updates), opt_state, loss

    # ---- the same gradient from the full batch in one backward
    full = jax.grad(loss_fn)(variables, (x_all[all_idx[0]], y_all[all_idx[0]]))
    _, scanned = accumulate_grads(loss_fn, variables, (x_all[all_idx[0]], y_all[all_idx[0]]),
                                  MICRO_BATCHES)  # fmt: skip
    accumulated_vs_full = max(
        float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(scanned), jax.tree.leaves(full))
    )

    # ---- training: scan over micro-batches, then step
    params, opt_state, losses = variables, optimizer.init(variables), []
    for idx in progress(all_idx, desc="accumulation steps"):
        params, opt_state, loss = scan_step(params, opt_state, x_all[idx], y_all[idx])
        losses.append(float(loss))

    # ---- twin 2: optax.MultiSteps applies the update every MICRO_BATCHES calls
    multi = optax.MultiSteps(optimizer, every_k_schedule=MICRO_BATCHES)

    @jax.jit
    def micro_step(variables, opt_state, x, y):
        grads = jax.grad(loss_fn)(variables, (x, y))
        updates, opt_state = multi.update(grads, opt_state, variables)
        return optax.apply_updates(variables, updates), opt_state

    multi_params, multi_state = variables, multi.init(variables)
    for idx in all_idx:
        for micro in jnp.split(idx, MICRO_BATCHES):
            multi_params, multi_state = micro_step(
                multi_params, multi_state, x_all[micro], y_all[micro]
            )

    # ---- twin 3: data parallel, the full batch sharded over every device
    mesh = Mesh(np.array(jax.devices()), ("data",))
    sharded = NamedSharding(mesh, PartitionSpec("data"))

    @jax.jit
    def full_step(variables, opt_state, x, y):
        grads = jax.grad(loss_fn)(variables, (x, y))
        updates, opt_state = optimizer.update(grads, opt_state, variables)
        return optax.apply_updates(variables, updates), opt_state

    dp_params, dp_state = variables, optimizer.init(variables)
    for idx in all_idx:
        x, y = jax.device_put((x_all[idx], y_all[idx]), sharded)
        dp_params, dp_state = full_step(dp_params, dp_state, x, y)

    def max_diff(a, b):
        return max(
            float(jnp.abs(u - v).max()) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))
        )

    return {
        "losses": np.array(losses),
        "accumulated_vs_full_batch_max_diff": accumulated_vs_full,
        **to_torch_names(params),
        "devices": len(jax.devices()),
        "multisteps_vs_scan_max_diff": max_diff(multi_params, params),
        "data_parallel_vs_scan_max_diff": max_diff(dp_params, params),
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is SGD with momentum
    on one batch, its gradient accumulated over the micro-batches with lax.scan, jitted."""
    x_all, y_all = (jnp.asarray(a) for a in digits())
    model = MLP()
    variables = to_flax(initial_state(seed))
    optimizer = optax.sgd(LEARNING_RATE, momentum=MOMENTUM)
    idx = jnp.asarray(batch_indices(len(x_all), 1, seed)[0])
    batch = (x_all[idx], y_all[idx])

    def loss_fn(variables, batch):
        x, y = batch
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(variables, x), y).mean()

    def accumulated(variables):
        return accumulate_grads(loss_fn, variables, batch, MICRO_BATCHES)

    step, first_grads, produced = optax_step(accumulated, optimizer, variables)

    def grads():
        names = to_torch_names(first_grads())
        return {k.removeprefix("final_"): v for k, v in names.items()}

    micro = jax.tree.map(lambda a: a[: len(idx) // MICRO_BATCHES], batch)
    return {
        "unit": f"SGD step, {len(idx)} examples in {MICRO_BATCHES} micro-batches (scan, jitted)",
        "grads": grads,
        "step": step,
        "produced": produced,
        "graph": lambda: jax.jit(lambda v: jax.vjp(lambda v: loss_fn(v, micro), v)[1])(variables),
    }


def main(argv=None) -> None:
    args = parser("Gradient accumulation: scan, MultiSteps, sharded.", steps=20).parse_args(argv)
    report("grad_accumulation / functional JAX", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
