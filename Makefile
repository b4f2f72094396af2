# Two commands matter: `make demo` and `make test`. Everything else is what they are made of.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINT_VENV ?= .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
DATA_DIR ?= data
DUCKDB_PATH ?= $(DATA_DIR)/warehouse.duckdb
OLIST_DIR ?= ../shared/data/olist

.PHONY: help venv demo test lint lint-python lint-terraform emulator-start emulator-stop load-reference \
	dbt-build dbt-docs bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dbt,dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv with the project and its dev/dbt dependencies

$(LINT_STAMP): terraform/requirements-lint.txt
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LINT_VENV)/bin/python -m pip install --quiet -r terraform/requirements-lint.txt
	touch $(LINT_STAMP)

demo: $(STAMP) ## Emulator + streaming pipeline + publisher + reference data + dbt, all local, then a summary
	$(PY) -m orders_local.demo --data-dir $(DATA_DIR)

test: lint ## Lint, then every test (unit, emulator end-to-end, dbt, Terraform)
	$(PY) -m pytest

lint: lint-python lint-terraform ## ruff over the Python code, checkov over terraform/

lint-python: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lint-terraform: $(LINT_STAMP) ## checkov over terraform/ (own venv: checkov's pins clash with apache-beam's)
	$(LINT_VENV)/bin/checkov --directory terraform --skip-download --compact --quiet

emulator-start: $(STAMP) ## Start the Pub/Sub emulator; prints the PUBSUB_EMULATOR_HOST to export
	$(PY) -m publishers.emulator start --data-dir $(DATA_DIR)/pubsub-emulator

emulator-stop: $(STAMP) ## Stop the emulator this project started (by its PID)
	$(PY) -m publishers.emulator stop --data-dir $(DATA_DIR)/pubsub-emulator

load-reference: $(STAMP) ## Load products/sellers/categories from OLIST_DIR into the DuckDB warehouse
	$(PY) -m warehouse.reference --olist-dir $(OLIST_DIR) --duckdb-path $(DUCKDB_PATH)

dbt-build: $(STAMP) ## dbt build (target local) on a snapshot of the warehouse, then publish the analytics file
	$(PY) -m warehouse.dbt_runner build --duckdb-path $(DUCKDB_PATH)

dbt-docs: $(STAMP) ## dbt docs generate on the analytics file
	$(PY) -m warehouse.dbt_runner docs generate --duckdb-path $(DUCKDB_PATH)

bench: $(STAMP) ## Benchmarks; figures go to BENCHMARKS.md
	$(PY) -m bench.pipeline_throughput --write BENCHMARKS.md

clean: ## Remove the virtualenvs, local data and build output
	rm -rf $(VENV) $(LINT_VENV) $(DATA_DIR) build *.egg-info dbt/target dbt/logs .pytest_cache
