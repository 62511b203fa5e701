# Moving a funcgrad.tape training program to the functional form, one step at a time. Each
# "# %% name" section is shown on the "Porting PyTorch code" page; they run in order, and
# every step must train to the same parameters as the tape program. Each step imports what
# it brings in, so the imports are not all at the top:
# ruff: noqa: E402
# %% data
import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5], [3.0]]) + 0.1).astype(np.float32)
STEPS = 50

# %% step1_tape
import funcgrad.tape as torch
from funcgrad.tape import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
initial = {k: v.detach().array for k, v in model.state_dict().items()}  # to restart from
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.tensor(X), torch.tensor(Y)
for _ in range(STEPS):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
tape_final = {k: v.detach().array for k, v in model.named_parameters()}
print(f"tape: loss {loss.item():.6f}")

# %% step2_pure_loss
import jax
import jax.numpy as jnp


def loss_fn(params, x, y):  # the same module, called as a pure function of its parameters
    return jnp.mean((nn.functional_call(model, params, x) - y) ** 2)


params = dict(initial)
grads = jax.grad(loss_fn)(params, X, Y)  # gradients as values: no .grad, no zero_grad
print(sorted(grads))

# %% step3_optax
import optax

tx = optax.adam(1e-2)  # the update rule torch.optim.Adam runs on the tape
opt_state = tx.init(params)  # Adam's moments: explicit state, passed in and returned
for _ in range(STEPS):
    loss, grads = jax.value_and_grad(loss_fn)(params, X, Y)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
print(f"functional, eager: loss {loss:.6f}")


# %% step4_jit
@jax.jit  # the whole step is one XLA program: parameters in, parameters out
def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


jit_params, jit_state = dict(initial), tx.init(initial)
for _ in range(STEPS):
    jit_params, jit_state, loss = train_step(jit_params, jit_state, X, Y)
print(f"functional, jitted: loss {loss:.6f}")

# %% step5_flax
import flax.linen as fnn


class MLP(fnn.Module):  # the model in Flax: Dense_0 and Dense_1 are the two Linear layers
    @fnn.compact
    def __call__(self, x):
        hidden = jnp.tanh(fnn.Dense(16)(x))  # Flax numbers layers as they are created
        return fnn.Dense(1)(hidden)


model.load_state_dict({k: torch.tensor(v) for k, v in initial.items()})  # restart
variables = nn.convert.to_flax(model, {"0": "Dense_0", "2": "Dense_1"})


def flax_loss(variables, x, y):
    return jnp.mean((MLP().apply(variables, x) - y) ** 2)


@jax.jit
def flax_step(variables, opt_state, x, y):
    loss, grads = jax.value_and_grad(flax_loss)(variables, x, y)
    updates, opt_state = tx.update(grads, opt_state, variables)
    return optax.apply_updates(variables, updates), opt_state, loss


flax_state = tx.init(variables)
for _ in range(STEPS):
    variables, flax_state, loss = flax_step(variables, flax_state, X, Y)
print(f"Flax, jitted: loss {loss:.6f}")

# %% check
back = nn.convert.from_flax_variables(model, variables, {"0": "Dense_0", "2": "Dense_1"})
for name, value in tape_final.items():
    for step, result in (("step 3", params), ("step 4", jit_params), ("step 5", back)):
        np.testing.assert_allclose(result[name], value, atol=1e-4, err_msg=f"{step}: {name}")
print(f"steps 3, 4 and 5 end at the tape's parameters after {STEPS} Adam steps (within 1e-4)")
