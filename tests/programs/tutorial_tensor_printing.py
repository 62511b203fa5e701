"""A PyTorch program in the style of the beginner tutorials, which print almost everything.

The tutorials (tensors, autograd, building a model) print tensors of every kind: mixed
magnitudes (scientific notation), whole numbers, integer and float64 data, rows too long for
one line, large tensors summarized with `...`, model parameters with their `grad_fn`, and
they use `torch.matmul(..., out=t)`. tests/test_programs.py runs it in real PyTorch and on the
tape and compares what it prints, line by line.
"""

import numpy as np
import torch

torch.manual_seed(0)
x = torch.randn(3, requires_grad=True)
y = x * 2
while y.data.norm() < 1000:
    y = y * 2
print(y)  # values spread over decades: scientific notation
y.backward(torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float))
print(x.grad)
print(torch.tensor([[1, 2], [3, 4]]), torch.from_numpy(np.arange(4.0)))
print(torch.ones(2, 2, dtype=torch.int32), torch.tensor([True, False]), torch.tensor(2.5))
print(torch.tensor([]), torch.zeros(2, 0), torch.tensor([float("nan"), -float("inf"), 3.0]))
print(torch.tensor([1e-5, 1.0]), torch.tensor([2e9, 1.0]), torch.tensor([-0.0, 0.0]))

layer = torch.nn.Linear(28 * 28, 20)
hidden = layer(torch.rand(3, 28 * 28))
print(f"Before ReLU: {hidden}\n")  # rows wrap at 80 columns, grad_fn on the last line
print(torch.nn.ReLU()(hidden))
for name, param in layer.named_parameters():
    print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
print(torch.arange(2000.0).reshape(40, 50) / 7)  # summarized: the format of the shown part
print(torch.randint(-5, 100000, (30,)))
print(torch.randn(2, 3, 4, dtype=torch.float64))

tensor = torch.ones(4, 4)
tensor[:, 1] = 0
result = torch.rand_like(tensor)
print(torch.matmul(tensor, tensor.T, out=result) is result, result)
torch.mul(tensor, tensor, out=result)
print(result, result._version)
print(torch.swapdims(torch.arange(6).reshape(2, 3), 0, 1), tensor.swapaxes(0, 1).shape)

torch.set_printoptions(precision=2, sci_mode=False)
print(torch.tensor([1e-5, 1.0, 123.456]))
torch.set_printoptions(profile="full", linewidth=60)
print(torch.arange(1200.0)[-30:])
torch.set_printoptions(profile="default")
print(torch.tensor([1e-5, 1.0]))
