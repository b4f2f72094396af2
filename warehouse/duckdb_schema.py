"""DuckDB DDL generated from the BigQuery-format table schemas under schemas/bigquery/."""

from __future__ import annotations

from functools import cache

from schemas import TableSchema, table_names, table_schema
from schemas.settings import DEFAULT_DATASET as DEFAULT_SCHEMA

# BigQuery NUMERIC is DECIMAL(38, 9); TIMESTAMP is an absolute instant, so TIMESTAMPTZ (sessions run in UTC).
_DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "INTEGER": "BIGINT",
    "FLOAT64": "DOUBLE",
    "FLOAT": "DOUBLE",
    "NUMERIC": "DECIMAL(38, 9)",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    "DATE": "DATE",
    "JSON": "JSON",
    "BYTES": "BLOB",
}


def duckdb_type(bigquery_type: str) -> str:
    try:
        return _DUCKDB_TYPES[bigquery_type]
    except KeyError:
        raise ValueError(f"no DuckDB type for BigQuery type {bigquery_type!r}") from None


def quote(identifier: str) -> str:
    """Quote a trusted identifier (a table or column name from schemas/, never message text)."""
    return '"' + identifier.replace('"', '""') + '"'


def create_table_sql(table: TableSchema, schema: str = DEFAULT_SCHEMA) -> str:
    lines = [f"  {quote(c.name)} {duckdb_type(c.type)}{' NOT NULL' if c.required else ''}" for c in table.columns]
    if table.primary_key:
        lines.append(f"  PRIMARY KEY ({', '.join(quote(k) for k in table.primary_key)})")
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table.name)} (\n{body}\n)"


def create_all_sql(schema: str = DEFAULT_SCHEMA) -> list[str]:
    """Statements that create the schema and every table, idempotently."""
    return [f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}"] + [
        create_table_sql(table_schema(name), schema) for name in table_names()
    ]


@cache
def arrow_schema(table: TableSchema):
    """The Arrow schema for batches of ``table``'s rows (NUMERIC stays exact as decimal128(38, 9))."""
    import pyarrow as pa

    types = {
        "STRING": pa.string(),
        "INT64": pa.int64(),
        "INTEGER": pa.int64(),
        "FLOAT64": pa.float64(),
        "FLOAT": pa.float64(),
        "NUMERIC": pa.decimal128(38, 9),
        "BOOL": pa.bool_(),
        "BOOLEAN": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),
        "DATE": pa.date32(),
        "JSON": pa.string(),
        "BYTES": pa.binary(),
    }
    return pa.schema([pa.field(c.name, types[c.type], nullable=not c.required) for c in table.columns])
