"""Names every command shares: where the local warehouse lives, the dataset/schema names, environment variables.

Flags: streaming_job.py takes Beam's underscore spelling (``--duckdb_path``); the project's other commands use
hyphens (``--duckdb-path``, ``--olist-dir``) and also accept the underscore spelling of the flags they share with
streaming_job.py, so a flag copied from one command works in the other.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

#: BigQuery dataset of the raw (pipeline-written) tables; also the DuckDB schema of the local warehouse.
DEFAULT_DATASET = "orders_rt"
#: BigQuery dataset dbt builds into (the local target builds into the analytics file's DBT_SCHEMA).
DEFAULT_ANALYTICS_DATASET = "orders_analytics"

#: Environment variables.
PUBSUB_EMULATOR_HOST_ENV = "PUBSUB_EMULATOR_HOST"  # as Google's clients read it
DUCKDB_PATH_ENV = "ORDERS_DUCKDB_PATH"  # the raw local warehouse, for every command
RAW_SCHEMA_ENV = "ORDERS_RT_SCHEMA"  # schema/dataset of the raw tables, read by dbt's sources

#: Seconds a DuckDB writer or reader waits while another process holds the file (see warehouse.connection).
DEFAULT_LOCK_TIMEOUT = 120.0
#: Seconds without a flush after which the pipeline lets go of the DuckDB file it holds (warehouse.connection.hold).
DEFAULT_IDLE_RELEASE = 1.0

#: Local files live under data/ of the directory the command runs in (the repo root for `make`).
DEFAULT_DATA_DIR = Path("data")
_DEFAULT_DUCKDB_PATH = DEFAULT_DATA_DIR / "warehouse.duckdb"


def default_duckdb_path() -> Path:
    """$ORDERS_DUCKDB_PATH, else data/warehouse.duckdb (relative to the working directory)."""
    return Path(os.environ.get(DUCKDB_PATH_ENV) or _DEFAULT_DUCKDB_PATH)


def default_raw_schema() -> str:
    return os.environ.get(RAW_SCHEMA_ENV) or DEFAULT_DATASET


def add_duckdb_path_argument(parser: argparse.ArgumentParser, purpose: str) -> None:
    """``--duckdb-path`` (also spelled ``--duckdb_path``, as streaming_job.py spells it) with its default."""
    parser.add_argument(
        "--duckdb-path",
        "--duckdb_path",
        type=Path,
        default=default_duckdb_path(),
        help=f"{purpose} (default: ${DUCKDB_PATH_ENV} or {_DEFAULT_DUCKDB_PATH})",
    )
