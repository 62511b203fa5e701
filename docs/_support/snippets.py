"""Runs the code files a page shows, so that what the page prints is what the shown code printed.

A snippet file is split into sections by `# %% name` lines (the marker of jupytext's
percent format); a page shows one section with `literalinclude` (`:start-after: "# %% name"`,
`:end-before: "# %%"`) and glues the section's printed output next to it. The sections of
one file run in order in one namespace, as the file runs as a script.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

SNIPPETS = pathlib.Path(__file__).resolve().parent.parent / "snippets"
MARKER = re.compile(r"^# %% (\w+)\s*$", re.MULTILINE)


def sections(path: str) -> dict[str, str]:
    """{name: code} of the file's sections; a file without markers is one section, "all".
    `path` is relative to docs/snippets."""
    text = (SNIPPETS / path).read_text()
    parts = MARKER.split(text)
    if len(parts) == 1:
        return {"all": text}
    return {name: code for name, code in zip(parts[1::2], parts[2::2])}


def run_sections(path: str) -> dict[str, str]:
    """{name: what the section printed}, running the sections in order in one namespace."""
    namespace = {"__name__": "__main__"}
    printed = {}
    for name, code in sections(path).items():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{path} [{name}]", "exec"), namespace)
        printed[name] = out.getvalue().rstrip("\n")
    return printed
