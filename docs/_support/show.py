"""Glue helpers: what a hidden cell hands to the page (text blocks, Markdown tables, figures)."""

from __future__ import annotations

import io

from IPython.display import Image, Markdown
from myst_nb import glue


class Text:
    """Plain text shown as a literal block (a glued `str` would show its repr, quotes and all)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def glue_text(name: str, text: str) -> None:
    glue(name, Text(text), display=False)


def glue_markdown(name: str, text: str) -> None:
    """Shown with ```{glue:md} name``` and `:format: myst` (tables, inline code)."""
    glue(name, Markdown(text), display=False)


def glue_figure(name: str, fig) -> None:
    """A matplotlib figure as a PNG, closed so the cell shows nothing else."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    glue(name, Image(data=buffer.getvalue(), format="png"), display=False)


def glue_image_file(name: str, path) -> None:
    """A PNG file (one a funcgrad tool wrote), shown like a glued figure."""
    glue(name, Image(filename=str(path)), display=False)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- synced paradigm tabs
# The columns of every side-by-side view: sync id -> tab label. A new paradigm (torch.func,
# issue 13) is one entry here plus its code files; every page's tab sets pick it up.
PARADIGMS = {
    "pytorch": "PyTorch",
    "tape": "funcgrad.tape",
    "functional": "functional JAX",
    "torch_func": "torch.func",
}
FENCE = "`" * 3  # written out, a fence inside a page's code cell would end the cell


def tab_set(contents: dict[str, str]) -> str:
    """MyST for one synced tab set: {sync id: the tab's MyST content}. Selecting a paradigm
    in one tab set selects it in all of them (sphinx-design's sync group)."""
    parts = ["::::{tab-set}", ":sync-group: paradigm", ""]
    for key, content in contents.items():
        parts += [f":::{{tab-item}} {PARADIGMS[key]}", f":sync: {key}", "", content, ":::", ""]
    return "\n".join([*parts, "::::"])


def include(path: str, section: str | None = None, sections: list[str] | None = None) -> str:
    """A `literalinclude` of a file, or of one `# %% name` section of it (`sections`: the
    file's section names in order, to know where this one ends)."""
    options = [":language: python"]
    if section is not None:
        options.append(f':start-after: "# %% {section}"')
        if sections[-1] != section:
            options.append(':end-before: "# %%"')
    return "\n".join([f"{FENCE}{{literalinclude}} {path}", *options, FENCE])


def text_block(text: str) -> str:
    return f"{FENCE}text\n{text}\n{FENCE}"
