"""Rows (dicts keyed by column name) -> an Arrow table with the Arrow schema of one of schemas/ tables.

The result is what ``pa.Table.from_pylist(rows, schema=...)`` gives (tests/beam_pipelines/test_arrow_rows.py
compares them), in about half its time on a sink flush (bench.upsert_flush, which alternates the two), from two
changes:

- the rows are read once each (``operator.itemgetter``, then ``zip``) instead of once per column: the dicts of a
  batch lie scattered in memory, and reading them was the largest part of the conversion;
- a timestamp column goes through each value's distance from the epoch (a ``timedelta`` -> ``duration[us]``,
  seen as ``timestamp[us, UTC]``): Arrow asks every timezone-aware ``datetime`` for its ``utcoffset()``, a Python
  call that cost 2-3x the subtraction. The instant is the same whatever the value's offset (exactly, even for an
  offset with a fraction of a second, which no RFC 3339 text has and Arrow would cut to whole seconds). A column
  with a naive ``datetime`` (an aware one cannot be subtracted from it) or any other value is left to Arrow.

Other columns are converted by ``pa.array`` with the column's type, as ``from_pylist`` does (Decimals included:
Arrow's own conversion was the fastest measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

import pyarrow as pa

from schemas import table_schema
from schemas.types import arrow_schema

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INSTANT = pa.timestamp("us", tz="UTC")
_MICROSECONDS = pa.duration("us")


def arrow_batch(table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """``rows`` of ``table`` as an Arrow table; a column a row leaves out is null in it, keys not in the schema
    are ignored (as with ``from_pylist``)."""
    schema = arrow_schema(table_schema(table))
    columns = _columns(schema.names, rows)
    return pa.Table.from_arrays([_array(c, t) for c, t in zip(columns, schema.types, strict=True)], schema=schema)


def _columns(names: list[str], rows: Sequence[Mapping[str, Any]]) -> list[Sequence[Any]]:
    if rows and len(names) > 1:  # itemgetter of one name gives the value, not a tuple
        try:
            return list(zip(*map(itemgetter(*names), rows), strict=True))
        except KeyError:  # a row leaves a column out
            pass
    return [[row.get(name) for row in rows] for name in names]


def _array(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    if type_ == _INSTANT:
        try:
            distances = [None if value is None else value - EPOCH for value in values]
        except TypeError:  # a naive datetime, or not a datetime: Arrow's conversion decides, as from_pylist
            return pa.array(values, type_)
        return pa.array(distances, _MICROSECONDS).view(_INSTANT)
    return pa.array(values, type_)
