"""What a retained graph costs: the bytes of the unique arrays its nodes saved."""

from __future__ import annotations

from .engine import _unique_bytes


def graph_bytes(*tensors) -> int:
    """Bytes saved for backward by the graph behind `tensors` (unique arrays, freed nodes
    count zero). This is what `retain_graph=True` keeps alive.

    Example:
        >>> import funcgrad.tape as torch
        >>> a = torch.rand(1, 4, requires_grad=True)
        >>> c = (a ** 2) * 2
        >>> torch.graph_bytes(c)  # PowBackward0 saved a; MulBackward0 only the Python 2
        16
        >>> c.sum().backward()
        >>> torch.graph_bytes(c)
        0
    """
    seen, stack, arrays = set(), [t._grad_fn for t in tensors if t._grad_fn is not None], []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        arrays.extend(node._saved)
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return _unique_bytes(arrays)
