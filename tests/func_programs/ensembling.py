"""Model ensembling with torch.func: the weights of several models stacked and one
vmapped functional_call (the use PyTorch's model-ensembling tutorial documents)."""

import copy

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


def make_mlp(rng):
    model = nn.Sequential(nn.Linear(5, 16), nn.GELU(), nn.Linear(16, 4))
    model.load_state_dict(
        {k: torch.tensor(rng.normal(0, 0.4, tuple(v.shape)).astype(np.float32))
         for k, v in model.state_dict().items()}
    )  # fmt: skip
    return model


def run():
    rng = np.random.default_rng(1)
    models = [make_mlp(rng) for _ in range(3)]
    minibatches = torch.tensor(rng.random((3, 8, 5), dtype=np.float32))
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0])

    def fmodel(params, buffers, x):
        return functional_call(base, (params, buffers), (x,))

    same_batch = vmap(fmodel, in_dims=(0, 0, None))(params, buffers, minibatches[0])
    own_batch = vmap(fmodel)(params, buffers, minibatches)
    loop = torch.stack([m(minibatches[i]) for i, m in enumerate(models)])
    return {
        "same_batch": same_batch.detach().numpy(),
        "own_batch": own_batch.detach().numpy(),
        "loop": loop.detach().numpy(),
        "stacked_weight_shape": tuple(params["0.weight"].shape),
        "stacked_requires_grad": params["0.weight"].requires_grad,
    }
