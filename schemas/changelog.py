"""The changelog table's schema (schemas/bigquery/order_snapshots.json), generated from the three tables it feeds.

A changelog row is one accepted snapshot, whole: the ``orders`` row, its ``items`` and ``payments`` as
ARRAY<STRUCT> with the columns of ``order_items`` and ``order_payments``, and the message's ``_dead_letter_id``
(so that a conflict found at compaction is dead-lettered under the id the pipeline would have used). One row per
snapshot makes each append atomic: a reader never sees an order without its lines.

``python -m schemas.changelog --write`` rewrites the file; a unit test fails when it is out of date.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from schemas import (
    BIGQUERY_SCHEMA_DIR,
    CHANGELOG_TABLE,
    ORDER_ITEMS,
    ORDER_PAYMENTS,
    ORDERS,
    Column,
    table_schema,
)

#: Changelog column -> the table whose rows it nests.
LINE_COLUMNS = {"items": ORDER_ITEMS, "payments": ORDER_PAYMENTS}
DEAD_LETTER_ID = "_dead_letter_id"


def changelog_columns(existing: Sequence[str] = ()) -> list[Column]:
    """The changelog's columns: ``existing`` (the names in the current file) first and in their order, then any
    new ones. BigQuery adds columns to a table only at the end, so a column added to ``orders`` later (schema
    version 2's) comes after ``_dead_letter_id`` rather than among the orders columns."""
    columns = _generated_columns()
    by_name = {column.name: column for column in columns}
    dropped = [name for name in existing if name not in by_name]
    if dropped:
        raise ValueError(f"columns {dropped} left the changelog's sources; a column may be added, never removed")
    kept = [by_name[name] for name in existing]
    return kept + [column for column in columns if column.name not in set(existing)]


def _generated_columns() -> list[Column]:
    columns = list(table_schema(ORDERS).columns)
    for column, table in LINE_COLUMNS.items():
        columns.append(
            Column(
                column,
                "RECORD",
                "REPEATED",
                f"The snapshot's {table} rows (the columns of {table}).",
                table_schema(table).columns,
            )
        )
    columns.append(
        Column(
            DEAD_LETTER_ID,
            "STRING",
            "REQUIRED",
            "The message's dead_letter_id (pubsub:<message_id>:<hash>): a conflict found at compaction is "
            "dead-lettered under it.",
        )
    )
    return columns


def existing_columns(path: Path | None = None) -> list[str]:
    """The column names of the changelog file as it is (none when there is no file yet)."""
    path = path or BIGQUERY_SCHEMA_DIR / f"{CHANGELOG_TABLE}.json"
    return [field["name"] for field in json.loads(path.read_text(encoding="utf-8"))] if path.exists() else []


def render() -> str:
    columns = changelog_columns(existing_columns())
    return json.dumps([c.to_json() for c in columns], indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.changelog", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite schemas/bigquery/{CHANGELOG_TABLE}.json")
    args = parser.parse_args(argv)
    path = BIGQUERY_SCHEMA_DIR / f"{CHANGELOG_TABLE}.json"
    if args.write:
        path.write_text(render(), encoding="utf-8")
        print(f"wrote {path}")
    else:
        print(render(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
