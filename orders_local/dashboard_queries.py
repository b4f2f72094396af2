"""The live dashboard's figures, as plain SQL on the raw DuckDB warehouse (no Streamlit here).

Every function takes an open DuckDB connection and returns plain rows (dicts, numbers, datetimes), so the
dashboard can run them all in one short read-only unit of work and the tests can run them on a small file.
Windows ("last 60 minutes") are relative to an explicit ``now`` (a UTC-aware datetime), never the clock.

Business rules are the dbt project's, read from ``dbt/dbt_project.yml`` so they are defined once:
- a sale is an order whose status is not one of var ``order_exit_statuses`` (macro ``is_sale``);
- revenue is item price + freight, NULL counted as 0 (macro ``revenue``);
- "today" is the calendar day of var ``reporting_timezone`` (America/Sao_Paulo), of the purchase timestamp
  (as ``kpi_revenue_daily`` dates revenue), taken by converting the UTC instant to local wall-clock time.

``pipeline_metrics`` (written by the sinks after each committed flush, beam_pipelines/pipeline_metrics.py)
is append-only: every row is a count of one flush, so totals are sums over rows. The table may be missing
(a warehouse written by an older pipeline) or empty: ``pipeline_throughput`` then returns None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import yaml

from beam_pipelines.pipeline_metrics import histogram_percentiles, latency_bound
from warehouse.duckdb_schema import DEFAULT_SCHEMA, quote

DBT_PROJECT_FILE = Path(__file__).resolve().parents[1] / "dbt" / "dbt_project.yml"
#: The schema dbt builds into in the analytics file (warehouse.dbt_runner.DBT_SCHEMA, dbt/profiles.yml).
ANALYTICS_SCHEMA = "analytics"

#: pipeline_metrics: the per-event counts (beam_pipelines.pipeline_metrics), in the order they are shown.
THROUGHPUT_METRICS = ("valid", "applied", "superseded", "stale", "duplicate", "conflict", "refused", "dead_lettered")
COMMIT_LATENCY_METRIC = "commit_latency_ms"
LATENCY_PERCENTILES = (50, 95, 99)
#: The tables every refresh reads (the reference tables and pipeline_metrics are optional).
REQUIRED_TABLES = ("orders", "order_items", "order_events_dead_letter")


@dataclass(frozen=True)
class BusinessRules:
    """What dbt's macros and vars say counts as a sale, and which clock a day is taken on."""

    reporting_timezone: str
    order_statuses: tuple[str, ...]
    exit_statuses: tuple[str, ...]


def load_business_rules(project_file: Path = DBT_PROJECT_FILE) -> BusinessRules:
    variables = yaml.safe_load(project_file.read_text())["vars"]
    return BusinessRules(
        reporting_timezone=variables["reporting_timezone"],
        order_statuses=tuple(variables["order_statuses"]),
        exit_statuses=tuple(variables["order_exit_statuses"]),
    )


RULES = load_business_rules()


def _table(schema: str, name: str) -> str:
    return f"{quote(schema)}.{quote(name)}"


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = connection.execute(sql, parameters)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def existing_tables(connection: duckdb.DuckDBPyConnection, schema: str = DEFAULT_SCHEMA) -> frozenset[str]:
    """The tables of ``schema`` (duckdb_tables(): about 1 ms, where information_schema takes several)."""
    rows = connection.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [schema]).fetchall()
    return frozenset(name for (name,) in rows)


def data_as_of(connection: duckdb.DuckDBPyConnection, schema: str = DEFAULT_SCHEMA) -> datetime | None:
    """The newest write the warehouse holds: an order ingested or a message dead-lettered (None: empty)."""
    return connection.execute(
        f"""
        SELECT greatest(
            (SELECT max(_ingested_at) FROM {_table(schema, "orders")}),
            (SELECT max("timestamp") FROM {_table(schema, "order_events_dead_letter")})
        )
        """
    ).fetchone()[0]


def headline(
    connection: duckdb.DuckDBPyConnection, now: datetime, minutes: int = 60, schema: str = DEFAULT_SCHEMA
) -> dict[str, Any]:
    """Orders held (current state, one row per order), orders written in the last ``minutes``, dead letters."""
    orders, recent = connection.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE _ingested_at > $now - to_minutes($minutes))
        FROM {_table(schema, "orders")}
        """,
        {"now": now, "minutes": minutes},
    ).fetchone()
    dead_letters = connection.execute(f"SELECT count(*) FROM {_table(schema, 'order_events_dead_letter')}").fetchone()
    return {"orders": orders, "orders_recent": recent, "dead_letters": dead_letters[0]}


def orders_per_minute(
    connection: duckdb.DuckDBPyConnection, now: datetime, minutes: int = 60, schema: str = DEFAULT_SCHEMA
) -> list[dict[str, Any]]:
    """Orders by the UTC minute of their last write (``_ingested_at``), every minute of the window (0 when
    none), oldest first. An order counts once, at its latest snapshot: the table holds current state."""
    return _rows(
        connection,
        f"""
        WITH minutes AS (
            SELECT unnest(generate_series(
                date_trunc('minute', $now::TIMESTAMPTZ) - to_minutes($minutes - 1),
                date_trunc('minute', $now::TIMESTAMPTZ),
                INTERVAL 1 MINUTE
            )) AS minute
        ),
        counts AS (
            SELECT date_trunc('minute', _ingested_at) AS minute, count(*) AS orders
            FROM {_table(schema, "orders")}
            WHERE _ingested_at >= date_trunc('minute', $now::TIMESTAMPTZ) - to_minutes($minutes - 1)
            GROUP BY 1
        )
        SELECT minutes.minute, coalesce(counts.orders, 0) AS orders
        FROM minutes LEFT JOIN counts USING (minute)
        ORDER BY minutes.minute
        """,
        {"now": now, "minutes": minutes},
    )


def _is_sale(status_column: str) -> str:
    """dbt's is_sale macro: NOT IN the exit statuses (a NULL status is no sale there either)."""
    return f"NOT list_contains($exit_statuses, {status_column})"


def revenue_today(
    connection: duckdb.DuckDBPyConnection,
    now: datetime,
    rules: BusinessRules = RULES,
    schema: str = DEFAULT_SCHEMA,
) -> dict[str, Any]:
    """Revenue (items price + freight) and count of the sales bought on ``now``'s local day (reporting zone)."""
    row = _rows(
        connection,
        f"""
        SELECT
            timezone($zone, $now::TIMESTAMPTZ)::DATE AS local_date,
            count(DISTINCT orders.order_id) AS sales,
            coalesce(sum(coalesce(items.price, 0) + coalesce(items.freight_value, 0)), 0) AS revenue
        FROM {_table(schema, "orders")} AS orders
        LEFT JOIN {_table(schema, "order_items")} AS items ON items.order_id = orders.order_id
        WHERE {_is_sale("orders.order_status")}
            AND timezone($zone, orders.order_purchase_timestamp)::DATE = timezone($zone, $now::TIMESTAMPTZ)::DATE
        """,
        {"now": now, "zone": rules.reporting_timezone, "exit_statuses": list(rules.exit_statuses)},
    )[0]
    row["revenue"] = Decimal(row["revenue"]).quantize(Decimal("0.01"))
    return row


def status_funnel(
    connection: duckdb.DuckDBPyConnection, rules: BusinessRules = RULES, schema: str = DEFAULT_SCHEMA
) -> list[dict[str, Any]]:
    """Current orders by status: every status of the lifecycle in its order (0 when none), then any other."""
    counts = dict(
        connection.execute(f"SELECT order_status, count(*) FROM {_table(schema, 'orders')} GROUP BY 1").fetchall()
    )
    known = [{"order_status": status, "orders": counts.pop(status, 0)} for status in rules.order_statuses]
    others = [{"order_status": status, "orders": n} for status, n in sorted(counts.items(), key=lambda s: str(s[0]))]
    return known + others


def live_orders(
    connection: duckdb.DuckDBPyConnection, limit: int = 20, schema: str = DEFAULT_SCHEMA
) -> list[dict[str, Any]]:
    """The ``limit`` orders written last (by ``_ingested_at``), newest first, with their items + freight total."""
    return _rows(
        connection,
        f"""
        WITH latest AS (
            SELECT order_id, order_status, customer_state, order_purchase_timestamp, _ingested_at
            FROM {_table(schema, "orders")}
            ORDER BY _ingested_at DESC, order_id
            LIMIT $limit
        )
        SELECT
            latest.order_id,
            latest.order_status,
            latest.customer_state,
            coalesce(sum(coalesce(items.price, 0) + coalesce(items.freight_value, 0)), 0) AS total,
            latest.order_purchase_timestamp AS purchased_at,
            latest._ingested_at AS ingested_at
        FROM latest
        LEFT JOIN {_table(schema, "order_items")} AS items ON items.order_id = latest.order_id
        GROUP BY ALL
        ORDER BY latest._ingested_at DESC, latest.order_id
        """,
        {"limit": limit},
    )


def revenue_by_state(
    connection: duckdb.DuckDBPyConnection, rules: BusinessRules = RULES, schema: str = DEFAULT_SCHEMA
) -> list[dict[str, Any]]:
    """Sales and their revenue by customer state, all time, largest revenue first."""
    return _rows(
        connection,
        f"""
        SELECT
            orders.customer_state,
            count(DISTINCT orders.order_id) AS sales,
            coalesce(sum(coalesce(items.price, 0) + coalesce(items.freight_value, 0)), 0) AS revenue
        FROM {_table(schema, "orders")} AS orders
        LEFT JOIN {_table(schema, "order_items")} AS items ON items.order_id = orders.order_id
        WHERE {_is_sale("orders.order_status")}
        GROUP BY 1
        ORDER BY revenue DESC, orders.customer_state
        """,
        {"exit_statuses": list(rules.exit_statuses)},
    )


def top_categories(
    connection: duckdb.DuckDBPyConnection,
    limit: int = 10,
    rules: BusinessRules = RULES,
    schema: str = DEFAULT_SCHEMA,
    tables: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """Product categories by the revenue of their sale items, all time: the English name when the
    translation has one, else the Portuguese name, else "(unknown)" (no product row or no category yet)."""
    tables = existing_tables(connection, schema) if tables is None else tables
    has_products = "products" in tables
    has_translation = has_products and "product_category_name_translation" in tables
    products = (
        f"LEFT JOIN {_table(schema, 'products')} AS products ON products.product_id = items.product_id"
        if has_products
        else "LEFT JOIN (SELECT NULL::VARCHAR AS product_category_name) AS products ON false"
    )
    translation = (
        f"LEFT JOIN {_table(schema, 'product_category_name_translation')} AS translation "
        "ON translation.product_category_name = products.product_category_name"
        if has_translation
        else "LEFT JOIN (SELECT NULL::VARCHAR AS product_category_name_english) AS translation ON false"
    )
    return _rows(
        connection,
        f"""
        SELECT
            coalesce(translation.product_category_name_english, products.product_category_name, '(unknown)')
                AS category,
            count(*) AS items,
            count(DISTINCT items.order_id) AS sales,
            sum(coalesce(items.price, 0) + coalesce(items.freight_value, 0)) AS revenue
        FROM {_table(schema, "order_items")} AS items
        JOIN {_table(schema, "orders")} AS orders ON orders.order_id = items.order_id
        {products}
        {translation}
        WHERE {_is_sale("orders.order_status")}
        GROUP BY 1
        ORDER BY revenue DESC, category
        LIMIT $limit
        """,
        {"limit": limit, "exit_statuses": list(rules.exit_statuses)},
    )


def dead_letters_by_reason(
    connection: duckdb.DuckDBPyConnection, now: datetime, minutes: int = 60, schema: str = DEFAULT_SCHEMA
) -> list[dict[str, Any]]:
    """Dead letters by (error_stage, error_kind): in the last ``minutes`` and in total, most frequent first."""
    return _rows(
        connection,
        f"""
        SELECT
            error_stage,
            error_kind,
            count(*) FILTER (WHERE "timestamp" > $now - to_minutes($minutes)) AS recent,
            count(*) AS total
        FROM {_table(schema, "order_events_dead_letter")}
        GROUP BY 1, 2
        ORDER BY total DESC, error_stage, error_kind
        """,
        {"now": now, "minutes": minutes},
    )


def ingest_lag(
    connection: duckdb.DuckDBPyConnection, now: datetime, minutes: int = 60, schema: str = DEFAULT_SCHEMA
) -> dict[str, Any]:
    """How fresh the orders are: the last ``_ingested_at`` and seconds since (``now`` minus it), and per UTC
    minute of the window the average event-to-ingest lag (``_ingested_at - _event_time``, seconds) of the
    orders written in it (minutes without writes are left out)."""
    last = connection.execute(f"SELECT max(_ingested_at) FROM {_table(schema, 'orders')}").fetchone()[0]
    per_minute = _rows(
        connection,
        f"""
        SELECT
            date_trunc('minute', _ingested_at) AS minute,
            avg(epoch(_ingested_at) - epoch(_event_time)) AS avg_lag_seconds,
            count(*) AS orders
        FROM {_table(schema, "orders")}
        WHERE _ingested_at >= date_trunc('minute', $now::TIMESTAMPTZ) - to_minutes($minutes - 1)
            AND _event_time IS NOT NULL
        GROUP BY 1
        ORDER BY 1
        """,
        {"now": now, "minutes": minutes},
    )
    since = None if last is None else (now - last).total_seconds()
    return {"last_ingested_at": last, "seconds_since_last_ingest": since, "per_minute": per_minute}


@dataclass
class PipelineThroughput:
    """pipeline_metrics over a window: counts per minute and metric, totals, and the commit latency histogram."""

    per_minute: list[dict[str, Any]] = field(default_factory=list)  # {"minute", "metric", "value"}
    totals: dict[str, int] = field(default_factory=dict)  # metric -> sum over the window
    latency_buckets: list[tuple[float, int]] = field(default_factory=list)  # (upper bound ms, count), ascending
    last_written_at: datetime | None = None  # newest row in the table (any minute)

    def latency_percentiles(self) -> dict[int, float]:
        return histogram_percentiles(self.latency_buckets, LATENCY_PERCENTILES)


def pipeline_throughput(
    connection: duckdb.DuckDBPyConnection,
    now: datetime,
    minutes: int = 60,
    schema: str = DEFAULT_SCHEMA,
    tables: frozenset[str] | None = None,
) -> PipelineThroughput | None:
    """What the sinks report in ``pipeline_metrics`` for the last ``minutes``; None when the table is missing
    or has no row at all. Rows are per flush (append-only), so every figure is a sum over rows."""
    if "pipeline_metrics" not in (existing_tables(connection, schema) if tables is None else tables):
        return None
    table = _table(schema, "pipeline_metrics")
    last_written_at = connection.execute(f"SELECT max(written_at) FROM {table}").fetchone()[0]
    if last_written_at is None:
        return None
    window = {"now": now, "minutes": minutes}
    start = "date_trunc('minute', $now::TIMESTAMPTZ) - to_minutes($minutes - 1)"
    per_minute = _rows(
        connection,
        f"""
        SELECT minute, metric, sum(value) AS value
        FROM {table}
        WHERE minute >= {start} AND metric <> $latency
        GROUP BY 1, 2
        ORDER BY 1, 2
        """,
        {**window, "latency": COMMIT_LATENCY_METRIC},
    )
    totals: dict[str, int] = {}
    for row in per_minute:
        totals[row["metric"]] = totals.get(row["metric"], 0) + int(row["value"])
    buckets = connection.execute(
        f"SELECT kind, sum(value) FROM {table} WHERE minute >= {start} AND metric = $latency GROUP BY 1",
        {**window, "latency": COMMIT_LATENCY_METRIC},
    ).fetchall()
    latency = sorted((latency_bound(kind), int(count)) for kind, count in buckets if kind is not None)
    return PipelineThroughput(per_minute, totals, latency, last_written_at)


@dataclass
class DashboardData:
    """Everything one refresh shows, read in one unit of work."""

    now: datetime
    as_of: datetime | None
    headline: dict[str, Any]
    orders_per_minute: list[dict[str, Any]]
    revenue_today: dict[str, Any]
    status_funnel: list[dict[str, Any]]
    live_orders: list[dict[str, Any]]
    revenue_by_state: list[dict[str, Any]]
    top_categories: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    ingest_lag: dict[str, Any]
    throughput: PipelineThroughput | None


def read_dashboard(
    connection: duckdb.DuckDBPyConnection,
    now: datetime,
    minutes: int = 60,
    rules: BusinessRules = RULES,
    schema: str = DEFAULT_SCHEMA,
) -> DashboardData:
    """Every figure of the dashboard, from one connection (the caller opens and closes it around this)."""
    tables = existing_tables(connection, schema)
    missing = sorted(set(REQUIRED_TABLES) - tables)
    if missing:
        raise LookupError(
            f"the warehouse has no {', '.join(missing)} table yet in schema {schema} (the pipeline creates them)"
        )
    return DashboardData(
        now=now,
        as_of=data_as_of(connection, schema),
        headline=headline(connection, now, minutes, schema),
        orders_per_minute=orders_per_minute(connection, now, minutes, schema),
        revenue_today=revenue_today(connection, now, rules, schema),
        status_funnel=status_funnel(connection, rules, schema),
        live_orders=live_orders(connection, schema=schema),
        revenue_by_state=revenue_by_state(connection, rules, schema),
        top_categories=top_categories(connection, limit=15, rules=rules, schema=schema, tables=tables),
        dead_letters=dead_letters_by_reason(connection, now, minutes, schema),
        ingest_lag=ingest_lag(connection, now, minutes, schema),
        throughput=pipeline_throughput(connection, now, minutes, schema, tables),
    )


def marts_daily_revenue(
    connection: duckdb.DuckDBPyConnection, days: int = 14, schema: str = ANALYTICS_SCHEMA
) -> list[dict[str, Any]] | None:
    """From dbt's analytics file: the last ``days`` rows of kpi_revenue_daily (None before the first build)."""
    if "kpi_revenue_daily" not in existing_tables(connection, schema):
        return None
    rows = _rows(
        connection,
        f"""
        SELECT date_day, order_count, revenue
        FROM {_table(schema, "kpi_revenue_daily")}
        ORDER BY date_day DESC
        LIMIT $days
        """,
        {"days": days},
    )
    return rows[::-1]
