"""Gradient accumulation in PyTorch: `.grad` sums micro-batch gradients, then one step.

python -m examples.grad_accumulation.torch_ref --steps 20
"""

import sys

import numpy as np
import torch
from torch import nn

from examples.common import parser, progress, report
from examples.grad_accumulation.data import (
    HIDDEN,
    LEARNING_RATE,
    MICRO_BATCHES,
    MOMENTUM,
    batch_indices,
    digits,
    initial_state,
)  # fmt: skip


def run(seed: int = 0, steps: int = 20) -> dict:
    # ---- data, model and optimiser, from the shared initial weights
    x_all, y_all = (torch.tensor(a) for a in digits())
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(seed).items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    all_idx = batch_indices(len(x_all), steps, seed)

    # ---- one batch's gradient, accumulated over micro-batches in .grad
    def accumulate(idx):
        total = 0.0
        for micro in np.split(idx, MICRO_BATCHES):
            micro = torch.tensor(micro)
            loss = loss_fn(model(x_all[micro]), y_all[micro].long()) / MICRO_BATCHES
            loss.backward()  # adds into each parameter's .grad
            total += loss.item()
        return total

    # ---- the same gradient from the full batch in one backward
    optimizer.zero_grad()
    loss_fn(model(x_all[all_idx[0]]), y_all[all_idx[0]].long()).backward()
    full = {n: p.grad.clone() for n, p in model.named_parameters()}
    optimizer.zero_grad()
    accumulate(all_idx[0])
    accumulated_vs_full = max(
        float((p.grad - full[n]).abs().max()) for n, p in model.named_parameters()
    )

    # ---- training: zero_grad, accumulate, step
    losses = []
    for idx in progress(all_idx, desc="accumulation steps"):
        optimizer.zero_grad()
        losses.append(accumulate(idx))
        optimizer.step()

    return {
        "losses": np.array(losses),
        "accumulated_vs_full_batch_max_diff": accumulated_vs_full,
        **{f"final_{n}": p.detach().numpy() for n, p in model.named_parameters()},
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is SGD with momentum
    on one batch, its gradient accumulated in .grad over the micro-batches' backwards."""
    x_all, y_all = (torch.tensor(a) for a in digits())
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(seed).items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    idx = batch_indices(len(x_all), 1, seed)[0]
    micro_batches = [torch.tensor(micro) for micro in np.split(idx, MICRO_BATCHES)]

    def graph(micro=micro_batches[0]):  # one micro-batch's graph, freed by its backward
        return loss_fn(model(x_all[micro]), y_all[micro].long()) / MICRO_BATCHES

    def accumulated():
        optimizer.zero_grad()
        total = 0.0
        for micro in micro_batches:
            loss = graph(micro)
            loss.backward()  # adds into each parameter's .grad
            total = total + loss.detach()
        return total

    def grads():
        accumulated()
        return {n: p.grad for n, p in model.named_parameters()}

    def step():
        loss = accumulated()
        optimizer.step()
        return loss

    def produced():  # what a step computed; the optimizer updates its state with the params
        params = list(model.parameters())
        return params, [p.grad for p in params]

    return {"unit": f"SGD step, {len(idx)} examples in {MICRO_BATCHES} micro-batches",
            "grads": grads, "step": step, "graph": graph, "produced": produced}  # fmt: skip


def main(argv=None) -> None:
    args = parser("Gradient accumulation over micro-batches, PyTorch.", steps=20).parse_args(argv)
    report("grad_accumulation / PyTorch", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
