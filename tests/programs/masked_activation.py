"""A PyTorch program whose model writes slices of its activations in place.

It imports `torch`; tests/test_programs.py runs it in real PyTorch and, with that import
changed to `import funcgrad.tape as torch`, on the tape, and compares what it prints.
"""

import numpy as np
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 6)
        self.fc2 = torch.nn.Linear(6, 2)

    def forward(self, x, keep):
        h = self.fc1(x)  # (relu would save its result: writing it would fail the backward)
        h[:, 0] = 0  # drop a feature: written in place through a view of h
        h[:, 1:3].mul_(keep)  # a masked update of a slice of the activation
        h.t()[3].add_(0.5)  # through a transposed view
        return self.fc2(h.relu()), h


rng = np.random.default_rng(0)
net = Net()
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape)).astype(np.float32)))
x = torch.tensor(rng.normal(size=(5, 4)).astype(np.float32))
keep = (torch.tensor(rng.uniform(size=(5, 2)).astype(np.float32)) > 0.3).float()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for step in range(3):
    opt.zero_grad()
    out, h = net(x, keep)
    loss = out.pow(2).mean()
    loss.backward()
    opt.step()
    print(step, f"{loss.item():.5f}", type(h.grad_fn).__name__, h._version)
print(np.round(net.fc1.weight.grad.numpy(), 4))
print(np.round(h.detach().numpy(), 4))
