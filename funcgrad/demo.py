"""`python -m funcgrad.demo`: PyTorch's `retain_graph` question, on the tape and functionally.

The classic snippet: two losses `d = c.mean()` and `e = c.sum()` share the graph of
`c = (a ** 2) * 2`. On the tape (PyTorch's API), `d.backward(retain_graph=True)` keeps the
graph's saved tensors so that `e.backward()` can run; that second backward frees them, and a
third raises PyTorch's RuntimeError. Functionally, the retained graph is a value: one
`Pullback` of `c = f(a)`, applied to the cotangent of each loss, then freed.

This module only prints that comparison (it reads no files and needs no PyTorch); the
tests check its output against real PyTorch.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

import funcgrad.tape as torch
from funcgrad.functional import vjp

__all__ = ["functional_part", "main", "tape_part"]

WIDTH = 100
CODE = 34  # width of the code column


def _fmt(x) -> str:
    """A gradient as one aligned row: `[0.0146 0.0418 1.1628 0.7237]`."""
    array = np.asarray(x.detach().array if isinstance(x, torch.Tensor) else x)
    return np.array2string(array.reshape(-1), precision=4, floatmode="fixed", separator=" ")


def _row(code: str, result: str) -> str:
    return f"  {code:<{CODE}} {result}".rstrip()


def _error(err: BaseException) -> str:
    """The error's type and first line, wrapped under the code column."""
    text = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    indent = " " * (CODE + 3)
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent).lstrip()


def tape_part() -> dict:
    """The snippet as a PyTorch user writes it, on `funcgrad.tape`."""
    print("1. The tape: `import funcgrad.tape as torch`, then PyTorch's own code")
    a = torch.rand(1, 4, requires_grad=True)
    b = a**2
    c = b * 2
    d = c.mean()
    e = c.sum()
    print(_row("a = torch.rand(1, 4, requires_grad=True)", ""))
    print(_row("b = a**2; c = b*2; d = c.mean(); e = c.sum()", ""))
    print(_row("", f"a      = {_fmt(a)}"))

    d.backward(retain_graph=True)
    grad_d = np.asarray(a.grad.array)
    print(_row("d.backward(retain_graph=True)", f"a.grad = {_fmt(a.grad)}"))
    bytes_retained = torch.graph_bytes(c)
    print(_row("", f"graph_bytes(c) = {bytes_retained}  (kept alive for the next backward)"))

    e.backward()
    grad_de = np.asarray(a.grad.array)
    print(_row("e.backward()", f"a.grad = {_fmt(a.grad)}  (d's + e's)"))
    print(_row("", f"graph_bytes(c) = {torch.graph_bytes(c)}  (freed by this backward)"))

    try:
        e.backward()
    except RuntimeError as err:
        error = err
        print(_row("e.backward()", _error(err)))
    else:  # pragma: no cover - would be a tape bug; say so rather than print a wrong story
        raise AssertionError("a backward through a freed graph did not raise")
    return {
        "a": np.asarray(a.detach().array),
        "grad_d": grad_d,
        "grad_de": grad_de,
        "bytes": bytes_retained,
        "error": error,
    }


def functional_part(tape: dict) -> None:
    """The same computation with one pullback you keep, reuse and free."""
    print("2. Functional: `funcgrad.functional.vjp` returns the retained graph as a value")
    a = jnp.asarray(tape["a"])

    def f(a):
        return (a**2) * 2

    c, pullback = vjp(f, a)
    leaves = ", ".join(
        f"{leaf.dtype}{list(leaf.shape)}" for leaf in jax.tree_util.tree_leaves(pullback)
    )
    print(_row("f = lambda a: (a**2) * 2", "(the same a as above)"))
    print(_row("c, pullback = vjp(f, a)", f"pullback.residual_bytes = {pullback.residual_bytes}"))
    print(_row("", f"(residuals: {leaves}; the tape kept {tape['bytes']})"))

    (grad_d,) = pullback(jnp.ones_like(c) / c.size)  # d = c.mean(): cotangent ones / numel
    same_d = np.allclose(grad_d, tape["grad_d"])
    print(
        _row("(g_d,) = pullback(ones / c.size)", f"g_d    = {_fmt(grad_d)}  equals tape: {same_d}")
    )
    (grad_e,) = pullback(jnp.ones_like(c))  # e = c.sum(): cotangent ones; same pullback again
    print(_row("(g_e,) = pullback(ones)", f"g_e    = {_fmt(grad_e)}  (same pullback again)"))
    same_de = np.allclose(grad_d + grad_e, tape["grad_de"])
    print(_row("g_d + g_e", f"sum    = {_fmt(grad_d + grad_e)}  equals tape: {same_de}"))

    pullback.free()
    print(_row("pullback.free()", f"pullback.residual_bytes = {pullback.residual_bytes}"))
    try:
        pullback(jnp.ones_like(c))
    except RuntimeError as err:
        same_text = str(err).splitlines()[0] == str(tape["error"]).splitlines()[0]
        print(_row("pullback(ones)", f"RuntimeError, same first line as the tape's: {same_text}"))
    else:  # pragma: no cover
        raise AssertionError("calling a freed Pullback did not raise")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m funcgrad.demo",
        description="PyTorch's retain_graph example on funcgrad.tape and with "
        "funcgrad.functional pullbacks, side by side.",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of torch.rand (default 0)")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    print(f"funcgrad demo: a retained graph is a pullback you keep (seed {args.seed})")
    print()
    tape = tape_part()
    print()
    functional_part(tape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
