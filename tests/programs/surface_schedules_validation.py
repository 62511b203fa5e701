"""A training loop with a held-out split and the schedules people combine: a linear
warm-up followed by cosine annealing (SequentialLR) for RMSprop, and ReduceLROnPlateau on
the validation loss for a second model trained with Adagrad. Written for PyTorch;
funcgrad's test runs it unchanged on the tape (tests/test_surface_programs.py)."""

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, ReduceLROnPlateau, SequentialLR
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(1)

# Two noisy blobs, labels 0 and 1.
X = torch.cat([torch.randn(60, 2) + 1.5, torch.randn(60, 2) - 1.5])
labels = torch.cat([torch.zeros(60), torch.ones(60)])
train_set, val_set = random_split(TensorDataset(X, labels), [0.75, 0.25])
train_loader = DataLoader(train_set, batch_size=10, shuffle=True, drop_last=True)
val_loader = DataLoader(val_set, batch_size=30)
print("split:", len(train_set), len(val_set), "batches:", len(train_loader), len(val_loader))


def evaluate(model, loss_fn):
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for xb, yb in val_loader:
            logits = model(xb).squeeze(1)
            total += loss_fn(logits, yb).item() * len(xb)
            correct += ((logits > 0).float() == yb).sum().item()
    model.train()
    return total / len(val_set), correct


def train(name, model, optimizer, per_epoch, per_batch=None):
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(6):
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss_fn(model(xb).squeeze(1), yb).backward()
            optimizer.step()
            if per_batch is not None:
                per_batch.step()
        val_loss, correct = evaluate(model, loss_fn)
        per_epoch(val_loss)
        lr = optimizer.param_groups[0]["lr"]
        print(f"{name} epoch {epoch}: val loss {val_loss:.5f} correct {correct} lr {lr:.6f}")


model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
warmup = LinearLR(optimizer, start_factor=0.1, total_iters=9)
cosine = CosineAnnealingLR(optimizer, T_max=60)
schedule = SequentialLR(optimizer, [warmup, cosine], milestones=[9])
train("rmsprop", model, optimizer, per_epoch=lambda val_loss: None, per_batch=schedule)
print("schedule state:", schedule.state_dict()["last_epoch"], schedule.get_last_lr())

second = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
adagrad = torch.optim.Adagrad(second.parameters(), lr=0.5)
plateau = ReduceLROnPlateau(adagrad, factor=0.5, patience=0, threshold=0.05)
train("adagrad", second, adagrad, per_epoch=plateau.step)
print("plateau:", plateau.num_bad_epochs, plateau.get_last_lr(), "next draw:", torch.rand(2))
