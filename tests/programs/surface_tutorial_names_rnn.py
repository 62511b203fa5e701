"""The intermediate tutorials' name classifier, and a custom autograd Function, as their
readers write them: a `Dataset` of one-hot names split with `random_split` and a seeded
`Generator`, `nn.RNN` + `LogSoftmax` + `NLLLoss` trained in hand-made minibatches with
`clip_grad_norm_`, `topk` guesses and a confusion matrix written row by row; then a
Legendre-polynomial `autograd.Function` fitted by hand-written gradient descent, and an
`nn.Sequential(Linear, Flatten(0, 1))` polynomial fitted with RMSprop. Written for PyTorch;
tests/test_surface_programs.py runs it unchanged on the tape (the data are made-up names:
no downloads).
"""

import math
import random
import string

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
letters = string.ascii_letters + " .,;'_"


def line_to_tensor(line):
    tensor = torch.zeros(len(line), 1, len(letters))
    for i, ch in enumerate(line):
        tensor[i][0][letters.find(ch) if ch in letters else letters.find("_")] = 1
    return tensor


class Names(Dataset):
    def __init__(self, by_label):
        self.labels = sorted(by_label)
        self.items = [
            (torch.tensor([self.labels.index(label)], dtype=torch.long), line_to_tensor(n), n)
            for label in self.labels
            for n in by_label[label]
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        return self.items[idx]


data = Names(
    {
        "Dutch": ["Beek", "Bosch", "de Vries", "Jansen", "Smit"],
        "Korean": ["Ahn", "Chung", "Yoon", "Park", "Kim"],
        "Scottish": ["MacLeod", "Brown", "Wilson", "Murray", "Reid"],
    }
)
print(f"one-hot 'Ahn': {line_to_tensor('Ahn').shape}, first item label {data[0][0]}")
train_set, test_set = torch.utils.data.random_split(
    data, [0.8, 0.2], generator=torch.Generator(device=device).manual_seed(2024)
)
print("train/test sizes:", len(train_set), len(test_set), "test names:", [x[2] for x in test_set])


class CharRNN(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.rnn = nn.RNN(n_in, n_hidden)
        self.h2o = nn.Linear(n_hidden, n_out)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line):
        _, hidden = self.rnn(line)
        return self.softmax(self.h2o(hidden[0]))


torch.manual_seed(0)
random.seed(0)
rnn = CharRNN(len(letters), 32, len(data.labels)).to(device)
print(rnn)
criterion = nn.NLLLoss()
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.15)
rnn.train()
for epoch in range(1, 7):
    order = list(range(len(train_set)))
    random.shuffle(order)
    total = 0.0
    for batch in np.array_split(order, len(order) // 4):
        batch_loss = 0
        for i in batch:
            label, line, _ = train_set[i]
            batch_loss += criterion(rnn(line), label)
        batch_loss.backward()
        nn.utils.clip_grad_norm_(rnn.parameters(), 3)
        optimizer.step()
        optimizer.zero_grad()
        total += batch_loss.item() / len(batch)
    if epoch % 2 == 0:
        print(f"epoch {epoch}: mean batch loss {total:.4f}")

confusion = torch.zeros(len(data.labels), len(data.labels))
rnn.eval()
with torch.no_grad():
    for label, line, name in data:
        value, index = rnn(line).topk(1)
        confusion[label.item()][index[0].item()] += 1
        print(f"{name}: {data.labels[index[0].item()]} ({value.item():.4f})")
for i in range(len(data.labels)):
    confusion[i] = confusion[i] / confusion[i].sum()
print(confusion)


class Legendre3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (5 * x**3 - 3 * x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * x**2 - 1)


x = torch.linspace(-math.pi, math.pi, 500, device=device, dtype=torch.float)
y = torch.sin(x)
a, b, c, d = (torch.full((), v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
for t in range(300):
    loss = (a + b * Legendre3.apply(c + d * x) - y).pow(2).sum()
    if t % 100 == 99:
        print(t, f"{loss.item():.4f}", type(loss.grad_fn).__name__)
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= 2e-5 * p.grad
            p.grad = None
print(f"y = {a.item():.4f} + {b.item():.4f} * P3({c.item():.4f} + {d.item():.4f} x)")

xx = x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))
model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
for t in range(200):
    loss = nn.MSELoss(reduction="sum")(model(xx), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if t % 100 == 99:
        print(t, f"{loss.item():.4f}")
linear = model[0]
print(f"y = {linear.bias.item():.4f} + {linear.weight[:, 0].item():.4f} x + ...", linear.weight)
