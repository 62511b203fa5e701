"""A two-headed regression model (a shared trunk, one head per target) trained on the sum
of two losses, each backpropagated separately.

Run it with --broken to call `optimizer.step()` between the two backwards: the step
changes the trunk's weights in place while the second loss's graph still holds them, and
that backward fails with PyTorch's "one of the variables needed for gradient computation
has been modified by an inplace operation". The fix steps once, after both backwards.

Written for funcgrad's tests (issue 8); weights and data come from NumPy so that real
PyTorch and `import funcgrad.tape as torch` start from the same numbers.
"""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU())
        self.price = nn.Linear(16, 1)
        self.demand = nn.Linear(16, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.price(h).squeeze(-1), self.demand(h).squeeze(-1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broken", action="store_true", help="step between the backwards")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((32, 5)).astype(np.float32))
    price = x[:, 0] * 2 - x[:, 1]
    demand = (x[:, 2] * x[:, 3]).tanh()

    model = TwoHeads()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.4, 0.4, tuple(p.shape)).astype(np.float32)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    for step in range(5):
        optimizer.zero_grad()
        pred_price, pred_demand = model(x)
        loss_price = F.mse_loss(pred_price, price)
        loss_demand = F.smooth_l1_loss(pred_demand, demand, beta=0.5)
        loss_price.backward(retain_graph=True)  # the trunk's graph is needed again below
        if args.broken:
            optimizer.step()
        loss_demand.backward()
        optimizer.step()
        print(f"step {step}: price {loss_price.item():.4f} demand {loss_demand.item():.4f}")

    grad_norm = sum(p.grad.norm() ** 2 for p in model.parameters()) ** 0.5
    print(f"last gradient norm {grad_norm.item():.4f}")


if __name__ == "__main__":
    main()
