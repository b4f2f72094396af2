"""The local warehouse: a DuckDB file, written with Arrow batches and guarded MERGEs in one transaction.

The file is opened for one flush at a time (see warehouse.connection), so dbt, the dashboard and the
reference loader can take turns with the pipeline instead of failing on DuckDB's single-writer lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from beam_pipelines.messages import SnapshotRows
from beam_pipelines.sinks.base import RetryLaterError, UpsertOutcome
from beam_pipelines.sinks.upsert_sql import UpsertSql, staged
from schemas import DEAD_LETTER, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, table_schema
from warehouse.connection import DEFAULT_LOCK_TIMEOUT, WarehouseLockedError, connect, ensure_tables
from warehouse.duckdb_schema import DEFAULT_SCHEMA, arrow_schema, quote


def arrow_batch(table: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=arrow_schema(table_schema(table)))


class DuckDBWarehouse:
    """Upserts into ``<schema>.orders`` etc. of the DuckDB file at ``path`` (created when missing)."""

    def __init__(self, path: str, schema: str = DEFAULT_SCHEMA, lock_timeout: float = DEFAULT_LOCK_TIMEOUT):
        self.path = path
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.sql = UpsertSql(lambda name: f"{quote(schema)}.{quote(name)}")

    def prepare(self) -> None:
        ensure_tables(self.path, self.schema)

    def upsert(self, snapshots: Sequence[SnapshotRows]) -> UpsertOutcome:
        batches = {
            ORDERS: arrow_batch(ORDERS, [s.order for s in snapshots]),
            ORDER_ITEMS: arrow_batch(ORDER_ITEMS, [row for s in snapshots for row in s.items]),
            ORDER_PAYMENTS: arrow_batch(ORDER_PAYMENTS, [row for s in snapshots for row in s.payments]),
        }
        try:
            with connect(self.path, lock_timeout=self.lock_timeout) as connection:
                for name, batch in batches.items():
                    connection.register(staged(name), batch)
                connection.execute("BEGIN TRANSACTION")
                applied, stale, duplicate = connection.execute(self.sql.outcome()).fetchone()
                for statement in self.sql.statements():
                    connection.execute(statement).fetchall()
                connection.execute("COMMIT")
        except WarehouseLockedError as error:
            raise RetryLaterError(str(error)) from error
        return UpsertOutcome(int(applied or 0), int(stale or 0), int(duplicate or 0))

    def write_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        batch = arrow_batch(DEAD_LETTER, rows)
        try:
            with connect(self.path, lock_timeout=self.lock_timeout) as connection:
                connection.register("batch_dead_letter", batch)
                columns = ", ".join(quote(c) for c in batch.column_names)
                table = f"{quote(self.schema)}.{quote(DEAD_LETTER)}"
                # A message redelivered after a crash (same message_id) is recorded once.
                connection.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM batch_dead_letter AS b "
                    f"WHERE b.message_id IS NULL OR NOT EXISTS "
                    f"(SELECT 1 FROM {table} AS d WHERE d.message_id = b.message_id)"
                )
        except WarehouseLockedError as error:
            raise RetryLaterError(str(error)) from error
