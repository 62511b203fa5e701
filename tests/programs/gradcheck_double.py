"""Double-precision gradient check, with the usual device selection boilerplate."""

import torch

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print("device type:", device.type)


def f(x):
    return (x.sin() * x**2).sum() + (x.exp() - 1 - x).prod()


x = torch.linspace(-1.0, 1.0, 5, dtype=torch.float64, device=device).requires_grad_()
y = f(x)
y.backward()

eps = 1e-6
numeric = []
for i in range(x.numel()):
    step = torch.zeros(5, dtype=torch.float64, device=device)
    step[i] = eps
    with torch.no_grad():
        numeric.append(((f(x + step) - f(x - step)) / (2 * eps)).item())
numeric = torch.tensor(numeric, dtype=torch.float64)

print(x.dtype, y.dtype, x.grad.dtype, numeric.dtype)
print(x.grad.cpu())
print("analytic == numeric:", torch.allclose(x.grad.cpu(), numeric, rtol=1e-7, atol=1e-9))
counts = torch.arange(5, device=device)
print(counts, counts.dtype, counts.sum(), (counts / 2).dtype, (counts // 2))
