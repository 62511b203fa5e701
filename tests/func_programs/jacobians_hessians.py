"""Jacobians, Hessians, Hessian-vector products and reused pullbacks with torch.func
(the uses PyTorch's Jacobians/Hessians tutorial documents)."""

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import grad, hessian, jacfwd, jacrev, jvp, linearize, vjp, vmap


def run():
    rng = np.random.default_rng(2)
    weight = torch.tensor(rng.normal(size=(4, 4)).astype(np.float32))
    bias = torch.tensor(rng.normal(size=(4,)).astype(np.float32))
    x = torch.tensor(rng.normal(size=(4,)).astype(np.float32))

    def predict(weight, bias, x):
        return F.linear(x, weight, bias).tanh()

    jac_rev = jacrev(predict, argnums=2)(weight, bias, x)
    jac_fwd = jacfwd(predict, argnums=2)(weight, bias, x)
    jac_weight, jac_bias = jacrev(predict, argnums=(0, 1))(weight, bias, x)

    # the same Jacobian row by row: one vjp, its pullback applied to each basis vector
    out, vjp_fn = vjp(lambda x: predict(weight, bias, x), x)
    rows = vmap(vjp_fn)(torch.eye(4))[0]
    again = vjp_fn(torch.ones(4))[0]

    def loss(x):
        return (predict(weight, bias, x) ** 2).sum()

    hess = hessian(loss)(x)
    hess_fwdrev = jacfwd(jacrev(loss))(x)
    v = torch.tensor(rng.normal(size=(4,)).astype(np.float32))
    hvp = jvp(grad(loss), (x,), (v,))[1]
    _, jvp_fn = linearize(lambda x: predict(weight, bias, x), x)
    batched_hess = vmap(hessian(loss))(torch.stack([x, 2 * x]))
    return {
        "jac_rev": jac_rev.numpy(),
        "jac_fwd": jac_fwd.numpy(),
        "jac_weight": jac_weight.numpy(),
        "jac_bias": jac_bias.numpy(),
        "vjp_rows": rows.numpy(),
        "vjp_again": again.numpy(),
        "hessian": hess.numpy(),
        "jacfwd_jacrev": hess_fwdrev.numpy(),
        "hvp": hvp.numpy(),
        "hvp_by_hessian": (hess @ v).numpy(),
        "linearized": jvp_fn(v).numpy(),
        "batched_hessian": batched_hess.numpy(),
        "output": out.numpy(),
    }
