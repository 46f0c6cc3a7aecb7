# One command each: `make demo` (set up, then run devcloud + the proxy) and
# `make test` (set up, then lint, type-check and run every test).
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[devcloud,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vnext-proxy demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/vnext-proxy mappings check

test: lint
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
