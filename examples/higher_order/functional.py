"""Higher-order gradients with JAX: the gradient penalty is jax.grad inside a loss, the
Hessian-vector product is jax.jvp of jax.grad. The critic is Flax, the optimiser optax.

    python -m examples.higher_order.functional --steps 20
"""

import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from examples.common import optax_step, parser, progress, report
from examples.higher_order.data import HIDDEN, LEARNING_RATE, PENALTY_WEIGHT, problem

NAMES = ("W1", "b1", "W2", "b2")


class Critic(nn.Module):
    @nn.compact
    def __call__(self, x):
        hidden = jnp.tanh(nn.Dense(HIDDEN)(x))  # Dense_0
        return nn.Dense(1)(hidden)  # Dense_1


def to_flax(flat: dict) -> dict:
    """The shared (in, out) weights are Flax Dense kernels as they are."""
    return {
        "params": {
            "Dense_0": {"kernel": flat["W1"], "bias": flat["b1"]},
            "Dense_1": {"kernel": flat["W2"], "bias": flat["b2"]},
        }
    }


def from_flax(variables: dict) -> dict:
    p = variables["params"]
    return {
        "W1": p["Dense_0"]["kernel"],
        "b1": p["Dense_0"]["bias"],
        "W2": p["Dense_1"]["kernel"],
        "b2": p["Dense_1"]["bias"],
    }


def critic_loss_of(data: dict):
    """The penalised critic loss on `data`'s batches, a pure function of the Flax variables."""
    real, fake, eps = (jnp.asarray(data[k]) for k in ("real", "fake", "eps"))
    critic = Critic()

    # ---- the loss: Wasserstein estimate plus the gradient penalty (a gradient inside a loss)
    def critic_loss(variables):
        x_hat = eps * real + (1 - eps) * fake
        g = jax.grad(lambda x: critic.apply(variables, x).sum())(x_hat)
        penalty = ((jnp.linalg.norm(g, axis=1) - 1) ** 2).mean()
        return (
            critic.apply(variables, fake).mean()
            - critic.apply(variables, real).mean()
            + PENALTY_WEIGHT * penalty
        )

    return critic_loss


def run(seed: int = 0, steps: int = 5) -> dict:
    # ---- inputs: the critic's parameters and the data
    data = problem(seed)
    variables = to_flax({n: jnp.asarray(data[n]) for n in NAMES})
    critic_loss = critic_loss_of(data)

    # ---- Hessian-vector product at the initial parameters: a gradient of a gradient
    v = to_flax({n: jnp.asarray(data["v"][n]) for n in NAMES})
    hvp = jax.jit(lambda p, v: jax.jvp(jax.grad(critic_loss), (p,), (v,))[1])(variables, v)
    # the same product as a gradient of a gradient (what the tape's create_graph computes)
    hvp_grad_of_grad = jax.jit(jax.grad(lambda p, v: optax.tree.vdot(jax.grad(critic_loss)(p), v)))(
        variables, v
    )

    # ---- training: backward through the penalty, then plain SGD
    tx = optax.sgd(LEARNING_RATE)

    @jax.jit
    def step(variables, opt_state):
        loss, grads = jax.value_and_grad(critic_loss)(variables)
        updates, opt_state = tx.update(grads, opt_state, variables)
        return optax.apply_updates(variables, updates), opt_state, loss, grads

    opt_state, losses, first_grads = tx.init(variables), [], None
    for _ in progress(range(steps), desc="critic steps"):
        variables, opt_state, loss, grads = step(variables, opt_state)
        first_grads = first_grads or from_flax(grads)
        losses.append(float(loss))

    return {
        "losses": losses,
        **{f"grad_{n}": g for n, g in first_grads.items()},
        **{f"hvp_{n}": h for n, h in from_flax(hvp).items()},
        "hvp_jvp_vs_grad_of_grad": max(
            float(jnp.abs(a - b).max())
            for a, b in zip(jax.tree.leaves(hvp), jax.tree.leaves(hvp_grad_of_grad))
        ),
        **{f"final_{n}": p for n, p in from_flax(variables).items()},
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is the penalised
    critic loss's value_and_grad (jax.grad inside the loss) and the SGD update, jitted."""
    data = problem(seed)
    variables = to_flax({n: jnp.asarray(data[n]) for n in NAMES})
    critic_loss = critic_loss_of(data)
    step, first_grads, produced = optax_step(
        jax.value_and_grad(critic_loss), optax.sgd(LEARNING_RATE), variables
    )
    return {
        "unit": "penalised critic loss, its gradient, SGD update (jitted)",
        "grads": lambda: from_flax(first_grads()),
        "step": step,
        "produced": produced,
        "graph": lambda: jax.jit(lambda v: jax.vjp(critic_loss, v)[1])(variables),
    }


def main(argv=None) -> None:
    args = parser("WGAN-GP penalty and Hessian-vector product, JAX.", steps=5).parse_args(argv)
    report("higher_order / functional JAX", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
