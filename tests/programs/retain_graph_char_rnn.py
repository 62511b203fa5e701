"""A character-level language model trained with truncated backpropagation through time.

The text is cut into chunks of SEQ_LEN characters; the LSTM's hidden state is carried
from one chunk to the next, so the model sees the whole text as one sequence. Run it with
--broken to keep the carried state attached to the previous chunk's graph: the second
chunk's backward then reaches the first chunk's graph, already freed, and fails with
"Trying to backward through the graph a second time". The fix detaches the state.

Written for funcgrad's tests (issue 8); weights and data come from NumPy so that real
PyTorch and `import funcgrad.tape as torch` start from the same numbers.
"""

import argparse

import numpy as np
import torch
import torch.nn as nn

TEXT = "the cat sat on the mat. the dog sat on the log. " * 3
SEQ_LEN = 12
HIDDEN = 24


class CharLSTM(nn.Module):
    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 10)
        self.lstm = nn.LSTM(10, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def numpy_weights(model, seed):
    """Overwrites every parameter with U(-0.3, 0.3) draws from one NumPy seed."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.3, 0.3, tuple(p.shape)).astype(np.float32)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broken", action="store_true", help="do not detach the state")
    args = parser.parse_args()

    chars = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in TEXT])
    print(f"{len(TEXT)} characters, vocabulary of {len(chars)}")

    model = CharLSTM(len(chars), HIDDEN)
    numpy_weights(model, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    criterion = nn.CrossEntropyLoss()

    state = None
    for epoch in range(2):
        total = 0.0
        for start in range(0, len(data) - SEQ_LEN - 1, SEQ_LEN):
            x = data[start : start + SEQ_LEN].unsqueeze(0)
            y = data[start + 1 : start + SEQ_LEN + 1].unsqueeze(0)
            logits, state = model(x, state)
            loss = criterion(logits.view(-1, len(chars)), y.view(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if not args.broken:
                state = tuple(s.detach() for s in state)  # truncate the graph here
            total += loss.item()
        print(f"epoch {epoch}: mean loss {total / (len(data) // SEQ_LEN):.4f}")

    with torch.no_grad():  # greedy generation from the trained model
        x, state, out = data[:1].unsqueeze(0), None, "t"
        for _ in range(20):
            logits, state = model(x, state)
            x = logits[:, -1].argmax(dim=-1, keepdim=True)
            out += chars[x.item()]
    print(f"sample: {out!r}")


if __name__ == "__main__":
    main()
