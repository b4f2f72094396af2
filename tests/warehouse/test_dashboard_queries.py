"""orders_local.dashboard_queries on a small warehouse built with the real DDL, and the dashboard's reader
(orders_local.dashboard.WarehouseReader) while another process holds the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from beam_pipelines import pipeline_metrics
from orders_local import dashboard_queries as queries
from orders_local.dashboard import WarehouseReader
from warehouse.connection import connect, ensure_tables

UTC = timezone.utc
# 23:30 on 2026-11-22 in São Paulo (UTC-3): the UTC date (11-23) and the local date (11-22) differ.
NOW = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)


def _order(order_id: str, status: str, purchased: datetime, ingested: datetime, state: str = "SP", **extra) -> dict:
    return {
        "order_id": order_id,
        "customer_id": f"c-{order_id}",
        "order_status": status,
        "order_purchase_timestamp": purchased,
        "order_estimated_delivery_date": purchased + timedelta(days=10),
        "customer_unique_id": f"u-{order_id}",
        "customer_zip_code_prefix": "01310",
        "customer_city": "sao paulo",
        "customer_state": state,
        "_event_type": "order_created",
        "_sequence": 1,
        "_event_id": f"e-{order_id}",
        "_event_time": extra.pop("event_time", ingested - timedelta(seconds=2)),
        "_ingested_at": ingested,
        **extra,
    }


def _item(order_id: str, item_id: int, product_id: str, price: str, freight: str) -> dict:
    return {
        "order_id": order_id,
        "order_item_id": item_id,
        "product_id": product_id,
        "seller_id": "s1",
        "shipping_limit_date": NOW,
        "price": Decimal(price),
        "freight_value": Decimal(freight),
        "_sequence": 1,
        "_event_id": f"e-{order_id}",
        "_event_time": NOW,
        "_ingested_at": NOW,
    }


def _dead_letter(stage: str, kind: str, at: datetime) -> dict:
    return {"timestamp": at, "error_stage": stage, "error_kind": kind, "error_message": f"{stage}/{kind}"}


def _insert(path: Path, table: str, rows: list[dict]) -> None:
    with connect(path) as connection:
        for row in rows:
            columns = ", ".join(f'"{name}"' for name in row)
            marks = ", ".join("?" for _ in row)
            connection.execute(f"INSERT INTO orders_rt.{table} ({columns}) VALUES ({marks})", list(row.values()))


def _drop(path: Path, *tables: str) -> None:
    with connect(path) as connection:
        for table in tables:
            connection.execute(f"DROP TABLE IF EXISTS orders_rt.{table}")


# Orders: "today" is 2026-11-22 in São Paulo at NOW.
SP_MIDNIGHT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # 00:00 of 11-22 in São Paulo
ORDERS = [
    _order("a", "delivered", SP_MIDNIGHT + timedelta(minutes=30), NOW - timedelta(minutes=1)),  # today
    _order("b", "shipped", NOW - timedelta(hours=1, minutes=30), NOW - timedelta(minutes=3), "RJ"),  # today (UTC 11-23)
    _order("c", "delivered", SP_MIDNIGHT - timedelta(hours=1), NOW - timedelta(minutes=3)),  # yesterday (UTC 11-22)
    _order("d", "canceled", NOW - timedelta(hours=2), NOW - timedelta(minutes=10)),  # today, no sale
    _order("e", "created", NOW - timedelta(hours=3), NOW - timedelta(minutes=59), "MG"),  # today, no items
    _order("f", "unavailable", NOW - timedelta(hours=4), NOW - timedelta(hours=2)),  # today, no sale, written long ago
]
ITEMS = [
    _item("a", 1, "p-toys", "100.00", "10.50"),
    _item("a", 2, "p-untranslated", "20.00", "1.25"),
    _item("b", 1, "p-toys", "50.00", "5.00"),
    _item("c", 1, "p-none", "70.00", "7.00"),  # product without a category
    _item("d", 1, "p-toys", "999.00", "9.00"),  # canceled: no revenue anywhere
]
DEAD_LETTERS = [
    _dead_letter("parse", "invalid_json", NOW - timedelta(minutes=5)),
    _dead_letter("parse", "invalid_json", NOW - timedelta(hours=3)),
    _dead_letter("schema", "schema_violation", NOW - timedelta(minutes=1)),
]


@pytest.fixture(scope="module")
def warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard") / "template.duckdb"
    ensure_tables(path)
    _insert(path, "orders", ORDERS)
    _insert(path, "order_items", ITEMS)
    _insert(path, "order_events_dead_letter", DEAD_LETTERS)
    _insert(
        path,
        "products",
        [
            {"product_id": "p-toys", "product_category_name": "brinquedos"},
            {"product_id": "p-untranslated", "product_category_name": "pc_gamer"},
            {"product_id": "p-none", "product_category_name": None},
        ],
    )
    _insert(
        path,
        "product_category_name_translation",
        [{"product_category_name": "brinquedos", "product_category_name_english": "toys"}],
    )
    return path


@pytest.fixture
def warehouse(warehouse_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the small warehouse for each test (tests add rows and drop tables)."""
    return Path(shutil.copy(warehouse_template, tmp_path / "warehouse.duckdb"))


def _read(path: Path, query, *args, **kwargs):
    with connect(path, read_only=True) as connection:
        return query(connection, *args, **kwargs)


def test_the_rules_are_dbts():
    assert queries.RULES.reporting_timezone == "America/Sao_Paulo"
    assert queries.RULES.exit_statuses == ("canceled", "unavailable")
    assert queries.RULES.order_statuses[0] == "created" and len(queries.RULES.order_statuses) == 8
    macros = (queries.DBT_PROJECT_FILE.parent / "macros" / "order_rules.sql").read_text()
    assert "{{ status }} not in {{ sql_string_list(var('order_exit_statuses')) }}" in macros


def test_revenue_today_is_the_sales_of_the_sao_paulo_day(warehouse):
    today = _read(warehouse, queries.revenue_today, NOW)
    assert today["local_date"].isoformat() == "2026-11-22"
    # a (131.75) and b (55.00); c is the previous local day although its UTC date is today's; d, f no sales;
    # e is a sale without items.
    assert today == {"local_date": today["local_date"], "sales": 3, "revenue": Decimal("186.75")}
    # An hour later it is 11-23 in São Paulo too: nothing was bought on that day.
    later = _read(warehouse, queries.revenue_today, NOW + timedelta(hours=1))
    assert (later["sales"], later["revenue"]) == (0, Decimal("0.00"))


def test_headline_counts(warehouse):
    assert _read(warehouse, queries.headline, NOW) == {"orders": 6, "orders_recent": 5, "dead_letters": 3}


def test_orders_per_minute_fills_every_minute_of_the_window(warehouse):
    rows = _read(warehouse, queries.orders_per_minute, NOW)
    assert len(rows) == 60
    assert rows[0]["minute"] == NOW - timedelta(minutes=59) and rows[-1]["minute"] == NOW
    counts = {row["minute"]: row["orders"] for row in rows if row["orders"]}
    assert counts == {
        NOW - timedelta(minutes=1): 1,
        NOW - timedelta(minutes=3): 2,
        NOW - timedelta(minutes=10): 1,
        NOW - timedelta(minutes=59): 1,  # e, in the first of the 60 minutes (the last is the current one)
    }


def test_status_funnel_follows_the_lifecycle_and_keeps_unknown_statuses(warehouse):
    _insert(warehouse, "orders", [_order("g", "lost_in_space", NOW, NOW)])
    rows = _read(warehouse, queries.status_funnel)
    assert [row["order_status"] for row in rows] == [*queries.RULES.order_statuses, "lost_in_space"]
    assert {row["order_status"]: row["orders"] for row in rows if row["orders"]} == {
        "created": 1, "shipped": 1, "delivered": 2, "canceled": 1, "unavailable": 1, "lost_in_space": 1,
    }  # fmt: skip


def test_live_orders_are_the_latest_written_with_their_totals(warehouse):
    rows = _read(warehouse, queries.live_orders, limit=3)
    assert [(row["order_id"], row["total"]) for row in rows] == [
        ("a", Decimal("131.75")),
        ("b", Decimal("55.00")),
        ("c", Decimal("77.00")),
    ]
    assert rows[1]["customer_state"] == "RJ" and rows[1]["order_status"] == "shipped"
    assert rows[0]["purchased_at"] == ORDERS[0]["order_purchase_timestamp"]


def test_revenue_by_state_counts_sales_only(warehouse):
    rows = _read(warehouse, queries.revenue_by_state)
    assert [(r["customer_state"], r["sales"], r["revenue"]) for r in rows] == [
        ("SP", 2, Decimal("208.75")),
        ("RJ", 1, Decimal("55.00")),
        ("MG", 1, Decimal("0")),
    ]


def test_top_categories_prefer_the_english_name(warehouse):
    rows = _read(warehouse, queries.top_categories)
    assert [(r["category"], r["items"], r["revenue"]) for r in rows] == [
        ("toys", 2, Decimal("165.50")),
        ("(unknown)", 1, Decimal("77.00")),
        ("pc_gamer", 1, Decimal("21.25")),
    ]
    _drop(warehouse, "product_category_name_translation", "products")
    assert [r["category"] for r in _read(warehouse, queries.top_categories)] == ["(unknown)"]


def test_dead_letters_by_reason_in_the_window_and_in_total(warehouse):
    assert _read(warehouse, queries.dead_letters_by_reason, NOW) == [
        {"error_stage": "parse", "error_kind": "invalid_json", "recent": 1, "total": 2},
        {"error_stage": "schema", "error_kind": "schema_violation", "recent": 1, "total": 1},
    ]


def test_ingest_lag(warehouse):
    _insert(
        warehouse,
        "orders",
        [_order("slow", "created", NOW, NOW - timedelta(minutes=3), event_time=NOW - timedelta(minutes=4))],
    )
    lag = _read(warehouse, queries.ingest_lag, NOW)
    assert lag["last_ingested_at"] == NOW - timedelta(minutes=1)
    assert lag["seconds_since_last_ingest"] == 60
    by_minute = {row["minute"]: (row["avg_lag_seconds"], row["orders"]) for row in lag["per_minute"]}
    assert by_minute[NOW - timedelta(minutes=3)] == (pytest.approx((2 + 2 + 60) / 3), 3)
    assert by_minute[NOW - timedelta(minutes=1)] == (pytest.approx(2), 1)
    assert NOW - timedelta(hours=2) not in by_minute


def _metric(minute: datetime, metric: str, value: int, kind: str | None = None, writer: str = "w1") -> dict:
    return {"minute": minute, "metric": metric, "kind": kind, "value": value, "writer": writer, "written_at": minute}


def test_pipeline_throughput_is_none_without_metrics(warehouse):
    assert _read(warehouse, queries.pipeline_throughput, NOW) is None  # the table exists, empty
    _drop(warehouse, "pipeline_metrics")
    assert _read(warehouse, queries.pipeline_throughput, NOW) is None


def test_pipeline_throughput_sums_rows_of_every_writer(warehouse):
    minute = NOW - timedelta(minutes=2)
    _insert(
        warehouse,
        "pipeline_metrics",
        [
            _metric(minute, "valid", 10),
            _metric(minute, "valid", 5, writer="w2"),  # a parallel sink
            _metric(minute, "valid", 1),  # the next flush of the same sink
            _metric(minute, "applied", 12),
            _metric(minute, "dead_lettered", 2, kind="parse/invalid_json"),
            _metric(minute, "dead_lettered", 1, kind="schema/schema_violation", writer="w2"),
            _metric(minute, "commit_latency_ms", 90, kind="50"),
            _metric(minute, "commit_latency_ms", 8, kind="250"),
            _metric(minute, "commit_latency_ms", 2, kind="+Inf"),
            _metric(NOW - timedelta(hours=2), "valid", 1000),  # outside the window
        ],
    )
    throughput = _read(warehouse, queries.pipeline_throughput, NOW)
    assert throughput.totals == {"valid": 16, "applied": 12, "dead_lettered": 3}
    assert throughput.per_minute == [
        {"minute": minute, "metric": "applied", "value": 12},
        {"minute": minute, "metric": "dead_lettered", "value": 3},
        {"minute": minute, "metric": "valid", "value": 16},
    ]
    assert throughput.latency_buckets == [(50.0, 90), (250.0, 8), (float("inf"), 2)]
    assert throughput.latency_percentiles() == {50: 50.0, 95: 250.0, 99: float("inf")}
    assert throughput.last_written_at == minute


def test_the_metric_names_are_the_pipelines():
    assert set(queries.THROUGHPUT_METRICS) == {
        pipeline_metrics.VALID,
        *pipeline_metrics.OUTCOMES,
        pipeline_metrics.DEAD_LETTERED,
    }
    assert queries.COMMIT_LATENCY_METRIC == pipeline_metrics.COMMIT_LATENCY_MS
    assert [queries.latency_bound(kind) for kind in pipeline_metrics.LATENCY_BUCKET_KINDS][-2:] == [60000, float("inf")]


def test_histogram_percentiles():
    assert queries.histogram_percentiles([]) == {}
    assert queries.histogram_percentiles([(10.0, 1)], (50, 99)) == {50: 10.0, 99: 10.0}
    assert queries.histogram_percentiles([(100.0, 50), (10.0, 50)], (50, 51)) == {50: 10.0, 51: 100.0}


def test_read_dashboard_reads_everything_in_one_connection(warehouse):
    data = _read(warehouse, queries.read_dashboard, NOW)
    assert data.as_of == NOW - timedelta(minutes=1)  # the newest write: order a and a dead letter, same instant
    assert data.headline["orders"] == 6 and data.revenue_today["revenue"] == Decimal("186.75")
    assert data.throughput is None


def test_read_dashboard_says_which_tables_are_missing(tmp_path):
    path = tmp_path / "empty.duckdb"
    with connect(path) as connection:
        connection.execute("CREATE SCHEMA orders_rt")
    with pytest.raises(LookupError, match="no order_events_dead_letter, order_items, orders table yet"):
        _read(path, queries.read_dashboard, NOW)


def test_marts_daily_revenue(tmp_path):
    path = tmp_path / "warehouse_analytics.duckdb"
    with connect(path) as connection:
        connection.execute("CREATE SCHEMA analytics")
    assert _read(path, queries.marts_daily_revenue) is None
    with connect(path) as connection:
        connection.execute(
            "CREATE TABLE analytics.kpi_revenue_daily AS SELECT DATE '2026-11-20' + i::INTEGER AS date_day, "
            "i AS order_count, i * 10.5 AS revenue FROM range(3) t(i)"
        )
    rows = _read(path, queries.marts_daily_revenue, days=2)
    assert [(row["date_day"].isoformat(), row["order_count"]) for row in rows] == [("2026-11-21", 1), ("2026-11-22", 2)]


HOLD_LOCK = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])  # read-write: no other process may open the file meanwhile
print("locked", flush=True)
sys.stdin.readline()
connection.close()
"""


def test_the_reader_keeps_the_last_good_figures_while_a_writer_holds_the_file(warehouse, tmp_path):
    reader = WarehouseReader(warehouse, tmp_path / "no_analytics.duckdb", lock_timeout=0.2)
    first = reader.refresh(min_interval=0)
    assert first.problem is None and first.data.headline["orders"] == 6 and first.marts is None
    assert reader.refresh(min_interval=60) is first  # within the interval: shared, no new read

    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(warehouse)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        busy = reader.refresh(min_interval=0)
        assert busy.busy and busy.problem == "warehouse busy"
        assert busy.data is first.data and busy.read_at == first.read_at  # the last good figures, and their time
    finally:
        writer.communicate("release\n", timeout=30)
    _insert(warehouse, "orders", [_order("new", "created", NOW, NOW)])
    fresh = reader.refresh(min_interval=0)
    assert not fresh.busy and fresh.problem is None and fresh.data.headline["orders"] == 7


def test_the_reader_says_when_there_is_no_warehouse_yet(tmp_path):
    reading = WarehouseReader(tmp_path / "none.duckdb", tmp_path / "none_analytics.duckdb", 0.2).refresh(0)
    assert reading.data is None and "no warehouse at" in reading.problem
