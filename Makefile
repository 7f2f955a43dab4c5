# Praxis developer commands. `make run` starts everything locally, `make test` is what CI runs.
# Needs: python3 with pip (uv is installed on demand), the PostgreSQL server binaries (apt-get install postgresql).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else where `pip install --user uv` puts it (re-evaluated at each use, so it also works
# right after `make venv` installed it).
UV = $(or $(shell command -v uv 2>/dev/null),$(HOME)/.local/bin/uv)
# --frozen: run against uv.lock exactly as committed; never re-resolve behind the developer's back.
RUN = $(UV) run --frozen

# mypy: every library and every service's whole package (new ones are picked up as they appear). MYPYPATH maps
# each path to its import name.
MYPY_DIRS = $(wildcard libs/*/src) $(patsubst %/__init__.py,%,$(wildcard services/*/src/*/__init__.py))
empty :=
space := $(empty) $(empty)
MYPYPATH_DIRS = $(subst $(space),:,$(strip $(wildcard libs/*/src services/*/src)))

PYTEST_ARGS ?=

.PHONY: help venv run servers test lint fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

venv: ## install uv if missing, then create/refresh .venv from uv.lock
	@if ! command -v uv >/dev/null 2>&1 && [ ! -x "$(HOME)/.local/bin/uv" ]; then \
		echo "uv not found; installing it with pip"; \
		python3 -m pip install --user uv \
		|| python3 -m pip install --user --break-system-packages uv \
		|| pip install uv; \
	fi
	$(UV) sync --frozen

run: venv ## start NATS, Postgres and all services (console on http://127.0.0.1:8000/); Ctrl-C stops
	$(RUN) praxis-dev run

servers: venv ## start only NATS + Postgres (.devdata/) and print PRAXIS_* URLs
	$(RUN) praxis-dev servers

lint: venv ## import contracts, ruff, mypy
	$(RUN) lint-imports
	$(RUN) ruff check .
	MYPYPATH=$(MYPYPATH_DIRS) $(RUN) mypy $(MYPY_DIRS)

test: lint ## lint, then the whole pytest suite (starts its own NATS/Postgres)
	$(RUN) pytest $(PYTEST_ARGS)

fmt: venv ## format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

clean: ## remove .devdata (local stack data and logs) and tool caches; keeps .venv
	@if [ -f .devdata/pg/postmaster.pid ] && kill -0 "$$(head -1 .devdata/pg/postmaster.pid)" 2>/dev/null; then \
		echo "a local Postgres is still running on .devdata/pg: stop \`make run\` first"; exit 1; fi
	rm -rf .devdata .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
	find . -path ./.venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
