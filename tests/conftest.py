"""Fixtures shared by test files: the documentation site, built once per test session."""

from __future__ import annotations

import docs_site
import pytest


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory):
    """The site built by Sphinx with `-W --keep-going`: (the build's output, html folder).

    Pages run their code when built; jupyter-cache keeps the results between builds of the
    same code (docs/_build/.jupyter_cache), so only the first build of a change is slow.
    """
    out = tmp_path_factory.mktemp("docs") / "html"
    done = docs_site.build(out)
    return done, out


@pytest.fixture(scope="session")
def docs_url(built_docs):
    """The built site served over HTTP on a free local port."""
    done, out = built_docs
    assert done.returncode == 0, (
        "the docs build failed:\n" + done.stdout[-3000:] + done.stderr[-5000:]
    )
    with docs_site.serve(out) as url:
        yield url
