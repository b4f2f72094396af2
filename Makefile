# Two commands matter: `make demo` and `make test`. Everything else is what they are made of.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data
STAMP := $(VENV)/.installed

.PHONY: help venv test lint demo clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dbt,dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv with the project and its dev/dbt dependencies

lint: $(STAMP) ## ruff over the Python code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) lint ## Lint, then every test (unit, emulator end-to-end, dbt)
	$(PY) -m pytest

clean: ## Remove the virtualenv, local data and build output
	rm -rf $(VENV) $(DATA_DIR) build *.egg-info dbt/target dbt/logs .pytest_cache
