"""Seeded randomness as PyTorch tutorials print it: the global stream, Generator objects,
saving and restoring the RNG state, default layer initialisation, dropout masks and a
shuffled sampler's order. Written for PyTorch; funcgrad's test runs it unchanged."""

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

torch.manual_seed(2024)
print(torch.rand(3))
print(torch.randn(2, 3))
print(torch.randn(20)[-4:])
print(torch.randint(0, 100, (6,)))
print(torch.randperm(10))
print(torch.empty(5).uniform_(-1, 1))
print(torch.empty(3).normal_(mean=10.0, std=0.5))
print(torch.bernoulli(torch.full((8,), 0.3)))

state = torch.get_rng_state()
first = torch.randn(4)
torch.set_rng_state(state)
print("replayed the same draws:", torch.equal(first, torch.randn(4)))

g = torch.Generator().manual_seed(7)
print(torch.rand(2, generator=g), g.initial_seed())

layer = nn.Linear(3, 2)
print(layer.weight, layer.bias)
conv = nn.Conv2d(1, 2, kernel_size=2)
print(conv.bias)

drop = nn.Dropout(p=0.5)
print(drop(torch.ones(10)))

print(list(RandomSampler(range(8))))
print([batch.tolist() for batch in DataLoader(range(10), batch_size=4, shuffle=True)])
print(torch.rand(1))
