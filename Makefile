# The two entry points: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: test test-fast demo setup system-deps py-deps node-deps test-convex test-python lint typecheck codegen bench clean

test: setup lint
	@echo "== convex functions, local backend contract tests (vitest)"
	npx vitest run
	@echo "== python: unit, integration, end-to-end, chaos (pytest)"
	$(VENV)/bin/pytest
	@echo "== dashboard in headless Chromium against the real daemon (vitest + playwright-core)"
	npx vitest run --config vitest.e2e.config.ts

setup: system-deps py-deps node-deps

# The offline demo: local backend, simulated laptops with their daemons, the dashboard.
demo: setup
	$(VENV)/bin/tina demo $(ARGS)

system-deps:
	@./scripts/ensure-system-deps.sh

# Re-installs only when pyproject.toml changed since the last install.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

py-deps: $(VENV)/.installed

# The lock file lists every platform's optional packages, so `npm ci` installs exactly it and
# never rewrites it.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-deps: node_modules/.installed

test-convex: node-deps
	npx vitest run convex

test-python: py-deps
	$(VENV)/bin/pytest

# The edit-test loop: the in-process Python tests only (`pytest -m unit`; categories in
# tests/conftest.py). No node packages, no backend, no tmux.
test-fast: py-deps
	$(VENV)/bin/pytest -q -m unit

# Every linter and type checker; `make test` runs it first.
lint: py-deps node-deps
	$(VENV)/bin/ruff check tina tests bench
	$(VENV)/bin/ruff format --check tina tests bench
	$(VENV)/bin/mypy
	npx eslint .
	npx tsc --noEmit -p convex
	npx tsc --noEmit -p convex-local
	npx tsc --noEmit -p web

# The former name of `lint`.
typecheck: lint

# Regenerates convex/_generated offline (commit the result).
codegen: node-deps
	npx convex codegen --system-udfs --typecheck enable

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
