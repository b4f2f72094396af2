"""The real Olist sample end to end: replayed by the publisher (JSONL), backfilled by the pipeline, the reference
data loaded, dbt built; the marts equal figures computed here straight from the CSVs (plain Python, São Paulo
calendar via zoneinfo), to the cent."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
EXITS = {"canceled", "unavailable"}
CENT = Decimal("0.01")


def _csv(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _local_date(text: str) -> date:
    """Olist's wall-clock text is already São Paulo time: its date is the local date."""
    return datetime.fromisoformat(text).date()


def _oracle(directory: Path) -> dict[str, dict]:
    orders = {row["order_id"]: row for row in _csv(directory, "olist_orders_dataset.csv")}
    customers = {row["customer_id"]: row for row in _csv(directory, "olist_customers_dataset.csv")}
    items = defaultdict(list)
    for row in _csv(directory, "olist_order_items_dataset.csv"):
        items[row["order_id"]].append(row)
    payments = defaultdict(list)
    for row in _csv(directory, "olist_order_payments_dataset.csv"):
        payments[row["order_id"]].append(row)

    def value(order_id: str) -> Decimal:
        return sum((Decimal(i["price"]) + Decimal(i["freight_value"]) for i in items[order_id]), Decimal(0))

    sales = [o for o in orders.values() if o["order_status"] not in EXITS]
    revenue_by_month: dict[date, Decimal] = defaultdict(Decimal)
    revenue_by_state: dict[str, Decimal] = defaultdict(Decimal)
    orders_by_state: Counter = Counter()
    for order in sales:
        revenue_by_month[_local_date(order["order_purchase_timestamp"]).replace(day=1)] += value(order["order_id"])
        state = customers[order["customer_id"]]["customer_state"]
        revenue_by_state[state] += value(order["order_id"])
        orders_by_state[state] += 1
    delivered_by_seller: Counter = Counter()
    late_by_seller: Counter = Counter()
    for order in orders.values():
        if not order["order_delivered_customer_date"]:
            continue
        late = _local_date(order["order_delivered_customer_date"]) > _local_date(order["order_estimated_delivery_date"])
        for seller in {i["seller_id"] for i in items[order["order_id"]]}:
            delivered_by_seller[seller] += 1
            late_by_seller[seller] += late
    return {
        "status": Counter(o["order_status"] for o in orders.values()),
        "totals": (
            sum((Decimal(i["price"]) for rows in items.values() for i in rows), Decimal(0)),
            sum((Decimal(i["freight_value"]) for rows in items.values() for i in rows), Decimal(0)),
            sum((Decimal(p["payment_value"]) for rows in payments.values() for p in rows), Decimal(0)),
        ),
        "revenue_by_month": {month: total for month, total in revenue_by_month.items() if total},
        "by_state": {s: (orders_by_state[s], revenue_by_state[s]) for s in orders_by_state},
        "sellers": {s: (delivered_by_seller[s], late_by_seller[s]) for s in delivered_by_seller},
    }


def _run(*args: str) -> None:
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def _schema_of(connection, table: str) -> str:
    return connection.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchone()[0]


def test_marts_reconcile_with_the_real_csvs_to_the_cent(olist_dir, tmp_path):
    events, warehouse = tmp_path / "olist.jsonl", tmp_path / "olist.duckdb"
    _run("-m", "publishers", "--replay-olist", str(olist_dir), "--output", str(events))
    _run("streaming_job.py", "--input_files", str(events), "--duckdb_path", str(warehouse))
    _run("-m", "warehouse.reference", "--olist-dir", str(olist_dir), "--duckdb-path", str(warehouse))
    _run("-m", "warehouse.dbt_runner", "build", "--duckdb-path", str(warehouse))
    expected = _oracle(olist_dir)

    with duckdb.connect(str(tmp_path / "olist_analytics.duckdb"), read_only=True) as connection:
        schema = _schema_of(connection, "fct_orders")

        def rows(sql: str) -> list[tuple]:
            return connection.execute(sql.format(s=schema)).fetchall()

        status = Counter(dict(rows("SELECT order_status, count(*) FROM {s}.fct_orders GROUP BY 1")))
        totals = rows("SELECT sum(items_value), sum(freight_value), sum(payment_total) FROM {s}.fct_orders")[0]
        by_month = dict(rows("SELECT month_start, revenue FROM {s}.kpi_revenue_monthly WHERE revenue <> 0"))
        by_state = {
            state: (count, revenue)
            for state, count, revenue in rows(
                "SELECT customer_state, order_count, revenue FROM {s}.kpi_orders_by_state"
            )
        }
        sellers = {
            seller: (delivered, round(late_rate * delivered))
            for seller, delivered, late_rate in rows(
                "SELECT seller_id, delivered_orders, late_rate FROM {s}.kpi_seller_delivery_times"
            )
        }
    assert status == expected["status"]
    assert tuple(Decimal(t).quantize(CENT) for t in totals) == tuple(t.quantize(CENT) for t in expected["totals"])
    assert {month: Decimal(revenue).quantize(CENT) for month, revenue in by_month.items()} == {
        month: total.quantize(CENT) for month, total in expected["revenue_by_month"].items()
    }
    assert {s: (n, Decimal(r).quantize(CENT)) for s, (n, r) in by_state.items()} == {
        s: (n, r.quantize(CENT)) for s, (n, r) in expected["by_state"].items()
    }
    assert sellers == expected["sellers"]
