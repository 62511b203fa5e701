"""retain_graph, functionally: the retained graph is the pullback of c = f(a), kept as a value.

`jax.vjp` returns the pullback. Calling it again is `backward(retain_graph=True)`, and
`del pullback` is the last backward, the one that frees the graph: the residuals go with the
last reference. funcgrad's `Pullback` (the last section) makes two things explicit that JAX
leaves implicit: a byte count of the residuals, and PyTorch's error for a freed graph.

python -m examples.retain_graph.functional
"""

import sys

import jax
import jax.numpy as jnp

from examples.common import parser, report
from examples.retain_graph.data import initial_a
from funcgrad.functional import residual_bytes, vjp


def f(a):
    b = a**2
    c = b * 2
    return c


def run(seed: int = 0, steps: int = 1) -> dict:
    # ---- inputs
    a = jnp.asarray(initial_a(seed))

    # ---- forward: the pullback's residuals are what the tape's graph saves
    c, pullback = jax.vjp(f, a)
    d_cotangent = jax.grad(jnp.mean)(c)  # d = c.mean()
    e_cotangent = jax.grad(jnp.sum)(c)  # e = c.sum()
    retained_bytes = residual_bytes(pullback)

    # ---- backward through the same graph, keeping it (.grad accumulation is a sum)
    (grad_d,) = pullback(d_cotangent)
    grad_after_d = grad_d
    (grad_e,) = pullback(e_cotangent)
    grad_after_e = grad_after_d + grad_e

    # ---- the last backward without retain_graph frees the graph
    grad_final = grad_after_e + pullback(d_cotangent)[0]
    del pullback  # retain_graph=False: the residuals are freed with the last reference

    # ---- funcgrad's Pullback: the free is explicit, and a call after it raises
    _, kept = vjp(f, a)
    kept(d_cotangent, retain=False)  # what backward() without retain_graph does
    try:
        kept(e_cotangent)
        error = None
    except RuntimeError as err:
        error = str(err).splitlines()[0]

    return {
        "grad_after_d": grad_after_d,
        "grad_after_e": grad_after_e,
        "grad_final": grad_final,
        "retained_bytes": retained_bytes,
        "error_on_last_backward": error,
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is one pullback of
    c = f(a) applied to d's and e's cotangents, jitted: the tape's forward and two backwards."""
    a = jnp.asarray(initial_a(seed))

    @jax.jit
    def both_backwards(a):
        c, pullback = jax.vjp(f, a)
        (grad_d,) = pullback(jax.grad(jnp.mean)(c))
        (grad_e,) = pullback(jax.grad(jnp.sum)(c))
        return c.sum(), grad_d + grad_e  # e, and a.grad after d's and e's backward

    last = {}  # the last step's gradient, what it computed besides e

    def step():
        e, last["a"] = both_backwards(a)
        return e

    return {
        "unit": "one vjp of c, its pullback applied to d's and e's cotangents (jitted)",
        "grads": lambda: {"a": both_backwards(a)[1]},
        "step": step,
        "produced": lambda: last,
        "graph": lambda: jax.jit(lambda a: jax.vjp(f, a)[1])(a),  # the pullback: its residuals
    }


def main(argv=None) -> None:
    args = parser("retain_graph with JAX: one pullback called three times, then freed.").parse_args(
        argv
    )
    report("retain_graph / functional JAX", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
