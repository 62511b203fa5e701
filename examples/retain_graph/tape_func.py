"""The torch_func.py program on funcgrad.tape, with its imports changed.

retain_graph with torch.func: the retained graph is the `vjp_fn`, kept as a value and
applied to the cotangents of d and e.

python -m examples.retain_graph.tape_func
"""

import sys

import funcgrad.tape as torch
from examples.common import parser, report
from examples.retain_graph.data import initial_a
from examples.vjp_bytes import tape_vjp_bytes as vjp_bytes, tape_vjp_count as vjp_count
from funcgrad.tape.func import vjp


def f(a):
    b = a**2
    c = b * 2
    return c


def run(seed: int = 0, steps: int = 1) -> dict:
    # ---- inputs
    a = torch.tensor(initial_a(seed))

    # ---- forward: vjp_fn keeps the graph of c = f(a), its saved tensors included
    c, vjp_fn = vjp(f, a)
    d_cotangent = torch.ones_like(c) / c.numel()  # d = c.mean()
    e_cotangent = torch.ones_like(c)  # e = c.sum()
    retained_bytes = vjp_bytes(vjp_fn)

    # ---- backward through the same graph, keeping it (.grad accumulation is a sum)
    (grad_d,) = vjp_fn(d_cotangent)
    grad_after_d = grad_d
    (grad_e,) = vjp_fn(e_cotangent)
    grad_after_e = grad_after_d + grad_e

    # ---- the last backward without retain_graph frees the graph
    grad_final = grad_after_e + vjp_fn(d_cotangent, retain_graph=False)[0]
    try:
        vjp_fn(e_cotangent)
        error = None
    except RuntimeError as err:
        error = str(err).splitlines()[0]

    return {
        "grad_after_d": grad_after_d.numpy(),
        "grad_after_e": grad_after_e.numpy(),
        "grad_final": grad_final.numpy(),
        "retained_bytes": retained_bytes,
        "error_on_last_backward": error,
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is the forward under
    `vjp` and its one `vjp_fn` applied to the cotangents of d and then e (freed after e),
    the work of tape.py's forward, `d.backward(retain_graph=True)` and `e.backward()`."""
    a = torch.tensor(initial_a(seed))

    def graph():  # the forward alone: the vjp_fn keeps what the backwards run through
        return vjp(f, a)[1]

    def grads_and_loss():
        c, vjp_fn = vjp(f, a)
        (grad_d,) = vjp_fn(torch.ones_like(c) / c.numel())
        (grad_e,) = vjp_fn(torch.ones_like(c), retain_graph=False)
        return {"a": grad_d + grad_e}, c.sum()  # a.grad after both; e = c.sum()

    last = {}  # the last step's gradient, what it computed besides e

    def step():
        grads, e = grads_and_loss()
        last.update(grads)
        return e

    return {"unit": "forward, vjp_fn(d cotangent), vjp_fn(e cotangent)",
            "grads": lambda: grads_and_loss()[0], "step": step, "graph": graph,
            "graph_bytes": vjp_count, "produced": lambda: last}  # fmt: skip


def main(argv=None) -> None:
    args = parser("retain_graph with torch.func: one vjp_fn applied twice, then freed.").parse_args(
        argv
    )
    report("retain_graph / torch.func on funcgrad.tape", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
