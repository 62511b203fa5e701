"""Multi-task learning on funcgrad.tape: the PyTorch program with its imports changed.

python -m examples.multitask.tape --steps 300
"""

import sys

import numpy as np

import funcgrad.tape as torch
from examples.common import parser, progress, report
from examples.multitask.data import FEATURES, batches, digits, initial_state
from funcgrad.tape import nn


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


def run(seed: int = 0, steps: int = 300, mode: str = "retain", batch_size: int = 64) -> dict:
    # ---- data and the model, from the shared initial weights
    data = digits(seed)
    model = MultiTaskNet()
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(seed).items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    train = [torch.tensor(data[k]) for k in ("train_x", "train_even", "train_big")]

    # ---- the two losses of one batch share the trunk's graph
    def losses(idx):
        x, y_even, y_big = (t[idx] for t in train)
        out_even, out_big = model(x)
        return loss_fn(out_even, y_even.long()), loss_fn(out_big, y_big.long())

    def backward(loss1, loss2, mode):
        if mode == "retain":  # the trunk's graph must survive the first backward
            loss1.backward(retain_graph=True)
            loss2.backward()
        else:
            (loss1 + loss2).backward()

    # ---- the two ways of backwarding give the same gradients
    first = next(batches(len(train[0]), batch_size, 1, seed))
    grads = {}
    for m in ("retain", "sum"):
        optimizer.zero_grad()
        backward(*losses(torch.tensor(first)), m)
        grads[m] = {n: p.grad.clone() for n, p in model.named_parameters()}
    retain_vs_sum = max(
        float((grads["retain"][n] - grads["sum"][n]).abs().max()) for n in grads["sum"]
    )

    # ---- training
    history = []
    batch_iter = batches(len(train[0]), batch_size, steps, seed)
    for idx in progress(batch_iter, total=steps, desc="multitask steps"):
        optimizer.zero_grad()
        loss1, loss2 = losses(torch.tensor(idx))
        backward(loss1, loss2, mode)
        optimizer.step()
        history.append((loss1.item(), loss2.item()))

    # ---- held-out accuracy per head
    model.eval()
    with torch.no_grad():
        out_even, out_big = model(torch.tensor(data["test_x"]))
    return {
        "losses": np.array(history),
        "first_step_grads": {n: g.numpy() for n, g in grads[mode].items()},
        "retain_vs_sum_max_diff": retain_vs_sum,
        "accuracy_even": float((out_even.argmax(1).numpy() == data["test_even"]).mean()),
        "accuracy_big": float((out_big.argmax(1).numpy() == data["test_big"]).mean()),
        "final_state": {n: p.detach().numpy() for n, p in model.named_parameters()},
    }


def workload(seed: int = 0, quick: bool = False, batch_size: int = 64) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is Adam on one batch,
    both heads' losses backwarded through the trunk once, `(loss1 + loss2).backward()`: the
    same work as the functional step's one trunk pullback of the summed cotangents."""
    data = digits(seed)
    model = MultiTaskNet()
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state(seed).items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    idx = next(batches(len(data["train_x"]), batch_size, 1, seed))
    x, y_even, y_big = (torch.tensor(data[k][idx]) for k in ("train_x", "train_even", "train_big"))

    def graph():  # the forward: the trunk's graph, shared by both losses
        out_even, out_big = model(x)
        return loss_fn(out_even, y_even.long()), loss_fn(out_big, y_big.long())

    def grads():
        optimizer.zero_grad()
        sum(graph()).backward()
        return {n: p.grad for n, p in model.named_parameters()}

    def step():
        optimizer.zero_grad()
        loss = sum(graph())
        loss.backward()
        optimizer.step()
        return loss

    def produced():  # what a step computed; the optimizer updates its state with the params
        params = list(model.parameters())
        return params, [p.grad for p in params]

    return {"unit": f"Adam step, batch {batch_size}, (loss1 + loss2).backward()",
            "grads": grads, "step": step, "graph": graph, "produced": produced}  # fmt: skip


def main(argv=None) -> None:
    p = parser("Two heads on a shared trunk, tape.", steps=300)
    p.add_argument("--mode", choices=["retain", "sum"], default="retain")
    args = p.parse_args(argv)
    results = run(args.seed, args.steps, args.mode)
    results.pop("first_step_grads")
    results.pop("final_state")
    report("multitask / funcgrad.tape", results, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
