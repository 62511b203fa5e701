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


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`-n 2 --dist loadgroup`, as `make test` runs), every test of the
    built site goes to one worker, so the site is built once while the other worker runs the
    rest of the suite."""
    for item in items:
        if "built_docs" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("docs"))
