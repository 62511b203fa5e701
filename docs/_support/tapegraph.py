"""Pictures of a funcgrad.tape graph: its nodes, what each saved, and what a backward freed.

Until `funcgrad.tape.draw_graph` exists this draws the graph from what the tape exposes as
PyTorch does: `grad_fn`, `next_functions` and each node's `saved_arrays()`. `snapshot`
records the graph's state at a moment; `draw` shows several moments side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import funcgrad.tape as torch


@dataclass
class NodeState:
    name: str  # PyTorch's node name, with the output's name for an output's node: "d = ..."
    saved_bytes: int
    level: int  # distance from the outputs: 0 for an output's grad_fn


@dataclass
class Snapshot:
    title: str
    nodes: dict  # node id -> NodeState
    edges: list  # (node id, input node id)
    graph_bytes: int


def snapshot(title: str, **outputs) -> Snapshot:
    """The graph behind the named `outputs` now: nodes with their saved bytes, and edges."""
    nodes, edges, level = {}, [], {}
    frontier = [(t.grad_fn, 0) for t in outputs.values() if t.grad_fn is not None]
    while frontier:  # longest distance from an output, so inputs sit below their users
        node, depth = frontier.pop()
        if level.get(id(node), -1) >= depth:
            continue
        level[id(node)] = depth
        saved = {id(a): a.nbytes for a in node.saved_arrays() if hasattr(a, "nbytes")}
        nodes[id(node)] = NodeState(node.name(), sum(saved.values()), depth)
        for parent, _ in node.next_functions:
            if parent is not None:
                edges.append((id(node), id(parent)))
                frontier.append((parent, depth + 1))
    for key, state in nodes.items():
        state.level = level[key]
    for name, t in outputs.items():
        if t.grad_fn is not None:
            nodes[id(t.grad_fn)].name = f"{name} = {t.grad_fn.name()}"
    return Snapshot(title, nodes, sorted(set(edges)), torch.graph_bytes(*outputs.values()))


def draw(snapshots: list[Snapshot], first: Snapshot | None = None):
    """A matplotlib figure, one panel per snapshot. A node that saved bytes in `first` (the
    graph right after forward) and holds none now is drawn as freed."""
    import matplotlib.pyplot as plt

    first = first or snapshots[0]
    columns = min(len(snapshots), 3 if len(snapshots) != 4 else 2)
    rows = -(-len(snapshots) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.9 * rows), squeeze=False)
    for ax in axes.flat[len(snapshots) :]:
        ax.axis("off")
    for ax, snap in zip(axes.flat, snapshots):
        positions = _layout(snap)
        for child, parent in snap.edges:
            (x0, y0), (x1, y1) = positions[child], positions[parent]
            ax.annotate("", (x1, y1 + 0.22), (x0, y0 - 0.22),
                        arrowprops={"arrowstyle": "->", "color": "0.4"})  # fmt: skip
        for key, state in snap.nodes.items():
            before = first.nodes.get(key, state).saved_bytes
            if state.saved_bytes:
                face, note = "#f6b26b", f"keeps {state.saved_bytes} B"
            elif before:
                face, note = "#d9d9d9", f"freed {before} B"
            else:
                face, note = "white", "saves no tensor"
            ax.text(*positions[key], f"{state.name}\n{note}", ha="center", va="center",
                    fontsize=9, bbox={"boxstyle": "round", "facecolor": face})  # fmt: skip
        ax.set_title(f"{snap.title}\ngraph_bytes = {snap.graph_bytes}", fontsize=10)
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-max(s.level for s in snap.nodes.values()) - 0.6, 0.6)
        ax.axis("off")
    fig.tight_layout()
    return fig


def _layout(snap: Snapshot) -> dict:
    by_level: dict[int, list] = {}
    for key, state in snap.nodes.items():
        by_level.setdefault(state.level, []).append(key)
    positions = {}
    for level, keys in by_level.items():
        for i, key in enumerate(keys):
            positions[key] = ((i - (len(keys) - 1) / 2) * 1.1, -level)
    return positions
