"""The tape's graph at several moments of a program, drawn side by side for a page.

Each moment is drawn by the library's `funcgrad.tape.draw_graph` (orange: retained, grey:
freed); this module only keeps the pictures and lays them out in one figure, so a page
shows the graph after forward, after `backward(retain_graph=True)` and after a plain
`backward()` next to each other. It draws nothing itself.
"""

from __future__ import annotations

import pathlib
import tempfile

import numpy as np

import funcgrad.tape as torch


class GraphMoments:
    """`snap(title)` draws the graph behind `tensors` now; `figure()` puts the drawings in
    one matplotlib figure, two per row (three in a row would shrink their text on a page)."""

    def __init__(self, *tensors):
        self.tensors = list(tensors)
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="funcgrad-docs-graph-"))
        self.paths: list[pathlib.Path] = []

    def snap(self, title: str) -> None:
        path = self.folder / f"moment-{len(self.paths)}.png"
        retained = torch.graph_bytes(*self.tensors)
        torch.draw_graph(self.tensors, path, title=f"{title}: graph_bytes = {retained}")
        self.paths.append(path)

    def figure(self, columns: int = 2):
        """The drawings in a grid, `columns` wide, each padded to the largest one's size
        (white, at its bottom and right) so that their titles line up."""
        import matplotlib.pyplot as plt

        images = [plt.imread(path) for path in self.paths]
        height = max(image.shape[0] for image in images)
        width = max(image.shape[1] for image in images)
        padded = []
        for image in images:
            canvas = np.ones((height, width, image.shape[2]), image.dtype)
            canvas[: image.shape[0], : image.shape[1]] = image
            padded.append(canvas)
        columns = min(columns, len(padded))
        rows = -(-len(padded) // columns)
        # the drawings' own pixels at 100 dpi, so that their text keeps its size
        size = (width * columns / 100, height * rows / 100)
        fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, image in zip(axes.flat, padded):
            ax.imshow(image)
        fig.subplots_adjust(left=0, right=1, top=1, bottom=0, wspace=0.02, hspace=0.02)
        return fig
