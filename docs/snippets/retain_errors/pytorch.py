# Three real-world ways to meet "Trying to backward through the graph a second time" (or its
# sibling, a saved tensor modified in place), each with its fix. tape.py is this file with
# its import changed; functional.py writes each program functionally.
# %% setup
import torch
from torch import nn

torch.manual_seed(0)

# %% rnn_bug
# An RNN cell (Linear + tanh) trained on a stream, one chunk per optimizer step
cell_x, cell_h, head = nn.Linear(3, 8), nn.Linear(8, 8), nn.Linear(8, 1)
params = [*cell_x.parameters(), *cell_h.parameters(), *head.parameters()]
optimizer = torch.optim.SGD(params, lr=0.01)
stream = torch.randn(6, 4, 3)  # 6 chunks of a batch of 4 sequences
h = torch.zeros(4, 8)
try:
    for step in range(len(stream)):
        h = torch.tanh(cell_x(stream[step]) + cell_h(h))  # h carries every earlier graph
        loss = head(h).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()  # step 1: runs back into step 0's graph, freed by step 0's backward
        optimizer.step()
except RuntimeError as error:
    print(f"step {step}: RuntimeError: {error}")

# %% rnn_fix
h = torch.zeros(4, 8)
for x in stream:
    h = torch.tanh(cell_x(x) + cell_h(h.detach()))  # cut the graph at the chunk's start
    loss = head(h).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()  # through this chunk's graph only
    optimizer.step()
print(f"{len(stream)} steps ran")

# %% gan_bug
generator, critic = nn.Linear(2, 3), nn.Linear(3, 1)
opt_g = torch.optim.SGD(generator.parameters(), lr=0.01)
opt_c = torch.optim.SGD(critic.parameters(), lr=0.01)
z, real = torch.randn(4, 2), torch.randn(4, 3)
fake = generator(z)  # one generator output feeds both losses
try:
    critic_loss = critic(fake).mean() - critic(real).mean()
    opt_c.zero_grad()
    critic_loss.backward()  # runs into the generator's graph too, and frees it
    opt_c.step()
    generator_loss = -critic(fake).mean()
    opt_g.zero_grad()
    generator_loss.backward()  # through the generator's freed graph
    opt_g.step()
except RuntimeError as error:
    print(f"RuntimeError: {error}")

# %% gan_fix
fake = generator(z)
critic_loss = critic(fake.detach()).mean() - critic(real).mean()  # stops at the fake
opt_c.zero_grad()
critic_loss.backward()  # the critic's graph only: the generator's stays whole
opt_c.step()
generator_loss = -critic(fake).mean()
opt_g.zero_grad()
generator_loss.backward()
opt_g.step()
print("critic step and generator step ran")

# %% step_bug
model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 3), torch.randn(16, 1)
out = model(x)
loss1, loss2 = (out - y).pow(2).mean(), out.abs().mean()
optimizer.zero_grad()
loss1.backward(retain_graph=True)  # the graph is kept...
optimizer.step()  # ...but its saved weights are updated in place
try:
    loss2.backward()
except RuntimeError as error:
    print(f"RuntimeError: {error}")

# %% step_fix
out = model(x)
loss1, loss2 = (out - y).pow(2).mean(), out.abs().mean()
optimizer.zero_grad()
(loss1 + loss2).backward()  # every backward before the step (here: one, of the sum)
optimizer.step()
print("one backward, then the step")
