"""One map from the BigQuery types of schemas/bigquery/ to every engine the project writes with.

BigQuery NUMERIC is DECIMAL(38, 9) everywhere (exact money); TIMESTAMP is an absolute instant: TIMESTAMPTZ in
DuckDB (sessions run in UTC) and a UTC timestamp in Arrow.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from schemas import Column, TableSchema

#: Legacy type names in schemas/bigquery -> the GoogleSQL names query parameters take.
_STANDARD = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
_DUCKDB = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "NUMERIC": "DECIMAL(38, 9)",
    "BOOL": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    "DATE": "DATE",
    "JSON": "JSON",
    "BYTES": "BLOB",
}


def standard_type(bigquery_type: str) -> str:
    """The GoogleSQL name of a schema file's type (INTEGER -> INT64)."""
    return _STANDARD.get(bigquery_type, bigquery_type)


def duckdb_column_type(column: Column) -> str:
    """A column's DuckDB type: RECORD is a STRUCT, REPEATED a list of it."""
    if column.fields:
        from warehouse.duckdb_schema import quote

        base = "STRUCT(" + ", ".join(f"{quote(f.name)} {duckdb_column_type(f)}" for f in column.fields) + ")"
    else:
        base = duckdb_type(column.type)
    return f"{base}[]" if column.repeated else base


def arrow_column_type(column: Column) -> Any:
    import pyarrow as pa

    if column.fields:
        base = pa.struct([pa.field(f.name, arrow_column_type(f), nullable=not f.required) for f in column.fields])
    else:
        base = arrow_type(column.type)
    return pa.list_(base) if column.repeated else base


def duckdb_type(bigquery_type: str) -> str:
    try:
        return _DUCKDB[standard_type(bigquery_type)]
    except KeyError:
        raise ValueError(f"no DuckDB type for BigQuery type {bigquery_type!r}") from None


def arrow_type(bigquery_type: str) -> Any:
    import pyarrow as pa

    types = {
        "STRING": pa.string(),
        "INT64": pa.int64(),
        "FLOAT64": pa.float64(),
        "NUMERIC": pa.decimal128(38, 9),
        "BOOL": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us", tz="UTC"),
        "DATE": pa.date32(),
        "JSON": pa.string(),
        "BYTES": pa.binary(),
    }
    try:
        return types[standard_type(bigquery_type)]
    except KeyError:
        raise ValueError(f"no Arrow type for BigQuery type {bigquery_type!r}") from None


@cache
def arrow_schema(table: TableSchema) -> Any:
    """The Arrow schema of batches of ``table``'s rows."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, arrow_column_type(c), nullable=not c.required) for c in table.columns])


def bigquery_field(column: Column) -> Any:
    from google.cloud import bigquery

    return bigquery.SchemaField(
        column.name,
        column.type,
        mode=column.mode,
        description=column.description,
        fields=[bigquery_field(f) for f in column.fields],
    )


def bigquery_schema(table: TableSchema) -> list[Any]:
    """google-cloud-bigquery SchemaFields of ``table``."""
    return [bigquery_field(c) for c in table.columns]
