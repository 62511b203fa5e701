"""A read-only view of a recorded graph: its nodes, what each one saved, and whether a
backward has freed it.

`graph_view(*tensors)` walks from the tensors' `grad_fn`s through `next_functions` to the
leaves (each node once) and returns plain data: node names (PyTorch's), the saved values'
shapes, dtypes and bytes, each node's state, and the edges. It is what `draw_graph`
renders, and what a test or a curious user can read. It changes nothing, runs nothing, and
keeps no reference to the graph or its arrays once it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import graph_bytes
from .tensor import Tensor

__all__ = ["STATES", "SavedValue", "NodeView", "GraphView", "graph_view"]

# A node's state. retained: it holds saved tensors (a backward can run through it);
# freed: a backward without retain_graph dropped them (another backward through it fails);
# no tensor saved: nothing to keep or free (e.g. AddBackward0, SumBackward0);
# leaf: AccumulateGrad, where gradients reach a leaf tensor's .grad.
STATES = ("retained", "freed", "no tensor saved", "leaf")


@dataclass(frozen=True)
class SavedValue:
    """One value a node keeps for its backward: an array (shape, dtype, bytes) or a number."""

    shape: tuple | None  # None: a Python number (kept by value, no tensor)
    dtype: str
    nbytes: int

    def describe(self) -> str:
        if self.shape is None:
            return f"number ({self.dtype})"
        return f"{self.dtype}{list(self.shape)} {self.nbytes} B"


@dataclass(frozen=True)
class NodeView:
    """A node: its PyTorch name, saved values, state, and the nodes of its inputs."""

    id: int  # position in GraphView.nodes
    name: str  # PyTorch's name: 'MulBackward0', 'AccumulateGrad', ...
    state: str  # one of STATES
    saved: tuple  # SavedValue, ...
    inputs: tuple  # ids of the nodes its gradients flow to (toward the leaves)
    leaf: SavedValue | None = None  # AccumulateGrad: the leaf tensor's shape and bytes

    @property
    def saved_bytes(self) -> int:
        return sum(s.nbytes for s in self.saved)


@dataclass(frozen=True)
class GraphView:
    """The graph behind some tensors; `retained_bytes` counts shared arrays once."""

    nodes: tuple  # NodeView, ...; the roots' nodes first
    roots: tuple  # ids of the given tensors' nodes
    retained_bytes: int  # = funcgrad.tape.graph_bytes(*tensors)


def _saved_value(value) -> SavedValue:
    value = getattr(value, "value", value) if type(value).__name__ == "_Packed" else value
    value = value.array if isinstance(value, Tensor) else value
    if not hasattr(value, "shape"):
        return SavedValue(None, type(value).__name__, 0)
    dtype = np.dtype(value.dtype)
    nbytes = int(np.prod(value.shape, dtype=np.int64)) * dtype.itemsize
    return SavedValue(tuple(value.shape), dtype.name, nbytes)


def _state(node, saved) -> str:
    if node.name() == "AccumulateGrad":
        return "leaf"
    if not getattr(node, "_saves_tensors", bool(saved)):
        return "no tensor saved"  # a backward may run through it again, as in PyTorch
    return "freed" if getattr(node, "_released", False) else "retained"


def graph_view(*tensors) -> GraphView:
    """The recorded graph behind `tensors`, as plain data.

    Args:
      *tensors: tape tensors (those without a `grad_fn` add nothing).

    Returns:
      A `GraphView`: nodes in breadth-first order from the roots, each with its name,
      state, saved values and input edges, and the bytes the graph retains.

    Example:
        >>> import funcgrad.tape as torch
        >>> from funcgrad.tape.graph_view import graph_view
        >>> a = torch.rand(1, 4, requires_grad=True)
        >>> c = (a ** 2) * 2
        >>> [(n.name, n.state) for n in graph_view(c).nodes]
        [('MulBackward0', 'retained'), ('PowBackward0', 'retained'), ('AccumulateGrad', 'leaf')]
        >>> c.sum().backward()
        >>> [n.state for n in graph_view(c).nodes]
        ['freed', 'freed', 'leaf']
    """
    order, index = [], {}
    queue = [t.grad_fn for t in tensors if isinstance(t, Tensor) and t.grad_fn is not None]
    for node in queue:  # breadth first; the queue grows as nodes are found
        if id(node) in index:
            continue
        index[id(node)] = len(order)
        order.append(node)
        queue.extend(child for child, _ in node.next_functions if child is not None)
    nodes = []
    for i, node in enumerate(order):
        saved = tuple(_saved_value(v) for v in node.saved_arrays())
        inputs = tuple(index[id(c)] for c, _ in node.next_functions if c is not None)
        variable = getattr(node, "variable", None)
        leaf = _saved_value(variable) if variable is not None else None
        nodes.append(NodeView(i, node.name(), _state(node, saved), saved, inputs, leaf))
    roots = tuple(dict.fromkeys(index[id(t.grad_fn)] for t in tensors
                                if isinstance(t, Tensor) and t.grad_fn is not None))  # fmt: skip
    return GraphView(tuple(nodes), roots, graph_bytes(*tensors))
