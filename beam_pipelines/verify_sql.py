"""The verify command's warehouse lookups (see beam_pipelines/verify.py), for BigQuery and for DuckDB.

Four SELECTs, each batched over a chunk of the published file(s): the ids travel as array query parameters
(``ARRAY<STRING>``), never inside the SQL text, whose only interpolated parts are table and column names from
schemas/ and the dataset or schema the operator names (quoted; BigQuery's names are checked first, see
``bigquery_lookups``).

- BigQuery reads the exact current-state views (``orders_current``, ``order_items_current``,
  ``order_payments_current``: the compacted tables plus the changelog's tail, see sinks/compaction_sql.py),
  because the tables alone lag by up to one compaction. The dead letters are read from their table.
- DuckDB reads the tables, which the local sink upserts in place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from schemas import CURRENT_VIEWS, DEAD_LETTER_TABLE, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS

#: Names of the array parameters (each ARRAY<STRING>).
ORDER_IDS = "order_ids"
PAYLOAD_SHA256S = "payload_sha256s"
EVENT_IDS = "event_ids"

#: Columns each lookup returns, in order (the classification reads rows as tuples in this order).
ORDER_COLUMNS = ("order_id", "_sequence", "_event_id", "order_status", "customer_id")
ITEM_COLUMNS = (
    "order_id",
    "order_item_id",
    "product_id",
    "seller_id",
    "price",
    "freight_value",
    "_sequence",
    "_event_id",
)
PAYMENT_COLUMNS = (
    "order_id",
    "payment_sequential",
    "payment_type",
    "payment_installments",
    "payment_value",
    "_sequence",
    "_event_id",
)
DEAD_LETTER_COLUMNS = (
    "payload_sha256",
    "event_id",
    "error_stage",
    "error_kind",
    "error_message",
    "error_path",
    "dead_letter_id",
    "timestamp",
)
#: error_message is kept up to 16 KiB; the report needs its start only.
MESSAGE_CHARS = 500

#: BigQuery project ids (optionally domain-scoped, ``example.com:my-project``) and dataset names.
_PROJECT = re.compile(r"(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")


@dataclass(frozen=True)
class LookupDialect:
    """What differs between the engines: where each table is read, and how a column is tested against an array
    parameter."""

    name: str
    relation: Callable[[str], str]
    in_array: Callable[[str, str], str]


def bigquery_lookups(project: str, dataset: str) -> LookupDialect:
    """Named parameters (``@order_ids``); the upserted tables through their ``*_current`` views."""
    if not _PROJECT.fullmatch(project):
        raise ValueError(f"{project!r} is not a BigQuery project id")
    if not _DATASET.fullmatch(dataset):
        raise ValueError(f"{dataset!r} is not a BigQuery dataset name (letters, digits and underscores)")
    return LookupDialect(
        name="bigquery",
        relation=lambda table: f"`{project}.{dataset}.{CURRENT_VIEWS.get(table, table)}`",
        in_array=lambda column, parameter: f"{column} IN UNNEST(@{parameter})",
    )


def duckdb_lookups(schema: str) -> LookupDialect:
    """Named parameters (``$order_ids``, bound from a dict); the tables themselves."""
    from warehouse.duckdb_schema import quote

    return LookupDialect(
        name="duckdb",
        relation=lambda table: f"{quote(schema)}.{quote(table)}",
        # The cast types an empty list too (an untyped [] would not bind).
        in_array=lambda column, parameter: f"{column} IN (SELECT UNNEST(CAST(${parameter} AS VARCHAR[])))",
    )


class VerifySql:
    """The four lookups of one dialect, each with the names of the array parameters it binds."""

    def __init__(self, dialect: LookupDialect) -> None:
        self.d = dialect

    def _by_order(self, table: str, columns: tuple[str, ...]) -> str:
        return (
            f"SELECT {', '.join(columns)} FROM {self.d.relation(table)} WHERE {self.d.in_array('order_id', ORDER_IDS)}"
        )

    def orders(self) -> tuple[str, tuple[str, ...]]:
        """The stored version of each order: its row's sequence and event_id, and what the report compares."""
        return self._by_order(ORDERS, ORDER_COLUMNS), (ORDER_IDS,)

    def items(self) -> tuple[str, tuple[str, ...]]:
        return self._by_order(ORDER_ITEMS, ITEM_COLUMNS), (ORDER_IDS,)

    def payments(self) -> tuple[str, tuple[str, ...]]:
        return self._by_order(ORDER_PAYMENTS, PAYMENT_COLUMNS), (ORDER_IDS,)

    def dead_letters(self) -> tuple[str, tuple[str, ...]]:
        """Dead letters of the chunk's bodies (by the SHA-256 of the whole body) or of its event ids (the
        compaction's sequence_conflict rows carry no body hash; a line that lost its newlines has another)."""
        shortened = {"error_message": f"SUBSTR(error_message, 1, {MESSAGE_CHARS}) AS error_message"}
        columns = [shortened.get(column, column) for column in DEAD_LETTER_COLUMNS]
        sql = (
            f"SELECT {', '.join(columns)} FROM {self.d.relation(DEAD_LETTER_TABLE)} "
            f"WHERE {self.d.in_array('payload_sha256', PAYLOAD_SHA256S)} OR {self.d.in_array('event_id', EVENT_IDS)}"
        )
        return sql, (PAYLOAD_SHA256S, EVENT_IDS)
