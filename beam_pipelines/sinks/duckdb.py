"""The local warehouse: a DuckDB file, written with Arrow batches, one transaction per flush.

A flush reads what its orders hold, then deletes the rows of the orders it replaces and inserts the rows of the
winners that replace or create their order (sinks.upsert_sql.ReplaceSql): no MERGE, whose scans of each target
table and planning cost 5-25 ms a statement here; a flush of new orders only inserts.

The file is opened for one unit of work at a time (see warehouse.connection), so dbt, the dashboard and the
reference loader can take turns with the pipeline instead of failing on DuckDB's single-writer lock. A unit is
one write, or, inside ``session()``, the writes of one sink flush: opening the file and closing it (which
checkpoints the WAL into the file) cost ≈ 20-35 and ≈ 30-55 ms here (bench/upsert_flush.py), about as much as the
upsert of 1,000 snapshots, so a flush and its pipeline_metrics rows share one connection. Sessions stay one flush
long: a connection held across a bundle's flushes kept readers (a test's poller, dbt's snapshot) out for seconds.

With ``hold_seconds`` (the pipeline's ``--duckdb_hold_seconds``) the warehouse also *holds* its file between
flushes (warehouse.connection.hold): a unit's open and close then cost ≈ 1 ms, and the hold steps aside within
≈ 10 ms when another process waits for the file, or after ``hold_seconds`` without a write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from beam_pipelines.messages import SnapshotRows
from beam_pipelines.pipeline_metrics import TABLE as PIPELINE_METRICS
from beam_pipelines.sinks.arrow_rows import arrow_batch
from beam_pipelines.sinks.base import ContentRefusedError, RetryLaterError
from beam_pipelines.sinks.fold import StoredVersion, replacing
from beam_pipelines.sinks.upsert_sql import ReplaceSql, staged
from schemas import DEAD_LETTER_TABLE, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS
from warehouse.connection import DEFAULT_LOCK_TIMEOUT, WarehouseLockedError, connect, ensure_tables, hold
from warehouse.duckdb_schema import DEFAULT_SCHEMA, quote

#: Errors that say a value cannot be stored (converting rows to Arrow, or DuckDB casting/constraining them).
_CONTENT_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    UnicodeError,
    OverflowError,
    TypeError,
    ValueError,
    duckdb.ConversionException,
    duckdb.ConstraintException,
    duckdb.InvalidInputException,
    duckdb.OutOfRangeException,
    duckdb.TypeMismatchException,
)
#: How long a pipeline_metrics write waits for another process's lock (at most): metrics are dropped, never
#: waited on.
METRICS_LOCK_TIMEOUT = 2.0


def _only(batch: pa.Table, order_ids: pa.Array) -> pa.Table:
    return batch.filter(pc.is_in(batch["order_id"], value_set=order_ids))


@contextlib.contextmanager
def _classified(path: str) -> Iterator[None]:
    """Turn what DuckDB and Arrow raise into the sink's two answers (see sinks.base)."""
    try:
        yield
    except WarehouseLockedError as error:
        raise RetryLaterError(str(error)) from error
    except _CONTENT_ERRORS as error:
        raise ContentRefusedError(f"{type(error).__name__}: {error}") from error
    except (duckdb.Error, OSError) as error:  # disk, permissions, a missing table: not the messages' fault
        raise RetryLaterError(f"{path}: {type(error).__name__}: {error}") from error


class DuckDBWarehouse:
    """Upserts into ``<schema>.orders`` etc. of the DuckDB file at ``path`` (created when missing)."""

    def __init__(
        self,
        path: str,
        schema: str = DEFAULT_SCHEMA,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        hold_seconds: float = 0.0,
        threads: int | None = None,
    ):
        self.path = path
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.hold_seconds = hold_seconds
        self.threads = threads
        self.sql = ReplaceSql(lambda name: f"{quote(schema)}.{quote(name)}")
        self._session: contextlib.ExitStack | None = None  # set only inside session(); never pickled open
        self._session_connection: duckdb.DuckDBPyConnection | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_session": None, "_session_connection": None}

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Let the writes inside share one connection, opened at the first of them and closed at the end (the
        file stays locked from the first write to the end: keep a session to one flush). A write that fails
        ends the shared connection; the next one opens a new one."""
        if self._session is not None:  # nested: the outer session owns the connection
            yield
            return
        self._session = contextlib.ExitStack()
        try:
            yield
        finally:
            stack, self._session, self._session_connection = self._session, None, None
            with _classified(self.path):
                stack.close()

    @contextlib.contextmanager
    def _connection(self, lock_timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """This write's connection: the session's (opened now if needed), or one of its own."""
        if self.hold_seconds > 0:
            hold(self.path, self.hold_seconds)  # cheap when held already; declined while another process waits
        if self._session is None:
            with connect(self.path, lock_timeout=lock_timeout) as connection:
                self._configure(connection)
                yield connection
            return
        if self._session_connection is None:
            self._session_connection = self._session.enter_context(connect(self.path, lock_timeout=lock_timeout))
            self._configure(self._session_connection)
        try:
            yield self._session_connection
        except BaseException:
            self._end_session_connection()
            raise

    def _configure(self, connection: duckdb.DuckDBPyConnection) -> None:
        if self.threads:  # a setting of the database instance: every connection of this process to the file
            connection.execute(f"SET threads = {int(self.threads)}")

    def _end_session_connection(self) -> None:
        """Close the session's connection after a failed write (a failed transaction is rolled back with it)."""
        stack, self._session = self._session, contextlib.ExitStack()
        self._session_connection = None
        with contextlib.suppress(Exception):
            stack.close()

    def prepare(self) -> None:
        with _classified(self.path):
            ensure_tables(self.path, self.schema, lock_timeout=self.lock_timeout)

    def upsert(self, snapshots: Sequence[SnapshotRows]) -> Mapping[str, StoredVersion]:
        with _classified(self.path):
            # Every winner is converted before the file is touched: a value Arrow refuses fails the batch here.
            batches = {
                ORDERS: arrow_batch(ORDERS, [s.order for s in snapshots]),
                ORDER_ITEMS: arrow_batch(ORDER_ITEMS, [row for s in snapshots for row in s.items]),
                ORDER_PAYMENTS: arrow_batch(ORDER_PAYMENTS, [row for s in snapshots for row in s.payments]),
            }
            with self._connection(self.lock_timeout) as connection:
                for name, batch in batches.items():
                    connection.register(staged(name), batch)
                # Statements go to DuckDB in two calls, not one each: every call gives up the GIL and waits for
                # it again, behind the pipeline's other threads (pull, acks, reads).
                stored = {
                    order_id: StoredVersion(sequence, event_id)
                    for order_id, sequence, event_id in connection.execute(
                        f"BEGIN TRANSACTION; {self.sql.stored_versions()}"
                    ).fetchall()
                }
                winners = replacing(snapshots, stored)
                replaced = [s.order_id for s in winners if s.order_id in stored]
                connection.execute(";\n".join([*self._writes(connection, batches, winners, replaced), "COMMIT"]))
                for name in (*map(staged, batches), *([self.sql.REPLACED] if replaced else [])):
                    connection.unregister(name)
        return stored

    def _writes(
        self,
        connection: duckdb.DuckDBPyConnection,
        batches: dict[str, pa.Table],
        winners: Sequence[SnapshotRows],
        replaced: Sequence[str],
    ) -> list[str]:
        """The statements that delete what the ``replaced`` orders hold and insert the rows of ``winners``, after
        registering what they read: the replaced order ids, and the batches again when some snapshots of the
        batch write nothing."""
        if len(winners) < batches[ORDERS].num_rows:  # stale, duplicate or conflicting winners write nothing
            kept = pa.array([s.order_id for s in winners], pa.string())
            for name, batch in batches.items():
                connection.register(staged(name), _only(batch, kept))
        deletes = []
        if replaced:
            connection.register(self.sql.REPLACED, pa.table({"order_id": pa.array(replaced, pa.string())}))
            deletes = [self.sql.delete_replaced(name) for name in batches]
        return deletes + [self.sql.insert(name) for name in batches]

    def write_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        with _classified(self.path):
            batch = arrow_batch(DEAD_LETTER_TABLE, rows)
            with self._connection(self.lock_timeout) as connection:
                connection.register("batch_dead_letter", batch)
                columns = ", ".join(quote(c) for c in batch.column_names)
                table = f"{quote(self.schema)}.{quote(DEAD_LETTER_TABLE)}"
                # A message redelivered after a crash, or a file line backfilled again, is recorded once.
                connection.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM batch_dead_letter AS b "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS d WHERE d.dead_letter_id = b.dead_letter_id)"
                )
                connection.unregister("batch_dead_letter")

    def write_metrics(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append pipeline_metrics rows in one short INSERT, waiting at most METRICS_LOCK_TIMEOUT for the lock (in
        a session, on its connection: the flush's own, already open, after its commit)."""
        if not rows:
            return
        with _classified(self.path):
            batch = arrow_batch(PIPELINE_METRICS, rows)
            with self._connection(min(self.lock_timeout, METRICS_LOCK_TIMEOUT)) as connection:
                connection.register("batch_pipeline_metrics", batch)
                columns = ", ".join(quote(c) for c in batch.column_names)
                table = f"{quote(self.schema)}.{quote(PIPELINE_METRICS)}"
                connection.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM batch_pipeline_metrics")
                connection.unregister("batch_pipeline_metrics")
