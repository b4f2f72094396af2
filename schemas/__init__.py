"""The project's contracts, loaded once: event JSON Schemas and warehouse table schemas.

Everything here is read from the JSON files beside this module, which are the single source for the
publisher, the pipeline, the DuckDB DDL, dbt's sources and Terraform.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
BIGQUERY_SCHEMA_DIR = SCHEMA_DIR / "bigquery"

#: Event schema files by schema_version. A new version is a new file plus one line here (schemas/README.md says
#: when a change needs one).
EVENT_SCHEMA_FILES: dict[int, str] = {1: "order_event.v1.json", 2: "order_event.v2.json"}
LATEST_SCHEMA_VERSION = max(EVENT_SCHEMA_FILES)
#: What the publishers emit unless asked for another version (``--schema-version``): the contract of DESIGN.md.
#: Producers move to a new version only after the pipeline that accepts it is deployed (schemas/README.md).
DEFAULT_PRODUCER_VERSION = 1

ORDERS = "orders"
ORDER_ITEMS = "order_items"
ORDER_PAYMENTS = "order_payments"
DEAD_LETTER_TABLE = "order_events_dead_letter"
#: Append-only log of dead-letter replays (beam_pipelines/replay.py): dead-letter rows are never updated.
REPLAYS_TABLE = "dead_letter_replays"
UPSERTED_TABLES = (ORDERS, ORDER_ITEMS, ORDER_PAYMENTS)
#: BigQuery's append-only changelog of accepted snapshots, and the log of its compactions (see
#: beam_pipelines/sinks/compaction_sql.py).
CHANGELOG_TABLE = "order_snapshots"
COMPACTION_RUNS_TABLE = "compaction_runs"
#: The exact current state of each upserted table (compacted table + changelog tail), by table.
CURRENT_VIEWS = {name: f"{name}_current" for name in UPSERTED_TABLES}
#: The timestamps of an order (Olist's columns), in the event's ``order`` object and the orders table.
ORDER_TIMESTAMPS = (
    "order_purchase_timestamp",
    "order_approved_at",
    "order_delivered_carrier_date",
    "order_delivered_customer_date",
    "order_estimated_delivery_date",
)
#: The review timestamps of a version 2 event's ``order_review`` (Olist's order reviews columns).
REVIEW_TIMESTAMPS = ("review_creation_date", "review_answer_timestamp")


@dataclass(frozen=True)
class Column:
    """One column in BigQuery schema format."""

    name: str
    type: str
    mode: str
    description: str
    #: The fields of a RECORD column (an ARRAY<STRUCT> when its mode is REPEATED).
    fields: tuple[Column, ...] = ()

    @property
    def required(self) -> bool:
        return self.mode == "REQUIRED"

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"

    @classmethod
    def from_json(cls, field: dict[str, Any]) -> Column:
        nested = tuple(cls.from_json(f) for f in field.get("fields", ()))
        return cls(field["name"], field["type"], field.get("mode", "NULLABLE"), field.get("description", ""), nested)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "mode": self.mode}
        if self.fields:
            out["fields"] = [f.to_json() for f in self.fields]
        out["description"] = self.description
        return out


@dataclass(frozen=True)
class TableSchema:
    """A warehouse table: its columns (from schemas/bigquery/<name>.json) and layout (schemas/tables.json)."""

    name: str
    columns: tuple[Column, ...]
    kind: str
    primary_key: tuple[str, ...]
    partition_field: str | None
    clustering: tuple[str, ...]
    description: str
    #: Days a partition is kept (BigQuery's partition expiration); None: kept forever.
    partition_expiration_days: int | None = None
    #: Granularity of the time partitioning: DAY, or HOUR for the changelog (its readers want the last hours).
    partition_type: str = "DAY"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"table {self.name} has no column {name!r}")


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def event_schema(version: int = LATEST_SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of order events of ``version``: a copy of its own, because validator
    compilers may resolve ``$ref`` in place (fastjsonschema, used before jsonschema-rs, rewrote them)."""
    try:
        file_name = EVENT_SCHEMA_FILES[version]
    except KeyError:
        known = ", ".join(str(v) for v in sorted(EVENT_SCHEMA_FILES))
        raise KeyError(f"unknown schema_version {version!r}; known versions: {known}") from None
    return copy.deepcopy(_event_schema_file(file_name))


@cache
def _event_schema_file(file_name: str) -> dict[str, Any]:
    return _read_json(SCHEMA_DIR / file_name)


@cache
def table_layouts() -> dict[str, dict[str, Any]]:
    return _read_json(SCHEMA_DIR / "tables.json")["tables"]


@cache
def table_schema(name: str) -> TableSchema:
    """The warehouse table ``name`` (e.g. ``orders``), from its BigQuery-format JSON schema."""
    layouts = table_layouts()
    if name not in layouts:
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(sorted(layouts))}")
    layout = layouts[name]
    columns = tuple(Column.from_json(field) for field in _read_json(BIGQUERY_SCHEMA_DIR / f"{name}.json"))
    return TableSchema(
        name=name,
        columns=columns,
        kind=layout["kind"],
        primary_key=tuple(layout["primary_key"]),
        partition_field=layout["partition_field"],
        clustering=tuple(layout["clustering"]),
        description=layout["description"],
        partition_expiration_days=layout.get("partition_expiration_days"),
        partition_type=layout.get("partition_type", "DAY"),
    )


def table_names() -> tuple[str, ...]:
    return tuple(table_layouts())
