"""`dbt build --target local` on the session's warehouse, and the marts checked against the raw tables.

The Python checks recompute what they compare from the raw warehouse file with their own SQL, so a wrong
model cannot make them agree with itself.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from fixture_data import EDGE_ORDERS, OLIST_DST_ORDERS, OLIST_ZONE, DbtBuild, late_evening_purchase, run_dbt
from oracle import expected_tables, fold_latest, warehouse_tables

from schemas.validation import validate_payload

EXPECTED_UNIT_TESTS = {
    "test_same_product_twice_stays_two_lines",
    "test_payments_are_summed_per_order",
    "test_fct_orders_delivery_days_and_late_flag",
    "test_dim_customers_first_last_order_and_cohort_month",
    "test_dim_products_category_fallbacks",
    "test_kpi_orders_by_state_aov_and_frequency",
    "test_retention_cohort_months",
    "test_dead_letter_schema_version_is_cast_safely",
    "test_dead_letters_keep_the_earliest_copy_of_each_message",
    "test_sale_items_exclude_non_sales_and_keep_every_line",
    # reporting time zone: local days, months and hours across Brazil's daylight-saving changes
    "test_fct_orders_local_days_across_daylight_saving_changes",
    "test_peak_hours_are_sao_paulo_hours_across_daylight_saving_changes",
    "test_revenue_months_are_sao_paulo_months",
    "test_rt_hours_are_sao_paulo_clock_hours",
}
RECONCILIATION_TESTS = (
    "assert_fct_orders_revenue_matches_raw_items",
    "assert_fct_orders_payments_not_multiplied",
    "assert_fct_order_items_keep_every_raw_line",
)


def query(path: Path, sql: str) -> list[tuple]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def run_results(build: DbtBuild) -> list[dict]:
    return json.loads((build.target_dir / "run_results.json").read_text())["results"]


def test_dbt_build_passes(dbt_build: DbtBuild) -> None:
    assert dbt_build.exit_code == 0, f"dbt build failed; see {dbt_build.target_dir.parent / 'logs'}"
    assert dbt_build.analytics_path.is_file()


def test_every_node_ran_and_the_unit_tests_are_there(dbt_build: DbtBuild) -> None:
    results = run_results(dbt_build)
    failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass", "warn")]
    assert not failed
    unit_tests = {r["unique_id"].rsplit(".", 1)[-1] for r in results if r["unique_id"].startswith("unit_test.")}
    assert unit_tests >= EXPECTED_UNIT_TESTS
    ran = {r["unique_id"].rsplit(".", 1)[-1] for r in results}
    assert set(RECONCILIATION_TESTS) <= ran
    models = [r for r in results if r["unique_id"].startswith("model.")]
    assert len(models) >= 30


def test_edge_orders_reached_the_raw_tables_as_their_newest_snapshot(
    warehouse_path: Path, event_files: list[Path]
) -> None:
    """The pipeline kept each edge order's highest sequence (and only its lines), whatever the arrival order,
    so the edge-case assertions below are about the marts, not about what the backfill made of them."""
    (edge_file,) = (path for path in event_files if path.name == "edge.jsonl")
    expected = expected_tables(fold_latest(edge_file.read_bytes().splitlines()))
    assert {row[0] for row in expected["orders"]} == set(EDGE_ORDERS)
    actual = warehouse_tables(warehouse_path)
    for table, rows in expected.items():
        assert {row for row in actual[table] if row[0] in EDGE_ORDERS} == rows, table


def test_revenue_in_fct_orders_equals_raw_items_to_the_cent(dbt_build: DbtBuild) -> None:
    raw = dict(
        query(
            dbt_build.raw_path,
            "SELECT o.order_id, coalesce(sum(i.price + i.freight_value), 0) FROM orders_rt.orders o "
            "LEFT JOIN orders_rt.order_items i USING (order_id) GROUP BY o.order_id",
        )
    )
    fact = dict(query(dbt_build.analytics_path, "SELECT order_id, order_value FROM analytics.fct_orders"))
    assert fact.keys() == raw.keys()
    assert {k: round(Decimal(v), 2) for k, v in fact.items()} == {k: round(Decimal(v), 2) for k, v in raw.items()}
    assert round(sum(fact.values()), 2) == round(sum(raw.values()), 2)


def test_payments_are_not_multiplied_by_items(dbt_build: DbtBuild) -> None:
    (raw_total,) = query(dbt_build.raw_path, "SELECT sum(payment_value) FROM orders_rt.order_payments")[0]
    (fact_total,) = query(dbt_build.analytics_path, "SELECT sum(payment_total) FROM analytics.fct_orders")[0]
    assert round(fact_total, 2) == round(raw_total, 2)
    row = query(
        dbt_build.analytics_path,
        "SELECT item_count, payment_count, payment_total, order_value FROM analytics.fct_orders "
        "WHERE order_id = 'three_payments'",
    )
    assert row == [(2, 3, Decimal("165.80"), Decimal("165.80"))], EDGE_ORDERS["three_payments"]


def test_two_lines_of_the_same_product_stay_two_lines(dbt_build: DbtBuild) -> None:
    lines = query(
        dbt_build.analytics_path,
        "SELECT order_item_id, product_id, price FROM analytics.fct_order_items "
        "WHERE order_id = 'same_product_twice' ORDER BY order_item_id",
    )
    assert lines == [(1, "prod0005", Decimal("58.90")), (2, "prod0005", Decimal("58.90"))]
    (raw_lines,) = query(dbt_build.raw_path, "SELECT count(*) FROM orders_rt.order_items")[0]
    (fact_lines,) = query(dbt_build.analytics_path, "SELECT count(*) FROM analytics.fct_order_items")[0]
    assert fact_lines == raw_lines


def test_edge_orders_in_fct_orders(dbt_build: DbtBuild, start_time: datetime) -> None:
    rows = {
        order_id: rest
        for order_id, *rest in query(
            dbt_build.analytics_path,
            "SELECT order_id, order_status, item_count, order_value, is_late, delivery_days, is_sale, purchase_date "
            "FROM analytics.fct_orders "
            "WHERE order_id IN ('canceled_no_items', 'late_delivery', 'items_shrunk', 'late_evening')",
        )
    }
    assert rows["canceled_no_items"][:6] == ["canceled", 0, Decimal("0"), None, None, False]
    assert rows["late_delivery"][0] == "delivered"
    assert rows["late_delivery"][3:5] == [True, 13.5]
    assert rows["items_shrunk"][1:3] == [1, Decimal("33.00")]
    # Sao Paulo's day, not UTC's: bought the evening before (UTC) and delivered on the promised local day
    bought = late_evening_purchase(start_time)
    assert bought.astimezone(timezone.utc).date() != bought.date()
    assert rows["late_evening"][3:] == [False, 7.04, True, bought.date()], EDGE_ORDERS["late_evening"]


def test_marts_take_days_months_and_hours_on_the_sao_paulo_clock(dbt_build: DbtBuild) -> None:
    """Recomputed from the raw UTC instants with Python's zoneinfo (var reporting_timezone's default):
    purchase day and late flag of every order, revenue by month, orders by (ISO weekday, hour)."""
    raw = query(
        dbt_build.raw_path,
        "SELECT o.order_id, o.order_status, o.order_purchase_timestamp, o.order_delivered_customer_date, "
        "o.order_estimated_delivery_date, coalesce(sum(i.price + i.freight_value), 0) "
        "FROM orders_rt.orders o LEFT JOIN orders_rt.order_items i USING (order_id) GROUP BY ALL",
    )
    expected_days, monthly, hourly = {}, defaultdict(Decimal), Counter()
    for order_id, status, purchased, delivered, promised, value in raw:
        local = purchased.astimezone(OLIST_ZONE)
        late = (
            None
            if delivered is None
            else delivered.astimezone(OLIST_ZONE).date() > promised.astimezone(OLIST_ZONE).date()
        )
        expected_days[order_id] = (local.date(), late)
        if status not in ("canceled", "unavailable"):
            monthly[local.date().replace(day=1)] += value
            hourly[(local.isoweekday(), local.hour)] += 1
    # the data tell local days from UTC days: some purchases fall on another day in Sao Paulo than in UTC
    shifted = [row[0] for row in raw if expected_days[row[0]][0] != row[2].astimezone(timezone.utc).date()]
    assert shifted

    fact = query(dbt_build.analytics_path, "SELECT order_id, purchase_date, is_late FROM analytics.fct_orders")
    assert {order_id: (day, late) for order_id, day, late in fact} == expected_days
    months = query(dbt_build.analytics_path, "SELECT month_start, revenue FROM analytics.kpi_revenue_monthly")
    assert {month: revenue for month, revenue in months if revenue} == {m: v for m, v in monthly.items() if v}
    hours = query(
        dbt_build.analytics_path,
        "SELECT iso_day_of_week, hour_of_day, order_count FROM analytics.kpi_revenue_peak_hours",
    )
    assert {(day, hour): count for day, hour, count in hours} == dict(hourly)


def test_replayed_olist_orders_keep_the_days_olist_wrote(dbt_build: DbtBuild) -> None:
    """Olist writes Sao Paulo wall-clock text; the replay stores UTC instants (daylight saving time included)
    and the marts give the written days back: purchase_date is the date Olist wrote, late compares the written
    dates, a month is the written month. The oracle is the text itself, no time-zone arithmetic."""
    facts = query(
        dbt_build.analytics_path,
        "SELECT order_id, purchase_date, is_late, order_value FROM analytics.fct_orders "
        f"WHERE order_id IN ({', '.join(repr(order_id) for order_id in OLIST_DST_ORDERS)})",
    )
    assert {order_id: (day, late) for order_id, day, late, _ in facts} == {
        order_id: (date.fromisoformat(order.purchased[:10]), order.delivered[:10] > order.estimated[:10])
        for order_id, order in OLIST_DST_ORDERS.items()
    }
    # nothing else was bought in 2017-2018 (the publisher's history is the last 400 days)
    written_months = Counter(order.purchased[:7] for order in OLIST_DST_ORDERS.values())
    months = query(
        dbt_build.analytics_path,
        "SELECT strftime(month_start, '%Y-%m'), order_count, revenue FROM analytics.kpi_revenue_monthly "
        "WHERE month_start < DATE '2019-01-01' AND order_count > 0",
    )
    assert {month: (count, revenue) for month, count, revenue in months} == {
        month: (count, count * Decimal("25.00")) for month, count in written_months.items()
    }


def test_dimensions_cover_catalog_quirks(dbt_build: DbtBuild) -> None:
    categories = dict(
        query(
            dbt_build.analytics_path,
            "SELECT product_id, category_name FROM analytics.dim_products "
            "WHERE product_id IN ('prod0000', 'prod0003', 'prod0001', 'prod9999')",
        )
    )
    assert categories == {
        "prod0000": "uncategorized",
        "prod0001": "sports_leisure",
        "prod0003": "pc_gamer",
        "prod9999": "unknown",
    }
    zips = query(
        dbt_build.analytics_path,
        "SELECT DISTINCT length(seller_zip_code_prefix) FROM analytics.dim_sellers WHERE is_in_catalog",
    )
    assert zips == [(5,)]
    (customers,) = query(dbt_build.raw_path, "SELECT count(DISTINCT customer_unique_id) FROM orders_rt.orders")[0]
    (dim_rows,) = query(dbt_build.analytics_path, "SELECT count(*) FROM analytics.dim_customers")[0]
    assert dim_rows == customers


def test_realtime_views_read_the_last_hours(dbt_build: DbtBuild, event_files: list[Path]) -> None:
    (recent_orders,) = query(
        dbt_build.raw_path,
        "SELECT count(*) FROM orders_rt.orders WHERE order_purchase_timestamp >= now() - INTERVAL 24 HOUR",
    )[0]
    (hourly_orders,) = query(
        dbt_build.analytics_path,
        "SELECT coalesce(sum(order_count), 0) FROM analytics.rt_sales_last_24h_by_hour",
    )[0]
    assert recent_orders > 0
    assert hourly_orders == recent_orders
    (open_recent,) = query(
        dbt_build.analytics_path, "SELECT is_open FROM analytics.rt_live_orders WHERE order_id = 'open_recent'"
    )
    assert open_recent == (True,), EDGE_ORDERS["open_recent"]
    # every message that fails the contract was dead-lettered by the backfill run minutes ago
    invalid = sum(not validate_payload(line).ok for path in event_files for line in path.read_bytes().splitlines())
    (raw_dead_letters,) = query(
        dbt_build.raw_path,
        "SELECT count(*) FROM orders_rt.order_events_dead_letter WHERE timestamp >= now() - INTERVAL 60 MINUTE",
    )[0]
    (dead_letters,) = query(dbt_build.analytics_path, "SELECT sum(dead_letters) FROM analytics.rt_pipeline_health")[0]
    assert invalid > 0
    assert dead_letters == raw_dead_letters == invalid
    statuses = query(dbt_build.analytics_path, "SELECT count(*) FROM analytics.rt_order_status_funnel")
    assert statuses == [(8,)]


@pytest.mark.parametrize(
    ("test_name", "tampering"),
    [
        (
            "assert_fct_orders_revenue_matches_raw_items",
            "UPDATE analytics.fct_orders SET order_value = order_value + 0.01 WHERE order_id = 'late_delivery'",
        ),
        (
            "assert_fct_orders_payments_not_multiplied",
            "UPDATE analytics.fct_orders SET payment_total = payment_total * item_count "
            "WHERE order_id = 'three_payments'",
        ),
        (
            "assert_fct_order_items_keep_every_raw_line",
            "DELETE FROM analytics.fct_order_items WHERE order_id = 'same_product_twice' AND order_item_id = 2",
        ),
    ],
)
def test_reconciliation_tests_catch_a_wrong_mart(
    dbt_build: DbtBuild, tmp_path: Path, test_name: str, tampering: str
) -> None:
    # Same file name as the published one: DuckDB names the catalog after the file.
    tampered = tmp_path / dbt_build.analytics_path.name
    shutil.copyfile(dbt_build.analytics_path, tampered)
    connection = duckdb.connect(str(tampered))
    connection.execute(tampering)
    connection.close()
    exit_code = run_dbt(
        "test",
        "--select",
        test_name,
        raw_path=dbt_build.raw_path,
        analytics_path=tampered,
        artifacts=tmp_path,
    )
    assert exit_code == 1


def test_docs_generate(dbt_build: DbtBuild, tmp_path: Path) -> None:
    exit_code = run_dbt(
        "docs",
        "generate",
        raw_path=dbt_build.raw_path,
        analytics_path=dbt_build.analytics_path,
        artifacts=tmp_path,
    )
    assert exit_code == 0
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    assert "model.olist_orders.fct_orders" in catalog["nodes"]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    without_grain = [m["name"] for m in models if "grain" not in m["description"].lower()]
    assert not without_grain


def test_source_freshness_of_streaming_tables(dbt_build: DbtBuild, tmp_path: Path) -> None:
    exit_code = run_dbt(
        "source",
        "freshness",
        raw_path=dbt_build.raw_path,
        analytics_path=tmp_path / "freshness_analytics.duckdb",
        artifacts=tmp_path,
    )
    assert exit_code == 0
    sources = json.loads((tmp_path / "target" / "sources.json").read_text())["results"]
    checked = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in sources}
    assert checked == {"orders": "pass", "order_items": "pass", "order_payments": "pass"}


def test_copies_of_one_dead_letter_count_once(dbt_build: DbtBuild, tmp_path: Path) -> None:
    """BigQuery's streaming-insert dedup is best effort: two rows of one failed message (same dead_letter_id)
    are one dead letter in staging, with the earlier timestamp; the pipeline-health counts do not move."""
    raw = tmp_path / "warehouse.duckdb"
    shutil.copyfile(dbt_build.raw_path, raw)
    connection = duckdb.connect(str(raw))
    (raw_before,) = connection.execute(
        "SELECT count(*) FROM orders_rt.order_events_dead_letter WHERE timestamp >= now() - INTERVAL 60 MINUTE"
    ).fetchone()
    # the later copy is inserted first: the earliest row must win whatever the insert order
    copy = (
        "INSERT INTO orders_rt.order_events_dead_letter "
        "SELECT * REPLACE ('sha256:copied' AS dead_letter_id, now() - INTERVAL {minutes} MINUTE AS timestamp) "
        "FROM orders_rt.order_events_dead_letter ORDER BY timestamp LIMIT 1"
    )
    connection.execute(copy.format(minutes=1))
    connection.execute(copy.format(minutes=2))
    (earliest,) = connection.execute(
        "SELECT min(timestamp) FROM orders_rt.order_events_dead_letter WHERE dead_letter_id = 'sha256:copied'"
    ).fetchone()
    connection.close()
    # the last published build is the base of a partial build: rt_pipeline_health finds its other parents
    analytics = tmp_path / dbt_build.analytics_path.name
    shutil.copyfile(dbt_build.analytics_path, analytics)
    exit_code = run_dbt(
        "build",
        "--select",
        "stg_orders_rt__dead_letters",
        "rt_pipeline_health",
        raw_path=raw,
        analytics_path=analytics,
        artifacts=tmp_path,
    )
    assert exit_code == 0  # the unique test on dead_letter_id passes although the raw table has the id twice
    copies = query(
        analytics,
        "SELECT dead_lettered_at FROM analytics.stg_orders_rt__dead_letters WHERE dead_letter_id = 'sha256:copied'",
    )
    assert copies == [(earliest,)]
    # rt_pipeline_health counts what the pipeline stored (pipeline_metrics), not rows of the dead-letter table
    (dead_letters,) = query(analytics, "SELECT sum(dead_letters) FROM analytics.rt_pipeline_health")[0]
    assert dead_letters == raw_before


@pytest.mark.parametrize(
    ("model", "tampering"),
    [
        (
            "kpi_product_sales_monthly",
            "INSERT INTO analytics.kpi_product_sales_monthly SELECT * FROM analytics.kpi_product_sales_monthly LIMIT 1",
        ),
        (
            "kpi_orders_by_city",
            "UPDATE analytics.kpi_orders_by_city SET customer_city = NULL "
            "WHERE customer_city = (SELECT min(customer_city) FROM analytics.kpi_orders_by_city)",
        ),
    ],
    ids=["repeated_key", "null_in_key"],
)
def test_primary_key_test_catches_a_repeated_or_missing_key(
    dbt_build: DbtBuild, tmp_path: Path, model: str, tampering: str
) -> None:
    """The composite-key test of the KPI models (tests/generic/primary_key.sql) fails on a key that repeats and
    on a key with a NULL part, which a plain GROUP BY uniqueness check would let through."""
    tampered = tmp_path / dbt_build.analytics_path.name
    shutil.copyfile(dbt_build.analytics_path, tampered)
    connection = duckdb.connect(str(tampered))
    connection.execute(tampering)
    connection.close()
    run_dbt(
        "test",
        "--select",
        f"{model},test_name:primary_key",
        raw_path=dbt_build.raw_path,
        analytics_path=tampered,
        artifacts=tmp_path,
    )
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    ((unique_id, status),) = [(result["unique_id"], result["status"]) for result in results]
    assert unique_id.startswith(f"test.olist_orders.primary_key_{model}_")
    assert status == "fail"


def test_not_null_columns_test_names_each_column_with_nulls(dbt_build: DbtBuild, tmp_path: Path) -> None:
    """One test node checks a model's not-null columns (tests/generic/not_null_columns.sql): it fails on a NULL
    in any of them, and its failing rows name each column that has NULLs, with their count."""
    tampered = tmp_path / dbt_build.analytics_path.name
    shutil.copyfile(dbt_build.analytics_path, tampered)
    connection = duckdb.connect(str(tampered))
    (orders,) = connection.execute("SELECT count(*) FROM analytics.fct_orders").fetchone()
    connection.execute(
        "UPDATE analytics.fct_orders SET order_value = NULL "
        "WHERE order_id = (SELECT min(order_id) FROM analytics.fct_orders)"
    )
    connection.execute("UPDATE analytics.fct_orders SET schema_version = NULL")
    connection.close()
    run_dbt(
        "test",
        "--select",
        "fct_orders,test_name:not_null_columns",
        "--store-failures",
        raw_path=dbt_build.raw_path,
        analytics_path=tampered,
        artifacts=tmp_path,
    )
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    ((unique_id, status, failures),) = [(r["unique_id"], r["status"], r["failures"]) for r in results]
    assert unique_id.startswith("test.olist_orders.not_null_columns_fct_orders_")
    assert (status, failures) == ("fail", 2)
    (relation,) = query(
        tampered,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_name LIKE 'not_null_columns_fct_orders%'",
    )[0]
    assert sorted(query(tampered, f"SELECT column_name, null_rows FROM {relation}")) == [
        ("order_value", 1),
        ("schema_version", orders),
    ]
