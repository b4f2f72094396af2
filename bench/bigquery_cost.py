"""``python -m bench.bigquery_cost [--write BENCHMARKS.md]``

A cost model of the BigQuery sink (issue 10, points 2 and 5), written as a section of BENCHMARKS.md:
1. the bytes billed by the statements of one flush of the per-flush MERGE designs (A and B: the script the sink ran
   before abb3617, now only modelled), with and without partition predicates and partitioned line tables, and by
   the statements of one run of the implemented compaction (design C: ``CompactionSql(bigquery_dialect(...))
   .statements()``, checked statement by statement against the script), for 1M and 100M orders in the tables;
2. $ per million orders at 100 and 10,000 orders/s for four write designs (per-bundle MERGE, one keyed writer per
   interval, append-only changelog + compaction, Storage Write API CDC), with ingestion, Dataflow and readers;
3. a recommendation drawn from those numbers.

It is arithmetic, not a measurement: nothing runs on BigQuery or Dataflow. Row shapes (string lengths, lines per
order, events per order, how many days after purchase an order's events arrive, query-parameter bytes, changelog
rows as the sink sends them) are measured from orders of the project's own generator; billing rules and prices are
the documented ones listed in the output, with every figure that could not be found in a stored page marked as an
assumption.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from beam_pipelines.sinks.compaction_sql import (
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_SETTLE_SECONDS,
    DEFAULT_VIEW_WINDOW_SECONDS,
    NESTED,
    CompactionSql,
    bigquery_dialect,
)
from beam_pipelines.sinks.upsert_sql import LINE_TABLES
from bench.sections import replace_section
from schemas import (
    CHANGELOG_TABLE,
    COMPACTION_RUNS_TABLE,
    DEAD_LETTER_TABLE,
    ORDER_ITEMS,
    ORDER_PAYMENTS,
    ORDERS,
    Column,
    TableSchema,
    table_schema,
)
from schemas.types import standard_type

MARK_BEGIN = "<!-- bigquery-cost:start -->"
MARK_END = "<!-- bigquery-cost:end -->"

MiB = 2**20
GiB = 2**30
TiB = 2**40
DAY = 86_400
HOUR = 3_600
#: The stored copies of the pages cited below were consulted on this date.
LOOKED_UP = "2026-11-23"
TABLES = (ORDERS, *LINE_TABLES)
PARTITION_COLUMN = "order_purchase_timestamp"
#: Hours per partition of a time-partitioning type (BigQuery's TimePartitioningType).
PARTITION_TYPE_HOURS = {"HOUR": 1.0, "DAY": 24.0}
#: order_snapshots is partitioned by _ingested_at with the granularity schemas/tables.json gives it (HOUR since
#: 3f5fcbb; create_missing_tables and Terraform create it from the same TableSchema.partition_type).
CHANGELOG_PARTITION_TYPE = table_schema(CHANGELOG_TABLE).partition_type
CHANGELOG_PARTITION_HOURS = PARTITION_TYPE_HOURS[CHANGELOG_PARTITION_TYPE]
#: error_kind of a dead letter, for the compaction's NOT EXISTS probe: the width of 'sequence_conflict' (ASSUMED
#: for every dead letter; the other kinds are the validation's, of similar length).
DEAD_LETTER_KIND_BYTES = 2.0 + len("sequence_conflict")
#: Pub/Sub message ids are decimal numbers of about 16 digits; the measured changelog rows carry such an id in
#: their _dead_letter_id (pubsub:<message_id>:<16 hex>), as in production.
PUBSUB_MESSAGE_ID_BASE = 10**15


# --- prices, limits and their sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    url: str
    dated: str  # the date the stored copy shows, or why there is none


PAGES = {
    "ondemand": Source(
        "https://adriennevermorel.com/notes/bigquery-on-demand-billing-mechanics/", "stored copy undated"
    ),
    "coconote": Source("https://coconote.app/notes/2caa4c53-cab8-40ca-8ad5-1a9e8556ec57", "2025-08-11"),
    "bq_pricing": Source(
        "https://cloud.google.com/bigquery/pricing",
        "several stored copies, undated; the current one names the units (per TiB) without figures",
    ),
    "write_api": Source(
        "https://help.nops.io/inform/supported-recommendations/use-bigquery-storage-write-api-instead-of-streaming-inserts.md",
        "stored copy undated",
    ),
    "dml": Source(
        "https://cloud.google.com/bigquery/docs/reference/standard-sql/dml-syntax",
        "stored copy undated (section 'On-demand query size calculation')",
    ),
    "dml_concurrency": Source(
        "https://cloud.google.com/bigquery/docs/data-manipulation-language",
        "stored copies undated (section 'UPDATE, DELETE, MERGE DML concurrency'; the figures are in the copy at "
        "frankfurt.kapeli.com's BigQuery docset)",
    ),
    "partitions": Source("https://cloud.google.com/bigquery/docs/querying-partitioned-tables", "stored copy undated"),
    "pruning_variables": Source(
        "https://nbyinfinity.com/bq-pruning-optimisation",
        "stored copy undated ('Partition Pruning with Subqueries vs SQL Variables')",
    ),
    "read_twice": Source(
        "https://boonepeter.github.io/posts/unnecessary_bigquery_optimization/", "stored copy undated"
    ),
    "clusters": Source("https://docs.cloud.google.com/bigquery/docs/querying-clustered-tables", "stored copy undated"),
    "clustered_intro": Source(
        "https://docs.cloud.google.com/bigquery/docs/clustered-tables.md.txt", "stored copy undated"
    ),
    "cdc": Source("https://cloud.google.com/bigquery/docs/change-data-capture", "stored copy undated"),
    "cdc_reservation": Source(
        "https://newreleases.io/project/github/googleapis/google-cloud-python/release/"
        "google-cloud-bigquery-reservation-v1.20.0",
        "2025-10-07",
    ),
    "quotas": Source("https://cloud.google.com/bigquery/quotas", "stored copy undated; the 10 MB figure is not in it"),
    "dataflow_pricing": Source(
        "https://cloud.google.com/dataflow/pricing",
        "stored copies undated; they list the billed resources but their price tables hold no figures",
    ),
    "streaming_engine": Source("https://cloud.google.com/dataflow/docs/streaming-engine", "stored copy undated"),
}


@dataclass(frozen=True)
class Prices:
    """List prices (USD), region us-central1 / BigQuery US, on-demand, no free tier, no committed-use discount."""

    query_per_tib: float = 6.25
    write_api_per_gib: float = 0.025
    insert_all_per_gib: float = 0.05
    insert_all_min_row_bytes: int = 1024
    storage_active_per_gib_month: float = 0.02
    dataflow_vcpu_hour: float = 0.069  # streaming worker
    dataflow_gb_hour: float = 0.003557  # streaming worker memory
    dataflow_pd_gb_hour: float = 0.000054  # standard persistent disk
    streaming_engine_per_gib: float = 0.018  # Streaming Engine data processed (legacy, data-volume billing)
    streaming_engine_compute_unit_hour: float = 0.089  # resource-based billing; not used in the totals


@dataclass(frozen=True)
class Limits:
    min_billed_per_table: int = 10 * MiB  # and per statement that queries a table
    request_bytes: int = 10 * 1000 * 1000  # jobs.query / jobs.insert body, query parameters included
    dml_running_per_table: int = 2
    dml_pending_per_table: int = 20


def price_rows(prices: Prices, limits: Limits) -> list[tuple[str, str, str, Source | None]]:
    """(item, value used, found or assumed, source) for the output's price table."""
    p = PAGES
    return [
        ("BigQuery on-demand queries (incl. DML)", f"${prices.query_per_tib}/TiB", "found", p["ondemand"]),
        ("", "(also: $6.25/TB, storage $0.02/$0.01 per GB-month)", "found", p["coconote"]),
        ("Minimum billed", "10 MB per table referenced and per query", "found", p["ondemand"]),
        (
            "Storage Write API ingestion",
            f"${prices.write_api_per_gib}/GiB (first 2 TiB/month free: ignored)",
            "found",
            p["write_api"],
        ),
        ("Legacy streaming inserts (insertAll)", f"${prices.insert_all_per_gib}/GiB", "found", p["write_api"]),
        ("", "$0.01 per 200 MB, each row billed at least 1 KB", "found (older copy)", p["bq_pricing"]),
        (
            "Active logical storage",
            f"${prices.storage_active_per_gib_month}/GiB-month",
            "found",
            p["coconote"],
        ),
        (
            "Dataflow streaming worker vCPU",
            f"${prices.dataflow_vcpu_hour}/vCPU-hour",
            "ASSUMED (us-central1 list price as remembered; no figure in stored pages)",
            p["dataflow_pricing"],
        ),
        ("Dataflow streaming worker memory", f"${prices.dataflow_gb_hour}/GB-hour", "ASSUMED (as above)", None),
        (
            "Dataflow persistent disk (standard)",
            f"${prices.dataflow_pd_gb_hour:.6f}/GB-hour",
            "ASSUMED (as above)",
            None,
        ),
        (
            "Streaming Engine data processed",
            f"${prices.streaming_engine_per_gib}/GiB",
            "ASSUMED (as above; resource-based billing instead charges "
            f"${prices.streaming_engine_compute_unit_hour}/compute-unit-hour, not modelled)",
            p["streaming_engine"],
        ),
        (
            "Query request size",
            f"{limits.request_bytes / 1e6:.0f} MB incl. query parameters",
            "ASSUMED (figure from issue 10; not in the stored quotas page)",
            p["quotas"],
        ),
        (
            "Mutating DML per table",
            f"{limits.dml_running_per_table} running, {limits.dml_pending_per_table} queued",
            "found",
            p["dml_concurrency"],
        ),
    ]


# --- what the tables and the stream look like -----------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """Averages measured from generated orders (BigQuery logical sizes: STRING 2 + UTF-8 bytes, INT64 and
    TIMESTAMP 8, NUMERIC 16, NULL 0; a REPEATED RECORD the sum of its elements' fields)."""

    column_bytes: dict[str, dict[str, float]]  # table (changelog included) -> column -> average logical bytes
    lines_per_order: dict[str, float]  # table -> rows per order
    events_per_order: float
    message_bytes: float  # Pub/Sub message body
    parameter_bytes_per_snapshot: float  # JSON of the three UNNEST(@rows) parameters, per snapshot (designs A, B)
    changelog_json_bytes: float  # json.dumps(json_row(snapshot)): one changelog row as insertAll sends it
    lag_pmf: tuple[float, ...]  # P(an event arrives d days after its order's purchase date), d = 0, 1, ...
    string_lengths: dict[str, float]  # column -> average characters (for the output)
    sample_orders: int = 0
    sample_events: int = 0

    def width(self, table: str, columns: Iterable[str] | None = None) -> float:
        widths = self.column_bytes[table]
        return sum(widths[c] for c in (widths if columns is None else columns))

    def order_bytes(self, table: str, columns: Iterable[str] | None = None) -> float:
        """Bytes of ``table`` per order (a line table holds lines_per_order rows of an order)."""
        return self.lines_per_order.get(table, 1.0) * self.width(table, columns)

    def snapshot_bytes(self) -> float:
        """Logical bytes of one snapshot's rows in the three tables (order + its lines)."""
        return sum(self.order_bytes(t) for t in TABLES)

    @property
    def changelog_row_bytes(self) -> float:
        """Logical bytes of one changelog row (the order, its nested lines and _dead_letter_id)."""
        return self.width(CHANGELOG_TABLE)

    def without_partition_column_on_lines(self) -> Shape:
        """The line tables as they were before abb3617: no order_purchase_timestamp, so not partitioned."""
        columns = {t: dict(c) for t, c in self.column_bytes.items()}
        for table in LINE_TABLES:
            columns[table].pop(PARTITION_COLUMN, None)
        return replace(self, column_bytes=columns)


def logical_bytes(value: object, bigquery_type: str) -> float:
    if value is None:
        return 0.0
    kind = standard_type(bigquery_type)
    if kind == "STRING":
        return 2 + len(str(value).encode("utf-8"))
    if kind == "NUMERIC":
        return 16
    if kind == "BOOL":
        return 1
    return 8  # INT64, FLOAT64, TIMESTAMP, DATE


def column_logical_bytes(value: Any, column: Column) -> float:
    """Logical bytes of one value of ``column`` (as a row dict or insertAll JSON holds it)."""
    if value is None:
        return 0.0
    elements = value if column.repeated else [value]
    if column.fields:
        return sum(sum(column_logical_bytes(e.get(f.name), f) for f in column.fields) for e in elements)
    return sum(logical_bytes(e, column.type) for e in elements)


def rows_parameter(name: str, table: TableSchema, rows: Sequence[dict[str, Any]]):
    """``@name`` as ARRAY<STRUCT<...>> typed from the table schema, as the per-flush sink (designs A and B, removed
    in abb3617) passed each batch: what a query request carries per snapshot."""
    from google.cloud import bigquery

    struct_type = bigquery.StructQueryParameterType(
        *(bigquery.ScalarQueryParameterType(standard_type(c.type), name=c.name) for c in table.columns)
    )
    values = [
        bigquery.StructQueryParameter(
            None,
            *(bigquery.ScalarQueryParameter(c.name, standard_type(c.type), row[c.name]) for c in table.columns),
        )
        for row in rows
    ]
    return bigquery.ArrayQueryParameter(name, struct_type, values)


def measure_shape(orders: int, seed: int) -> Shape:
    """Row shapes, event timing, parameter and changelog-row sizes of ``orders`` generated orders."""
    from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
    from beam_pipelines.sinks.changelog import json_row
    from beam_pipelines.transforms.rows import snapshot_rows
    from publishers.stream import MessageStream, StreamSettings
    from schemas.validation import EventValidator

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    validator = EventValidator()
    snapshots = []
    changelog_rows = []
    lags: dict[int, int] = {}
    message_bytes = 0
    for index, message in enumerate(MessageStream(StreamSettings(seed=seed, orders=orders, start_time=start))):
        result = validator.validate_payload(message.data)
        if not result.ok or result.event is None:
            continue
        received = ReceivedMessage(message.data, message_id=str(PUBSUB_MESSAGE_ID_BASE + index))
        rows = snapshot_rows(OrderSnapshot(result.event, received))
        snapshots.append(rows)
        changelog_rows.append(json_row(rows))  # what the sink hands to insert_rows_json
        message_bytes += len(message.data)
        purchased = rows.order["order_purchase_timestamp"].date()
        lag = (rows.order["_event_time"].date() - purchased).days
        lags[max(lag, 0)] = lags.get(max(lag, 0), 0) + 1
    if not snapshots:
        raise SystemExit("the generator produced no valid events")

    rows_by_table = {
        ORDERS: [s.order for s in snapshots],
        ORDER_ITEMS: [r for s in snapshots for r in s.items],
        ORDER_PAYMENTS: [r for s in snapshots for r in s.payments],
        CHANGELOG_TABLE: changelog_rows,
    }
    column_bytes: dict[str, dict[str, float]] = {}
    string_lengths: dict[str, float] = {}
    for table, rows in rows_by_table.items():
        schema = table_schema(table)
        column_bytes[table] = {}
        for column in schema.columns:
            total = sum(column_logical_bytes(row.get(column.name), column) for row in rows)
            column_bytes[table][column.name] = total / len(rows)
            if standard_type(column.type) == "STRING" and not column.repeated:
                string_lengths[column.name] = max(string_lengths.get(column.name, 0.0), total / len(rows) - 2)
    sample = snapshots[: max(1, len(snapshots) // 4)]
    parameters = [
        rows_parameter(ORDERS, table_schema(ORDERS), [s.order for s in sample]),
        rows_parameter(ORDER_ITEMS, table_schema(ORDER_ITEMS), [r for s in sample for r in s.items]),
        rows_parameter(ORDER_PAYMENTS, table_schema(ORDER_PAYMENTS), [r for s in sample for r in s.payments]),
    ]
    parameter_bytes = sum(len(json.dumps(p.to_api_repr(), default=str)) for p in parameters)
    count = len(snapshots)
    distinct_orders = len({s.order_id for s in snapshots})
    span = max(lags) + 1
    return Shape(
        column_bytes=column_bytes,
        lines_per_order={t: len(rows_by_table[t]) / count for t in LINE_TABLES},
        events_per_order=count / distinct_orders,
        message_bytes=message_bytes / count,
        parameter_bytes_per_snapshot=parameter_bytes / len(sample),
        changelog_json_bytes=sum(len(json.dumps(row)) for row in changelog_rows) / count,
        lag_pmf=tuple(lags.get(d, 0) / count for d in range(span)),
        string_lengths=string_lengths,
        sample_orders=distinct_orders,
        sample_events=count,
    )


def distinct_days(pmf: Sequence[float], draws: float) -> float:
    """Expected number of distinct purchase dates among ``draws`` events (a partition list ``IN (...)``)."""
    return sum(1 - (1 - p) ** draws for p in pmf if p > 0)


def range_days(pmf: Sequence[float], draws: float) -> float:
    """Expected days from the oldest purchase date among ``draws`` events to today, inclusive (BETWEEN min AND max)."""
    total, cumulative = 0.0, 0.0
    for p in pmf:
        total += 1 - cumulative**draws  # P(the oldest lag is at least this many days)
        cumulative += p
    return total


# --- the statements of one flush (designs A and B) and what each bills ---------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How a flush's SQL may prune: a partition predicate on orders (``in`` the batch's purchase dates, or
    ``between`` their min and max, as constants), and whether the line tables are partitioned too."""

    label: str
    orders_filter: str  # "none" | "in" | "between"
    lines_partitioned: bool


UNPRUNED = Layout("no predicate, lines unpartitioned (before abb3617)", "none", False)
ORDERS_IN = Layout("+ predicate on orders (IN batch dates)", "in", False)
ALL_IN = Layout("today's tables (lines partitioned), IN batch dates", "in", True)
ALL_BETWEEN = Layout("today's tables, BETWEEN min and max", "between", True)
LAYOUTS = (UNPRUNED, ORDERS_IN, ALL_IN, ALL_BETWEEN)


@dataclass(frozen=True)
class Tables:
    """The target tables: ``orders`` orders spread evenly over ``days`` daily purchase-date partitions (the
    purchase rate, orders / days a day, is also the rate the changelog receives snapshots at)."""

    orders: float
    days: float

    @property
    def orders_per_day(self) -> float:
        return self.orders / self.days


@dataclass(frozen=True)
class Statement:
    name: str
    reads: dict[str, float]  # table referenced -> bytes processed (before the minimum)
    is_dml: bool = False
    kind: str = ""  # for the compaction: statement_kind() of the script's statement it stands for
    control: bool = False  # references no table (DECLARE of a constant, BEGIN, COMMIT): no bytes billed


@dataclass(frozen=True)
class Flush:
    statements: list[Statement]
    scanned_days: float
    updated_days: float
    limits: Limits = field(default_factory=Limits)

    def billed(self, statement: Statement) -> float:
        if statement.control:
            return 0.0
        per_table = sum(max(b, self.limits.min_billed_per_table) for b in statement.reads.values())
        return max(per_table, self.limits.min_billed_per_table)

    @property
    def total(self) -> float:
        return sum(self.billed(s) for s in self.statements)


def flush_statements(
    shape: Shape, tables: Tables, layout: Layout, snapshots: float, limits: Limits = Limits()
) -> Flush:
    """The script the per-flush sink ran for one flush of ``snapshots`` snapshots before abb3617 (``git show
    abb3617^:beam_pipelines/sinks/bigquery.py``, BigQueryWarehouse.script(); designs A and B, only modelled now),
    billed per the DML rules: a statement processes q (referenced columns of the partitions it scans) and, for
    UPDATE/DELETE/MERGE with an UPDATE or DELETE clause, also t (all columns of the partitions it updates; the whole
    table when it is not partitioned). Clustering block pruning is not counted (see the assumptions)."""
    if not layout.lines_partitioned:
        shape = shape.without_partition_column_on_lines()
    days = tables.days
    updated = min(days, distinct_days(shape.lag_pmf, snapshots))
    scanned = {"none": days, "in": updated, "between": min(days, range_days(shape.lag_pmf, snapshots))}[
        layout.orders_filter
    ]
    per_day = tables.orders_per_day
    on_orders = (PARTITION_COLUMN,) if layout.orders_filter != "none" else ()
    on_lines = (PARTITION_COLUMN,) if layout.lines_partitioned else ()

    def orders(columns: Iterable[str] | None, partitions: float) -> float:
        return shape.order_bytes(ORDERS, columns) * per_day * partitions

    def lines(table: str, columns: Iterable[str] | None, partitions: float) -> float:
        return shape.order_bytes(table, columns) * per_day * (partitions if layout.lines_partitioned else days)

    def staged(table: str, columns: Iterable[str] | None = None) -> float:
        return shape.order_bytes(table, columns) * snapshots

    statements = [
        *(Statement(f"CREATE TEMP TABLE batch_{t} AS SELECT * FROM UNNEST(@{t})", {}) for t in TABLES),
        Statement(
            "stored versions: SELECT order_id, _sequence, _event_id FROM orders WHERE order_id IN (batch)",
            {
                ORDERS: orders(("order_id", "_sequence", "_event_id", *on_orders), scanned),
                "batch": staged(ORDERS, ["order_id"]),
            },
        ),
        Statement(
            "MERGE orders ON order_id (update if newer, else insert)",
            {
                ORDERS: orders(("order_id", "_sequence", *on_orders), scanned) + orders(None, updated),
                "batch": staged(ORDERS),
            },
            is_dml=True,
        ),
    ]
    for table in LINE_TABLES:
        key = table_schema(table).primary_key
        statements += [
            Statement(
                f"MERGE {table} USING (batch lines JOIN orders on version) ON {', '.join(key)}",
                {
                    table: lines(table, (*key, "_sequence", *on_lines), scanned) + lines(table, None, updated),
                    "batch": staged(table),
                    ORDERS: orders(("order_id", "_sequence", "_event_id", *on_orders), scanned),
                },
                is_dml=True,
            ),
            Statement(
                f"DELETE {table} WHERE order_id IN (batch) AND _sequence < (SELECT ... FROM orders)",
                {
                    table: lines(table, ("order_id", "_sequence", *on_lines), scanned) + lines(table, None, updated),
                    "batch": staged(ORDERS, ["order_id"]),
                    ORDERS: orders(("order_id", "_sequence", *on_orders), scanned),
                },
                is_dml=True,
            ),
        ]
    statements.append(Statement("SELECT order_id, _sequence, _event_id FROM stored_versions", {"temp": 0.0}))
    return Flush(statements, scanned, updated, limits)


# --- the statements of one compaction (design C, implemented) and what each bills -------------------------------


_KIND = re.compile(
    r"^(DECLARE|SET|BEGIN TRANSACTION|COMMIT TRANSACTION|CREATE TEMP TABLE|CREATE OR REPLACE TEMP TABLE|MERGE INTO|"
    r"DELETE FROM|INSERT INTO)\s*(`[^`]+`|\w+)?"
)
_VERBS = {"MERGE INTO": "MERGE", "DELETE FROM": "DELETE", "INSERT INTO": "INSERT"}


def statement_kind(sql: str) -> str:
    """What a statement of the compaction script is, e.g. ``MERGE order_items``, ``DECLARE partition_lo`` or
    ``CREATE TEMP TABLE compaction_tail``. The verb is kept as written: BigQuery's script says ``CREATE TEMP TABLE``
    (``Dialect.create_temp``), so a script that went back to ``CREATE OR REPLACE TEMP TABLE`` no longer matches
    the model."""
    match = _KIND.match(sql.strip())
    if match is None:
        return " ".join(sql.split()[:3])
    verb, target = match.groups()
    verb = _VERBS.get(verb, verb)
    if target and verb not in ("BEGIN TRANSACTION", "COMMIT TRANSACTION"):
        return f"{verb} {target.strip('`').rsplit('.', 1)[-1]}"
    return verb


def compaction_script() -> list[str]:
    """The implemented compaction, as the scheduled query runs it (terraform/sql/compaction.sql)."""
    return CompactionSql(bigquery_dialect("project", "dataset")).statements()


@dataclass(frozen=True)
class Compaction(Flush):
    """One run of the compaction script, at steady state, every ``interval_s``."""

    interval_s: float = HOUR
    overlap_s: float = DEFAULT_OVERLAP_SECONDS
    tail_rows: float = 0.0  # changelog rows in [compaction_since, compaction_until): interval + overlap
    scanned_hours: float = 0.0  # hours of changelog rows in the partitions the tail read scans


def changelog_scan_hours(window_s: float, settle_s: float = DEFAULT_SETTLE_SECONDS) -> float:
    """Expected hours of changelog rows in the partitions a read of [now - settle - window, now - settle) scans
    (both bounds constants or script variables, so BigQuery prunes). Pruning keeps whole partitions of
    CHANGELOG_PARTITION_HOURS: the first one also holds, on average, half a partition before the window, and the
    one holding the upper bound also holds the rows already appended after it, up to ``now`` or its end: on
    average ``settle - settle^2 / 2P`` for a partition of P seconds (the bound falls anywhere in it). The view's
    read (``settle_s`` = 0, no upper bound) is its window plus half a partition."""
    partition_s = CHANGELOG_PARTITION_HOURS * HOUR
    after = settle_s - settle_s**2 / (2 * partition_s) if settle_s < partition_s else partition_s / 2
    return (window_s + after) / HOUR + CHANGELOG_PARTITION_HOURS / 2


def dead_letter_probe_bytes(shape: Shape) -> float:
    """Bytes of one dead letter the compaction's NOT EXISTS probe reads: dead_letter_id and event_id (as wide as
    the changelog's _dead_letter_id and _event_id) and error_kind (DEAD_LETTER_KIND_BYTES)."""
    return shape.width(CHANGELOG_TABLE, ["_dead_letter_id", "_event_id"]) + DEAD_LETTER_KIND_BYTES


def compaction_statements(
    shape: Shape,
    tables: Tables,
    interval_s: float,
    limits: Limits = Limits(),
    work: Workload | None = None,
    overlap_s: float = DEFAULT_OVERLAP_SECONDS,
) -> Compaction:
    """``CompactionSql(bigquery_dialect(...)).statements()``, one modelled statement per statement of the script (in
    its order; checked against it), billed by the same DML rules as a flush. The tail is every changelog row of
    the last ``interval_s + overlap_s`` seconds (the overlap re-reads the previous run's last hour); the writes
    are pruned to the BETWEEN range of the tail's purchase dates (script variables partition_lo/hi)."""
    work = work or Workload()
    events_per_s = tables.orders_per_day / DAY * shape.events_per_order
    window = interval_s + overlap_s
    tail = events_per_s * window
    hours = changelog_scan_hours(window)
    days, per_day, pmf = tables.days, tables.orders_per_day, shape.lag_pmf
    updated = min(days, distinct_days(pmf, tail))
    scanned = min(days, range_days(pmf, tail))
    staged = tail  # orders staged: at most one per snapshot read (fewer when an order changed twice in the window)
    stored_columns = ("order_id", "_sequence", "_event_id", PARTITION_COLUMN)
    dead_letters = work.dead_letter_fraction * events_per_s * DAY * days

    def orders(columns: Iterable[str] | None, partitions: float) -> float:
        return shape.order_bytes(ORDERS, columns) * per_day * partitions

    def lines(table: str, columns: Iterable[str] | None, partitions: float) -> float:
        return shape.order_bytes(table, columns) * per_day * partitions

    def changelog_rows(rows: float, columns: Iterable[str] | None = None) -> float:
        return rows * shape.width(CHANGELOG_TABLE, columns)

    def stored(columns: Iterable[str]) -> float:
        return staged * shape.width(ORDERS, columns)

    def constant(name: str, what: str) -> Statement:
        return Statement(what, {}, kind=f"DECLARE {name}", control=True)

    statements = [
        Statement(
            "= MAX(compacted_until) of compaction_runs - overlap",
            {COMPACTION_RUNS_TABLE: 0.0},
            kind="DECLARE compaction_since",
        ),
        constant("compaction_until", "= now - settle"),
        constant("partition_lo", "(NULL)"),
        constant("partition_hi", "(NULL)"),
        constant("orders_changed", "(0)"),
        Statement("", {}, kind="BEGIN TRANSACTION", control=True),
        Statement(
            f"SELECT * FROM {CHANGELOG_TABLE} WHERE _ingested_at in [since, until): the interval + "
            f"{overlap_s / 60:.0f} min overlap re-read; whole {CHANGELOG_PARTITION_TYPE} partitions scanned",
            {CHANGELOG_TABLE: changelog_rows(events_per_s * hours * HOUR)},
            kind="CREATE TEMP TABLE compaction_tail",
        ),
        Statement(
            "stored versions: SELECT order_id, _sequence, _event_id, order_purchase_timestamp FROM orders "
            "WHERE order_id IN (tail): no purchase-date filter, whole table",
            {ORDERS: orders(stored_columns, days), "compaction_tail": changelog_rows(tail, ["order_id"])},
            kind="CREATE TEMP TABLE compaction_stored",
        ),
        Statement(
            "equal sequences among stored + tail versions (SELECT t.* FROM compaction_tail JOIN ...)",
            {"compaction_tail": changelog_rows(tail), "compaction_stored": stored(stored_columns[:3])},
            kind="CREATE TEMP TABLE compaction_conflicts",
        ),
        Statement(
            "each order's newest tail snapshot (SELECT * FROM compaction_tail QUALIFY ...)",
            {"compaction_tail": changelog_rows(tail)},
            kind="CREATE TEMP TABLE batch_orders",
        ),
        *(
            Statement(
                f"batch_orders CROSS JOIN UNNEST({NESTED[table]})",
                {"batch_orders": changelog_rows(staged, [NESTED[table]])},
                kind=f"CREATE TEMP TABLE batch_{table}",
            )
            for table in LINE_TABLES
        ),
        *(
            Statement(
                f"= {fn}(order_purchase_timestamp) of batch_orders and compaction_stored",
                {
                    "batch_orders": changelog_rows(staged, [PARTITION_COLUMN]),
                    "compaction_stored": stored([PARTITION_COLUMN]),
                },
                kind=f"SET {name}",
            )
            for name, fn in (("partition_lo", "MIN"), ("partition_hi", "MAX"))
        ),
        Statement(
            "= COUNT(*) of batch_orders newer than compaction_stored",
            {
                "batch_orders": changelog_rows(staged, ["order_id", "_sequence"]),
                "compaction_stored": stored(["order_id", "_sequence"]),
            },
            kind="SET orders_changed",
        ),
        Statement(
            "ON order_id AND t.order_purchase_timestamp BETWEEN partition_lo AND partition_hi",
            {
                ORDERS: orders(("order_id", "_sequence", PARTITION_COLUMN), scanned) + orders(None, updated),
                "batch_orders": changelog_rows(staged, table_schema(ORDERS).column_names),
            },
            is_dml=True,
            kind=f"MERGE {ORDERS}",
        ),
    ]
    for table in LINE_TABLES:
        key = table_schema(table).primary_key
        statements += [
            Statement(
                f"USING (batch lines JOIN orders BETWEEN ...) ON {', '.join(key)} AND BETWEEN ...",
                {
                    table: lines(table, (*key, "_sequence", PARTITION_COLUMN), scanned) + lines(table, None, updated),
                    f"batch_{table}": staged * shape.order_bytes(table),
                    ORDERS: orders(("order_id", "_sequence", "_event_id", PARTITION_COLUMN), scanned),
                },
                is_dml=True,
                kind=f"MERGE {table}",
            ),
            Statement(
                "WHERE order_id IN (batch_orders) AND BETWEEN ... AND _sequence < (orders BETWEEN ...)",
                {
                    table: lines(table, ("order_id", "_sequence", PARTITION_COLUMN), scanned)
                    + lines(table, None, updated),
                    "batch_orders": changelog_rows(staged, ["order_id"]),
                    ORDERS: orders(("order_id", "_sequence", PARTITION_COLUMN), scanned),
                },
                is_dml=True,
                kind=f"DELETE {table}",
            ),
        ]
    statements += [
        Statement(
            "SELECT FROM compaction_conflicts WHERE NOT EXISTS (same dead_letter_id, or same event_id and "
            "error_kind 'sequence_conflict'): those three columns of every dead letter stored",
            {
                "compaction_conflicts": 0.0,
                DEAD_LETTER_TABLE: dead_letters * dead_letter_probe_bytes(shape),
            },
            kind=f"INSERT {DEAD_LETTER_TABLE}",
        ),
        Statement(
            "one row: COUNT(*) of compaction_tail and of compaction_conflicts",
            {"compaction_tail": 0.0, "compaction_conflicts": 0.0},
            kind=f"INSERT {COMPACTION_RUNS_TABLE}",
        ),
        Statement("", {}, kind="COMMIT TRANSACTION", control=True),
    ]
    modelled = [s.kind for s in statements]
    script = [statement_kind(s) for s in compaction_script()]
    if modelled != script:
        raise RuntimeError(
            "the compaction script changed; make compaction_statements() follow it.\n"
            f"script:   {script}\nmodelled: {modelled}"
        )
    return Compaction(statements, scanned, updated, limits, interval_s, overlap_s, tail, hours)


# --- write designs -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Assumptions about the job that are not prices."""

    history_days: float = 365  # days of purchases the current-state tables hold at steady state (question 2)
    q1_history_days: float = 730  # question 1: the table sizes spread over Olist's two years
    batch_size: int = 1000  # --batch_size, snapshots per flush at most
    bundle_flushes_per_worker_s: float = 4  # design A: bundle ends per worker and second (~1 s bundles, 4 threads)
    events_per_worker_s: float = 5000  # n1-standard-2 streaming worker throughput (parse, validate, rows, write)
    worker_vcpus: int = 2
    worker_memory_gb: float = 7.5
    worker_disk_gb: float = 30
    dml_seconds: float = 2.0  # fixed cost of one DML statement
    other_seconds: float = 0.5  # fixed cost of one other statement of the script
    scan_gib_per_s: float = 20.0  # bytes billed processed per second by one script's statements
    reader_refresh_s: float = 60  # rt_* views: one dashboard refresh of all four views per minute
    dead_letter_fraction: float = 0.01  # messages dead-lettered (kept forever: the compaction's NOT EXISTS probe)
    compaction_minutes: tuple[int, ...] = (15, 60, 120)  # design C's compaction intervals in question 2

    @property
    def changelog_retention_days(self) -> float:
        """order_snapshots' partition expiration (schemas/tables.json)."""
        return float(table_schema(CHANGELOG_TABLE).partition_expiration_days or 0)


@dataclass
class DesignCost:
    design: str
    interval: str
    snapshots_per_flush: float
    gib_per_flush: float
    seconds_per_flush: float
    flushes_per_s: float
    query_usd_per_m: float
    ingest_usd_per_m: float
    dataflow_usd_per_m: float
    keeps_up: str
    note: str = ""

    @property
    def total(self) -> float:
        return self.query_usd_per_m + self.ingest_usd_per_m + self.dataflow_usd_per_m


def script_seconds(flush: Flush, work: Workload) -> float:
    fixed = sum(work.dml_seconds if s.is_dml else work.other_seconds for s in flush.statements)
    return fixed + flush.total / GiB / work.scan_gib_per_s


def workers(events_per_s: float, work: Workload) -> int:
    return max(1, math.ceil(events_per_s / work.events_per_worker_s))


def dataflow_usd_per_m(rate: float, shape: Shape, prices: Prices, work: Workload, shuffled: float = 0.0) -> float:
    """Streaming workers plus Streaming Engine data processed (each message once, plus ``shuffled`` bytes per
    snapshot through a keyed stage), per million orders."""
    events_per_s = rate * shape.events_per_order
    per_worker_hour = (
        work.worker_vcpus * prices.dataflow_vcpu_hour
        + work.worker_memory_gb * prices.dataflow_gb_hour
        + work.worker_disk_gb * prices.dataflow_pd_gb_hour
    )
    engine_hour = events_per_s * HOUR * (shape.message_bytes + shuffled) / GiB * prices.streaming_engine_per_gib
    per_hour = workers(events_per_s, work) * per_worker_hour + engine_hour
    return per_hour / (rate * HOUR) * 1e6


def per_million(usd_per_s: float, rate: float) -> float:
    return usd_per_s / rate * 1e6


def query_usd(bytes_billed: float, prices: Prices) -> float:
    return bytes_billed / TiB * prices.query_per_tib


def insert_all_row_bytes(shape: Shape, prices: Prices) -> float:
    """Billed bytes of one changelog row sent with insertAll: the larger of its logical size and the JSON the sink
    sends (which is billed is not stated in the stored pages), at least 1 KB."""
    return max(shape.changelog_row_bytes, shape.changelog_json_bytes, prices.insert_all_min_row_bytes)


def insert_all_usd_per_s(events_per_s: float, shape: Shape, prices: Prices) -> float:
    """The sink's ingestion: one changelog row per snapshot, appended with insertAll (insert_rows_json)."""
    return events_per_s * insert_all_row_bytes(shape, prices) / GiB * prices.insert_all_per_gib


def write_api_usd_per_s(events_per_s: float, row_bytes: float, prices: Prices) -> float:
    return events_per_s * row_bytes / GiB * prices.write_api_per_gib


def designs(rate: float, shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[DesignCost]:
    tables = Tables(rate * DAY * work.history_days, work.history_days)
    events_per_s = rate * shape.events_per_order
    base_dataflow = dataflow_usd_per_m(rate, shape, prices, work)
    fits = limits.request_bytes / shape.parameter_bytes_per_snapshot
    out: list[DesignCost] = []

    def keeps_up(seconds: float, flushes_per_s: float, in_flight: float) -> str:
        busy = seconds * flushes_per_s
        if busy <= in_flight:
            return "yes"
        if in_flight == 1:
            return f"no: a {seconds:,.0f} s script every {1 / flushes_per_s:,.0f} s"
        return f"no: {busy:,.0f} scripts at once, {in_flight:.0f} run per table"

    # A: the per-bundle sink before abb3617, one script per bundle, many at once.
    flushes = min(events_per_s, work.bundle_flushes_per_worker_s * workers(events_per_s, work))
    per_flush = events_per_s / flushes
    if per_flush > work.batch_size:
        per_flush, flushes = work.batch_size, events_per_s / work.batch_size
    for layout in (UNPRUNED, ALL_IN):
        flush = flush_statements(shape, tables, layout, per_flush, limits=limits)
        seconds = script_seconds(flush, work)
        out.append(
            DesignCost(
                f"A per-bundle MERGE, {layout.label}",
                f"{1 / flushes:.2g} s",
                per_flush,
                flush.total / GiB,
                seconds,
                flushes,
                per_million(query_usd(flush.total, prices) * flushes, rate),
                0.0,
                base_dataflow,
                keeps_up(seconds, flushes, limits.dml_running_per_table),
                "concurrent transactions on the same tables abort and retry",
            )
        )
    # B: one keyed writer, one flush per interval.
    for interval, layout in ((5, ALL_IN), (30, ALL_IN), (60, ALL_IN), (60, UNPRUNED)):
        snapshots = events_per_s * interval
        staged_by_write_api = snapshots > fits
        flush = flush_statements(shape, tables, layout, snapshots, limits=limits)
        seconds = script_seconds(flush, work)
        ingest = (
            per_million(write_api_usd_per_s(events_per_s, shape.snapshot_bytes(), prices), rate)
            if staged_by_write_api
            else 0.0
        )
        out.append(
            DesignCost(
                f"B one keyed writer, {layout.label}",
                f"{interval} s",
                snapshots,
                flush.total / GiB,
                seconds,
                1 / interval,
                per_million(query_usd(flush.total, prices) / interval, rate),
                ingest,
                dataflow_usd_per_m(rate, shape, prices, work, shuffled=shape.snapshot_bytes()),
                keeps_up(seconds, 1 / interval, 1),
                (
                    f"{snapshots:,.0f} snapshots > {fits:,.0f} that fit a request: staged by Storage Write API"
                    if staged_by_write_api
                    else f"parameters {snapshots * shape.parameter_bytes_per_snapshot / 1e6:.1f} MB of 10"
                ),
            )
        )
    # C (implemented): insertAll appends to the changelog + exact views + the scheduled compaction script.
    append = per_million(insert_all_usd_per_s(events_per_s, shape, prices), rate)
    write_api = per_million(write_api_usd_per_s(events_per_s, shape.changelog_row_bytes, prices), rate)
    for minutes in work.compaction_minutes:
        run = compaction_statements(shape, tables, minutes * 60, limits, work)
        seconds = script_seconds(run, work)
        out.append(
            DesignCost(
                "C changelog (insertAll) + views + compaction: implemented",
                f"{minutes} min",
                run.tail_rows,
                run.total / GiB,
                seconds,
                1 / run.interval_s,
                per_million(query_usd(run.total, prices) / run.interval_s, rate),
                append,
                base_dataflow,
                keeps_up(seconds, 1 / run.interval_s, 1),
                f"snapshots = rows read: {minutes} min + {run.overlap_s / 60:.0f} min overlap; Storage Write API "
                f"instead of insertAll: ingestion {usd(write_api)}/M",
            )
        )
    # D: Storage Write API CDC (UPSERT/DELETE rows), BigQuery applies them in the background.
    for minutes in work.compaction_minutes:
        run = compaction_statements(shape, tables, minutes * 60, limits, work, overlap_s=0)
        apply_bytes = sum(run.billed(s) for s in run.statements if s.is_dml)
        out.append(
            DesignCost(
                "D Storage Write API CDC, max_staleness",
                f"{minutes} min",
                run.tail_rows,
                apply_bytes / GiB,
                0.0,
                1 / run.interval_s,
                per_million(query_usd(apply_bytes, prices) / run.interval_s, rate),
                per_million(write_api_usd_per_s(events_per_s, shape.snapshot_bytes(), prices), rate),
                base_dataflow,
                "yes (BigQuery applies)",
                "apply cost ASSUMED = the MERGE/DELETE of C's compaction per max_staleness",
            )
        )
    return out


# --- readers ---------------------------------------------------------------------------------------------------------

#: What the four rt_* views read: (view, table, columns, days of purchases; None = the whole table as today).
READS = (
    (
        "rt_live_orders",
        ORDERS,
        (
            "order_id",
            "customer_unique_id",
            "customer_city",
            "customer_state",
            "order_status",
            "order_purchase_timestamp",
            "order_estimated_delivery_date",
            "order_delivered_customer_date",
            "_event_type",
            "_sequence",
            "_event_time",
            "_ingested_at",
        ),
        30,
    ),
    ("rt_live_orders", ORDER_ITEMS, ("order_id", "price", "freight_value", "product_id", "seller_id"), None),
    ("rt_live_orders", ORDER_PAYMENTS, ("order_id", "payment_value"), None),
    ("rt_order_status_funnel", ORDERS, ("order_status", "order_purchase_timestamp"), 30),
    ("rt_pipeline_health", ORDERS, ("order_purchase_timestamp", "_ingested_at", "_event_time"), 90),
    ("rt_sales_last_24h_by_hour", ORDERS, ("order_id", "order_status", "order_purchase_timestamp"), 2),
    ("rt_sales_last_24h_by_hour", ORDER_ITEMS, ("order_id", "price", "freight_value", "product_id", "seller_id"), None),
)
#: Terraform's compaction_schedule default ("every 60 minutes").
DEFAULT_COMPACTION_MINUTES = 60
#: Changelog columns every *_current view reads for its tail (QUALIFY ROW_NUMBER() ... and the NOT EXISTS).
TAIL_KEY = ("order_id", "_sequence", "_ingested_at", "_event_id")
#: Columns of a compacted table each *_current view's NOT EXISTS compares with the tail (and of all of orders).
VERSION_KEY = ("order_id", "_sequence")


@dataclass(frozen=True)
class ReaderRefresh:
    """Bytes billed by one refresh of the four rt_* views (four queries, READS), each table billed once per query
    for the union of the columns and partitions its references read, with the 10 MB minimum per table."""

    compacted: float  # the rt_* models on the compacted tables
    tail: float  # through the *_current views: their changelog tails
    not_exists: float  # through the *_current views: what their NOT EXISTS add on the compacted tables
    tail_hours: float  # hours of changelog rows in the partitions a view's tail read scans

    @property
    def current(self) -> float:
        """The rt_* models through the exact *_current views."""
        return self.compacted + self.tail + self.not_exists


def view_tail_hours(window_s: float = DEFAULT_VIEW_WINDOW_SECONDS) -> float:
    """Hours of changelog rows a *_current view scans. Its tail has two lower bounds: the constant window
    ``now - window_s`` (prunes: whole partitions from the one holding that instant) and the last compacted_until
    minus the overlap (a subquery: exact, but BigQuery does not prune on it). So the scan is the window plus half
    a partition on average, whenever the last compaction ran."""
    return changelog_scan_hours(window_s, settle_s=0)


def reader_refresh(
    shape: Shape, tables: Tables, lines_filtered: bool, limits: Limits, tail_hours: float | None = None
) -> ReaderRefresh:
    """One refresh of the rt_* views on the compacted tables and through ``*_current``. ``lines_filtered``: the
    models filter the (partitioned) line tables on the same window as orders (today they read them whole).
    Through the views, each view reference adds: its tail (TAIL_KEY and the reader's columns of ``tail_hours`` of
    changelog rows; nested fields for the line views), ``order_id``, ``_sequence`` of the compacted table it reads
    over the reader's partitions (first branch's NOT EXISTS) and ``order_id``, ``_sequence`` of the whole ``orders``
    table (second branch's NOT EXISTS)."""
    tail_hours = view_tail_hours() if tail_hours is None else tail_hours
    windows = {view: days for view, table, _, days in READS if table == ORDERS}
    compacted: dict[str, dict[str, dict[str, float]]] = {}  # view -> table -> column -> days read
    current: dict[str, dict[str, dict[str, float]]] = {}
    changelog: dict[str, set[tuple[str, str]]] = {}  # view -> (line table or "", column) of the changelog read

    def read(reads: dict, view: str, table: str, columns: Iterable[str], days: float) -> None:
        by_column = reads.setdefault(view, {}).setdefault(table, {})
        for column in columns:
            by_column[column] = max(by_column.get(column, 0.0), days)

    for view, table, columns, days in READS:
        window = days if days is not None else (windows[view] if lines_filtered else tables.days)
        window = min(window, tables.days)
        read(compacted, view, table, columns, window)
        read(current, view, table, (*columns, *VERSION_KEY), window)
        read(current, view, ORDERS, VERSION_KEY, tables.days)
        nested = {("", c) for c in columns} if table == ORDERS else {(table, c) for c in columns}
        changelog.setdefault(view, set()).update({("", c) for c in TAIL_KEY} | nested)

    def billed(reads: dict[str, dict[str, dict[str, float]]]) -> float:
        return sum(
            max(
                sum(shape.order_bytes(t, [c]) * tables.orders_per_day * d for c, d in by_column.items()),
                limits.min_billed_per_table,
            )
            for by_table in reads.values()
            for t, by_column in by_table.items()
        )

    rows = tables.orders_per_day / DAY * shape.events_per_order * tail_hours * HOUR
    tail = sum(
        max(
            rows * sum(shape.width(CHANGELOG_TABLE, [c]) if not t else shape.order_bytes(t, [c]) for t, c in cols),
            limits.min_billed_per_table,
        )
        for cols in changelog.values()
    )
    base = billed(compacted)
    return ReaderRefresh(base, tail, billed(current) - base, tail_hours)


# --- the section ----------------------------------------------------------------------------------------------------


def size(n: float) -> str:
    for unit, scale in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / MiB:.2f} MiB"


def usd(x: float) -> str:
    if x >= 100:
        return f"${x:,.0f}"
    if x >= 1:
        return f"${x:,.2f}"
    return f"${x:.3f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str | None = None) -> list[str]:
    align = align or "-" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|", *("| " + " | ".join(r) + " |" for r in rows)]


def question1(shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[str]:
    batch = work.batch_size
    lines = [
        "### 1. What one flush scans (designs A and B, modelled)",
        "",
        f"One flush of {batch:,} snapshots (`--batch_size`) by the per-flush script the sink ran before abb3617 "
        "(`BigQueryWarehouse.script()`, `git show abb3617^:beam_pipelines/sinks/bigquery.py`; designs A and B exist "
        f"only in this model now): bytes billed per statement, {size(limits.min_billed_per_table)} minimum per table "
        f"referenced and per statement included. The orders are spread evenly over {work.q1_history_days:.0f} "
        "daily partitions (Olist's two years). A batch's events come from orders bought up to "
        f"{len(shape.lag_pmf) - 1} days earlier: its orders sit in "
        f"{distinct_days(shape.lag_pmf, batch):.1f} distinct purchase dates on average (`IN` list), and "
        f"`BETWEEN` min and max spans {range_days(shape.lag_pmf, batch):.1f} days. Since abb3617 the line tables "
        "carry `order_purchase_timestamp` and are partitioned by it (the last two columns); the first two model "
        "the tables before.",
        "",
    ]
    for orders in (1e6, 1e8):
        tables = Tables(orders, work.q1_history_days)
        flushes = {layout: flush_statements(shape, tables, layout, batch, limits=limits) for layout in LAYOUTS}
        names = [s.name for s in flushes[UNPRUNED].statements]
        rows = [
            [f"`{name}`", *(size(flushes[layout].billed(flushes[layout].statements[i])) for layout in LAYOUTS)]
            for i, name in enumerate(names)
        ]
        rows.append(["**total bytes billed**", *(f"**{size(flushes[layout].total)}**" for layout in LAYOUTS)])
        rows.append(["$ per flush", *(usd(query_usd(flushes[layout].total, prices)) for layout in LAYOUTS)])
        rows.append(
            [
                "orders partitions scanned / updated",
                *(f"{flushes[lo].scanned_days:.0f} / {flushes[lo].updated_days:.0f}" for lo in LAYOUTS),
            ]
        )
        lines += [f"**{orders:,.0f} orders** (≈{orders * shape.lines_per_order[ORDER_ITEMS]:,.0f} items):", ""]
        lines += table(["Statement", *(lo.label for lo in LAYOUTS)], rows)
        lines.append("")
    unpruned, pruned = (
        flush_statements(shape, Tables(1e8, work.q1_history_days), lo, batch, limits=limits).total
        for lo in (UNPRUNED, ALL_IN)
    )
    lines += [
        f"At 100M orders the flush on the old tables bills {size(unpruned)}; a predicate on orders alone saves "
        "little because every MERGE/DELETE on unpartitioned line tables bills the whole table (the DML rule's t "
        f"term), twice each. With the lines partitioned (today's tables) and the predicate on every table the flush "
        f"bills {size(pruned)} ({unpruned / pruned:,.0f}x less). The predicate must be a constant for BigQuery to "
        "prune (query parameters or script variables, not a subquery), and a predicate taken from the batch is safe "
        "only if an order's `order_purchase_timestamp` never changes (otherwise MERGE would insert a second row; "
        "the compaction takes its range from the stored rows as well, see 1b).",
        "",
    ]
    return lines + compaction_section(shape, prices, limits, work)


def compaction_section(shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[str]:
    cases = [(orders, minutes) for orders in (1e6, 1e8) for minutes in (15, DEFAULT_COMPACTION_MINUTES)]
    runs = [
        compaction_statements(shape, Tables(orders, work.q1_history_days), minutes * 60, limits, work)
        for orders, minutes in cases
    ]
    first = runs[0]

    def billed(run: Compaction, i: int) -> str:
        statement = run.statements[i]
        return "0 (no table)" if statement.control else size(run.billed(statement))

    rows = [
        [f"`{s.kind}` {s.name}".rstrip(), *(billed(run, i) for run in runs)] for i, s in enumerate(first.statements)
    ]
    rows.append(["**total bytes billed**", *(f"**{size(run.total)}**" for run in runs)])
    rows.append(["$ per compaction", *(usd(query_usd(run.total, prices)) for run in runs)])
    rows.append(
        [
            "changelog rows read (interval + overlap) / hours of rows in the partitions scanned",
            *(f"{run.tail_rows:,.0f} / {run.scanned_hours:.1f} h" for run in runs),
        ]
    )
    rows.append(
        [
            "orders partitions scanned (BETWEEN) / updated",
            *(f"{run.scanned_days:.0f} / {run.updated_days:.0f}" for run in runs),
        ]
    )
    big = [run for (orders, _), run in zip(cases, runs, strict=True) if orders == 1e8]
    dml = sum(big[-1].billed(s) for s in big[-1].statements if s.is_dml)
    stored = sum(big[-1].billed(s) for s in big[-1].statements if s.kind == "CREATE TEMP TABLE compaction_stored")
    header = [f"{orders / 1e6:,.0f}M orders, every {minutes} min" for orders, minutes in cases]
    return [
        "### 1b. What one compaction scans (design C, implemented)",
        "",
        "One run of the scheduled compaction, `CompactionSql(bigquery_dialect(p, d)).statements()` (Terraform: "
        "`terraform/sql/compaction.sql`, every 60 minutes by default), statement by statement in the script's "
        f"order (the model raises if the script's statements change). Same tables as above ({work.q1_history_days:.0f} "
        "daily partitions); the changelog receives the snapshots of the tables' purchase rate "
        f"({shape.events_per_order:.1f} per order). Each run reads the changelog rows of [last `compacted_until` "
        f"- {DEFAULT_OVERLAP_SECONDS / 60:.0f} min overlap, now - {DEFAULT_SETTLE_SECONDS / 60:.0f} min settle): "
        f"one interval plus the previous hour re-read. `order_snapshots` is partitioned by `_ingested_at` "
        f"{CHANGELOG_PARTITION_TYPE}, so that read scans whole partitions: on average half a partition before the "
        f"window and the rows appended after its end ({changelog_scan_hours(HOUR + DEFAULT_OVERLAP_SECONDS):.2f} h "
        "of rows for a 60 min interval). Script variables (`compaction_since`, `partition_lo/hi`) are constants "
        "for pruning; the stored-versions read has no filter on purchase dates (left out so that the run stays "
        "correct even if an order's purchase timestamp changed) and scans four columns of the whole `orders` "
        "table. The dead-letter NOT EXISTS probes (same `dead_letter_id`; same `event_id` with `error_kind` "
        "'sequence_conflict': two equality anti-joins, billed once per table) read those three columns of every "
        "dead letter stored "
        f"({work.dead_letter_fraction:.0%} of messages dead-lettered, kept forever: ASSUMED).",
        "",
        *table(["Statement of the script", *header], rows),
        "",
        f"At 100M orders the MERGE/DELETE statements are {dml / big[-1].total:.0%} of a "
        f"{DEFAULT_COMPACTION_MINUTES}-minute run and the stored-versions read {stored / big[-1].total:.0%}. The "
        "writes update every purchase date the tail's orders live in, so they bill all columns of about "
        f"{big[-1].updated_days:.0f} daily partitions of the three tables whether the run folds 15 or 60 minutes of "
        "snapshots, and the stored-versions read scans the whole `orders` table every run: the cost of a run "
        "hardly depends on its interval, so the cost per order falls with the interval. The changelog read is "
        f"small: {CHANGELOG_PARTITION_TYPE} partitions keep its overscan to about "
        f"{CHANGELOG_PARTITION_HOURS / 2 * 60:.0f} minutes.",
        "",
    ]


def question2(shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[str]:
    lines = [
        "### 2. $ per million orders by write design",
        "",
        f"Steady state: the tables hold {work.history_days:.0f} days of purchases at the given rate; an order brings "
        f"{shape.events_per_order:.1f} events. Query cost is the DML/SELECT bytes billed by the writes (readers "
        "below); ingestion is what the rows cost to stream in (C: insertAll, as implemented; B and D: Storage "
        "Write API); Dataflow is n1-standard-2 streaming workers "
        f"(1 per {work.events_per_worker_s:,.0f} events/s) plus Streaming Engine data. '$/M' = per million orders. "
        "C's 'Snapshots/flush' is the changelog rows one compaction reads (its overlap included).",
        "",
    ]
    for rate in (100, 10_000):
        events = rate * shape.events_per_order
        rows = []
        for d in designs(rate, shape, prices, limits, work):
            rows.append(
                [
                    d.design,
                    d.interval,
                    f"{d.snapshots_per_flush:,.0f}",
                    size(d.gib_per_flush * GiB),
                    f"{d.seconds_per_flush:,.0f} s" if d.seconds_per_flush else "n/a",
                    d.keeps_up,
                    usd(d.query_usd_per_m),
                    usd(d.ingest_usd_per_m),
                    usd(d.dataflow_usd_per_m),
                    f"**{usd(d.total)}**",
                    d.note,
                ]
            )
        lines += [
            f"**{rate:,} orders/s** ({events:,.0f} events/s, {workers(events, work)} worker(s); tables "
            f"{rate * DAY * work.history_days / 1e9:,.2f}B orders):",
            "",
        ]
        lines += table(
            [
                "Design",
                "Flush every",
                "Snapshots/flush",
                "Billed/flush",
                "Script time",
                "Keeps up?",
                "Queries $/M",
                "Ingestion $/M",
                "Dataflow $/M",
                "Total $/M",
                "Note",
            ],
            rows,
            align="--rrrlrrrrl",
        )
        lines.append("")
    lines += readers(shape, prices, limits, work)
    return lines


def readers(shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[str]:
    refreshes_per_s = 1 / work.reader_refresh_s
    rows = []
    for rate in (100, 10_000):
        tables = Tables(rate * DAY * work.history_days, work.history_days)
        whole, filtered = (reader_refresh(shape, tables, f, limits) for f in (False, True))

        def cell(b: float, rate: float = rate) -> str:
            return (
                f"{size(b)} · {usd(query_usd(b, prices))} · "
                f"{usd(per_million(query_usd(b, prices) * refreshes_per_s, rate))}"
            )

        rows.append(
            [
                f"{rate:,}/s",
                cell(whole.compacted),
                cell(filtered.compacted),
                cell(whole.tail),
                cell(whole.not_exists),
                f"**{cell(whole.current)}**",
                cell(filtered.current),
            ]
        )
    per_order = sum(shape.order_bytes(t) for t in TABLES)
    changelog = shape.changelog_row_bytes * shape.events_per_order
    retention = work.changelog_retention_days
    window_h = DEFAULT_VIEW_WINDOW_SECONDS / HOUR
    return [
        f"Real-time readers: one refresh of the four `rt_*` views every {work.reader_refresh_s:.0f} s (bytes "
        "billed per refresh · $ per refresh · $/M orders). dbt's `rt_*` models read `orders` through their "
        "purchase-date windows (30, 30, 90 and 2 days) and the whole line tables through the `int_*_summed` views, "
        "although these are partitioned now. On the compacted tables (`orders`, `order_items`, `order_payments`) "
        f"that is the same in every design, and with C up to one compaction interval + "
        f"{DEFAULT_SETTLE_SECONDS // 60} min settle (+ the run) stale. Through C's exact `*_current` views it is "
        "fresh, and each view a model reads adds (a) its changelog tail: the views bound it by a constant window "
        f"`_ingested_at >= CURRENT_TIMESTAMP() - {DEFAULT_VIEW_WINDOW_SECONDS} s` ({window_h:.0f} h, which "
        f"prunes the {CHANGELOG_PARTITION_TYPE} partitions) and by the last `compacted_until` minus the overlap "
        "(a subquery on `compaction_runs`: it makes the view exact but does not prune), so a read scans "
        f"{window_h:.0f} h + half a partition = {view_tail_hours():.1f} h of changelog rows whenever the last "
        f"compaction ran (the views stay exact while it is younger than {window_h:.0f} h minus the "
        f"{DEFAULT_OVERLAP_SECONDS // 60} min overlap); and (b) its NOT EXISTS reads: `order_id`, `_sequence` of "
        "the compacted table over the model's partitions, and of the whole `orders` table (the tail's orders may "
        "be of any purchase date), once per query:",
        "",
        *table(
            [
                "Rate",
                "compacted tables, lines read whole (dbt's models)",
                "compacted tables, lines filtered on the window",
                f"`*_current` adds (a): changelog tail, {view_tail_hours():.1f} h",
                "`*_current` adds (b): NOT EXISTS on the compacted tables (all of `orders`)",
                "**through `*_current`, dbt's models**",
                "through `*_current`, lines filtered",
            ],
            rows,
        ),
        "",
        f"Storage (active logical, ${prices.storage_active_per_gib_month}/GiB-month): the current state is "
        f"{per_order:,.0f} B per order = {usd(per_order * 1e6 / GiB * prices.storage_active_per_gib_month)} per "
        f"million orders per month in every design; C's changelog adds {changelog:,.0f} B per order for its "
        f"{retention:.0f}-day partition expiration "
        f"({usd(changelog * 1e6 / GiB * prices.storage_active_per_gib_month * retention / 30)} "
        f"per million orders). Storage is negligible next to queries.",
        "",
    ]


def recommendation(shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[str]:
    slow, fast = (designs(rate, shape, prices, limits, work) for rate in (100, 10_000))

    def find(costs: list[DesignCost], prefix: str, interval: str) -> DesignCost:
        return next(d for d in costs if d.design.startswith(prefix) and d.interval == interval)

    a_old = next(d for d in slow if d.design.startswith("A") and "before" in d.design)
    b60, b30 = find(slow, "B one keyed writer, today", "60 s"), find(slow, "B one keyed writer, today", "30 s")
    default = f"{DEFAULT_COMPACTION_MINUTES} min"
    c_slow = {m: find(slow, "C", f"{m} min") for m in work.compaction_minutes}
    c_fast = {m: find(fast, "C", f"{m} min") for m in work.compaction_minutes}
    c60, c60_fast = find(slow, "C", default), find(fast, "C", default)
    fitting = [m for m in work.compaction_minutes if c_fast[m].keeps_up == "yes"]
    d60_slow, d60_fast = find(slow, "D", default), find(fast, "D", default)
    events_slow = 100 * shape.events_per_order
    slow_tables, fast_tables = (Tables(r * DAY * work.history_days, work.history_days) for r in (100, 10_000))
    run = compaction_statements(shape, slow_tables, DEFAULT_COMPACTION_MINUTES * 60, limits, work)
    dml_share = sum(run.billed(s) for s in run.statements if s.is_dml) / run.total
    stored_share, stored_share_fast = (
        stored_versions_share(compaction_statements(shape, t, DEFAULT_COMPACTION_MINUTES * 60, limits, work))
        for t in (slow_tables, fast_tables)
    )
    fits = limits.request_bytes / shape.parameter_bytes_per_snapshot
    write_api = per_million(write_api_usd_per_s(events_slow, shape.changelog_row_bytes, prices), 100)

    def readers_usd(b: float, rate: float = 100) -> float:
        return per_million(query_usd(b, prices) / work.reader_refresh_s, rate)

    refresh, refresh_fast = (reader_refresh(shape, t, False, limits) for t in (slow_tables, fast_tables))
    refresh_filtered = reader_refresh(shape, slow_tables, True, limits)
    limit = fastest_rate_compacted(shape, limits, work, DEFAULT_COMPACTION_MINUTES)
    if c60_fast.keeps_up == "yes":
        fast_text = f"it fits ({c60_fast.seconds_per_flush:,.0f} s)"
    elif fitting:
        fast_text = (
            f"≈{c60_fast.seconds_per_flush:,.0f} s, more than its interval: compact every {fitting[0]} min at that "
            f"rate ({usd(c_fast[fitting[0]].total)}/M orders, a ≈{c_fast[fitting[0]].seconds_per_flush:,.0f} s "
            "script)"
        )
    else:
        fast_text = f"≈{c60_fast.seconds_per_flush:,.0f} s, and no modelled interval fits"
    return [
        "### 3. Recommendation",
        "",
        "Every design that keeps a current-state table pays, per write, for the whole purchase-date partitions it "
        "touches (the DML t term), and an order's events reach back "
        f"{len(shape.lag_pmf) - 1} days, so a flush of {work.batch_size:,} snapshots already touches about "
        f"{distinct_days(shape.lag_pmf, work.batch_size):.0f} daily partitions and a bigger one hardly more. The "
        "cost per order therefore falls with the interval between writes, not with the rate. The per-bundle script "
        f"(A, removed in abb3617) billed {usd(a_old.total)}/M orders at 100 orders/s on the old tables and could "
        f"not keep up ({a_old.keeps_up.removeprefix('no: ')}); one keyed writer (B) on today's partitioned tables "
        f"would cost {usd(b60.total)}/M at a 60 s interval, its script ({b60.seconds_per_flush:.0f} s) does not fit "
        f"30 s ({b30.keeps_up.removeprefix('no: ')}), and a request carries at most ≈{fits:,.0f} snapshots "
        f"(≈{fits / events_slow:.0f} s of events at this rate).",
        "",
        f"- **C is implemented and is the default, and stays the recommendation**: the sink appends one row per "
        "snapshot (lines nested) to `order_snapshots` with insertAll, the `*_current` views are exact, and one "
        f"scheduled script compacts. At 100 orders/s with the default {DEFAULT_COMPACTION_MINUTES}-minute "
        f"compaction it costs {usd(c60.total)}/M orders ({usd(c60.query_usd_per_m)} compaction queries, "
        f"{usd(c60.ingest_usd_per_m)} insertAll, {usd(c60.dataflow_usd_per_m)} Dataflow); every 15 min "
        f"{usd(c_slow[15].total)}/M, every 120 min {usd(c_slow[120].total)}/M. A run bills about the same "
        f"({size(run.total)} at this rate) however many snapshots it folds: its MERGE/DELETE statements rewrite "
        f"all columns of ≈{run.updated_days:.0f} daily partitions of the three tables ({dml_share:.0%} of the "
        "bytes).",
        "- **The remaining known cost item of a run is its stored-versions read**: `compaction_stored` scans "
        "`order_id`, `_sequence`, `_event_id`, `order_purchase_timestamp` of the whole `orders` table every run, "
        f"{stored_share:.0%} of a {DEFAULT_COMPACTION_MINUTES}-minute run at 100 orders/s and "
        f"{stored_share_fast:.0%} at 10,000 (a year of history). It is left unbounded on purpose: bounding it by "
        "the tail's purchase dates would remove most of it, but the run would then miss the stored row of an "
        "order whose purchase timestamp changed and insert a second one; the range `partition_lo/hi` the writes "
        "prune to is taken from this read for the same reason.",
        f"- **Compaction interval: {DEFAULT_COMPACTION_MINUTES} min** (Terraform's default): its script fits its "
        f"interval up to ≈{round(limit, -2):,.0f} orders/s (a year of history). 15 min only if the compacted tables "
        f"themselves must be fresher, at {c_slow[15].query_usd_per_m / c60.query_usd_per_m:.1f}x the query cost "
        "(readers of the `*_current` views are exact whatever the interval, as long as the last compaction is "
        f"younger than {(DEFAULT_VIEW_WINDOW_SECONDS - DEFAULT_OVERLAP_SECONDS) // HOUR} h: alert on "
        f"`compaction_runs`). At 10,000 orders/s a {DEFAULT_COMPACTION_MINUTES}-minute run is modelled at "
        f"{fast_text}. The scan speed ({work.scan_gib_per_s:.0f} GiB/s) is ASSUMED: check it against the scheduled "
        "query's own job statistics.",
        "- **Flush interval: nothing to tune in the pipeline.** The sink runs no DML; each bundle's batch (at most "
        f"`--batch_size` {work.batch_size:,}) goes out in insertAll requests (≤500 rows, ≤8 MB), billed per row "
        f"whatever the batch size. insertAll bills ≈{insert_all_row_bytes(shape, prices):,.0f} B per row "
        f"({usd(c60.ingest_usd_per_m)}/M orders); the Storage Write API would cost {usd(write_api)}/M, a saving "
        f"of {usd(c60.ingest_usd_per_m - write_api)}/M ({(c60.ingest_usd_per_m - write_api) / c60.total:.0%} of "
        "C's total), not worth the Java cross-language transform it needs from Beam Python today.",
        f"- **D** (Storage Write API CDC, max_staleness 60 min) comes out at {usd(d60_slow.total)}/M at 100 orders/s "
        f"and {usd(d60_fast.total)}/M at 10,000 under the assumption that BigQuery's background apply bills like "
        "C's MERGE/DELETE (no published formula was found in the stored pages); it needs the Java cross-language "
        "sink, and CDC keeps the row with the highest `_CHANGE_SEQUENCE_NUMBER`, so the equal-sequence conflict "
        "rule (first stored wins, the other dead-lettered) and deleting lines a newer snapshot dropped must be done "
        "before the sink. Keep it as the option to evaluate with a real job; at 10,000 orders/s capacity pricing "
        "(slots) rather than on-demand bytes should also be priced.",
        "- **Readers: a dashboard on the exact views costs more than the writes.** Refreshing the four `rt_*` "
        f"views every {work.reader_refresh_s:.0f} s through the exact `*_current` views (dbt's models as they "
        f"are) bills {size(refresh.current)} = {usd(query_usd(refresh.current, prices))} per refresh at 100 "
        f"orders/s, {usd(readers_usd(refresh.current))}/M orders, and {size(refresh_fast.current)} = "
        f"{usd(query_usd(refresh_fast.current, prices))} per refresh, "
        f"{usd(readers_usd(refresh_fast.current, 10_000))}/M, at 10,000 orders/s. At 100 orders/s that is "
        f"{usd(readers_usd(refresh.compacted))}/M for the compacted tables the models read, "
        f"{usd(readers_usd(refresh.tail))}/M for the views' changelog tails ({refresh.tail_hours:.1f} h of "
        f"{CHANGELOG_PARTITION_TYPE} partitions each, pruned by the {DEFAULT_VIEW_WINDOW_SECONDS // HOUR} h "
        f"window) and {usd(readers_usd(refresh.not_exists))}/M for their NOT EXISTS reads of `order_id`, "
        "`_sequence` of the whole `orders` table. Filtering the (partitioned) line tables on the models' window "
        f"brings it to {usd(readers_usd(refresh_filtered.current))}/M: do it. A reader that can accept up to "
        f"about an hour of staleness ({DEFAULT_COMPACTION_MINUTES} min compaction + "
        f"{DEFAULT_SETTLE_SECONDS // 60} min settle + the run) can read the compacted tables instead: "
        f"{usd(readers_usd(refresh.compacted))}/M ({usd(readers_usd(refresh_filtered.compacted))}/M with the line "
        "tables filtered); small aggregate tables written by the compaction would be cheaper still.",
    ]


def stored_versions_share(run: Compaction) -> float:
    """The share of a run's bytes billed that its stored-versions read (four columns of all of orders) takes."""
    stored = next(s for s in run.statements if s.kind == "CREATE TEMP TABLE compaction_stored")
    return run.billed(stored) / run.total


def fastest_rate_compacted(shape: Shape, limits: Limits, work: Workload, minutes: float) -> float:
    """The highest rate (orders/s, tables of ``work.history_days``) at which one compaction every ``minutes``
    still ends within its interval."""

    def fits(rate: float) -> bool:
        tables = Tables(rate * DAY * work.history_days, work.history_days)
        return script_seconds(compaction_statements(shape, tables, minutes * 60, limits, work), work) <= minutes * 60

    low, high = 1.0, 1e6
    for _ in range(40):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def assumptions(shape: Shape, work: Workload) -> list[str]:
    widths = ", ".join(f"`{t}` {shape.width(t):,.0f} B" for t in (*TABLES, CHANGELOG_TABLE))
    strings = ", ".join(f"{c} {n:.0f}" for c, n in sorted(shape.string_lengths.items()))
    return [
        "### Assumptions",
        "",
        f"- Shapes measured from {shape.sample_orders:,} generated orders ({shape.sample_events:,} events, seed "
        f"fixed): {shape.lines_per_order[ORDER_ITEMS]:.2f} items and {shape.lines_per_order[ORDER_PAYMENTS]:.2f} "
        f"payments per order, {shape.events_per_order:.1f} events per order, {shape.message_bytes:,.0f} B per "
        f"message; a changelog row as the sink sends it (`json.dumps(json_row(snapshot))`, with a 16-digit Pub/Sub "
        f"message id in `_dead_letter_id`) is {shape.changelog_json_bytes:,.0f} B of JSON for "
        f"{shape.changelog_row_bytes:,.0f} B logical; designs A and B would send "
        f"{shape.parameter_bytes_per_snapshot:,.0f} B of query-parameter JSON per snapshot (ARRAY<STRUCT> "
        "parameters typed from the schemas, `to_api_repr()`).",
        f"- Logical row widths (STRING = 2 + UTF-8 bytes, INT64/TIMESTAMP 8, NUMERIC 16, NULL 0, nested lines "
        f"summed): {widths}. Average string lengths (characters): {strings}.",
        "- Billing: DML on-demand bytes = q (columns referenced, over the partitions scanned) + t (all columns of the "
        "partitions updated; the whole table when it is not partitioned) for UPDATE, DELETE and MERGE with an "
        "UPDATE/DELETE clause; INSERT-only = q. Each statement of a script is billed separately with the 10 MB "
        "minimums; temp tables count as referenced tables. Statements that reference no table (a DECLARE of a "
        "constant, BEGIN, COMMIT) are billed nothing (ASSUMED).",
        "- Clustering by `order_id` is not counted. BigQuery prunes clustered blocks only for filters it can "
        "evaluate against block metadata; our filters are joins, NOT EXISTS and `IN (SELECT ...)` subqueries, the "
        "documented DML formula counts whole partitions, and the bytes of a clustered scan are only known after it "
        "runs. Real bills may be lower for q (the stored-versions read, the views' NOT EXISTS); t is not reduced. "
        "Verify with a dry run and the job's bytes billed.",
        "- Partition pruning needs a filter on the partitioning column with constant values: query parameters "
        "(designs A and B), script variables (the compaction's `compaction_since`, `partition_lo/hi`) and "
        "`CURRENT_TIMESTAMP()` arithmetic (the `*_current` views' 6 h window) prune, a subquery does not (the "
        "views' second bound, on `compaction_runs`). Pruning keeps whole partitions: `order_snapshots` is "
        f"partitioned by `_ingested_at` {CHANGELOG_PARTITION_TYPE} ({CHANGELOG_PARTITION_HOURS:.0f} h), so a read "
        "scans on average half a partition before its lower bound, and the rows already appended after its upper "
        "bound in the same partition. `_ingested_at` is stamped by the sink when it appends the batch. The "
        "compaction's `OR order_purchase_timestamp IS NULL` adds the NULL partition, taken as empty (line rows "
        "written before abb3617).",
        "- A table referenced several times by one query (a view's CTE read twice, `orders` in several views of "
        "one `rt_*` model) is billed once, for the columns and partitions its references read (ASSUMED from the "
        "observation on the page listed below; were it billed per reference, the readers' NOT EXISTS reads of "
        "`orders` would count once per view instead of once per query).",
        "- Compaction: one changelog row per snapshot (the sink appends each batch's newest snapshot per order; a "
        "batch seldom holds two of one order); each run reads its interval plus the "
        f"{DEFAULT_OVERLAP_SECONDS // 60}-minute overlap; upper bounds: every row read stages an order, every "
        "tail order is already stored, and DELETE's t counts every updated partition although it only modifies "
        "those where a line disappeared. Dead letters: "
        f"{work.dead_letter_fraction:.0%} of messages (ASSUMED), kept as long as the orders.",
        "- insertAll: each row billed at the larger of its logical size and the JSON sent, at least 1 KB "
        "(ASSUMED: the stored pages do not say which size counts).",
        f"- Script duration: {work.dml_seconds:.0f} s per DML statement + {work.other_seconds} s per other "
        f"statement + bytes billed at {work.scan_gib_per_s:.0f} GiB/s (ASSUMED). A writer keeps up when a script "
        "ends within its interval; design A may have 2 scripts per table in flight (concurrent transactions on "
        "the same table abort, so more only queue). Design A flushes at every bundle end: about "
        f"{work.bundle_flushes_per_worker_s:.0f} bundles per worker and second, at most {work.batch_size:,} "
        "snapshots each.",
        f"- Dataflow: one n1-standard-2 streaming worker ({work.worker_vcpus} vCPU, {work.worker_memory_gb} GB, "
        f"{work.worker_disk_gb:.0f} GB disk) per {work.events_per_worker_s:,.0f} events/s (this machine's plain "
        "loop does ~20,000/s on 2 cores, see above; Dataflow adds Pub/Sub, BigQuery client and bundle overhead), "
        "Streaming Engine bills each message once and, for B's keyed stage, the rows once more. Pub/Sub is the "
        "same for every design and left out.",
        "- Design D's background apply: no published price formula was found, so it is assumed to bill like C's "
        "MERGE/DELETE at an interval of max_staleness (BigQuery runs it as background jobs that can be given a "
        "BACKGROUND_CHANGE_DATA_CAPTURE reservation).",
        "- Free tiers (1 TiB of queries, 2 TiB of Storage Write API per month) are ignored.",
        "",
    ]


def sources_table(prices: Prices, limits: Limits) -> list[str]:
    rows = [
        [item, value, status, f"{src.url} ({src.dated})" if src else ""]
        for item, value, status, src in price_rows(prices, limits)
    ]
    docs = [
        ["DML bytes billed (q + t)", "see assumptions", "found", PAGES["dml"]],
        ["Partition pruning", "filter on the partitioning column", "found", PAGES["partitions"]],
        ["", "script variables prune, subqueries do not", "found", PAGES["pruning_variables"]],
        ["A table read twice in one query", "bytes processed once (dry-run estimate)", "found (one observation)",
         PAGES["read_twice"]],
        ["Clustered block pruning", "filters on clustered columns; bytes known only after the run", "found",
         PAGES["clusters"]],
        ["", "", "found", PAGES["clustered_intro"]],
        ["CDC", "default stream, primary keys, protobuf, max_staleness", "found", PAGES["cdc"]],
        ["CDC background jobs", "BACKGROUND_CHANGE_DATA_CAPTURE assignment type", "found", PAGES["cdc_reservation"]],
    ]  # fmt: skip
    rows += [[i, v, s, f"{src.url} ({src.dated})"] for i, v, s, src in docs]
    return [
        f"### Prices, limits and sources (region us-central1 / BigQuery US, on-demand; stored copies read {LOOKED_UP})",
        "",
        *table(["Item", "Value used", "Status", "Page (its date)"], rows, align="----"),
        "",
    ]


def section(args: argparse.Namespace, shape: Shape, prices: Prices, limits: Limits, work: Workload) -> str:
    command = "python -m bench.bigquery_cost " + " ".join(
        shlex.quote(a) for a in (args.argv or []) if a != "--write" and not a.endswith(".md")
    )
    lines = [
        MARK_BEGIN,
        "## BigQuery cost model: what a flush and a compaction scan, and $ per million orders by write design",
        "",
        f"Command: `{command.strip()} --write BENCHMARKS.md` · {date.today():%Y-%m-%d} · a model, not a "
        "measurement: nothing here ran on BigQuery or Dataflow. Shapes come from the project's generator; prices "
        "and rules from the pages listed below.",
        "",
        *sources_table(prices, limits),
        *assumptions(shape, work),
        *question1(shape, prices, limits, work),
        *question2(shape, prices, limits, work),
        *recommendation(shape, prices, limits, work),
        MARK_END,
    ]
    return "\n".join(lines)


def write_section(path: Path, text_of_section: str) -> None:
    """Replace this script's section of ``path`` (between its markers), or append it at the end."""
    replace_section(path, text_of_section, MARK_BEGIN, MARK_END)


def main(argv: list[str] | None = None, measure: Callable[[int, int], Shape] = measure_shape) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bigquery_cost",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sample-orders", type=int, default=2000, help="generated orders to measure shapes from")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--history-days", type=float, default=365, help="days of purchases held (question 2)")
    parser.add_argument("--write", metavar="FILE", help="replace this model's section in FILE (BENCHMARKS.md)")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    shape = measure(args.sample_orders, args.seed)
    text = section(args, shape, Prices(), Limits(), Workload(history_days=args.history_days))
    print(text)
    if args.write:
        write_section(Path(args.write), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
