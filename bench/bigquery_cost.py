"""``python -m bench.bigquery_cost [--write BENCHMARKS.md]``

A cost model of the BigQuery sink (issue 10, points 2 and 5), written as a section of BENCHMARKS.md:
1. the bytes billed by the statements of one flush (today's SQL in beam_pipelines/sinks/upsert_sql.py, then with a
   partition predicate and with partitioned line tables), for 1M and 100M orders in the target tables;
2. $ per million orders at 100 and 10,000 orders/s for four write designs (per-bundle MERGE, one keyed writer per
   interval, append-only changelog + compaction, Storage Write API CDC), with ingestion, Dataflow and readers;
3. a recommendation drawn from those numbers.

It is arithmetic, not a measurement: nothing runs on BigQuery or Dataflow. Row shapes (string lengths, lines per
order, events per order, how many days after purchase an order's events arrive, query-parameter bytes) are measured
from orders of the project's own generator; billing rules and prices are the documented ones listed in the output,
with every figure that could not be found in a stored page marked as an assumption.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

from schemas import ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, table_schema
from schemas.types import standard_type

MARK_BEGIN = "<!-- bigquery-cost:start -->"
MARK_END = "<!-- bigquery-cost:end -->"

MiB = 2**20
GiB = 2**30
TiB = 2**40
DAY = 86_400
#: The stored copies of the pages cited below were consulted on this date.
LOOKED_UP = "2026-11-23"
LINE_TABLES = (ORDER_ITEMS, ORDER_PAYMENTS)
TABLES = (ORDERS, *LINE_TABLES)


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
    min_billed_per_table: int = 10 * MiB  # and per statement
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
    TIMESTAMP 8, NUMERIC 16, NULL 0)."""

    column_bytes: dict[str, dict[str, float]]  # table -> column -> average logical bytes
    lines_per_order: dict[str, float]  # table -> rows per order
    events_per_order: float
    message_bytes: float  # Pub/Sub message body
    parameter_bytes_per_snapshot: float  # JSON of the three UNNEST(@rows) parameters, per snapshot
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
        """Logical bytes of one snapshot's rows (order + its lines), as appended or streamed."""
        return sum(self.order_bytes(t) for t in TABLES)

    def snapshot_rows(self) -> float:
        return sum(self.lines_per_order.get(t, 1.0) for t in TABLES)

    def with_partition_column_on_lines(self) -> Shape:
        """Line tables carrying their order's order_purchase_timestamp (8 bytes) so they can be partitioned."""
        columns = {t: dict(c) for t, c in self.column_bytes.items()}
        for table in LINE_TABLES:
            columns[table]["order_purchase_timestamp"] = 8.0
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


def measure_shape(orders: int, seed: int) -> Shape:
    """Row shapes, event timing and parameter sizes of ``orders`` generated orders."""
    from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
    from beam_pipelines.sinks.bigquery import rows_parameter
    from beam_pipelines.transforms.rows import snapshot_rows
    from publishers.stream import MessageStream, StreamSettings
    from schemas.validation import EventValidator

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    validator = EventValidator()
    snapshots = []
    lags: dict[int, int] = {}
    message_bytes = 0
    for message in MessageStream(StreamSettings(seed=seed, orders=orders, start_time=start)):
        result = validator.validate_payload(message.data)
        if not result.ok or result.event is None:
            continue
        rows = snapshot_rows(OrderSnapshot(result.event, ReceivedMessage(message.data)))
        snapshots.append(rows)
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
    }
    column_bytes: dict[str, dict[str, float]] = {}
    string_lengths: dict[str, float] = {}
    for table, rows in rows_by_table.items():
        schema = table_schema(table)
        column_bytes[table] = {}
        for column in schema.columns:
            total = sum(logical_bytes(row[column.name], column.type) for row in rows)
            column_bytes[table][column.name] = total / len(rows)
            if standard_type(column.type) == "STRING":
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


# --- the statements of one flush and what each bills ---------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How the flush's SQL may prune: a partition predicate on orders (``in`` the batch's purchase dates, or
    ``between`` their min and max, as query parameters), and whether the line tables are partitioned too."""

    label: str
    orders_filter: str  # "none" | "in" | "between"
    lines_partitioned: bool


TODAY = Layout("today's SQL", "none", False)
ORDERS_IN = Layout("+ predicate on orders (IN batch dates)", "in", False)
ALL_IN = Layout("+ lines partitioned too (IN batch dates)", "in", True)
ALL_BETWEEN = Layout("+ lines partitioned, BETWEEN min and max", "between", True)
LAYOUTS = (TODAY, ORDERS_IN, ALL_IN, ALL_BETWEEN)


@dataclass(frozen=True)
class Tables:
    """The target tables: ``orders`` orders spread evenly over ``days`` daily purchase-date partitions."""

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


@dataclass(frozen=True)
class Flush:
    statements: list[Statement]
    scanned_days: float
    updated_days: float
    limits: Limits = field(default_factory=Limits)

    def billed(self, statement: Statement) -> float:
        per_table = sum(max(b, self.limits.min_billed_per_table) for b in statement.reads.values())
        return max(per_table, self.limits.min_billed_per_table)

    @property
    def total(self) -> float:
        return sum(self.billed(s) for s in self.statements)


def flush_statements(
    shape: Shape, tables: Tables, layout: Layout, snapshots: float, source: str = "params", limits: Limits = Limits()
) -> Flush:
    """The script BigQueryWarehouse.script() runs for one flush of ``snapshots`` snapshots, billed per the DML
    rules: a statement processes q (referenced columns of the partitions it scans) and, for UPDATE/DELETE/MERGE with
    an UPDATE or DELETE clause, also t (all columns of the partitions it updates; the whole table when it is not
    partitioned). Clustering block pruning is not counted (see the assumptions)."""
    if layout.lines_partitioned:
        shape = shape.with_partition_column_on_lines()
    days = tables.days
    updated = min(days, distinct_days(shape.lag_pmf, snapshots))
    scanned = {"none": days, "in": updated, "between": min(days, range_days(shape.lag_pmf, snapshots))}[
        layout.orders_filter
    ]
    per_day = tables.orders_per_day

    def orders(columns: Iterable[str] | None, partitions: float) -> float:
        return shape.order_bytes(ORDERS, columns) * per_day * partitions

    def lines(table: str, columns: Iterable[str] | None, partitions: float) -> float:
        return shape.order_bytes(table, columns) * per_day * (partitions if layout.lines_partitioned else days)

    def staged(table: str, columns: Iterable[str] | None = None) -> float:
        return shape.order_bytes(table, columns) * snapshots

    if source == "params":
        stage = [Statement(f"CREATE TEMP TABLE batch_{t} AS SELECT * FROM UNNEST(@{t})", {}) for t in TABLES]
    else:  # the tail of an append-only changelog, latest snapshot per order (design C's compaction)
        stage = [
            Statement(f"CREATE TEMP TABLE batch_{t} AS latest per order FROM {t}_changelog tail", {t: staged(t)})
            for t in TABLES
        ]
    statements = [
        *stage,
        Statement(
            "stored versions: SELECT order_id, _sequence, _event_id FROM orders WHERE order_id IN (batch)",
            {ORDERS: orders(("order_id", "_sequence", "_event_id"), scanned), "batch": staged(ORDERS, ["order_id"])},
        ),
        Statement(
            "MERGE orders ON order_id (update if newer, else insert)",
            {ORDERS: orders(("order_id", "_sequence"), scanned) + orders(None, updated), "batch": staged(ORDERS)},
            is_dml=True,
        ),
    ]
    for table in LINE_TABLES:
        key = table_schema(table).primary_key
        statements += [
            Statement(
                f"MERGE {table} USING (batch lines JOIN orders on version) ON {', '.join(key)}",
                {
                    table: lines(table, (*key, "_sequence"), scanned) + lines(table, None, updated),
                    "batch": staged(table),
                    ORDERS: orders(("order_id", "_sequence", "_event_id"), scanned),
                },
                is_dml=True,
            ),
            Statement(
                f"DELETE {table} WHERE order_id IN (batch) AND _sequence < (SELECT ... FROM orders)",
                {
                    table: lines(table, ("order_id", "_sequence"), scanned) + lines(table, None, updated),
                    "batch": staged(ORDERS, ["order_id"]),
                    ORDERS: orders(("order_id", "_sequence"), scanned),
                },
                is_dml=True,
            ),
        ]
    statements.append(Statement("SELECT order_id, _sequence, _event_id FROM stored_versions", {"temp": 0.0}))
    return Flush(statements, scanned, updated, limits)


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
    changelog_retention_days: float = 7  # design C: partition expiration of the changelog


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
    engine_hour = events_per_s * 3600 * (shape.message_bytes + shuffled) / GiB * prices.streaming_engine_per_gib
    per_hour = workers(events_per_s, work) * per_worker_hour + engine_hour
    return per_hour / (rate * 3600) * 1e6


def per_million(usd_per_s: float, rate: float) -> float:
    return usd_per_s / rate * 1e6


def query_usd(bytes_billed: float, prices: Prices) -> float:
    return bytes_billed / TiB * prices.query_per_tib


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

    # A: today's sink, one script per bundle, many at once.
    flushes = min(events_per_s, work.bundle_flushes_per_worker_s * workers(events_per_s, work))
    per_flush = events_per_s / flushes
    if per_flush > work.batch_size:
        per_flush, flushes = work.batch_size, events_per_s / work.batch_size
    for layout in (TODAY, ALL_IN):
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
    for interval, layout in ((5, ALL_IN), (30, ALL_IN), (60, ALL_IN), (60, TODAY)):
        snapshots = events_per_s * interval
        staged_by_write_api = snapshots > fits
        flush = flush_statements(shape, tables, layout, snapshots, limits=limits)
        seconds = script_seconds(flush, work)
        ingest = (
            per_million(snapshots * shape.snapshot_bytes() / GiB * prices.write_api_per_gib / interval, rate)
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
    # C: append-only changelog (Storage Write API default stream) + exact views + periodic compaction.
    append = per_million(events_per_s * shape.snapshot_bytes() / GiB * prices.write_api_per_gib, rate)
    for minutes in (15, 60):
        interval = minutes * 60
        snapshots = events_per_s * interval
        flush = flush_statements(shape, tables, ALL_IN, snapshots, source="changelog", limits=limits)
        seconds = script_seconds(flush, work)
        out.append(
            DesignCost(
                "C changelog + views + compaction (lines partitioned)",
                f"{minutes} min",
                snapshots,
                flush.total / GiB,
                seconds,
                1 / interval,
                per_million(query_usd(flush.total, prices) / interval, rate),
                append,
                base_dataflow,
                keeps_up(seconds, 1 / interval, 1),
                "compaction by one scheduled script; insertAll instead: "
                f"${per_million(insert_all_usd_per_s(events_per_s, shape, prices), rate):.2f}/M",
            )
        )
    # D: Storage Write API CDC (UPSERT/DELETE rows), BigQuery applies them in the background.
    for minutes in (15, 60):
        interval = minutes * 60
        snapshots = events_per_s * interval
        flush = flush_statements(shape, tables, ALL_IN, snapshots, source="changelog", limits=limits)
        apply = [s for s in flush.statements if s.is_dml]
        apply_bytes = sum(flush.billed(s) for s in apply)
        out.append(
            DesignCost(
                "D Storage Write API CDC, max_staleness",
                f"{minutes} min",
                snapshots,
                apply_bytes / GiB,
                0.0,
                1 / interval,
                per_million(query_usd(apply_bytes, prices) / interval, rate),
                append,
                base_dataflow,
                "yes (BigQuery applies)",
                "apply cost ASSUMED = the DML of one pruned MERGE per max_staleness",
            )
        )
    return out


def insert_all_usd_per_s(events_per_s: float, shape: Shape, prices: Prices) -> float:
    """Legacy streaming inserts: every row billed at least 1 KB."""
    per_snapshot = sum(
        shape.lines_per_order.get(t, 1.0) * max(shape.width(t), prices.insert_all_min_row_bytes) for t in TABLES
    )
    return events_per_s * per_snapshot / GiB * prices.insert_all_per_gib


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


def reader_bytes(shape: Shape, tables: Tables, lines_filtered: bool, limits: Limits) -> float:
    """Bytes billed by one refresh of the four rt_* views. ``lines_filtered``: the line tables partitioned by
    purchase date and the views filtering them on the same window as orders (today they read the whole tables)."""
    by_view: dict[str, dict[str, float]] = {}
    windows = {view: days for view, table, _, days in READS if table == ORDERS}
    for view, table, columns, days in READS:
        window = days if days is not None else (windows[view] if lines_filtered else tables.days)
        read = shape.order_bytes(table, columns) * tables.orders_per_day * min(window, tables.days)
        by_view.setdefault(view, {})[table] = read
    return sum(sum(max(b, limits.min_billed_per_table) for b in reads.values()) for reads in by_view.values())


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
        "### 1. What one flush scans",
        "",
        f"One flush of {batch:,} snapshots (`--batch_size`), the script of `BigQueryWarehouse.script()`: bytes billed "
        f"per statement, {size(limits.min_billed_per_table)} minimum per table referenced and per statement "
        f"included. The orders are spread evenly over {work.q1_history_days:.0f} daily partitions "
        "(Olist's two years). A batch's events come from orders bought up to "
        f"{len(shape.lag_pmf) - 1} days earlier: its orders sit in "
        f"{distinct_days(shape.lag_pmf, batch):.1f} distinct purchase dates on average (`IN` list), and "
        f"`BETWEEN` min and max spans {range_days(shape.lag_pmf, batch):.1f} days.",
        "",
    ]
    for orders in (1e6, 1e8):
        tables = Tables(orders, work.q1_history_days)
        flushes = {layout: flush_statements(shape, tables, layout, batch, limits=limits) for layout in LAYOUTS}
        names = [s.name for s in flushes[TODAY].statements]
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
    today, pruned = (
        flush_statements(shape, Tables(1e8, work.q1_history_days), lo, batch, limits=limits).total
        for lo in (TODAY, ALL_IN)
    )
    lines += [
        f"At 100M orders today's flush bills {size(today)}; a predicate on orders alone saves little because "
        "`order_items` and `order_payments` are not partitioned and every MERGE/DELETE on them bills the whole "
        f"table (the DML rule's t term), twice each. With the lines partitioned by their order's purchase date "
        f"and the predicate on every table the flush bills {size(pruned)} ({today / pruned:,.0f}x less). The "
        "predicate must be a constant (query parameters: the batch's purchase dates), and it is safe only because "
        "an order's `order_purchase_timestamp` never changes (otherwise MERGE would insert a second row).",
        "",
    ]
    return lines


def question2(shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[str]:
    lines = [
        "### 2. $ per million orders by write design",
        "",
        f"Steady state: the tables hold {work.history_days:.0f} days of purchases at the given rate; an order brings "
        f"{shape.events_per_order:.1f} events. Query cost is the DML/SELECT bytes billed by the writes (readers "
        "below); ingestion is Storage Write API bytes; Dataflow is n1-standard-2 streaming workers "
        f"(1 per {work.events_per_worker_s:,.0f} events/s) plus Streaming Engine data. '$/M' = per million orders.",
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
        today = reader_bytes(shape, tables, False, limits)
        filtered = reader_bytes(shape, tables, True, limits)
        tail = {
            minutes: rate * shape.events_per_order * minutes * 60 / 2 * shape.snapshot_bytes() for minutes in (15, 60)
        }
        rows.append(
            [
                f"{rate:,}/s",
                f"{size(today)} · {usd(per_million(query_usd(today, prices) * refreshes_per_s, rate))}",
                f"{size(filtered)} · {usd(per_million(query_usd(filtered, prices) * refreshes_per_s, rate))}",
                *(
                    f"+{size(b)} · +{usd(per_million(query_usd(b, prices) * refreshes_per_s, rate))}"
                    for b in tail.values()
                ),
            ]
        )
    per_order = sum(shape.order_bytes(t) for t in TABLES)
    changelog = per_order * shape.events_per_order
    return [
        f"Real-time readers: one refresh of the four `rt_*` views every {work.reader_refresh_s:.0f} s (bytes per "
        "refresh · $/M orders). They read `orders` through their purchase-date windows (30, 30, 90 and 2 days) and, "
        "today, the whole `order_items`/`order_payments` tables through the `int_*_summed` views. A, B and D read "
        "the same tables; C's exact views also read the changelog tail not yet compacted (on average half an "
        "interval), which is what C adds:",
        "",
        *table(
            ["Rate", "A/B/D today", "A/B/D, lines partitioned + filtered", "C adds (15 min)", "C adds (60 min)"],
            rows,
        ),
        "",
        f"Storage (active logical, ${prices.storage_active_per_gib_month}/GiB-month): the current state is "
        f"{per_order:,.0f} B per order = {usd(per_order * 1e6 / GiB * prices.storage_active_per_gib_month)} per "
        f"million orders per month in every design; C's changelog adds {changelog:,.0f} B per order for its "
        f"{work.changelog_retention_days:.0f}-day partition expiration "
        f"({usd(changelog * 1e6 / GiB * prices.storage_active_per_gib_month * work.changelog_retention_days / 30)} "
        f"per million orders). Storage is negligible next to queries.",
        "",
    ]


def recommendation(shape: Shape, prices: Prices, limits: Limits, work: Workload) -> list[str]:
    slow, fast = (designs(rate, shape, prices, limits, work) for rate in (100, 10_000))

    def find(costs: list[DesignCost], prefix: str, interval: str) -> DesignCost:
        return next(d for d in costs if d.design.startswith(prefix) and d.interval == interval)

    a_today = next(d for d in slow if d.design.startswith("A") and "today" in d.design)
    b60, b30 = find(slow, "B one keyed writer, +", "60 s"), find(slow, "B one keyed writer, +", "30 s")
    c60_slow, c60_fast = find(slow, "C", "60 min"), find(fast, "C", "60 min")
    c15_slow = find(slow, "C", "15 min")
    d60_fast = find(fast, "D", "60 min")
    fits = limits.request_bytes / shape.parameter_bytes_per_snapshot
    events_slow = 100 * shape.events_per_order
    slow_tables = Tables(100 * DAY * work.history_days, work.history_days)
    readers_today, readers_filtered = (
        per_million(query_usd(reader_bytes(shape, slow_tables, filtered, limits), prices) / work.reader_refresh_s, 100)
        for filtered in (False, True)
    )
    return [
        "### 3. Recommendation",
        "",
        "Every design that keeps a current-state table pays, per write, for the whole purchase-date partitions it "
        "touches (the DML t term), and an order's events reach back "
        f"{len(shape.lag_pmf) - 1} days, so a flush of {work.batch_size:,} snapshots already touches about "
        f"{distinct_days(shape.lag_pmf, work.batch_size):.0f} daily partitions and a bigger one hardly more. The "
        "cost per order therefore falls with the interval between writes, not with the rate: it is roughly "
        "(days touched x one day of rows) / (orders per write). Today's per-bundle script (A) also bills the whole "
        f"unpartitioned line tables on every flush: {usd(a_today.total)}/M orders at 100 orders/s with a year of "
        f"history, and it cannot keep up ({a_today.keeps_up.removeprefix('no: ')}). "
        "Point 1's fix (lines partitioned by purchase date, "
        "constant partition predicates) is needed by every design.",
        "",
        f"- **100 orders/s: default C** — append snapshots to a changelog with the Storage Write API default "
        f"stream, serve `rt_*` from exact views (compacted state + changelog tail, latest `_sequence` per order), "
        f"compact with one partition-pruned MERGE script every 60 min: {usd(c60_slow.total)}/M orders "
        f"({usd(c15_slow.total)}/M at 15 min), always fresh for readers. B (one keyed writer) at 60 s costs "
        f"{usd(b60.total)}/M; its script ({b60.seconds_per_flush:.0f} s) fits a 60 s interval but not a 30 s one "
        f"({b30.keeps_up.removeprefix('no: ')}); a request carries at most ≈{fits:,.0f} snapshots "
        f"(≈{fits / events_slow:.0f} s of events at this rate) before the batch must be staged another way. If "
        "the warehouse tables only need to be minutes fresh and no changelog is wanted, B with a 60 s interval is "
        "the fallback, not today's A.",
        f"- **10,000 orders/s: C with a 60 min compaction** ({usd(c60_fast.total)}/M orders; its script takes "
        f"≈{c60_fast.seconds_per_flush / 60:.0f} min of its 60). No MERGE-per-flush design keeps up: one flush "
        "would have to rewrite weeks of partitions every few seconds, and parameters cannot carry the batch. D "
        f"(Storage Write API CDC, max_staleness 60 min) comes out at {usd(d60_fast.total)}/M under the assumption "
        "that BigQuery's background apply bills like that MERGE "
        "(no published formula was found in the stored pages); it needs the Java "
        "cross-language sink, and CDC keeps the row with the highest `_CHANGE_SEQUENCE_NUMBER`, so the "
        "equal-sequence conflict rule (first stored wins, the other dead-lettered) and deleting lines a newer "
        "snapshot dropped must be done before the sink. Keep D as the option to evaluate with a real job; at this "
        "rate capacity pricing (slots) rather than on-demand bytes should also be priced.",
        "- **Readers cost more than batched writes**: a dashboard refreshing the four `rt_*` views every minute "
        f"costs {usd(readers_today)}/M orders with today's tables and {usd(readers_filtered)}/M with partitioned, "
        f"filtered line tables, against {usd(c60_slow.total)}/M for C's writes, and the same in every design. "
        "Partition and filter the line tables, and refresh less often or read small aggregate tables that the "
        "compaction writes.",
        "",
        "Flush interval: C compacts every 60 min (15 min if the warehouse tables themselves, not just the views, "
        "must be fresher); the pipeline itself only appends, so it has no flush interval to tune beyond the "
        "Storage Write API's own batching.",
    ]


def assumptions(shape: Shape, work: Workload) -> list[str]:
    widths = ", ".join(f"`{t}` {shape.width(t):,.0f} B" for t in TABLES)
    strings = ", ".join(f"{c} {n:.0f}" for c, n in sorted(shape.string_lengths.items()))
    return [
        "### Assumptions",
        "",
        f"- Shapes measured from {shape.sample_orders:,} generated orders ({shape.sample_events:,} events, seed "
        f"fixed): {shape.lines_per_order[ORDER_ITEMS]:.2f} items and {shape.lines_per_order[ORDER_PAYMENTS]:.2f} "
        f"payments per order, {shape.events_per_order:.1f} events per order, {shape.message_bytes:,.0f} B per "
        f"message, {shape.parameter_bytes_per_snapshot:,.0f} B of query-parameter JSON per snapshot "
        "(`rows_parameter(...).to_api_repr()`).",
        f"- Logical row widths (STRING = 2 + UTF-8 bytes, INT64/TIMESTAMP 8, NUMERIC 16, NULL 0): {widths}. "
        f"Average string lengths (characters): {strings}.",
        "- Billing: DML on-demand bytes = q (columns referenced, over the partitions scanned) + t (all columns of the "
        "partitions updated; the whole table when it is not partitioned) for UPDATE, DELETE and MERGE with an "
        "UPDATE/DELETE clause; INSERT-only = q. Each statement of the script is billed separately with the 10 MB "
        "minimums; temp tables count as referenced tables.",
        "- Clustering by `order_id` is not counted. BigQuery prunes clustered blocks only for filters it can "
        "evaluate against block metadata; our filters are joins and `IN (SELECT ...)` subqueries, the documented "
        "DML formula counts whole partitions, and the bytes of a clustered scan are only known after it runs. Real "
        "bills may be lower for q; t is not reduced. Verify with a dry run and the job's bytes billed.",
        "- Partition pruning needs a filter on the partitioning column with constant values: the flush passes the "
        "batch's purchase dates (or min/max) as query parameters; the line tables get a copy of "
        "`order_purchase_timestamp` (+8 B per row) to be partitioned the same way (a schema change, not made here).",
        f"- Script duration: {work.dml_seconds:.0f} s per DML statement + {work.other_seconds} s per other "
        f"statement + bytes billed at {work.scan_gib_per_s:.0f} GiB/s. A writer keeps up when a script ends within "
        "its interval; design A may have 2 scripts per table in flight (concurrent transactions on the same table "
        "abort, so more only queue). Design A flushes at every bundle end: about "
        f"{work.bundle_flushes_per_worker_s:.0f} bundles per worker and second, at most {work.batch_size:,} "
        "snapshots each.",
        f"- Dataflow: one n1-standard-2 streaming worker ({work.worker_vcpus} vCPU, {work.worker_memory_gb} GB, "
        f"{work.worker_disk_gb:.0f} GB disk) per {work.events_per_worker_s:,.0f} events/s (this machine's plain "
        "loop does ~20,000/s on 2 cores, see above; Dataflow adds Pub/Sub, BigQuery client and bundle overhead), "
        "Streaming Engine bills each message once and, for B's keyed stage, the rows once more. Pub/Sub is the "
        "same for every design and left out.",
        "- Design C's compaction reads the changelog tail (latest snapshot per order) instead of parameters and "
        "runs the same guarded MERGE/DELETE; its views are exact because they take the latest `_sequence` per order "
        "over the compacted table and the tail. Design D's background apply: no published price formula was "
        "found, so it is "
        "assumed to bill like C's DML at an interval of max_staleness (BigQuery runs it as background jobs that "
        "can be given a BACKGROUND_CHANGE_DATA_CAPTURE reservation).",
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
        "## BigQuery cost model: what a flush scans, and $ per million orders by write design",
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
    """Replace this script's section of ``path`` (between the markers), or append it at the end."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if MARK_BEGIN in text and MARK_END in text:
        before, rest = text.split(MARK_BEGIN, 1)
        text = before + text_of_section + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + text_of_section + "\n"
    path.write_text(text)


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
