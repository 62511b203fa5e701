"""A classification tutorial: random_split, a dropout MLP, Adam with OneCycleLR, and a
checkpoint (model, optimizer, scheduler) saved, reloaded into fresh objects, and trained
further. Written for PyTorch; funcgrad's test runs it unchanged on the tape."""

import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(42)
centers = torch.tensor([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
labels = torch.randint(0, 3, (150,))
points = centers[labels] + 0.6 * torch.randn(150, 2)
train_set, val_set = random_split(TensorDataset(points, labels), [0.8, 0.2])
print("split sizes:", len(train_set), len(val_set), "first val index:", val_set.indices[:5])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 16)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        return self.out(self.drop(F.relu(self.hidden(x))))


def make(steps):
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
    return net, opt, sched


def accuracy(net, dataset):
    net.eval()
    with torch.no_grad():
        x, y = next(iter(DataLoader(dataset, batch_size=len(dataset))))
        correct = (net(x).argmax(dim=1) == y).sum().item()
    net.train()
    return correct / len(dataset)


def train(net, opt, sched, loader, epochs, first_epoch):
    for epoch in range(first_epoch, first_epoch + epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch}: last loss {loss.item():.4f} val acc {accuracy(net, val_set):.3f}")


loader = DataLoader(train_set, batch_size=20, shuffle=True)
net, opt, sched = make(steps=6 * len(loader))
train(net, opt, sched, loader, epochs=3, first_epoch=0)

path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "surface_classifier.pt")
torch.save(
    {
        "epoch": 3,
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
    },
    path,
)
checkpoint = torch.load(path, weights_only=True)
net2, opt2, sched2 = make(steps=6 * len(loader))
net2.load_state_dict(checkpoint["model"])
opt2.load_state_dict(checkpoint["optimizer"])
sched2.load_state_dict(checkpoint["scheduler"])
print("resumed at epoch", checkpoint["epoch"], "lr", sched2.get_last_lr())
print("state keys:", list(checkpoint["optimizer"]["state"][0].keys()))
train(net2, opt2, sched2, loader, epochs=3, first_epoch=checkpoint["epoch"])
print("output bias:", net2.out.bias)
