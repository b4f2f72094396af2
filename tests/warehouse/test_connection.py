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
