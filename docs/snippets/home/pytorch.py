import torch

a = torch.tensor([[0.1, 0.2, 0.3, 0.4]], requires_grad=True)
c = (a**2) * 2  # PowBackward0 saves a: the graph's "saved tensors"
d, e = c.mean(), c.sum()

d.backward(retain_graph=True)  # keep the saved tensors: e's backward needs them
e.backward()  # runs, then frees them
print("a.grad =", a.grad)
try:
    e.backward()  # through the freed graph
except RuntimeError as err:
    print("RuntimeError:", str(err)[:58], "...")
