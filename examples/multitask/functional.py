"""Multi-task learning with JAX: one trunk pullback applied to both heads' cotangents.

The trunk runs forward once with `jax.vjp`, which returns the shared features and the
trunk's pullback. Each head's loss gives a cotangent for the features; the trunk pullback,
applied once to their sum, gives the trunk's gradient. That is what the tape computes with
`loss1.backward(retain_graph=True); loss2.backward()`. The models are Flax, the optimiser
optax, the step jitted.

    python -m examples.multitask.functional --steps 300
"""

import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from examples.common import optax_step, parser, progress, report
from examples.multitask.data import (
    FEATURES,
    batches,
    digits,
    initial_state,
    to_flax,
    to_torch_names,
)
from funcgrad.convert import nchw_to_nhwc


class Trunk(nn.Module):  # NHWC, Flax's layout
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(16, (3, 3), padding=1)(x))
        x = nn.relu(nn.Conv(32, (3, 3), padding=1)(x))
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
        return nn.relu(nn.Dense(FEATURES)(x.reshape((x.shape[0], -1))))


def run(seed: int = 0, steps: int = 300, batch_size: int = 64) -> dict:
    # ---- data and the model, from the shared initial weights
    data = digits(seed)
    trunk, head = Trunk(), nn.Dense(2)
    params = to_flax(initial_state(seed))
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    train_x = nchw_to_nhwc(data["train_x"])
    train_even, train_big = data["train_even"], data["train_big"]

    def batch(idx):
        return jnp.asarray(train_x[idx]), jnp.asarray(train_even[idx]), jnp.asarray(train_big[idx])

    def head_loss(head_params, features, labels):
        logits = head.apply(head_params, features)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    head_grads = jax.value_and_grad(head_loss, argnums=(0, 1))  # w.r.t. params and features

    # ---- the two losses of one batch share the trunk's pullback
    def grads_of(params, x, y_even, y_big):
        trunk_params, even_params, big_params = params
        features, trunk_pullback = jax.vjp(lambda p: trunk.apply(p, x), trunk_params)
        loss_even, (even_grads, features_ct_even) = head_grads(even_params, features, y_even)
        loss_big, (big_grads, features_ct_big) = head_grads(big_params, features, y_big)
        # One pullback for both heads (a pullback is linear, so pulling back the sum equals
        # calling it per head and adding). funcgrad.functional.shared_trunk_vjp packages
        # these lines.
        (trunk_grads,) = trunk_pullback(features_ct_even + features_ct_big)
        return (loss_even, loss_big), (trunk_grads, even_grads, big_grads)

    # ---- the same gradients as jax.grad of the summed loss
    def summed_loss(params, x, y_even, y_big):
        features = trunk.apply(params[0], x)
        return head_loss(params[1], features, y_even) + head_loss(params[2], features, y_big)

    first = batch(next(batches(len(train_x), batch_size, 1, seed)))
    _, first_grads = jax.jit(grads_of)(params, *first)
    reference = jax.jit(jax.grad(summed_loss))(params, *first)
    pullback_vs_sum = max(
        float(jnp.abs(a - b).max())
        for a, b in zip(jax.tree.leaves(first_grads), jax.tree.leaves(reference))
    )

    # ---- training
    @jax.jit
    def step(params, opt_state, x, y_even, y_big):
        losses, grads = grads_of(params, x, y_even, y_big)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, losses

    history = []
    batch_iter = batches(len(train_x), batch_size, steps, seed)
    for idx in progress(batch_iter, total=steps, desc="multitask steps"):
        params, opt_state, losses = step(params, opt_state, *batch(idx))
        history.append([float(v) for v in losses])

    # ---- held-out accuracy per head
    features = trunk.apply(params[0], jnp.asarray(nchw_to_nhwc(data["test_x"])))
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
    x = nchw_to_nhwc(jnp.asarray(data["train_x"][idx]))
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

    step, first_grads, produced = optax_step(loss_and_grads, optimizer, params)

    def summed_loss(params):
        return loss_and_grads(params)[0]

    return {
        "unit": f"Adam step, batch {batch_size}, one trunk pullback of both cotangents (jitted)",
        "grads": lambda: to_torch_names(*first_grads()),
        "step": step,
        "produced": produced,
        "graph": lambda: jax.jit(lambda p: jax.vjp(summed_loss, p)[1])(params),
    }


def main(argv=None) -> None:
    args = parser("Two heads on a shared trunk, one pullback, JAX.", steps=300).parse_args(argv)
    results = run(args.seed, args.steps)
    results.pop("first_step_grads")
    report("multitask / functional JAX", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
