"""Sphinx configuration of funcgrad's documentation site.

Pages are MyST markdown notebooks, executed at build time (cached with jupyter-cache) so
every number, table and figure on them is computed by the code they show. Build with
`make docs` (`sphinx-build -W --keep-going -b html docs docs/_build/html`).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import sys

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
# This checkout's funcgrad and examples, for autodoc here and for the pages' kernels (which
# inherit the environment and run in their page's folder).
sys.path[:0] = [str(ROOT), str(DOCS)]
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), str(DOCS), *filter(None, [os.environ.get("PYTHONPATH")])]
)

from _support import apigen  # noqa: E402 - needs the paths above

project = "funcgrad"
author = "the funcgrad authors"
copyright = "the funcgrad authors, Apache-2.0"

extensions = [
    "myst_nb",
    "sphinx_design",
    "sphinx_copybutton",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

exclude_patterns = ["_build", "_support", "_static", "snippets", "**.ipynb_checkpoints"]

# Error messages and code are quoted as they are: no curly quotes for straight ones.
smartquotes = False

# ---------------------------------------------------------------- MyST and execution
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
nb_render_markdown_format = "myst"  # glued markdown (tables) is parsed as MyST
nb_execution_mode = "cache"
nb_execution_raise_on_error = True  # a failing cell fails the build: the pages' code is tested
nb_execution_timeout = 900
nb_execution_show_tb = True


def _code_hash() -> str:
    """Hash of the code the pages run: funcgrad, the examples, the snippets, the helpers.

    jupyter-cache keys a page on its own cells only; keying the cache folder on this hash
    too means a change to the library re-executes the pages instead of showing old numbers.
    """
    digest = hashlib.sha256()
    for folder in (ROOT / "funcgrad", ROOT / "examples", DOCS / "_support", DOCS / "snippets"):
        for path in sorted(folder.rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_CACHES = DOCS / "_build" / ".jupyter_cache"
nb_execution_cache_path = str(_CACHES / _code_hash())
if _CACHES.exists():  # drop caches of older code
    for old in _CACHES.iterdir():
        if str(old) != nb_execution_cache_path:
            shutil.rmtree(old, ignore_errors=True)

# ---------------------------------------------------------------- API reference
apigen.write_reference(DOCS)
autosummary_generate = False  # apigen documents every name on its module's page
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"
autodoc_inherit_docstrings = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# ---------------------------------------------------------------- HTML
html_theme = "sphinx_book_theme"
html_title = "funcgrad"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "light"}  # the theme logs a console error without one
html_favicon = "_static/favicon.svg"  # else the browser asks for /favicon.ico and gets a 404
html_static_path = ["_static"]
copybutton_exclude = ".linenos, .gp, .go"
