# The three programs of pytorch.py written functionally, where their bug cannot happen: a
# loss is a function, its gradient a value, and no graph outlives the call that used it.
# %% setup
import jax
import jax.numpy as jnp
import optax

from funcgrad.functional import vjp

keys = iter(jax.random.split(jax.random.key(0), 16))


def linear(n_in, n_out):
    return {"w": jax.random.normal(next(keys), (n_in, n_out)) / n_in**0.5, "b": jnp.zeros(n_out)}


def apply(layer, x):
    return x @ layer["w"] + layer["b"]


def sgd_step(params, grads, lr):
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


# %% rnn
params = {"x": linear(3, 8), "h": linear(8, 8), "head": linear(8, 1)}
stream = jax.random.normal(next(keys), (6, 4, 3))


def chunk_loss(params, h, x):  # h is an argument: a value, with no graph behind it
    h = jnp.tanh(apply(params["x"], x) + apply(params["h"], h))
    return jnp.mean(apply(params["head"], h) ** 2), h


h = jnp.zeros((4, 8))
for x in stream:
    (loss, h), grads = jax.value_and_grad(chunk_loss, has_aux=True)(params, h, x)
    params = sgd_step(params, grads, 0.01)
print(f"{len(stream)} steps ran")  # to backpropagate through time, write the loss over the steps

# %% gan
generator, critic = linear(2, 3), linear(3, 1)
z, real = jax.random.normal(next(keys), (4, 2)), jax.random.normal(next(keys), (4, 3))


def critic_loss(critic, fake):  # differentiated with respect to the critic only
    return jnp.mean(apply(critic, fake)) - jnp.mean(apply(critic, real))


def generator_loss(generator, critic):
    return -jnp.mean(apply(critic, apply(generator, z)))


fake = apply(generator, z)  # a value: feeding it to both losses shares no graph
critic = sgd_step(critic, jax.grad(critic_loss)(critic, fake), 0.01)
generator = sgd_step(generator, jax.grad(generator_loss)(generator, critic), 0.01)
print("critic step and generator step ran")

# %% step
model = [linear(3, 8), linear(8, 1)]
x, y = jax.random.normal(next(keys), (16, 3)), jax.random.normal(next(keys), (16, 1))
tx = optax.sgd(0.1)
opt_state = tx.init(model)


def forward(model):
    return apply(model[1], jnp.tanh(apply(model[0], x)))


out, pullback = vjp(forward, model)  # the kept graph holds these weights' values
(grads1,) = pullback(2 * (out - y) / out.size)  # loss1's gradient
updates, opt_state = tx.update(grads1, opt_state)
model = optax.apply_updates(model, updates)  # new arrays: the pullback's stay as they were
(grads2,) = pullback(jnp.sign(out) / out.size, retain=False)  # loss2's, at the old weights
print("both gradients computed; the update replaced the weights, it did not overwrite them")
