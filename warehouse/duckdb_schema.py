"""DuckDB DDL generated from the BigQuery-format table schemas under schemas/bigquery/."""

from __future__ import annotations

import duckdb

from schemas import TableSchema, table_names, table_schema
from schemas.settings import DEFAULT_DATASET as DEFAULT_SCHEMA
from schemas.types import duckdb_column_type


def quote(identifier: str) -> str:
    """Quote a trusted identifier (a table or column name from schemas/, never message text)."""
    return '"' + identifier.replace('"', '""') + '"'


def create_table_sql(table: TableSchema, schema: str = DEFAULT_SCHEMA) -> str:
    lines = [f"  {quote(c.name)} {duckdb_column_type(c)}{' NOT NULL' if c.required else ''}" for c in table.columns]
    if table.primary_key:
        lines.append(f"  PRIMARY KEY ({', '.join(quote(k) for k in table.primary_key)})")
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table.name)} (\n{body}\n)"


def create_all_sql(schema: str = DEFAULT_SCHEMA) -> list[str]:
    """Statements that create the schema and every table, idempotently."""
    return [f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}"] + [
        create_table_sql(table_schema(name), schema) for name in table_names()
    ]


class MissingRequiredColumnError(RuntimeError):
    """A table lacks a REQUIRED column that schemas/ has: that cannot be added to rows that exist."""


def add_missing_columns(connection: duckdb.DuckDBPyConnection, schema: str = DEFAULT_SCHEMA) -> list[str]:
    """Add to the tables of ``schema`` (in the connection's current database) the nullable columns that a newer
    schemas/ has and an older file lacks, e.g. schema version 2's columns of ``orders``. Returns the columns added
    ("table.column"). Columns are only ever added, at the end, as BigQuery adds them (schemas/README.md)."""
    added = []
    for name in table_names():
        present = {
            row[0]
            for row in connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
                "AND table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()
        }
        for column in table_schema(name).columns:
            if column.name in present:
                continue
            if column.required:
                raise MissingRequiredColumnError(
                    f"{schema}.{name} lacks the required column {column.name} that schemas/ now has"
                )
            table = f"{quote(schema)}.{quote(name)}"
            connection.execute(f"ALTER TABLE {table} ADD COLUMN {quote(column.name)} {duckdb_column_type(column)}")
            added.append(f"{name}.{column.name}")
    return added
