# Two commands matter: `make demo` and `make test`. Everything else is what they are made of.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINT_VENV ?= .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
SECRETS_VENV ?= .venv-secrets
SECRETS_STAMP := $(SECRETS_VENV)/.installed
DATA_DIR ?= data
DUCKDB_PATH ?= $(DATA_DIR)/warehouse.duckdb
OLIST_DIR ?= ../shared/data/olist

.PHONY: help venv demo test test-unit test-pythons test-slow lint lint-python lint-dbt lint-terraform lint-secrets emulator-start emulator-stop load-reference \
	dbt-build dbt-docs dashboard test-airflow bench bench-quick clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,publisher,dbt,dashboard,dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv with the project and its dev/dbt dependencies

$(LINT_STAMP): terraform/requirements-lint.txt
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LINT_VENV)/bin/python -m pip install --quiet -r terraform/requirements-lint.txt
	touch $(LINT_STAMP)

$(SECRETS_STAMP): tools/requirements-secrets.txt
	$(PYTHON) -m venv $(SECRETS_VENV)
	$(SECRETS_VENV)/bin/python -m pip install --quiet -r tools/requirements-secrets.txt
	touch $(SECRETS_STAMP)

DEMO_MINUTES ?= 2
DEMO_SOURCE ?= generated
demo: $(STAMP) ## Live: emulator, streaming pipeline, publisher, dashboard, dbt every 30 s for DEMO_MINUTES (0 = until Ctrl-C), then a summary
	$(PY) -m orders_local.demo --data-dir $(DATA_DIR) --minutes $(DEMO_MINUTES) --source $(DEMO_SOURCE) $(if $(OLIST_DIR),--olist-dir $(OLIST_DIR))

dashboard: $(STAMP) ## Live dashboard (Streamlit) on an existing warehouse, on a free loopback port; prints the URL
	$(PY) -m orders_local.dashboard --duckdb-path $(DUCKDB_PATH)

# Fast feedback first: ruff, the unit tests, the rest of `lint`, the unit tests on the other Pythons, then the
# slow tests. Prerequisites run left to right (.NOTPARALLEL below); each runs once even if listed twice.
# Each suite runs in PYTEST_WORKERS processes (pytest-xdist); a slow test module stays in one of them
# (--dist loadfile), so its module fixtures (an emulator, a dbt build) start once. Tests start their servers on free
# ports and write under their own tmp_path, so the workers share no file or port. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
test: lint-python test-unit lint test-pythons test-slow ## ruff, unit tests, other linters, unit tests on 3.10/3.12, then e2e/dbt/Terraform tests

test-unit: $(STAMP) ## The fast tests: no emulator, no dbt, no checkov (marker `unit`, given in tests/conftest.py)
	$(PY) -m pytest -m unit -n $(PYTEST_WORKERS)

test-pythons: $(STAMP) ## The unit tests on every other Python requires-python names (venvs cached in ~/.cache)
	bash tools/python_matrix.sh $(PYTHONS) -- -m unit -n $(PYTEST_WORKERS)

test-slow: $(STAMP) ## The tests that are not unit: emulator end-to-end, dbt, Terraform (after `lint` in `make test`)
	$(PY) -m pytest -m 'not unit' -n $(PYTEST_WORKERS) --dist loadfile

test-airflow: $(STAMP) ## DagBag import of airflow/dags on Airflow 2.11 and 3.1 (venvs cached in ~/.cache; part of test-slow)
	$(PY) -m pytest -m airflow

.NOTPARALLEL:

lint: lint-python lint-dbt lint-terraform lint-secrets ## ruff (with bandit's S rules) over the Python code, sqlfluff over dbt/, checkov over terraform/, a secrets scan

lint-python: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lint-dbt: $(STAMP) ## sqlfluff over the dbt models and tests (rules in dbt/.sqlfluff; needs no warehouse)
	$(VENV)/bin/sqlfluff lint dbt/models dbt/tests

lint-secrets: $(SECRETS_STAMP) ## detect-secrets over every file git tracks (fails on any finding; own venv)
	git ls-files -z | xargs -0 $(SECRETS_VENV)/bin/detect-secrets-hook

lint-terraform: $(LINT_STAMP) ## checkov over terraform/ (own venv: checkov's pins clash with apache-beam's)
	$(LINT_VENV)/bin/checkov --directory terraform --skip-download --compact --quiet

emulator-start: $(STAMP) ## Start the Pub/Sub emulator; prints the PUBSUB_EMULATOR_HOST to export
	$(PY) -m orders_local.emulator start --data-dir $(DATA_DIR)/pubsub-emulator

emulator-stop: $(STAMP) ## Stop the emulator this project started (by its PID)
	$(PY) -m orders_local.emulator stop --data-dir $(DATA_DIR)/pubsub-emulator

load-reference: $(STAMP) ## Load products/sellers/categories from OLIST_DIR into the DuckDB warehouse
	$(PY) -m warehouse.reference --olist-dir $(OLIST_DIR) --duckdb-path $(DUCKDB_PATH)

DBT_ARGS ?=
dbt-build: $(STAMP) ## dbt build (target local, no unit tests: DBT_ARGS=--unit-tests adds them) on a snapshot of the warehouse, then publish the analytics file
	$(PY) -m warehouse.dbt_runner build --duckdb-path $(DUCKDB_PATH) $(DBT_ARGS)

dbt-docs: $(STAMP) ## dbt docs generate on the analytics file
	$(PY) -m warehouse.dbt_runner docs generate --duckdb-path $(DUCKDB_PATH)

bench: $(STAMP) ## Every benchmark against issue 14's goals (~30 min on 2 cores); rewrites their sections of BENCHMARKS.md
	$(PY) -m bench.run_all --write BENCHMARKS.md

bench-quick: $(STAMP) ## The same benchmarks on smaller workloads (under 5 min); rewrites the same sections
	$(PY) -m bench.run_all --quick --write BENCHMARKS.md

clean: ## Remove the virtualenvs, local data and build output
	rm -rf $(VENV) $(LINT_VENV) $(SECRETS_VENV) $(DATA_DIR) build *.egg-info dbt/target dbt/logs .pytest_cache
