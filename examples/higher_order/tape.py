"""Higher-order gradients on funcgrad.tape: the PyTorch program with its import changed.

python -m examples.higher_order.tape --steps 20
"""

import sys

import funcgrad.tape as torch
from examples.common import parser, progress, report
from examples.higher_order.data import LEARNING_RATE, PENALTY_WEIGHT, problem

NAMES = ("W1", "b1", "W2", "b2")


def critic_and_loss(data: dict) -> tuple:
    """The critic's parameters (leaves) and its loss, a function of them through `critic`."""
    # ---- inputs: the critic's parameters and the data
    params = [torch.tensor(data[n], requires_grad=True) for n in NAMES]
    real, fake, eps = (torch.tensor(data[k]) for k in ("real", "fake", "eps"))

    def critic(x):
        W1, b1, W2, b2 = params
        return torch.tanh(x @ W1 + b1) @ W2 + b2

    # ---- the loss: Wasserstein estimate plus the gradient penalty (a gradient inside a loss)
    def critic_loss():
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
        return critic(fake).mean() - critic(real).mean() + PENALTY_WEIGHT * penalty

    return params, critic_loss


def run(seed: int = 0, steps: int = 5) -> dict:
    data = problem(seed)
    params, critic_loss = critic_and_loss(data)

    # ---- Hessian-vector product at the initial parameters: a gradient of a gradient
    grads = torch.autograd.grad(critic_loss(), params, create_graph=True)
    v = [torch.tensor(data["v"][n]) for n in NAMES]
    dot = sum((g * vi).sum() for g, vi in zip(grads, v))
    hvp = torch.autograd.grad(dot, params, allow_unused=True, materialize_grads=True)  # b2: 0

    # ---- training: backward through the penalty, then plain SGD
    losses, first_grads = [], None
    for _ in progress(range(steps), desc="critic steps"):
        loss = critic_loss()
        loss.backward()
        if first_grads is None:
            first_grads = [p.grad.clone() for p in params]
        with torch.no_grad():
            for p in params:
                p -= LEARNING_RATE * p.grad
                p.grad = None
        losses.append(loss.item())

    return {
        "losses": losses,
        **{f"grad_{n}": g.numpy() for n, g in zip(NAMES, first_grads)},
        **{f"hvp_{n}": h.numpy() for n, h in zip(NAMES, hvp)},
        **{f"final_{n}": p.detach().numpy() for n, p in zip(NAMES, params)},
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is the critic's loss
    with its gradient penalty (a create_graph backward inside), its backward and SGD."""
    params, critic_loss = critic_and_loss(problem(seed))

    def grads():
        for p in params:
            p.grad = None
        critic_loss().backward()
        return {n: p.grad for n, p in zip(NAMES, params)}

    def step():
        loss = critic_loss()
        grads_ = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads_):
                p -= LEARNING_RATE * g
        return loss

    return {"unit": "penalised critic loss, backward, SGD update", "grads": grads,
            "step": step, "graph": critic_loss, "produced": lambda: params}  # fmt: skip


def main(argv=None) -> None:
    args = parser("WGAN-GP penalty and Hessian-vector product, tape.", steps=5).parse_args(argv)
    report("higher_order / funcgrad.tape", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
