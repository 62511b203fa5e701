"""The torch_func.py program on funcgrad.tape, with its imports changed.

Higher-order gradients with torch.func: the gradient penalty is `grad` inside the loss,
the Hessian-vector product is `jvp` of `grad` (checked against `grad` of a `grad`). The
critic's weights are a dict, the SGD step is written out.

python -m examples.higher_order.tape_func --steps 20
"""

import sys

import funcgrad.tape as torch
from examples.common import parser, progress, report
from examples.higher_order.data import LEARNING_RATE, PENALTY_WEIGHT, problem
from examples.vjp_bytes import tape_vjp_count as vjp_count
from funcgrad.tape.func import grad, grad_and_value, jvp, vjp

NAMES = ("W1", "b1", "W2", "b2")


def critic_and_loss(data: dict):
    """The critic's parameters (a dict) and its penalised loss, a function of them."""
    # ---- inputs: the critic's parameters and the data
    params = {n: torch.tensor(data[n]) for n in NAMES}
    real, fake, eps = (torch.tensor(data[k]) for k in ("real", "fake", "eps"))

    def critic(params, x):
        return torch.tanh(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]

    # ---- the loss: Wasserstein estimate plus the gradient penalty (a gradient inside a loss)
    def critic_loss(params):
        x_hat = eps * real + (1 - eps) * fake
        g = grad(lambda x: critic(params, x).sum())(x_hat)
        penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
        return critic(params, fake).mean() - critic(params, real).mean() + PENALTY_WEIGHT * penalty

    return params, critic_loss


def run(seed: int = 0, steps: int = 5) -> dict:
    data = problem(seed)
    params, critic_loss = critic_and_loss(data)

    # ---- Hessian-vector product at the initial parameters: jvp of the gradient
    v = {n: torch.tensor(data["v"][n]) for n in NAMES}
    hvp = jvp(grad(critic_loss), (params,), (v,))[1]
    # the same product as a gradient of a gradient (what create_graph computes)
    hvp_grad_of_grad = grad(
        lambda p: sum((g * v[n]).sum() for n, g in grad(critic_loss)(p).items())
    )(params)

    # ---- training: the gradient through the penalty, then plain SGD
    losses, first_grads = [], None
    for _ in progress(range(steps), desc="critic steps"):
        grads, loss = grad_and_value(critic_loss)(params)
        if first_grads is None:
            first_grads = grads
        params = {n: p - LEARNING_RATE * grads[n] for n, p in params.items()}
        losses.append(loss.item())

    return {
        "losses": losses,
        **{f"grad_{n}": first_grads[n].numpy() for n in NAMES},
        **{f"hvp_{n}": hvp[n].numpy() for n in NAMES},
        "hvp_jvp_vs_grad_of_grad": max(
            float((hvp[n] - hvp_grad_of_grad[n]).abs().max()) for n in NAMES
        ),
        **{f"final_{n}": params[n].numpy() for n in NAMES},
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is the critic's loss
    with its gradient penalty (`grad` inside), its gradient by `grad_and_value`, and SGD."""
    params, critic_loss = critic_and_loss(problem(seed))

    def step():
        grads, loss = grad_and_value(critic_loss)(params)
        params.update({n: p - LEARNING_RATE * grads[n] for n, p in params.items()})
        return loss

    return {"unit": "penalised critic loss, backward, SGD update",
            "grads": lambda: grad(critic_loss)(params), "step": step,
            "graph": lambda: vjp(critic_loss, params)[1], "graph_bytes": vjp_count,
            "produced": lambda: params}  # fmt: skip


def main(argv=None) -> None:
    args = parser("WGAN-GP penalty and Hessian-vector product, torch.func.", steps=5).parse_args(
        argv
    )
    report("higher_order / torch.func on funcgrad.tape", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
