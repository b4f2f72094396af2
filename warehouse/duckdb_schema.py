"""DuckDB DDL generated from the BigQuery-format table schemas under schemas/bigquery/."""

from __future__ import annotations

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
