import jax.numpy as jnp

from funcgrad.functional import vjp

a = jnp.array([[0.1, 0.2, 0.3, 0.4]])
c, pullback = vjp(lambda a: (a**2) * 2, a)  # the retained graph, as a value
d_cotangent, e_cotangent = jnp.full_like(c, 1 / c.size), jnp.ones_like(c)  # mean, sum

(grad_d,) = pullback(d_cotangent)  # call it: it stays alive
(grad_e,) = pullback(e_cotangent, retain=False)  # the last call frees it
print("a.grad =", grad_d + grad_e)
try:
    pullback(e_cotangent)
except RuntimeError as err:
    print("RuntimeError:", str(err)[:58], "...")
