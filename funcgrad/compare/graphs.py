"""`funcgrad compare --graph DIR`: each example's tape graph, drawn before any backward,
after `backward(retain_graph=True)` and after a plain `backward()`.

The graph is the one the example's tape form measures (its workload's `graph()`); with two
outputs (retain_graph's `d` and `e`) the first backward is the first output's and the last
the second's, as in the example. Pictures are `.svg` (vector: a large graph stays readable
at any zoom) and, with matplotlib, also `.png` for a graph of at most `PNG_MAX_BOXES` nodes:
matplotlib takes one to two seconds per picture of a few dozen boxes, which made the
pictures of `make demo`'s larger graphs cost more than several examples' comparisons.
"""

from __future__ import annotations

import importlib.util
import os

from funcgrad.tape import draw_graph, graph_bytes

from . import examples
from .workload import Unavailable

__all__ = ["PNG_MAX_BOXES", "draw_example_graphs"]

PNG_MAX_BOXES = 12  # retain_graph's and grad_accumulation's graphs; the others as .svg only

MOMENTS = (
    ("1_before_backward", "before any backward"),
    ("2_after_retain_graph", "after backward(retain_graph=True)"),
    ("3_after_backward", "after a plain backward()"),
)


def draw_example_graphs(names, out_dir: str, *, seed: int = 0, quick: bool = False) -> list:
    """Draws the three pictures of each example whose tape form has a graph; their paths."""
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    written = []
    for name in names:
        if "tape" not in examples.forms(name):
            continue
        try:
            workload = examples.workload(name, "tape", seed=seed, quick=quick)
        except Unavailable:
            continue
        if workload.graph is None:
            continue
        outputs = workload.graph()
        outputs = list(outputs) if isinstance(outputs, tuple | list) else [outputs]
        for k, (stem, moment) in enumerate(MOMENTS):
            if k == 1:
                outputs[0].backward(retain_graph=True)
            elif k == 2:
                outputs[-1].backward()
            title = f"{name}: {moment}; the graph retains {graph_bytes(*outputs)} B"
            path = os.path.join(out_dir, f"{name}_{stem}.svg")
            drawn = draw_graph(outputs, path, title=title)
            written.append(path)
            if has_matplotlib and len(drawn.boxes) <= PNG_MAX_BOXES:
                path = os.path.join(out_dir, f"{name}_{stem}.png")
                draw_graph(outputs, path, title=title)
                written.append(path)
    return written
