"""MAML-style meta-learning with torch.func: an inner step taken with grad over the
weights as a dict, and the outer loss backpropagated through it with .backward() into the
module's parameters (torch.func's results are part of autograd's graph)."""

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap


def run():
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 1))
    model.load_state_dict(
        {k: torch.tensor(rng.normal(0, 0.5, tuple(v.shape)).astype(np.float32))
         for k, v in model.state_dict().items()}
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    amplitudes = rng.uniform(0.5, 2.0, (4, 1, 1)).astype(np.float32)
    support_x = torch.tensor(rng.uniform(-3, 3, (4, 10, 1)).astype(np.float32))
    query_x = torch.tensor(rng.uniform(-3, 3, (4, 10, 1)).astype(np.float32))
    support_y = torch.tensor(amplitudes) * support_x.sin()
    query_y = torch.tensor(amplitudes) * query_x.sin()

    def loss(params, x, y):
        return ((functional_call(model, params, (x,)) - y) ** 2).mean()

    def adapted_query_loss(params, sx, sy, qx, qy):
        grads = grad(loss)(params, sx, sy)
        fast = {k: p - 0.1 * grads[k] for k, p in params.items()}
        return loss(fast, qx, qy)

    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        params = dict(model.named_parameters())
        task_losses = vmap(adapted_query_loss, in_dims=(None, 0, 0, 0, 0))(
            params, support_x, support_y, query_x, query_y
        )
        task_losses.mean().backward()
        optimizer.step()
        losses.append(task_losses.detach().numpy())
    return {
        "losses": np.stack(losses),
        "final": {k: v.detach().numpy() for k, v in model.named_parameters()},
    }
