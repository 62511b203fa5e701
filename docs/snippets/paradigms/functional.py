# The autograd concepts of the "Paradigms side by side" page, in functional JAX: the same
# sections as pytorch.py, each computing the same numbers with gradients as values.
# %% setup
import jax
import jax.numpy as jnp
import optax

from funcgrad.functional import vjp

# %% backward
w = jnp.array([1.0, 2.0, 3.0])


def loss_fn(w):
    return (w**2).sum()


w_grad = jax.grad(loss_fn)(w)  # the gradient is a return value: no graph, no .grad
print(w_grad)

# %% grad
w_grad = w_grad + jax.grad(loss_fn)(w)  # accumulating is adding, when you want it
print(w_grad)
g = jax.grad(lambda w: (w**3).sum())(w)
print(g, w_grad)

# %% retain_graph
x = jnp.array([0.5, 1.5])
y, pullback = vjp(jnp.exp, x)  # the retained graph, as a value: it holds exp(x)
(g1,) = pullback(jnp.ones_like(y))  # call it as often as you like
(g2,) = pullback(jnp.ones_like(y), retain=False)  # the last call frees its residuals
print(g1 + g2)
try:
    pullback(jnp.ones_like(y))
except RuntimeError as err:
    print("RuntimeError:", str(err).splitlines()[0][:60], "...")

# %% create_graph
x = jnp.array(2.0)
dy = jax.grad(lambda x: x**3)  # a gradient is a function: differentiate it again
d2y = jax.grad(dy)
print(float(dy(x)), float(d2y(x)))

# %% no_grad
z = w * 2  # nothing is recorded unless a function is differentiated
print(type(z).__name__)

# %% detach
x = jnp.array([1.0, 2.0])
x_grad = jax.grad(lambda x: (x * jax.lax.stop_gradient(x)).sum())(x)
print(x_grad)


# %% hooks
@jax.custom_vjp
def scale_grad(x):  # the identity forward, a rewritten gradient backward
    return x


scale_grad.defvjp(lambda x: (x, None), lambda _, g: (g * 10,))
x = jnp.array([1.0, 2.0])
print(jax.grad(lambda x: (scale_grad(x) * scale_grad(x)).sum())(x))

# %% zero_grad
params = {"w": jnp.zeros((2, 1)), "b": jnp.zeros(1)}
grads = jax.grad(lambda p: (jnp.ones((1, 2)) @ p["w"] + p["b"]).sum())(params)
print(grads["w"].ravel())  # fresh each call: there is nothing to zero

# %% optimizer_step
p = jnp.array([1.0, -1.0])
tx = optax.sgd(0.1, momentum=0.9)
state = tx.init(p)  # the momentum buffer is an explicit value
for _ in range(3):
    updates, state = tx.update(jax.grad(lambda p: (p**2).sum())(p), state)
    p = optax.apply_updates(p, updates)  # a new array: nothing changes in place
print(p)

# %% inplace
x = jnp.array([1.0, 2.0])
y = x.at[0].set(5.0)  # arrays are immutable: "in place" returns a new array
print(x, y)


# %% custom_function
@jax.custom_vjp
def clip(x):
    return jnp.clip(x, -1, 1)


clip.defvjp(
    lambda x: (clip(x), x),  # forward: output and residuals (ctx.save_for_backward)
    lambda x, g: (g * (jnp.abs(x) <= 1),),  # backward from the residuals
)
print(jax.grad(lambda x: clip(x).sum())(jnp.array([-2.0, 0.5, 3.0])))

# %% devices
x = jax.device_put(jnp.ones(2), jax.devices("cpu")[0])  # arrays live on a device
x_grad = jax.grad(lambda x: (x * 3).sum())(x)
print(x.device, x_grad.device, x_grad)
