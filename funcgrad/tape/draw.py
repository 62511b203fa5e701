"""`draw_graph`: a picture of a recorded graph, its saved tensors, and what a backward freed.

One box per node with PyTorch's node name, its state (retained, freed, no tensor saved,
leaf) and the tensors it saved (shape, dtype, bytes); arrows follow the gradient from the
outputs to the leaves; the title says how many bytes the graph retains. Drawn before a
backward, after `backward(retain_graph=True)` and after a plain `backward()`, it answers
the seed question at a glance: the boxes stay orange (retained) until the last backward
turns them grey (freed).

The formats need nothing beyond what funcgrad installs: `.svg` is written here, `.png`
uses matplotlib (an optional dependency, imported when asked for), `.dot` is Graphviz's
text format for those who have Graphviz. The walk itself is `graph_view.py`; this module
only lays it out and writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from .graph_view import GraphView, graph_view

__all__ = [
    "FORMATS",
    "UNKNOWN_FORMAT",
    "NO_MATPLOTLIB",
    "Box",
    "GraphLayout",
    "layout",
    "draw_graph",
]

FORMATS = (".svg", ".png", ".dot")
UNKNOWN_FORMAT = "draw_graph: cannot write {path!r}; the file name must end in one of {formats}"
NO_MATPLOTLIB = (
    "draw_graph: writing a .png needs matplotlib, which is not installed ({error}).\n"
    "[funcgrad] pip install matplotlib, or write an .svg (no dependency)."
)
STYLE = {  # state -> (fill, stroke, dashed)
    "retained": ("#fde2c8", "#d9822b", False),
    "freed": ("#eeeeee", "#9a9a9a", True),
    "no tensor saved": ("#ffffff", "#555555", False),
    "leaf": ("#dbeafe", "#3b82f6", False),
}
WIDTH, LINE, PAD, GAP_X, GAP_Y, MAX_SAVED = 280, 15, 8, 24, 36, 4


@dataclass(frozen=True)
class Box:
    """Where one node is drawn (pixels, y down) and the lines of text in it."""

    node: int
    name: str
    state: str
    x: float
    y: float
    w: float
    h: float
    lines: tuple


@dataclass(frozen=True)
class GraphLayout:
    """What `draw_graph` drew: the graph view, a box per node, the picture's size."""

    view: GraphView
    title: str
    boxes: tuple
    width: float
    height: float


def _lines(node) -> tuple:
    lines = [node.name, node.state + (f", {node.saved_bytes} B saved" if node.saved else "")]
    if node.leaf is not None:
        lines.append(f"leaf {node.leaf.describe()}")
    lines += [f"saved {s.describe()}" for s in node.saved[:MAX_SAVED]]
    if len(node.saved) > MAX_SAVED:
        lines.append(f"+ {len(node.saved) - MAX_SAVED} more saved")
    return tuple(lines)


def _depths(view: GraphView) -> list:
    """Longest distance from a root, so every arrow points down."""
    parents = [0] * len(view.nodes)
    for node in view.nodes:
        for i in node.inputs:
            parents[i] += 1
    depth, ready = [0] * len(view.nodes), [n.id for n in view.nodes if parents[n.id] == 0]
    while ready:
        node = view.nodes[ready.pop()]
        for i in node.inputs:
            depth[i] = max(depth[i], depth[node.id] + 1)
            parents[i] -= 1
            if parents[i] == 0:
                ready.append(i)
    return depth


def layout(view: GraphView, title: str) -> GraphLayout:
    """Boxes in layers by depth, each layer centred, 40 px for the title."""
    depth = _depths(view)
    layers = [
        [n for n in view.nodes if depth[n.id] == d] for d in range(max(depth, default=-1) + 1)
    ]
    width = max([len(layer) for layer in layers] + [1]) * (WIDTH + GAP_X) + GAP_X
    boxes, y = [], 48.0
    for layer in layers:
        row = [(n, _lines(n)) for n in layer]
        height = max(len(lines) for _, lines in row) * LINE + 2 * PAD
        x = (width - len(row) * (WIDTH + GAP_X) + GAP_X) / 2
        for node, lines in row:
            boxes.append(Box(node.id, node.name, node.state, x, y, WIDTH, height, lines))
            x += WIDTH + GAP_X
        y += height + GAP_Y
    boxes.sort(key=lambda b: b.node)
    return GraphLayout(view, title, tuple(boxes), width, max(y, 80.0))


def _edges(graph: GraphLayout):
    for box in graph.boxes:
        for i in graph.view.nodes[box.node].inputs:
            to = graph.boxes[i]
            yield box, to, (box.x + box.w / 2, box.y + box.h), (to.x + to.w / 2, to.y)


def _svg(graph: GraphLayout) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{graph.width:.0f}" '
        f'height="{graph.height:.0f}" font-family="monospace" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker>'
        "</defs>",
        f'<text x="{GAP_X}" y="26" font-size="14" font-weight="bold">{escape(graph.title)}</text>',
    ]
    for src, dst, (x1, y1), (x2, y2) in _edges(graph):
        out.append(
            f'<line class="edge" data-from="{src.node}" data-to="{dst.node}" x1="{x1:.1f}" '
            f'y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#444" '
            'marker-end="url(#arrow)"/>'
        )
    for b in graph.boxes:
        fill, stroke, dashed = STYLE[b.state]
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        out.append(f'<g class="node" data-id="{b.node}" data-name="{escape(b.name)}" '
                   f'data-state="{b.state}">')  # fmt: skip
        out.append(
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="6" '
            f'fill="{fill}" stroke="{stroke}"{dash}/>'
        )
        for k, line in enumerate(b.lines):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{b.x + PAD:.1f}" y="{b.y + PAD + 11 + k * LINE:.1f}"'
                       f"{weight}>{escape(line)}</text>")  # fmt: skip
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _dot(graph: GraphLayout) -> str:
    out = ["digraph funcgrad {", f'  label="{graph.title}"; labelloc=t; node [shape=box];']
    for b in graph.boxes:
        fill, stroke, dashed = STYLE[b.state]
        label = "\\n".join(line.replace('"', "'") for line in b.lines)
        style = "filled,dashed" if dashed else "filled"
        out.append(f'  n{b.node} [label="{label}", style="{style}", fillcolor="{fill}", '
                   f'color="{stroke}"];')  # fmt: skip
    out += [f"  n{src.node} -> n{dst.node};" for src, dst, _, _ in _edges(graph)]
    return "\n".join(out + ["}"]) + "\n"


def _png(graph: GraphLayout, path: Path) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch
    except ImportError as error:
        raise ImportError(NO_MATPLOTLIB.format(error=error)) from error
    dpi = 100
    fig = Figure(figsize=(graph.width / dpi, graph.height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, graph.width)
    ax.set_ylim(graph.height, 0)  # pixels, y down, as in the SVG
    ax.axis("off")
    ax.text(GAP_X, 26, graph.title, fontsize=11, fontweight="bold", family="monospace")
    for _, _, (x1, y1), (x2, y2) in _edges(graph):
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1), arrowprops={"arrowstyle": "->"})
    for b in graph.boxes:
        fill, stroke, dashed = STYLE[b.state]
        ax.add_patch(FancyBboxPatch((b.x, b.y), b.w, b.h, boxstyle="round,pad=0,rounding_size=6",
                                    facecolor=fill, edgecolor=stroke,
                                    linestyle="--" if dashed else "-"))  # fmt: skip
        for k, line in enumerate(b.lines):
            ax.text(b.x + PAD, b.y + PAD + 11 + k * LINE, line, fontsize=8.5, family="monospace",
                    fontweight="bold" if k == 0 else "normal")  # fmt: skip
    fig.savefig(path, dpi=dpi)


def draw_graph(tensors, path, *, title: str | None = None) -> GraphLayout:
    """Draws the recorded graph behind `tensors` to `path` (.svg, .png or .dot).

    Args:
      tensors: a tape tensor, or a sequence of them (e.g. two losses sharing a graph).
      path: the file to write; its suffix picks the format: `.svg` (no dependency), `.png`
        (matplotlib), `.dot` (Graphviz text).
      title: Optional. The picture's title; by default the bytes the graph retains.

    Returns:
      The `GraphLayout` drawn: one `Box` per node (name, state, position, text lines).

    Example:
        >>> import tempfile, os
        >>> import funcgrad.tape as torch
        >>> a = torch.rand(1, 4, requires_grad=True)
        >>> c = (a ** 2) * 2
        >>> d, e = c.mean(), c.sum()
        >>> path = os.path.join(tempfile.mkdtemp(), "graph.svg")
        >>> [b.state for b in torch.draw_graph([d, e], path).boxes]
        ['no tensor saved', 'no tensor saved', 'retained', 'retained', 'leaf']
        >>> d.backward(retain_graph=True)
        >>> e.backward()
        >>> [b.state for b in torch.draw_graph([d, e], path).boxes][3]
        'freed'
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(UNKNOWN_FORMAT.format(path=str(path), formats=", ".join(FORMATS)))
    tensors = list(tensors) if isinstance(tensors, list | tuple) else [tensors]
    view = graph_view(*tensors)
    graph = layout(view, title or f"graph retains {view.retained_bytes} B (graph_bytes)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".png":
        _png(graph, path)
    else:
        path.write_text(_svg(graph) if path.suffix.lower() == ".svg" else _dot(graph))
    return graph
