# The autograd concepts of the "Paradigms side by side" page, with torch.func: PyTorch's
# own functional paradigm (real PyTorch). funcgrad.tape.func runs this file with its
# imports changed (`import funcgrad.tape as torch`, `from funcgrad.tape.func import ...`),
# but for two sections: it refuses a custom Function inside a transform, and lets the
# in-place write of "inplace" through (see docs/errors.md and the README's deviations).
# Each "# %% name" section is shown on the page and run in order, in one namespace.
# %% setup
import torch
from torch.func import functional_call, grad, vjp

# %% backward
w = torch.tensor([1.0, 2.0, 3.0])
print(grad(lambda w: (w**2).sum())(w))  # the loss's gradient function, applied to w

# %% grad
g = grad(lambda w: (w**2).sum())(w)
print(g + g)  # gradients are return values: accumulating is an explicit sum
print(grad(lambda w: (w**3).sum())(w))

# %% retain_graph
x = torch.tensor([0.5, 1.5])
y, vjp_fn = vjp(torch.exp, x)  # vjp_fn keeps the saved result: the retained graph
(g1,) = vjp_fn(torch.ones(2))  # call it again and again
(g2,) = vjp_fn(torch.ones(2), retain_graph=False)  # the last call frees it
print(g1 + g2)
try:
    vjp_fn(torch.ones(2))
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0][:60], "...")

# %% create_graph
x = torch.tensor(2.0)
cube = lambda x: x**3  # noqa: E731
print(grad(cube)(x).item(), grad(grad(cube))(x).item())  # differentiate the gradient


# %% no_grad
def scaled(w):
    with torch.no_grad():
        c = w * 2  # a constant for the transform
    return (c * w).sum()


print(grad(scaled)(w))

# %% detach
x = torch.tensor([1.0, 2.0])
print(grad(lambda x: (x * x.detach()).sum())(x))  # the detached factor is a constant

# %% hooks
x = torch.tensor([1.0, 2.0])
print(grad(lambda x: (x * x).sum())(x) * 10)  # rewrite the gradient the transform returns

# %% zero_grad
model = torch.nn.Linear(2, 1)
params = dict(model.named_parameters())
grads = grad(lambda p: functional_call(model, p, (torch.ones(1, 2),)).sum())(params)
print(model.weight.grad)  # None: gradients are returned, no .grad is written

# %% optimizer_step
p, velocity = torch.tensor([1.0, -1.0]), torch.zeros(2)
for _ in range(3):
    velocity = 0.9 * velocity + grad(lambda p: (p**2).sum())(p)  # SGD's momentum rule
    p = p - 0.1 * velocity  # a new tensor: the state is passed along by hand
print(p)


# %% inplace
def doubled_sigmoid(x):
    y = x.sigmoid()  # saves y for its backward
    y.mul_(2)  # changes y in place: the same version-counter check as eager PyTorch
    return y.sum()


try:
    grad(doubled_sigmoid)(torch.tensor([1.0, 2.0]))
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0][:72], "...")


# %% custom_function
class Clip(torch.autograd.Function):
    @staticmethod
    def forward(x):  # torch.func needs forward without ctx, and setup_context
        return x.clamp(-1, 1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1)  # straight through inside [-1, 1], zero outside


print(grad(lambda x: Clip.apply(x).sum())(torch.tensor([-2.0, 0.5, 3.0])))

# %% devices
x = torch.ones(2)
print(x.device, grad(lambda x: (x.to("cpu") * 3).sum())(x))  # .to() is differentiated
