"""Fixtures shared by test files: the documentation site, built once per test session, and
`--lazy`: the run with funcgrad.tape's lazy segments on (`funcgrad.tape.set_lazy`)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess

import docs_site
import pytest

import funcgrad.tape as tape


def pytest_addoption(parser):
    parser.addoption(
        "--lazy",
        action="store_true",
        help="run every test with funcgrad.tape's lazy segments on (set_lazy(True))",
    )
    parser.addoption(
        "--lazy-compile",
        action="store_true",
        help="--lazy, and every backward of a segment compiled at first sight",
    )


@pytest.fixture(autouse=True)
def lazy_segments(request):
    """With `--lazy` (or `--lazy-compile`), each test runs with lazy segments on."""
    compile_all = request.config.getoption("--lazy-compile")
    if not (request.config.getoption("--lazy") or compile_all):
        yield
        return
    with tape.lazy.lazy_segments(compile_at_first_sight=compile_all):
        yield


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory):
    """The site built by Sphinx with `-W --keep-going`: (the build's output, html folder).

    Pages run their code when built; jupyter-cache keeps the results between builds of the
    same code (docs/_build/.jupyter_cache), so only the first build of a change is slow.
    """
    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist (`make test` runs two workers) each worker has its own session:
    # the first to get here builds into the run's shared folder while the other waits on
    # the lock, then reads the same build.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "docs_site"
    folder.mkdir(exist_ok=True)
    out, record = folder / "html", folder / "build.json"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            done = docs_site.build(out)
            record.write_text(json.dumps([done.returncode, done.stdout, done.stderr]))
    code, stdout, stderr = json.loads(record.read_text())
    return subprocess.CompletedProcess(["sphinx-build"], code, stdout, stderr), out


@pytest.fixture(scope="session")
def docs_url(built_docs):
    """The built site served over HTTP on a free local port."""
    done, out = built_docs
    assert done.returncode == 0, (
        "the docs build failed:\n" + done.stdout[-3000:] + done.stderr[-5000:]
    )
    with docs_site.serve(out) as url:
        yield url
