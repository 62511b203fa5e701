# The autograd concepts of the "Paradigms side by side" page, in PyTorch. tape.py is this
# file with its import changed; functional.py is the same concepts in functional JAX. Each
# "# %% name" section is shown on the page and run in order, in one namespace.
# %% setup
import torch

# %% backward
w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
loss = (w**2).sum()
loss.backward()  # walks the recorded graph from loss to the leaves
print(w.grad)

# %% grad
loss = (w**2).sum()
loss.backward()  # .grad accumulates: now 2 * (2 w)
print(w.grad)
(g,) = torch.autograd.grad((w**3).sum(), w)  # returns the gradient, leaves .grad alone
print(g, w.grad)

# %% retain_graph
x = torch.tensor([0.5, 1.5], requires_grad=True)
y = x.exp()  # ExpBackward0 saves its result for backward
y.sum().backward(retain_graph=True)  # keep the saved result: a second backward needs it
y.sum().backward()  # runs, then frees the saved values
print(x.grad)
try:
    y.sum().backward()
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0][:60], "...")

# %% create_graph
x = torch.tensor(2.0, requires_grad=True)
(dy,) = torch.autograd.grad(x**3, x, create_graph=True)  # 3 x^2, itself differentiable
(d2y,) = torch.autograd.grad(dy, x)  # 6 x
print(dy.item(), d2y.item())

# %% no_grad
with torch.no_grad():
    z = w * 2  # not recorded: z has no grad_fn
print(z.requires_grad, z.grad_fn)

# %% detach
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x * x.detach()  # the detached factor is a constant for backward
y.sum().backward()
print(x.grad)

# %% hooks
x = torch.tensor([1.0, 2.0], requires_grad=True)
x.register_hook(lambda grad: grad * 10)  # rewrites the gradient on its way to x.grad
(x * x).sum().backward()
print(x.grad)

# %% zero_grad
model = torch.nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model(torch.ones(1, 2)).sum().backward()
opt.zero_grad()  # sets every .grad to None, so the next backward starts from nothing
print(model.weight.grad)

# %% optimizer_step
p = torch.tensor([1.0, -1.0], requires_grad=True)
opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
for _ in range(3):
    opt.zero_grad()
    (p**2).sum().backward()
    opt.step()  # updates p in place from p.grad and the momentum buffer
print(p.detach())

# %% inplace
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.sigmoid()  # SigmoidBackward0 saves y
y.mul_(2)  # changes y in place: its version counter moves on
try:
    y.sum().backward()
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0][:72], "...")


# %% custom_function
class Clip(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(-1, 1)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1)  # straight through inside [-1, 1], zero outside


x = torch.tensor([-2.0, 0.5, 3.0], requires_grad=True)
Clip.apply(x).sum().backward()
print(x.grad)

# %% devices
x = torch.ones(2, requires_grad=True)
y = x.to("cpu") * 3  # .to() is recorded: gradients flow back to x's device
y.sum().backward()
print(x.device, y.device, x.grad)
