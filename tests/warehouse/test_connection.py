"""warehouse.connection: tables from schemas/, and files written by an older version of them."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from schemas import table_names, table_schema
from warehouse.connection import connect, ensure_tables
from warehouse.duckdb_schema import create_table_sql


def _columns(path, table: str) -> list[str]:
    with connect(path, read_only=True) as connection:
        rows = connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'orders_rt' "
            "AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    return [name for (name,) in rows]


def test_every_table_is_created_with_its_schema_columns(tmp_path):
    path = tmp_path / "w.duckdb"
    assert ensure_tables(path) == []
    for name in table_names():
        assert _columns(path, name) == list(table_schema(name).column_names)
    assert ensure_tables(path) == []  # idempotent


def test_an_older_file_gets_the_new_nullable_columns(tmp_path):
    path = tmp_path / "old.duckdb"
    dead_letter = table_schema("order_events_dead_letter")
    older = replace(dead_letter, columns=tuple(c for c in dead_letter.columns if c.name != "message_id"))
    with connect(path) as connection:
        connection.execute("CREATE SCHEMA orders_rt")
        connection.execute(create_table_sql(older))
    assert ensure_tables(path) == ["order_events_dead_letter.message_id"]
    assert "message_id" in _columns(path, "order_events_dead_letter")


def test_a_missing_required_column_is_a_clear_error(tmp_path):
    path = tmp_path / "older.duckdb"
    connection = duckdb.connect(str(path))
    connection.execute("CREATE SCHEMA orders_rt")
    connection.execute("CREATE TABLE orders_rt.order_events_dead_letter (timestamp TIMESTAMPTZ NOT NULL)")
    connection.close()
    with pytest.raises(RuntimeError, match="lacks the required column error_stage"):
        ensure_tables(path)


def test_a_warehouse_from_before_schema_version_2_gets_its_columns_at_the_end_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v1.duckdb"
    orders = table_schema("orders")
    version_1 = replace(orders, columns=tuple(c for c in orders.columns if "schema version 2" not in c.description))
    with connect(path) as connection:
        connection.execute("CREATE SCHEMA orders_rt")
        connection.execute(create_table_sql(version_1))
        connection.execute(
            "INSERT INTO orders_rt.orders (order_id, customer_id, order_status, order_purchase_timestamp, "
            "order_estimated_delivery_date, customer_unique_id, customer_zip_code_prefix, customer_city, "
            "customer_state, _event_type, _sequence, _event_id, _event_time, _ingested_at) VALUES ('o1', 'c1', "
            "'created', now(), now(), 'u1', '01000', 'sao paulo', 'SP', 'order_created', 1, 'e1', now(), now())"
        )
    added = ensure_tables(path)
    new = [c.name for c in orders.columns if c not in version_1.columns]
    assert "orders._schema_version" in added and [a.split(".", 1)[1] for a in added if a.startswith("orders.")] == new
    assert _columns(path, "orders") == list(orders.column_names)  # appended, in the schema file's order
    with connect(path, read_only=True) as connection:
        assert connection.execute("SELECT order_id, channel, _schema_version FROM orders_rt.orders").fetchall() == [
            ("o1", None, None)
        ]
