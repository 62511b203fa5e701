"""`graph_view` and `draw_graph`: the recorded graph as data and as a picture.

The states are checked against the tape's own behaviour (a second backward through a freed
node fails, as in PyTorch), the bytes against `graph_bytes`, and the pictures by parsing
them: one SVG box per node, with the node's name and state.
"""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

import funcgrad.tape as tape
from funcgrad.tape.graph_view import graph_view


def _retain_graph_example(lib):
    a = lib.tensor(np.array([[0.1, 0.2, 0.3, 0.4]], np.float32), requires_grad=True)
    c = (a**2) * 2
    return a, c.mean(), c.sum()


def _names(lib_out) -> list:
    """Node names in breadth-first order from the roots, read from a graph's grad_fns."""
    order, queue = [], [t.grad_fn for t in lib_out]
    for node in queue:
        if node in order:
            continue
        order.append(node)
        queue += [n for n, _ in node.next_functions if n is not None]
    return [n.name().split("::")[-1] for n in order]  # torch::autograd::AccumulateGrad


def test_graph_view_names_pytorchs_nodes_and_their_saved_tensors():
    _, d, e = _retain_graph_example(tape)
    view = graph_view(d, e)
    assert [n.name for n in view.nodes] == _names(_retain_graph_example(torch)[1:])
    assert view.roots == (0, 1)
    pow_node = next(n for n in view.nodes if n.name == "PowBackward0")
    (saved_a, exponent) = pow_node.saved
    assert (saved_a.shape, saved_a.dtype, saved_a.nbytes) == ((1, 4), "float32", 16)
    assert exponent.shape is None and exponent.nbytes == 0  # the Python 2, kept by value
    leaf = view.nodes[-1]
    assert leaf.name == "AccumulateGrad" and leaf.state == "leaf" and leaf.leaf.shape == (1, 4)
    assert view.retained_bytes == tape.graph_bytes(d, e) == 16


def test_states_follow_retain_graph_then_the_freeing_backward():
    _, d, e = _retain_graph_example(tape)

    def states():
        return {n.name: n.state for n in graph_view(d, e).nodes}

    before = states()
    assert before == {"MeanBackward0": "no tensor saved", "SumBackward0": "no tensor saved",
                      "MulBackward0": "retained", "PowBackward0": "retained",
                      "AccumulateGrad": "leaf"}  # fmt: skip
    d.backward(retain_graph=True)
    assert states() == before and graph_view(d, e).retained_bytes == 16
    e.backward()
    after = states()
    assert after["PowBackward0"] == after["MulBackward0"] == "freed"
    assert graph_view(d, e).retained_bytes == 0
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        e.backward()  # what "freed" means


def test_draw_graph_svg_has_one_box_per_node_with_its_name_and_state(tmp_path):
    _, d, e = _retain_graph_example(tape)
    layout = tape.draw_graph([d, e], tmp_path / "graph.svg", title="before")
    root = ET.parse(tmp_path / "graph.svg").getroot()
    ns = {"svg": "http://www.w3.org/2000/svg"}
    boxes = root.findall("svg:g[@class='node']", ns)
    view = graph_view(d, e)
    assert [b.get("data-name") for b in boxes] == [n.name for n in view.nodes]
    assert [b.get("data-state") for b in boxes] == [n.state for n in view.nodes]
    assert all(b.find("svg:rect", ns) is not None for b in boxes)
    edges = root.findall("svg:line[@class='edge']", ns)
    assert len(edges) == sum(len(n.inputs) for n in view.nodes) == 4
    assert [b.name for b in layout.boxes] == [n.name for n in view.nodes]
    for box in layout.boxes:  # inside the picture, inputs below their users
        assert 0 <= box.x and box.x + box.w <= layout.width and box.y + box.h <= layout.height
        for i in view.nodes[box.node].inputs:
            assert layout.boxes[i].y > box.y
    texts = " ".join(t.text for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "saved float32[1, 4] 16 B" in texts and "before" in texts


def test_draw_graph_png_is_an_image_and_dot_lists_the_edges(tmp_path):
    import matplotlib.image

    _, d, e = _retain_graph_example(tape)
    d.backward(retain_graph=True)
    e.backward()
    layout = tape.draw_graph(e, tmp_path / "freed.png")
    image = matplotlib.image.imread(tmp_path / "freed.png")
    assert image.ndim == 3 and image.shape[0] >= layout.height - 1 and image.std() > 0
    assert layout.title == "graph retains 0 B (graph_bytes)"
    tape.draw_graph(e, tmp_path / "freed.dot")
    dot = (tmp_path / "freed.dot").read_text()
    assert dot.startswith("digraph") and dot.count("->") == 3 and "PowBackward0\\nfreed" in dot


def test_draw_graph_refuses_an_unknown_format(tmp_path):
    _, d, _ = _retain_graph_example(tape)
    with pytest.raises(ValueError, match=r"draw_graph: cannot write .*graph\.jpg"):
        tape.draw_graph(d, tmp_path / "graph.jpg")


def test_a_leaf_alone_has_an_empty_graph(tmp_path):
    a = tape.ones(3, requires_grad=True)
    assert graph_view(a).nodes == () and graph_view(a).retained_bytes == 0
    layout = tape.draw_graph(a, tmp_path / "empty.svg")
    assert layout.boxes == ()
