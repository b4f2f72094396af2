"""Rows of BigQuery's changelog table (order_snapshots): one accepted snapshot per row, lines nested.

Schema: schemas/changelog.py. The same row goes to BigQuery as insertAll JSON (``json_row``) and, in the tests,
into DuckDB as Arrow (``schemas.types.arrow_schema``), so the compaction is checked on exactly what is sent.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from beam_pipelines.messages import SnapshotRows
from schemas.changelog import DEAD_LETTER_ID


def changelog_row(snapshot: SnapshotRows, ingested_at: datetime | None = None) -> dict[str, Any]:
    """The row of ``snapshot``; ``ingested_at`` replaces the ``_ingested_at`` of the order and its lines."""
    stamp = {} if ingested_at is None else {"_ingested_at": ingested_at}
    return {
        **snapshot.order,
        **stamp,
        "items": [{**item, **stamp} for item in snapshot.items],
        "payments": [{**payment, **stamp} for payment in snapshot.payments],
        DEAD_LETTER_ID: snapshot.message.dead_letter_id,
    }


def json_value(value: Any) -> Any:
    """A row value as BigQuery's insertAll JSON takes it: NUMERIC as text (exact), timestamps ISO 8601 with their
    offset, bytes base64, nested records and arrays recursively."""
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def json_row(snapshot: SnapshotRows, ingested_at: datetime | None = None) -> dict[str, Any]:
    return json_value(changelog_row(snapshot, ingested_at))
