"""Concurrency at the google-cloud-bigquery boundary: many flushes at once, against a fake BigQuery that aborts a
transaction overlapping another on the same table (tests/fake_bigquery.py).

The workload: THREADS sink instances (one UpsertSnapshotsFn each, as Dataflow runs parallel bundles), each
flushing several batches drawn from one shared pool of orders, so that the same orders are written from several
threads at once; every order has several sequences, delivered duplicated and out of order. Seeded.

- Today's design (the sink appends to the ``order_snapshots`` changelog with insertAll) never aborts, never fails
  a flush, dead-letters nothing, and the wire rows, loaded into DuckDB, give the oracle's fold through the
  ``*_current`` views before any compaction, and in the tables after the compaction.
- The design before commit abb3617 (one multi-statement MERGE transaction per flush, reproduced below) under the
  same workload: transactions abort each other, and contention outlasts the retry budget (RetryLaterError).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fake_bigquery import FakeBigQuery, mutated_tables
from google.api_core import retry
from oracle import ITEMS_COLUMNS, ORDERS_COLUMNS, PAYMENTS_COLUMNS, expected_tables, fold_latest
from sample_events import snapshot

from beam_pipelines.compaction import compact_duckdb, create_views_duckdb, set_duckdb_now
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.base import RetryLaterError
from beam_pipelines.sinks.bigquery import BigQueryWarehouse, _classified, is_transient
from beam_pipelines.sinks.compaction_sql import DEFAULT_SETTLE_SECONDS, CompactionSql, bigquery_dialect
from beam_pipelines.sinks.fold import StoredVersion
from beam_pipelines.sinks.upsert_sql import UpsertSql, staged
from beam_pipelines.transforms.rows import snapshot_rows
from beam_pipelines.transforms.upsert import UpsertSnapshotsFn
from schemas import CHANGELOG_TABLE, CURRENT_VIEWS, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, TableSchema, table_schema
from schemas.types import duckdb_column_type, standard_type
from warehouse.connection import connect, ensure_tables

PROJECT, DATASET, SCHEMA = "my-proj", "orders_rt", "orders_rt"
THREADS = 8
ORDER_POOL = 24
SEED = 20261121
#: Both designs get the same short budget: exponential backoff with full jitter from 10 ms up to 0.4 s, for 2 s.
RETRY = retry.Retry(predicate=is_transient, initial=0.01, maximum=0.4, multiplier=2.0, timeout=2.0)
#: Server time of one flush's MERGE transaction in the fake (real ones take seconds; scaled down).
TRANSACTION_SECONDS = 0.1
ORACLE_COLUMNS = {ORDERS: ORDERS_COLUMNS, ORDER_ITEMS: ITEMS_COLUMNS, ORDER_PAYMENTS: PAYMENTS_COLUMNS}


# -- the workload ------------------------------------------------------------------------------------------------
def workload(seed: int = SEED) -> list[list[list[ReceivedMessage]]]:
    """Per thread, its flushes; per flush, its messages. Each order has 2-5 sequences with different line counts
    (a mix of two snapshots would show); each snapshot is published 1-3 times (a redelivery keeps its message
    id, a second publish gets a new one); all messages are shuffled, dealt round-robin to the threads (so every
    order is written by several threads) and cut into batches of 3-8."""
    rng = random.Random(seed)
    messages = []
    for number in range(ORDER_POOL):
        order_id = f"o{number:02d}"
        for sequence in range(1, rng.randint(2, 5) + 1):
            status = "created" if sequence == 1 else rng.choice(["approved", "shipped", "delivered"])
            body = snapshot(order_id, sequence, status, items=rng.randint(0, 3))
            message_ids = [f"{order_id}-{sequence}-m0"]
            for copy in range(1, rng.randint(1, 3)):
                message_ids.append(rng.choice([message_ids[0], f"{order_id}-{sequence}-m{copy}"]))
            messages += [ReceivedMessage(body, message_id=message_id) for message_id in message_ids]
    rng.shuffle(messages)
    threads = []
    for thread in range(THREADS):
        mine, flushes = messages[thread::THREADS], []
        while mine:
            size = rng.randint(3, 8)
            flushes.append(mine[:size])
            mine = mine[size:]
        threads.append(flushes)
    return threads


# -- the design before abb3617: one MERGE transaction per flush ---------------------------------------------------
def _rows_parameter(name: str, table: TableSchema, rows):
    """``@name`` as ARRAY<STRUCT<...>> typed from the table schema (as the old sink's rows_parameter)."""
    from google.cloud import bigquery

    struct_type = bigquery.StructQueryParameterType(
        *(bigquery.ScalarQueryParameterType(standard_type(c.type), name=c.name) for c in table.columns)
    )
    values = [
        bigquery.StructQueryParameter(
            None, *(bigquery.ScalarQueryParameter(c.name, standard_type(c.type), row[c.name]) for c in table.columns)
        )
        for row in rows
    ]
    return bigquery.ArrayQueryParameter(name, struct_type, values)


class TransactionPerFlushWarehouse(BigQueryWarehouse):
    """The BigQuery writer as it was before commit abb3617 (``git show abb3617^:beam_pipelines/sinks/bigquery.py``):
    each flush is one parameterized script (stage the batch, read the stored versions, the guarded MERGE/DELETE
    of upsert_sql, commit, report), run with the retry policy and the same error classification."""

    def script(self) -> str:
        sql = UpsertSql(self.qualified)
        stage = [
            f"CREATE TEMP TABLE {staged(name)} AS SELECT * FROM UNNEST(@{name})"
            for name in (ORDERS, ORDER_ITEMS, ORDER_PAYMENTS)
        ]
        statements = [
            "BEGIN TRANSACTION",
            *stage,
            f"CREATE TEMP TABLE stored_versions AS {sql.stored_versions()}",
            *sql.statements(),
            "COMMIT TRANSACTION",
            "SELECT order_id, _sequence, _event_id FROM stored_versions",
        ]
        return ";\n".join(statements) + ";"

    def upsert(self, snapshots):
        from google.cloud import bigquery

        with _classified():
            config = bigquery.QueryJobConfig(
                query_parameters=[
                    _rows_parameter(ORDERS, table_schema(ORDERS), [s.order for s in snapshots]),
                    _rows_parameter(ORDER_ITEMS, table_schema(ORDER_ITEMS), [r for s in snapshots for r in s.items]),
                    _rows_parameter(
                        ORDER_PAYMENTS, table_schema(ORDER_PAYMENTS), [r for s in snapshots for r in s.payments]
                    ),
                ]
            )
            script = self.script()

            def run_once():
                return list(self.client.query(script, job_config=config, location=self.location).result())

            rows = self.retry_policy(run_once)()
        return {row[0]: StoredVersion(int(row[1]), row[2]) for row in rows}


# -- running it ----------------------------------------------------------------------------------------------------
@dataclass
class Run:
    flushes: int = 0
    failed: list[RetryLaterError] = field(default_factory=list)
    dead_letters: list = field(default_factory=list)
    crashed: list[BaseException] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    seconds: float = 0.0


def run_concurrently(warehouse_class: type[BigQueryWarehouse], fake: FakeBigQuery) -> Run:
    """Every thread runs its own sink (a DoFn instance after setup(), its own warehouse, the shared client): one
    bundle per flush (start_bundle, process each message's rows, finish_bundle), all starting together."""
    plan = workload()
    run = Run(bodies=[m.data for flushes in plan for batch in flushes for m in batch])
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(flushes: list[list[ReceivedMessage]]) -> None:
        try:
            warehouse = warehouse_class(PROJECT, DATASET, "US", client_factory=lambda: fake, retry_policy=RETRY)
            fn = UpsertSnapshotsFn(warehouse, batch_size=1000)
            fn.setup()
            start.wait(timeout=30)
            for batch in flushes:
                fn.start_bundle()
                for message in batch:
                    assert list(fn.process(snapshot_rows(OrderSnapshot(json.loads(message.data), message)))) == []
                try:
                    dead = [out.value for out in fn.finish_bundle()]
                except RetryLaterError as error:  # Dataflow would retry the bundle: record it and go on
                    with lock:
                        run.flushes += 1
                        run.failed.append(error)
                    continue
                with lock:
                    run.flushes += 1
                    run.dead_letters += dead
        except BaseException as error:  # anything else fails the test below, with its traceback
            start.abort()  # never leave the other threads waiting at the barrier
            with lock:
                run.crashed.append(error)

    threads = [threading.Thread(target=worker, args=(flushes,), name=f"sink-{n}") for n, flushes in enumerate(plan)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    run.seconds = time.monotonic() - began
    fake.close()
    assert not any(thread.is_alive() for thread in threads), "a sink thread did not finish"
    if run.crashed:
        raise run.crashed[0]
    assert run.flushes == sum(len(flushes) for flushes in plan)
    return run


def report(name: str, fake: FakeBigQuery, run: Run, record_property) -> str:
    line = (
        f"{name}: {THREADS} threads, {run.flushes} flushes in {run.seconds:.2f}s; {fake.aborted} aborted "
        f"transaction attempts, {fake.committed} transactions committed, {len(run.failed)} flushes failed "
        f"(RetryLaterError), {len(run.dead_letters)} dead letters, {len(fake.insert_requests)} insertAll requests "
        f"(at most {fake.max_concurrent_inserts} at once)"
    )
    print(line)
    record_property("aborted_attempts", fake.aborted)
    record_property("flushes", run.flushes)
    record_property("failed_flushes", len(run.failed))
    return line


# -- loading what went on the wire into DuckDB ---------------------------------------------------------------------
def load_changelog(path: Path, rows: list[dict]) -> None:
    """The insertAll rows (parsed from the recorded request bodies) into DuckDB's order_snapshots, typed by
    DuckDB's JSON reader with the table's column types: timestamps from their ISO text, NUMERIC from its text."""
    ensure_tables(path, SCHEMA)
    ndjson = path.with_suffix(".ndjson")
    ndjson.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    table = table_schema(CHANGELOG_TABLE)
    columns = "{" + ", ".join(f"'{c.name}': '{duckdb_column_type(c)}'" for c in table.columns) + "}"
    with connect(path) as connection:
        connection.execute(
            f'INSERT INTO "{SCHEMA}"."{CHANGELOG_TABLE}" BY NAME '
            f"SELECT * FROM read_json(?, format = 'newline_delimited', columns = {columns})",
            [str(ndjson)],
        )


def read_tables(connection, relations: dict[str, str]) -> dict[str, set[tuple]]:
    """The oracle's columns of each table (from ``relations[table]``: the table itself or its view)."""
    tables = {}
    for table, columns in ORACLE_COLUMNS.items():
        rows = connection.execute(f'SELECT {", ".join(columns)} FROM "{SCHEMA}"."{relations[table]}"').fetchall()
        tables[table] = set(rows)
        assert len(tables[table]) == len(rows), f"duplicate rows in {relations[table]}"
    return tables


# -- the tests -----------------------------------------------------------------------------------------------------
def test_the_workload_overlaps_orders_across_threads_with_duplicates_and_reordering():
    plan = workload()
    writers: dict[str, set[int]] = {}
    arrivals: list[tuple[str, int, str]] = []  # (order, sequence, message id), in each thread's order
    for thread, flushes in enumerate(plan):
        assert len(flushes) >= 3
        for message in (m for batch in flushes for m in batch):
            event = json.loads(message.data)
            writers.setdefault(event["order"]["order_id"], set()).add(thread)
            arrivals.append((event["order"]["order_id"], event["sequence"], message.message_id))
    assert len(writers) == ORDER_POOL and all(len(threads) >= 2 for threads in writers.values())
    assert len({(o, s) for o, s, _ in arrivals}) < len({(o, s, m) for o, s, m in arrivals}) < len(arrivals)
    newest_first = [(o, s) for n, (o, s, _) in enumerate(arrivals) if any(o == p and s < q for p, q, _ in arrivals[:n])]
    assert newest_first  # an older sequence arriving after a newer one of its order


def test_the_fake_aborts_the_later_of_two_transactions_on_a_table_and_never_an_append():
    fake = FakeBigQuery(transaction_seconds=0.05, abort_seconds=0)
    script = TransactionPerFlushWarehouse(PROJECT, DATASET).script()
    targets = {f"{PROJECT}.{DATASET}.{name}" for name in (ORDERS, ORDER_ITEMS, ORDER_PAYMENTS)}
    assert set(mutated_tables(script)) == targets  # not the temp tables, not the MERGEs' "THEN UPDATE SET"
    compaction = CompactionSql(bigquery_dialect(PROJECT, DATASET)).script()
    assert set(mutated_tables(compaction)) == targets | {
        f"{PROJECT}.{DATASET}.order_events_dead_letter",
        f"{PROJECT}.{DATASET}.compaction_runs",
    }
    first = fake.query(script)
    second = fake.query(script)
    with pytest.raises(Exception, match=r"Transaction is aborted due to concurrent update against table") as error:
        second.result()
    assert is_transient(error.value) and "my-proj:orders_rt.orders" in str(error.value)
    assert first.result() == [] and (fake.committed, fake.aborted) == (1, 1)
    assert fake.insert_rows_json(f"{PROJECT}.{DATASET}.{CHANGELOG_TABLE}", [{"a": 1}], row_ids=["x"]) == []
    other = fake.query("BEGIN TRANSACTION; DELETE FROM `my-proj.other.t` WHERE TRUE; COMMIT TRANSACTION;")
    assert other.result() == [] and (fake.committed, fake.aborted) == (2, 1)  # another table: no conflict
    fake.close()


def test_concurrent_changelog_appends_never_abort_and_fold_to_the_oracle(tmp_path, record_property):
    fake = FakeBigQuery(transaction_seconds=TRANSACTION_SECONDS)
    run = run_concurrently(BigQueryWarehouse, fake)
    line = report("changelog appends (today's design)", fake, run, record_property)

    assert fake.max_concurrent_inserts > 1, line  # the flushes did overlap
    assert (fake.aborted, fake.queries) == (0, 0), line  # no DML at all, so nothing to abort
    assert run.failed == [], line
    assert run.dead_letters == [], line  # no sequence conflicts in the workload: nothing to dead-letter
    received = fake.inserted_rows(f"{PROJECT}.{DATASET}.{CHANGELOG_TABLE}")
    metrics_rows = fake.inserted_rows(f"{PROJECT}.{DATASET}.pipeline_metrics")  # each flush's own counts
    assert len(received) + len(metrics_rows) == len(fake.inserted_rows())  # no other table is written
    rows = [row for _, row in received]
    # Each flush sends its batch winners only, but the same snapshot reaches several threads: appended again
    # under the same insertId (BigQuery's dedup would drop it; the fake lands it, the worst case).
    assert len({(r["order_id"], r["_sequence"]) for r in rows}) < len(rows)
    ids: dict[tuple, set[str | None]] = {}
    for row_id, row in received:
        ids.setdefault((row["order_id"], row["_sequence"], row["_event_id"]), set()).add(row_id)
    assert all(len(found) == 1 and None not in found for found in ids.values())  # one insertId per snapshot
    assert len({row_id for found in ids.values() for row_id in found}) == len(ids)

    expected = expected_tables(fold_latest(run.bodies))
    path = tmp_path / "warehouse.duckdb"
    load_changelog(path, rows)
    with connect(path) as connection:
        create_views_duckdb(connection, SCHEMA)
        latest = connection.execute(f'SELECT MAX(_ingested_at) FROM "{SCHEMA}"."{CHANGELOG_TABLE}"').fetchone()[0]
        set_duckdb_now(connection, latest)  # the views' "now" (BigQuery's CURRENT_TIMESTAMP())
        assert read_tables(connection, CURRENT_VIEWS) == expected  # exact before any compaction
        now = max(latest, datetime.now(timezone.utc)) + timedelta(seconds=DEFAULT_SETTLE_SECONDS + 1)
        compacted = compact_duckdb(connection, SCHEMA, now)
        assert read_tables(connection, {name: name for name in ORACLE_COLUMNS}) == expected
        assert read_tables(connection, CURRENT_VIEWS) == expected  # still exact: compacted table + re-read tail
        dead = connection.execute(f'SELECT COUNT(*) FROM "{SCHEMA}".order_events_dead_letter').fetchone()[0]
    assert compacted[3] == len(ids) and compacted[5] == 0 and dead == 0  # distinct snapshots read, no conflicts


def test_old_design_transaction_per_flush_aborts_and_fails_flushes_under_the_same_load(record_property):
    """Documents why abb3617 left the transaction-per-flush design: the same workload against the same fake
    aborts transactions and ends flushes in RetryLaterError (contention outlasting the retry budget), so the
    property the changelog test checks ("no aborts, no failed flush") does not hold for it."""
    fake = FakeBigQuery(transaction_seconds=TRANSACTION_SECONDS)
    run = run_concurrently(TransactionPerFlushWarehouse, fake)
    line = report("transaction per flush (before abb3617)", fake, run, record_property)

    assert fake.aborted > 0, line
    assert run.failed, line
    assert all("concurrent update against table" in str(error) for error in run.failed), line
    assert all(abort.startswith("Query error: Transaction is aborted") for abort in fake.abort_messages)
    assert fake.committed + len(run.failed) == run.flushes, line  # every flush committed once or gave up
