"""The test oracle: each order's newest valid snapshot, folded from raw event bodies with plain Python.

It shares no code with the pipeline (no validation library, no row builder, no SQL), so a bug there cannot
hide itself here. Which messages are valid comes from the publisher's own record of what it corrupted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb

ORDER_TIMESTAMPS = (
    "order_purchase_timestamp",
    "order_approved_at",
    "order_delivered_carrier_date",
    "order_delivered_customer_date",
    "order_estimated_delivery_date",
)
ORDERS_COLUMNS = (
    "order_id",
    "customer_id",
    "order_status",
    *ORDER_TIMESTAMPS,
    "customer_unique_id",
    "customer_zip_code_prefix",
    "customer_city",
    "customer_state",
    "_sequence",
    "_event_id",
)
ITEMS_COLUMNS = (
    "order_id",
    "order_item_id",
    "product_id",
    "seller_id",
    "shipping_limit_date",
    "price",
    "freight_value",
    "_sequence",
    "_event_id",
)
PAYMENTS_COLUMNS = (
    "order_id",
    "payment_sequential",
    "payment_type",
    "payment_installments",
    "payment_value",
    "_sequence",
    "_event_id",
)


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    # Z spelled as +00:00: Python 3.10's fromisoformat does not take Z.
    return datetime.fromisoformat(text.upper().replace(" ", "T").replace("Z", "+00:00")).astimezone(timezone.utc)


def fold_latest(bodies: Iterable[bytes]) -> dict[str, dict]:
    """Newest snapshot per order (highest sequence; the first seen wins a tie)."""
    latest: dict[str, dict] = {}
    for body in bodies:
        event = json.loads(body)
        order_id = event["order"]["order_id"]
        if order_id not in latest or event["sequence"] > latest[order_id]["sequence"]:
            latest[order_id] = event
    return latest


def expected_tables(latest: dict[str, dict]) -> dict[str, set[tuple]]:
    orders, items, payments = set(), set(), set()
    for order_id, event in latest.items():
        order, customer = event["order"], event["customer"]
        lineage = (event["sequence"], event["event_id"])
        orders.add(
            (
                order_id,
                order["customer_id"],
                order["order_status"],
                *(_instant(order[name]) for name in ORDER_TIMESTAMPS),
                customer["customer_unique_id"],
                customer["customer_zip_code_prefix"],
                customer["customer_city"],
                customer["customer_state"],
                *lineage,
            )
        )
        for item in event["items"]:
            items.add(
                (
                    order_id,
                    item["order_item_id"],
                    item["product_id"],
                    item["seller_id"],
                    _instant(item["shipping_limit_date"]),
                    Decimal(str(item["price"])),
                    Decimal(str(item["freight_value"])),
                    *lineage,
                )
            )
        for payment in event["payments"]:
            payments.add(
                (
                    order_id,
                    payment["payment_sequential"],
                    payment["payment_type"],
                    payment["payment_installments"],
                    Decimal(str(payment["payment_value"])),
                    *lineage,
                )
            )
    return {"orders": orders, "order_items": items, "order_payments": payments}


def warehouse_tables(path: str | Path, schema: str = "orders_rt") -> dict[str, set[tuple]]:
    """The same columns read back from a DuckDB warehouse file (read-only)."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        tables = {}
        for name, columns in (
            ("orders", ORDERS_COLUMNS),
            ("order_items", ITEMS_COLUMNS),
            ("order_payments", PAYMENTS_COLUMNS),
        ):
            rows = connection.execute(f"SELECT {', '.join(columns)} FROM {schema}.{name}").fetchall()
            tables[name] = set(rows)
            assert len(tables[name]) == len(rows), f"duplicate rows in {name}"
        return tables
    finally:
        connection.close()


def full_tables(path: str | Path, schema: str = "orders_rt") -> dict[str, list[tuple]]:
    """Every column of the three upserted tables, sorted: for comparing two warehouses exactly."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return {
            name: sorted(
                connection.execute(f"SELECT * EXCLUDE (_ingested_at) FROM {schema}.{name}").fetchall(), key=repr
            )
            for name in ("orders", "order_items", "order_payments")
        }
    finally:
        connection.close()


def dead_letter_rows(path: str | Path, schema: str = "orders_rt") -> list[tuple]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(
            f"SELECT payload_bytes, error_stage, error_kind, error_message, error_path "
            f"FROM {schema}.order_events_dead_letter"
        ).fetchall()
    finally:
        connection.close()
