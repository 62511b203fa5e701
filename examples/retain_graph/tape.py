"""retain_graph on funcgrad.tape: the PyTorch program with its import changed.

python -m examples.retain_graph.tape
"""

import sys

import funcgrad.tape as torch
from examples.common import parser, report
from examples.retain_graph.data import initial_a


def run(seed: int = 0, steps: int = 1) -> dict:
    # ---- inputs
    a = torch.tensor(initial_a(seed), requires_grad=True)

    # ---- forward: b and c are saved for backward (the "graph")
    saved_bytes = []

    def pack(t):  # count what each op saves for its backward
        saved_bytes.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        b = a**2
        c = b * 2
    d = c.mean()
    e = c.sum()

    # ---- backward through the same graph, keeping it
    d.backward(retain_graph=True)
    grad_after_d = a.grad.clone()
    e.backward(retain_graph=True)
    grad_after_e = a.grad.clone()

    # ---- the last backward without retain_graph frees the graph
    d.backward()
    grad_final = a.grad.clone()
    try:
        e.backward()
        error = None
    except RuntimeError as err:
        error = str(err).splitlines()[0]

    return {
        "grad_after_d": grad_after_d.numpy(),
        "grad_after_e": grad_after_e.numpy(),
        "grad_final": grad_final.numpy(),
        "retained_bytes": sum(saved_bytes),
        "error_on_last_backward": error,
    }


def workload(seed: int = 0, quick: bool = False) -> dict:
    """What `funcgrad compare` measures (examples/README.md): one step is the forward and
    the two backwards through the retained graph, from `a.grad = None`."""
    a = torch.tensor(initial_a(seed), requires_grad=True)

    def graph():  # the forward alone: what `retain_graph=True` keeps
        c = (a**2) * 2
        return c.mean(), c.sum()

    def step():
        a.grad = None
        d, e = graph()
        d.backward(retain_graph=True)
        e.backward()
        return e

    def grads():
        step()
        return {"a": a.grad}

    return {"unit": "forward, d.backward(retain_graph=True), e.backward()", "grads": grads,
            "step": step, "graph": graph, "produced": lambda: a.grad}  # fmt: skip


def main(argv=None) -> None:
    args = parser("retain_graph on funcgrad.tape: backward twice through one graph.").parse_args(
        argv
    )
    report("retain_graph / funcgrad.tape", run(args.seed, args.steps), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
