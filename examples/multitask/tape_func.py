"""The torch_func.py program on funcgrad.tape, with its imports changed.

Multi-task learning with torch.func: the trunk's `vjp_fn` applied to both heads.

The trunk runs forward once under `torch.func.vjp`, which keeps its graph as a function;
each head's loss gives, by `grad_and_value`, the head's gradient and the cotangent of the
shared features; the one trunk `vjp_fn` is applied to each head's cotangent in turn (the
graph retained between the two calls), and their sum is the trunk's gradient. The
optimiser is `torch.optim.Adam`, fed the gradients through `.grad`, as in torch_ref.py.

python -m examples.multitask.tape_func --steps 300
"""

import sys

import numpy as np

import funcgrad.tape as torch
from examples.common import parser, progress, report
from examples.multitask.data import FEATURES, batches, digits, initial_state
from examples.vjp_bytes import tape_vjp_bytes as vjp_bytes
from funcgrad.tape import nn
from funcgrad.tape.func import functional_call, grad, grad_and_value, vjp


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


def run(seed: int = 0, steps: int = 300, batch_size: int = 64) -> dict:
    # ---- data and the model, from the shared initial weights
    data = digits(seed)
    model = MultiTaskNet()
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(seed).items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    train = [torch.tensor(data[k]) for k in ("train_x", "train_even", "train_big")]

    def weights(part):  # the current weights of model.trunk / a head, as a dict
        return {n: p.detach() for n, p in getattr(model, part).named_parameters()}

    def head_loss(head, head_weights, features, labels):
        return loss_fn(functional_call(head, head_weights, (features,)), labels)

    # ---- the two losses of one batch share the trunk's vjp_fn
    def grads_of(idx):
        x, y_even, y_big = (t[idx] for t in train)
        features, trunk_vjp = vjp(lambda w: functional_call(model.trunk, w, (x,)), weights("trunk"))
        losses, grads, trunk_grads = [], {}, []
        for head, labels in (("even_head", y_even.long()), ("big_head", y_big.long())):
            (head_grads, features_grad), loss = grad_and_value(head_loss, argnums=(1, 2))(
                getattr(model, head), weights(head), features, labels
            )
            trunk_grads.append(trunk_vjp(features_grad)[0])  # the same vjp_fn, twice
            grads.update({f"{head}.{n}": g for n, g in head_grads.items()})
            losses.append(loss)
        for n in trunk_grads[0]:
            grads[f"trunk.{n}"] = trunk_grads[0][n] + trunk_grads[1][n]
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


def main(argv=None) -> None:
    args = parser(
        "Two heads on a shared trunk, one trunk vjp_fn, torch.func.", steps=300
    ).parse_args(argv)
    results = run(args.seed, args.steps)
    results.pop("first_step_grads")
    results.pop("final_state")
    report("multitask / torch.func on funcgrad.tape", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
