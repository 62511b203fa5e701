# "When not to retain" in functional JAX: the same sections as pytorch.py. Gradients are
# values; a graph is kept only as a pullback you hold, and freed when you drop it.
# %% setup
import jax
import jax.numpy as jnp
import numpy as np

from funcgrad.functional import accumulate_grads, vjp

rng = np.random.default_rng(0)


def array(*shape, scale=1.0):
    return jnp.asarray(rng.normal(size=shape) * scale, jnp.float32)


x, y1, y2 = array(32, 8), array(32, 1), array(32, 1)
params = {"w": array(8, 16, scale=0.3)}  # the shared trunk
params["v1"], params["v2"] = array(16, 1, scale=0.25), array(16, 1, scale=0.25)  # heads


def losses(params, x, y1, y2):
    h = jnp.tanh(x @ params["w"])
    return jnp.mean((h @ params["v1"] - y1) ** 2), jnp.mean((h @ params["v2"] - y2) ** 2)


def norms(*grads):
    return " ".join(f"{float(jnp.linalg.norm(g)):.4f}" for g in grads)


one, zero = jnp.float32(1), jnp.float32(0)

# %% two_backwards
(loss1, loss2), pullback = vjp(lambda p: losses(p, x, y1, y2), params)  # the kept graph
(grads1,) = pullback((one, zero))  # loss1's cotangent; the pullback stays
(grads2,) = pullback((zero, one), retain=False)  # loss2's; then it is freed
grads = jax.tree_util.tree_map(jnp.add, grads1, grads2)
print("grad norms of w, v1, v2:", norms(grads["w"], grads["v1"], grads["v2"]))

# %% sum_losses
grads = jax.grad(lambda p: sum(losses(p, x, y1, y2)))(params)  # one pullback, used once
print("grad norms of w, v1, v2:", norms(grads["w"], grads["v1"], grads["v2"]))

# %% separate_grads
(loss1, loss2), pullback = vjp(lambda p: losses(p, x, y1, y2), params)
g1 = pullback((one, zero))[0]["w"]  # one pullback, reused: the trunk runs forward once
g2 = pullback((zero, one), retain=False)[0]["w"]
print("grad norms of w, per loss:", norms(g1, g2))

# %% accumulate
mean_loss, grads = accumulate_grads(  # lax.scan over 4 micro-batches of 8
    lambda p, batch: sum(losses(p, *batch)), params, (x, y1, y2), num_micro_batches=4
)
print("grad norms of w, v1, v2:", norms(grads["w"], grads["v1"], grads["v2"]))
