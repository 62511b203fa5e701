"""A small classifier moved to the selected device, trained with int64 labels."""

import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cudnn.benchmark = True

model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
model = model.to(device)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape))

x = torch.linspace(-1, 1, 24).reshape(6, 4).to(device)
y = torch.tensor([0, 1, 2, 0, 1, 2], device=device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
for step in range(16):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    if step % 5 == 0:
        print(step, f"{loss.item():.4f}")

pred = model(x).argmax(dim=1)
print(pred, pred.dtype, y.dtype, (pred == y).sum().item(), (pred == y).sum().dtype)
print(next(model.parameters()).dtype, next(model.parameters()).device.type)
model.double()
print(model(x.double()).dtype, x.type(), x.double().type())
