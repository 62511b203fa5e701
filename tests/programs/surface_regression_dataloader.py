"""A regression tutorial: seeded data and model, a shuffled DataLoader, SGD with momentum
and a StepLR schedule. Written for PyTorch; funcgrad's test runs it unchanged on the tape
(tests/test_surface_programs.py)."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)

# y = 3 x0 - 2 x1 + 0.5 + noise
X = torch.randn(64, 2)
y = (X @ torch.tensor([[3.0], [-2.0]]) + 0.5 + 0.1 * torch.randn(64, 1)).squeeze(1)
loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)

model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
print("first layer weight:", model[0].weight)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
loss_fn = nn.MSELoss()

for epoch in range(8):
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb).squeeze(1), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
    scheduler.step()
    mean_loss, lr = total / len(loader.dataset), scheduler.get_last_lr()[0]
    print(f"epoch {epoch}: loss {mean_loss:.5f} lr {lr:.4f}")

with torch.no_grad():
    test = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
    print("predictions:", model(test).squeeze(1))
print("batches per epoch:", len(loader), "next draw:", torch.rand(2))
