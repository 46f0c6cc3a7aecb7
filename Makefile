# One command each: `make demo` (set up, then run devcloud + the proxy) and
# `make test` (set up, then lint, type-check and run every test).
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed-stamp
# The newest Python the proxy supports; `make test` runs the unit tests on it
# too. `make test-unit PY=3.12` does the same on another.
PY ?= 3.13

.PHONY: demo test lint setup test-unit test-devcloud test-without-nova clean system-packages

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

# What the tests need from the system, beyond Python (Debian's packages):
# tmux, the real terminal the vnext CLI's live progress display is read
# from, and Chromium with its driver, the real browser the side-by-side
# pages are tested in.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-packages:
	@command -v tmux >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq tmux chromium chromium-driver; }

# Every test. Two jobs side by side, as devcloud's Nova keeps about one core
# busy and the tests without Nova can use the other: the tests against
# devcloud (on $(PYTHON); one builds the wheel and runs it from a fresh
# virtualenv outside the checkout), and lint, type checks and the tests
# without Nova, on $(PYTHON) then on $(PY). Debian's packages install while
# .venv is set up. Each job's output is printed whole when it ends.
test:
	$(MAKE) --jobs=2 --output-sync=target test-devcloud test-without-nova

test-devcloud: $(STAMP) system-packages
	$(VENV)/bin/pytest tests/devcloud

test-without-nova: lint .venv-$(PY)/.installed-stamp
	$(VENV)/bin/pytest tests/unit tests/stores
	$(MAKE) test-unit PY=$(PY)

# The proxy without the devcloud extra (no Nova), on Python $(PY).
.venv-%/.installed-stamp: pyproject.toml
	python$* -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -e '.[test]'
	touch $@

test-unit: .venv-$(PY)/.installed-stamp
	.venv-$(PY)/bin/pytest tests/unit tests/stores

clean:
	rm -rf $(VENV) .venv-3.* var build .mypy_cache .ruff_cache .pytest_cache
