"""What a retained graph costs: the bytes of the unique arrays its nodes' pullbacks keep."""

from __future__ import annotations

from ..functional import residual_bytes

__all__ = ["graph_bytes"]


def graph_bytes(*tensors) -> int:
    """Bytes saved for backward by the graph behind `tensors` (each device buffer once;
    freed nodes count zero). This is what `retain_graph=True` keeps alive, counted by the
    functional core's `residual_bytes` over the nodes' pullbacks.

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
    seen, stack, pullbacks = set(), [t._grad_fn for t in tensors if t._grad_fn is not None], []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node._pullback is not None:
            pullbacks.append(node._pullback)
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return residual_bytes(pullbacks)
