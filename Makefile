# Engage — `make help` lists the targets. Everything runs from .venv, created by `make install`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8

.DEFAULT_GOAL := help
.PHONY: help install run test check lint types imports migrate bench soak fuzz clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(BIN)/uv pyproject.toml uv.lock
	$(BIN)/uv sync --frozen --inexact --python $(BIN)/python
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the locked dependencies (uv.lock)

run: install ## Serve the demo on http://127.0.0.1:8000 (embedded PostgreSQL; prints the demo logins)
	$(BIN)/engage serve

test: install ## Run the test suite (real PostgreSQL and Redis; see README)
	$(BIN)/pytest

lint: install ## ruff lint and format check
	$(BIN)/ruff check src tests migrations
	$(BIN)/ruff format --check src tests migrations

types: install ## mypy --strict on src/
	$(BIN)/mypy src

imports: install ## import-linter dependency contracts
	$(BIN)/lint-imports

check: lint types imports test ## Everything CI runs, in CI's order: lint, types, import contracts, tests

fuzz: install ## Schemathesis, longer: every operation as each role, plus the stateful run (ENGAGE_FUZZ_EXAMPLES)
	ENGAGE_FUZZ_EXAMPLES=$${ENGAGE_FUZZ_EXAMPLES:-200} ENGAGE_FUZZ_STEPS=$${ENGAGE_FUZZ_STEPS:-100} \
		$(BIN)/pytest -m fuzz tests/core/test_openapi_fuzz.py

migrate: install ## Apply database migrations (ENGAGE_DATABASE_URL, else the embedded database)
	$(BIN)/engage migrate

bench: install ## Run the benchmarks and print their figures
	$(BIN)/engage bench api

soak: install ## An hour of the production topology at 100 agents: memory, connections, errors (needs PostgreSQL, Redis)
	$(BIN)/engage bench soak --minutes 60 --agents 100

clean: ## Remove the virtualenv and caches (keeps .engage data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
