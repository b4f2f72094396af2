"""Short-lived DuckDB connections that wait out another process's lock.

DuckDB lets one process at a time hold a file read-write (a read-write connection in one process blocks every
other process, readers too). So every process here — pipeline sink, dbt runner, reference loader,
dashboard — opens the file only for one unit of work and retries a lock conflict with bounded, jittered
backoff instead of failing.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from schemas.settings import DEFAULT_LOCK_TIMEOUT
from warehouse.duckdb_schema import DEFAULT_SCHEMA, MissingRequiredColumnError, add_missing_columns, create_all_sql

LOGGER = logging.getLogger(__name__)


class WarehouseLockedError(RuntimeError):
    """The DuckDB file stayed locked by another process for longer than the timeout."""


def is_lock_conflict(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, duckdb.IOException) and (
        "Could not set lock" in text or "Conflicting lock" in text or "lock on file" in text
    )


@contextlib.contextmanager
def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    initial_backoff: float = 0.005,
    max_backoff: float = 0.5,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` for one unit of work, waiting (bounded) while another process holds the lock."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout
    backoff = initial_backoff
    attempts = 0
    while True:
        attempts += 1
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as error:
            if not is_lock_conflict(error):
                raise
            if time.monotonic() + backoff > deadline:
                raise WarehouseLockedError(
                    f"{path} stayed locked by another process for {lock_timeout:.0f}s ({attempts} attempts): {error}"
                ) from error
            time.sleep(backoff * (0.5 + random.random()))  # noqa: S311 (backoff jitter, not security)
            backoff = min(backoff * 2, max_backoff)
    if attempts > 1:
        LOGGER.debug("opened %s after %d attempts (lock held elsewhere)", path, attempts)
    try:
        # Timestamps are instants (TIMESTAMPTZ); sessions show and truncate them in UTC, like BigQuery.
        connection.execute("SET TimeZone = 'UTC'")
        yield connection
    finally:
        connection.close()


def ensure_tables(
    path: str | Path, schema: str = DEFAULT_SCHEMA, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> list[str]:
    """Create the warehouse schema and every missing table in ``path``, and add the nullable columns that a
    newer version of schemas/ has and an older file lacks. Returns the columns added ("table.column")."""
    with connect(path, lock_timeout=lock_timeout) as connection:
        for statement in create_all_sql(schema):
            connection.execute(statement)
        try:
            added = add_missing_columns(connection, schema)
        except MissingRequiredColumnError as error:
            raise RuntimeError(f"{path}: {error}; migrate the file or start a new one") from None
    if added:
        LOGGER.warning("%s: added columns from a newer schema: %s", path, ", ".join(added))
    return added
