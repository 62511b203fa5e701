"""Per-sample gradients of a small CNN with torch.func, checked against a loop of
`.backward()` per sample (the use PyTorch's per-sample-gradients tutorial documents)."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.max_pool2d(x, 2)
        return self.fc(x.flatten(1))


def run():
    rng = np.random.default_rng(0)
    model = SmallCNN()
    model.load_state_dict(
        {k: torch.tensor(rng.normal(0, 0.3, tuple(v.shape)).astype(np.float32))
         for k, v in model.state_dict().items()}
    )  # fmt: skip
    data = torch.tensor(rng.random((6, 1, 10, 10), dtype=np.float32))
    targets = torch.tensor(rng.integers(0, 3, 6))

    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def compute_loss(params, buffers, sample, target):
        batch, targets = sample.unsqueeze(0), target.unsqueeze(0)
        predictions = functional_call(model, (params, buffers), (batch,))
        return F.cross_entropy(predictions, targets)

    per_sample = vmap(grad(compute_loss), in_dims=(None, None, 0, 0))(
        params, buffers, data, targets
    )

    looped = {k: [] for k in params}
    for i in range(len(data)):
        model.zero_grad()
        F.cross_entropy(model(data[i : i + 1]), targets[i : i + 1]).backward()
        for k, p in model.named_parameters():
            looped[k].append(p.grad.clone())

    out = {f"vmap_{k}": v.numpy() for k, v in per_sample.items()}
    out.update({f"loop_{k}": torch.stack(v).numpy() for k, v in looped.items()})
    return out
