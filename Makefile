# The two commands a new user runs (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

# the short demonstration, then every example in every paradigm (out/: the report as JSON,
# a plot, and the pictures of each example's graph before and after backward)
demo: $(STAMP)
	$(PY) -m funcgrad.demo
	$(PY) -m funcgrad compare --quick --json out/compare.json --plot out/compare.png \
		--graph out/graphs

test: $(STAMP)
	$(PY) -m ruff check funcgrad tests benchmarks examples
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/tape_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
