"""The SQL of the dead-letter replay (beam_pipelines/replay.py), for BigQuery and DuckDB from one definition.

One statement selects a page of dead letters to replay: the filters the operator gave (kinds, stages, event ids,
a time range), one row per ``dead_letter_id`` (BigQuery's streaming-insert dedup is best effort), only rows whose
payload was kept whole, none that ``dead_letter_replays`` records as published, in ``(timestamp,
dead_letter_id)`` order after the previous page's last key (keyset paging: each page is a short query, so a
DuckDB connection is held for one page only). Every value is a typed, bound parameter (BigQuery ``@name``,
DuckDB ``$name`` cast to its type, so an empty list or a NULL still has one); the only text spliced in is the
tables' names, from schemas/ and the operator's project/dataset/schema, quoted.

Marking rows replayed is not SQL on BigQuery (an insertAll append to ``dead_letter_replays``, as the pipeline
writes dead letters); on DuckDB it is an INSERT from an Arrow batch (``record_sql``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas import DEAD_LETTER_TABLE, REPLAYS_TABLE
from schemas.types import duckdb_type

#: The columns a page returns, in order (``attributes_json`` is the attributes column as JSON text).
PAGE_COLUMNS = (
    "dead_letter_id",
    "timestamp",
    "message_id",
    "event_id",
    "error_stage",
    "error_kind",
    "error_message",
    "payload_bytes",
    "attributes_json",
)

#: Every parameter of the page query: name -> (BigQuery type, repeated).
PARAMETERS: dict[str, tuple[str, bool]] = {
    "kinds": ("STRING", True),
    "stages": ("STRING", True),
    "event_ids": ("STRING", True),
    "since": ("TIMESTAMP", False),
    "until": ("TIMESTAMP", False),
    "published": ("STRING", False),
    "after_timestamp": ("TIMESTAMP", False),
    "after_dead_letter_id": ("STRING", False),
    "page_size": ("INT64", False),
}


@dataclass(frozen=True)
class Dialect:
    """How one engine spells what the page query needs."""

    #: A table of the warehouse, qualified and quoted.
    table: Callable[[str], str]
    #: A parameter, typed: (name, BigQuery type, repeated) -> SQL.
    parameter: Callable[[str, str, bool], str]
    #: ``<list parameter> is empty`` and ``<column> is in <list parameter>``.
    list_empty: Callable[[str], str]
    in_list: Callable[[str, str], str]
    #: A JSON column as JSON text.
    json_text: Callable[[str], str]


def bigquery_dialect(project: str, dataset: str) -> Dialect:
    return Dialect(
        table=lambda name: f"`{project}.{dataset}.{name}`",
        parameter=lambda name, type_, repeated: f"@{name}",
        list_empty=lambda parameter: f"ARRAY_LENGTH({parameter}) = 0",
        in_list=lambda column, parameter: f"{column} IN UNNEST({parameter})",
        json_text=lambda column: f"TO_JSON_STRING({column})",
    )


def duckdb_dialect(schema: str) -> Dialect:
    from warehouse.duckdb_schema import quote  # local tooling: not in the Dataflow image (beam_pipelines is)

    def parameter(name: str, type_: str, repeated: bool) -> str:
        return f"CAST(${name} AS {duckdb_type(type_)}{'[]' if repeated else ''})"

    return Dialect(
        table=lambda name: f"{quote(schema)}.{quote(name)}",
        parameter=parameter,
        list_empty=lambda parameter: f"len({parameter}) = 0",
        in_list=lambda column, parameter: f"list_contains({parameter}, {column})",
        json_text=lambda column: f"CAST({column} AS VARCHAR)",
    )


def page_sql(dialect: Dialect) -> str:
    """The next page of dead letters to replay (see the module docstring); parameters: PARAMETERS."""
    p = {name: dialect.parameter(name, type_, repeated) for name, (type_, repeated) in PARAMETERS.items()}
    listed = [
        f"({dialect.list_empty(p[parameter])} OR {dialect.in_list(column, p[parameter])})"
        for parameter, column in (("kinds", "error_kind"), ("stages", "error_stage"), ("event_ids", "event_id"))
    ]
    filters = "\n    AND ".join(
        [
            "dead_letter_id IS NOT NULL",
            # Only a payload kept byte for byte can be republished (a body over 1 MiB was cut; the compaction's
            # sequence conflicts keep the changelog row as text only).
            "payload_bytes IS NOT NULL",
            "(payload_truncated IS NULL OR NOT payload_truncated)",
            *listed,
            f"({p['since']} IS NULL OR timestamp >= {p['since']})",
            f"({p['until']} IS NULL OR timestamp < {p['until']})",
        ]
    )
    after, after_id = p["after_timestamp"], p["after_dead_letter_id"]
    return f"""WITH selected AS (
  SELECT dead_letter_id, timestamp, message_id, event_id, error_stage, error_kind, error_message, payload_bytes,
    {dialect.json_text("attributes")} AS attributes_json
  FROM {dialect.table(DEAD_LETTER_TABLE)}
  WHERE {filters}
  QUALIFY ROW_NUMBER() OVER (PARTITION BY dead_letter_id ORDER BY timestamp, payload_sha256) = 1
)
SELECT {", ".join(f"s.{column}" for column in PAGE_COLUMNS)}
FROM selected AS s
WHERE NOT EXISTS (
    SELECT 1 FROM {dialect.table(REPLAYS_TABLE)} AS r
    WHERE r.dead_letter_id = s.dead_letter_id AND r.outcome = {p["published"]}
  )
  AND ({after} IS NULL OR s.timestamp > {after} OR (s.timestamp = {after} AND s.dead_letter_id > {after_id}))
ORDER BY s.timestamp, s.dead_letter_id
LIMIT {p["page_size"]}"""


def record_sql(schema: str, columns: list[str], batch: str) -> str:
    """DuckDB: append the registered Arrow batch ``batch`` to dead_letter_replays."""
    from warehouse.duckdb_schema import quote

    names = ", ".join(quote(column) for column in columns)
    return f"INSERT INTO {quote(schema)}.{quote(REPLAYS_TABLE)} ({names}) SELECT {names} FROM {quote(batch)}"
