# "When not to retain": two losses on one shared trunk, and the ways to get their gradients
# without keeping a graph alive. tape.py is this file with its import changed;
# functional.py has the same sections in functional JAX.
# %% setup
import numpy as np
import torch

rng = np.random.default_rng(0)


def array(*shape, scale=1.0, grad=False):
    values = rng.normal(size=shape) * scale
    return torch.tensor(values, dtype=torch.float32, requires_grad=grad)


x, y1, y2 = array(32, 8), array(32, 1), array(32, 1)
w = array(8, 16, scale=0.3, grad=True)  # the shared trunk
v1, v2 = array(16, 1, scale=0.25, grad=True), array(16, 1, scale=0.25, grad=True)  # heads


def losses(x, y1, y2):
    h = torch.tanh(x @ w)  # the trunk's saved tensors serve both losses' backwards
    return ((h @ v1 - y1) ** 2).mean(), ((h @ v2 - y2) ** 2).mean()


def norms(*grads):
    return " ".join(f"{float(g.norm()):.4f}" for g in grads)


# %% two_backwards
loss1, loss2 = losses(x, y1, y2)
loss1.backward(retain_graph=True)  # keeps the trunk's saved tensors for loss2
loss2.backward()  # frees them
print("grad norms of w, v1, v2:", norms(w.grad, v1.grad, v2.grad))

# %% sum_losses
w.grad = v1.grad = v2.grad = None
loss1, loss2 = losses(x, y1, y2)
(loss1 + loss2).backward()  # one backward through the trunk: nothing to retain
print("grad norms of w, v1, v2:", norms(w.grad, v1.grad, v2.grad))

# %% separate_grads
loss1, loss2 = losses(x, y1, y2)
(g1,) = torch.autograd.grad(loss1, w, retain_graph=True)  # each loss's own gradient needs
(g2,) = torch.autograd.grad(loss2, w)  # the graph twice: here retaining is the point
print("grad norms of w, per loss:", norms(g1, g2))

# %% accumulate
w.grad = v1.grad = v2.grad = None
for part in range(4):  # 4 micro-batches of 8; each backward frees its own small graph
    rows = slice(8 * part, 8 * part + 8)
    loss1, loss2 = losses(x[rows], y1[rows], y2[rows])
    ((loss1 + loss2) / 4).backward()  # .grad adds the micro-batches' gradients up
print("grad norms of w, v1, v2:", norms(w.grad, v1.grad, v2.grad))
