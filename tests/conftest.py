"""Fixtures shared by test files: the documentation site, built once per test session, and
the mode of funcgrad.tape's lazy segments (`funcgrad.tape.set_lazy`): on by default, as in
the library; `--eager` runs every test with them off (op by op), `--lazy` with them on
whatever `FUNCGRAD_LAZY` says, `--lazy-compile` on and every segment's backward compiled
at first sight. Subprocesses (examples, compare) follow `FUNCGRAD_LAZY`, not these options.
Also pins hypothesis's example generation to the tests' own strategies (below)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess

import docs_site
import pytest
from hypothesis.internal.conjecture import providers as hypothesis_providers

import funcgrad.tape as tape

# Hypothesis (6.131 and later) mixes into its draws "local constants": the literals of
# every non-test module loaded in the process. Which funcgrad modules a pytest worker has
# loaded depends on what it collected, and their literals change with any edit of the
# library, so the derandomized fuzzers (tests/fuzz, test_lazy) drew other programs in a
# full run than alone, and would draw others after each unrelated change. Keeping that
# pool empty (it is filled only by `_get_local_constants`) makes a fuzz run the same
# programs wherever and however it runs; its global constants (0, 1, -1, inf, ...) stay.
# A private name: if hypothesis renames it, collection fails here rather than quietly.
if not callable(getattr(hypothesis_providers, "_get_local_constants", None)):
    raise RuntimeError("hypothesis has no providers._get_local_constants: see tests/conftest.py")
hypothesis_providers._get_local_constants = lambda: hypothesis_providers._local_constants


def pytest_addoption(parser):
    parser.addoption(
        "--eager",
        action="store_true",
        help="run every test with funcgrad.tape's lazy segments off (set_lazy(False))",
    )
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
    """With `--eager`, each test runs with lazy segments off; with `--lazy` (or
    `--lazy-compile`) on; else in the process's mode (on unless FUNCGRAD_LAZY=0)."""
    # Each test starts with an empty cache of compiled segments (and of structures seen
    # once), as in a new process: which programs a test compiles, and whether the
    # "compiled in a row" warning fires in it, do not depend on the tests run before it.
    tape.lazy.clear_cache()
    config = request.config
    compile_all = config.getoption("--lazy-compile")
    eager, lazy = config.getoption("--eager"), config.getoption("--lazy") or compile_all
    if eager and lazy:
        raise pytest.UsageError("--eager and --lazy/--lazy-compile exclude each other")
    if not (eager or lazy):
        yield
        return
    with tape.lazy.lazy_segments(not eager, compile_at_first_sight=compile_all):
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
