# The two commands a new user runs (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# funcgrad[test] is enough for demo and bench; test and docs add [docs] (the suite builds
# the documentation site and browses it)
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test lint bench docs docs-test clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[test,docs]"
	touch $(DOCS_STAMP)

# the short demonstration, then every example in every paradigm (out/: the report as JSON,
# a plot, and the pictures of each example's graph before and after backward)
demo: $(STAMP)
	$(PY) -m funcgrad.demo
	$(PY) -m funcgrad compare --quick --json out/compare.json --plot out/compare.png \
		--graph out/graphs

# The tape files most sensitive to lazy segments, run a second time with them off (--eager):
# the differential fuzzer, hooks, retain_graph, in-place and views, custom Functions,
# saved-tensor hooks, activation checkpointing, what backward hooks return.
EAGER_TESTS := tests/fuzz/test_fuzz_tape.py tests/fuzz/test_regressions.py \
	tests/test_hooks_and_modes.py tests/test_programs_retain_graph.py tests/test_inplace.py \
	tests/test_views_inplace.py tests/test_custom_function_surface.py \
	tests/test_saved_tensor_hooks.py tests/test_checkpoint_activations.py tests/test_hook_results.py

# ruff, then the whole suite with lazy segments on (the default): PyTorch parity, the
# examples, the docs build and the browser test of the built site (needs Debian's Chromium:
# apt-get install chromium); then EAGER_TESTS with lazy segments off
test: $(DOCS_STAMP)
	$(PY) -m ruff check funcgrad tests benchmarks examples docs
	$(PY) -m pytest -q -n 2
	$(PY) -m pytest -q -n 2 --eager $(EAGER_TESTS)

bench: $(STAMP)
	$(PY) benchmarks/tape_overhead.py

# the documentation site: open docs/_build/html/index.html
docs: $(DOCS_STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# the docs build and the browser test of the built site only
docs-test: $(DOCS_STAMP)
	$(PY) -m pytest -q tests/test_docs.py tests/test_docs_browser.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache docs/_build docs/api
