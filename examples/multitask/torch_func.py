"""Multi-task learning with torch.func: the trunk's `vjp_fn` applied to both heads.

The trunk runs forward once under `torch.func.vjp`, which keeps its graph as a function;
each head's loss gives, by `grad_and_value`, the head's gradient and the cotangent of the
shared features; the one trunk `vjp_fn` is applied to each head's cotangent in turn (the
graph retained between the two calls), and their sum is the trunk's gradient. The
optimiser is `torch.optim.Adam`, fed the gradients through `.grad`, as in torch_ref.py.

python -m examples.multitask.torch_func --steps 300
"""

import sys

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, grad_and_value, vjp

from examples.common import parser, progress, report
from examples.multitask.data import FEATURES, batches, digits, initial_state
from examples.vjp_bytes import torch_vjp_bytes as vjp_bytes, torch_vjp_count as vjp_count


class MultiTaskNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * 4 * 4, FEATURES), nn.ReLU(),
        )  # fmt: skip
        self.even_head = nn.Linear(FEATURES, 2)
        self.big_head = nn.Linear(FEATURES, 2)

    def forward(self, x):
        features = self.trunk(x)
        return self.even_head(features), self.big_head(features)


def weights(model, part):  # the current weights of model.trunk / a head, as a dict
    return {n: p.detach() for n, p in getattr(model, part).named_parameters()}


def shared_trunk_grads(model, loss_fn, x, y_even, y_big, summed=False):
    """Both heads' losses, all gradients by parameter name, and the trunk's `vjp_fn`:
    applied to each head's cotangent in turn, or once to their sum when `summed`."""
    features, trunk_vjp = vjp(
        lambda w: functional_call(model.trunk, w, (x,)), weights(model, "trunk")
    )

    def head_loss(head, head_weights, features, labels):
        return loss_fn(functional_call(head, head_weights, (features,)), labels)

    losses, grads, cotangents = [], {}, []
    for head, labels in (("even_head", y_even.long()), ("big_head", y_big.long())):
        (head_grads, features_grad), loss = grad_and_value(head_loss, argnums=(1, 2))(
            getattr(model, head), weights(model, head), features, labels
        )
        cotangents.append(features_grad)
        grads.update({f"{head}.{n}": g for n, g in head_grads.items()})
        losses.append(loss)
    if summed:  # one pullback of the summed cotangents, as (loss1 + loss2).backward()
        trunk_grads = [trunk_vjp(cotangents[0] + cotangents[1])[0]]
    else:  # the same vjp_fn, twice
        trunk_grads = [trunk_vjp(ct)[0] for ct in cotangents]
    for n in trunk_grads[0]:
        grads[f"trunk.{n}"] = sum(g[n] for g in trunk_grads)
    return losses, grads, trunk_vjp


def run(seed: int = 0, steps: int = 300, batch_size: int = 64) -> dict:
    # ---- data and the model, from the shared initial weights
    data = digits(seed)
    model = MultiTaskNet()
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(seed).items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    train = [torch.tensor(data[k]) for k in ("train_x", "train_even", "train_big")]

    # ---- the two losses of one batch share the trunk's vjp_fn
    def grads_of(idx):
        losses, grads, trunk_vjp = shared_trunk_grads(model, loss_fn, *(t[idx] for t in train))
        return losses, grads, vjp_bytes(trunk_vjp)

    # ---- the same gradients as grad of the summed loss
    def summed_loss(all_weights, idx):
        x, y_even, y_big = (t[idx] for t in train)
        out_even, out_big = functional_call(model, all_weights, (x,))
        return loss_fn(out_even, y_even.long()) + loss_fn(out_big, y_big.long())

    first = torch.tensor(next(batches(len(train[0]), batch_size, 1, seed)))
    _, first_grads, retained_bytes = grads_of(first)
    reference = grad(summed_loss)({n: p.detach() for n, p in model.named_parameters()}, first)
    pullback_vs_sum = max(float((first_grads[n] - reference[n]).abs().max()) for n in reference)

    # ---- training
    history = []
    batch_iter = batches(len(train[0]), batch_size, steps, seed)
    for idx in progress(batch_iter, total=steps, desc="multitask steps"):
        (loss1, loss2), grads, _ = grads_of(torch.tensor(idx))
        for n, p in model.named_parameters():
            p.grad = grads[n]
        optimizer.step()
        history.append((loss1.item(), loss2.item()))

    # ---- held-out accuracy per head
    model.eval()
    with torch.no_grad():
        out_even, out_big = model(torch.tensor(data["test_x"]))
    return {
        "losses": np.array(history),
        "first_step_grads": {n: g.numpy() for n, g in first_grads.items()},
        "pullback_vs_summed_loss_max_diff": pullback_vs_sum,
        "retained_bytes": retained_bytes,
        "accuracy_even": float((out_even.argmax(1).numpy() == data["test_even"]).mean()),
        "accuracy_big": float((out_big.argmax(1).numpy() == data["test_big"]).mean()),
        "final_state": {n: p.detach().numpy() for n, p in model.named_parameters()},
    }


def workload(seed: int = 0, quick: bool = False, batch_size: int = 64) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is Adam on one batch,
    the trunk's `vjp_fn` applied once to both heads' summed cotangents: the work of
    tape.py's `(loss1 + loss2).backward()` and of the functional step."""
    data = digits(seed)
    model = MultiTaskNet()
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(seed).items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    idx = next(batches(len(data["train_x"]), batch_size, 1, seed))
    batch = [torch.tensor(data[k][idx]) for k in ("train_x", "train_even", "train_big")]

    def step():
        losses, grads, _ = shared_trunk_grads(model, loss_fn, *batch, summed=True)
        for n, p in model.named_parameters():
            p.grad = grads[n]
        optimizer.step()
        return losses[0] + losses[1]

    def produced():  # what a step computed; the optimizer updates its state with the params
        params = list(model.parameters())
        return params, [p.grad for p in params]

    return {"unit": f"Adam step, batch {batch_size}, one trunk vjp_fn of both heads",
            "grads": lambda: shared_trunk_grads(model, loss_fn, *batch, summed=True)[1],
            "step": step, "graph": lambda: shared_trunk_grads(model, loss_fn, *batch)[2],
            "graph_bytes": vjp_count, "produced": produced}  # fmt: skip


def main(argv=None) -> None:
    args = parser(
        "Two heads on a shared trunk, one trunk vjp_fn, torch.func.", steps=300
    ).parse_args(argv)
    results = run(args.seed, args.steps)
    results.pop("first_step_grads")
    results.pop("final_state")
    report("multitask / torch.func", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
