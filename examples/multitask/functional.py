"""Multi-task learning with JAX: one trunk pullback applied to both heads' cotangents.

The trunk runs forward once with `jax.vjp`; each head's loss gives a cotangent for the
shared features, and the one trunk pullback turns their sum into the trunk's gradient
(funcgrad.functional.shared_trunk_vjp). The models are Flax, the optimiser optax, the step
jitted.

    python -m examples.multitask.functional --steps 300
"""

import functools
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from examples.common import optax_step, parser, progress, report
from examples.multitask.data import FEATURES, batches, digits, initial_state
from funcgrad.functional import shared_trunk_vjp
from funcgrad.tape.nn import convert

CHW = (32, 4, 4)  # the trunk's feature map before flattening


class Trunk(nn.Module):  # NHWC, Flax's layout
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(16, (3, 3), padding=1)(x))
        x = nn.relu(nn.Conv(32, (3, 3), padding=1)(x))
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
        return nn.relu(nn.Dense(FEATURES)(x.reshape((x.shape[0], -1))))


# PyTorch layer -> (which Flax model: 0 trunk, 1 even head, 2 big head; its Flax layer;
# the kernel conversion). The Flax models' layers are numbered in creation order.
LAYERS = {
    "trunk.0": (0, "Conv_0", (convert.oihw_to_hwio, convert.hwio_to_oihw)),
    "trunk.2": (0, "Conv_1", (convert.oihw_to_hwio, convert.hwio_to_oihw)),
    "trunk.6": (0, "Dense_0", (lambda w: convert.linear_to_kernel(w, CHW),
                               lambda k: convert.kernel_to_linear(k, CHW))),
    "even_head": (1, None, (convert.linear_to_kernel, convert.kernel_to_linear)),
    "big_head": (2, None, (convert.linear_to_kernel, convert.kernel_to_linear)),
}  # fmt: skip


def _flax_layer(models, model, layer):
    params = models[model]["params"]
    return params if layer is None else params.setdefault(layer, {})


def to_flax(state: dict) -> tuple:
    """The shared PyTorch-layout weights as Flax variables (trunk, even head, big head)."""
    models = ({"params": {}}, {"params": {}}, {"params": {}})
    for name, (model, layer, (to_kernel, _)) in LAYERS.items():
        target = _flax_layer(models, model, layer)
        target["kernel"] = jnp.asarray(to_kernel(state[f"{name}.weight"]))
        target["bias"] = jnp.asarray(state[f"{name}.bias"])
    return models


def to_torch_names(*models) -> dict:
    """Flax gradients back in PyTorch's names and layouts, to compare with the tape."""
    out = {}
    for name, (model, layer, (_, to_weight)) in LAYERS.items():
        source = _flax_layer(models, model, layer)
        out[f"{name}.weight"], out[f"{name}.bias"] = to_weight(source["kernel"]), source["bias"]
    return out


def run(seed: int = 0, steps: int = 300, batch_size: int = 64) -> dict:
    # ---- data and the model, from the shared initial weights
    data = digits(seed)
    trunk, head = Trunk(), nn.Dense(2)
    params = to_flax(initial_state(seed))
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    train_x = convert.nchw_to_nhwc(jnp.asarray(data["train_x"]))
    train_even, train_big = jnp.asarray(data["train_even"]), jnp.asarray(data["train_big"])

    def head_loss(labels, head_params, features):
        logits = head.apply(head_params, features)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    # ---- the two losses of one batch share the trunk's pullback
    def grads_of(params, idx):
        trunk_params, even_params, big_params = params
        heads = [functools.partial(head_loss, labels[idx]) for labels in (train_even, train_big)]
        result = shared_trunk_vjp(
            trunk.apply, heads, trunk_params, [even_params, big_params], train_x[idx]
        )
        return result.losses, (result.trunk_grads, *result.head_grads)

    # ---- the same gradients as jax.grad of the summed loss
    def summed_loss(params, idx):
        features = trunk.apply(params[0], train_x[idx])
        return (head_loss(train_even[idx], params[1], features)
                + head_loss(train_big[idx], params[2], features))  # fmt: skip

    first = jnp.asarray(next(batches(len(train_x), batch_size, 1, seed)))
    _, first_grads = jax.jit(grads_of)(params, first)
    reference = jax.jit(jax.grad(summed_loss))(params, first)
    pullback_vs_sum = max(
        float(jnp.abs(a - b).max())
        for a, b in zip(jax.tree.leaves(first_grads), jax.tree.leaves(reference))
    )

    # ---- training
    @jax.jit
    def step(params, opt_state, idx):
        losses, grads = grads_of(params, idx)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, losses

    history = []
    batch_iter = batches(len(train_x), batch_size, steps, seed)
    for idx in progress(batch_iter, total=steps, desc="multitask steps"):
        params, opt_state, losses = step(params, opt_state, jnp.asarray(idx))
        history.append([float(v) for v in losses])

    # ---- held-out accuracy per head
    features = trunk.apply(params[0], convert.nchw_to_nhwc(jnp.asarray(data["test_x"])))
    out_even, out_big = head.apply(params[1], features), head.apply(params[2], features)
    return {
        "losses": np.array(history),
        "first_step_grads": to_torch_names(*first_grads),
        "pullback_vs_summed_loss_max_diff": pullback_vs_sum,
        "accuracy_even": float((np.asarray(out_even.argmax(1)) == data["test_even"]).mean()),
        "accuracy_big": float((np.asarray(out_big.argmax(1)) == data["test_big"]).mean()),
    }


def workload(seed: int = 0, quick: bool = False, batch_size: int = 64) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is Adam on one batch,
    the trunk's one pullback applied to the sum of both heads' feature cotangents, jitted."""
    data = digits(seed)
    trunk, head = Trunk(), nn.Dense(2)
    params = to_flax(initial_state(seed))
    optimizer = optax.adam(1e-3)
    idx = next(batches(len(data["train_x"]), batch_size, 1, seed))
    x = convert.nchw_to_nhwc(jnp.asarray(data["train_x"][idx]))
    labels = (jnp.asarray(data["train_even"][idx]), jnp.asarray(data["train_big"][idx]))

    def head_loss(head_params, features, labels):
        logits = head.apply(head_params, features)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    def loss_and_grads(params):
        trunk_params, *head_params = params
        features, trunk_pullback = jax.vjp(lambda p: trunk.apply(p, x), trunk_params)
        head_vg = jax.value_and_grad(head_loss, argnums=(0, 1))
        (loss_even, (g_even, ct_even)), (loss_big, (g_big, ct_big)) = (
            head_vg(p, features, y) for p, y in zip(head_params, labels)
        )
        (trunk_grads,) = trunk_pullback(ct_even + ct_big)  # one trunk pullback for both heads
        return loss_even + loss_big, (trunk_grads, g_even, g_big)

    step, first_grads = optax_step(loss_and_grads, optimizer, params)

    def summed_loss(params):
        return loss_and_grads(params)[0]

    return {
        "unit": f"Adam step, batch {batch_size}, one trunk pullback of both cotangents (jitted)",
        "grads": lambda: to_torch_names(*first_grads()),
        "step": step,
        "graph": lambda: jax.jit(lambda p: jax.vjp(summed_loss, p)[1])(params),
    }


def main(argv=None) -> None:
    args = parser("Two heads on a shared trunk, one pullback, JAX.", steps=300).parse_args(argv)
    results = run(args.seed, args.steps)
    results.pop("first_step_grads")
    report("multitask / functional JAX", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
