"""Every SQL statement the project sends to BigQuery, analyzed by Google's ZetaSQL as BigQuery would resolve it.

The streaming sink sends no SQL: ``BigQueryWarehouse.upsert`` appends one JSON row per snapshot to the changelog
(``order_snapshots``, insertAll) and ``write_dead_letters`` streams rows too; a test below records the client's
calls and checks those rows against schemas/bigquery/order_snapshots.json, key by key and value by value. The SQL
is the changelog's (beam_pipelines/sinks/compaction_sql.py):

- the compaction, one BigQuery script (DECLARE, BEGIN TRANSACTION, CREATE TEMP TABLE, SET, MERGE, DELETE, INSERT,
  COMMIT), run by a scheduled query. It is analyzed statement by statement as BigQuery runs it
  (zetasql_catalog.BigQueryCatalog.analyze_script): each temp table joins the catalog for the statements after it,
  each script variable is typed as DECLAREd and read by name by the statements after it, as BigQuery resolves a
  variable (like a typed query parameter), so a mistyped variable fails where it is assigned or compared;
- the ``*_current`` views (``create_views`` under ``--create_tables``; their queries are also Terraform's
  templates), whose columns and types must be their table's, since dbt reads them in place of the tables.

The catalog holds the tables of schemas/bigquery/*.json under their BigQuery names, RECORD/REPEATED columns as
ARRAY<STRUCT<...>>.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from sample_events import snapshot
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql_catalog import (
    AnalyzedStatement,
    BigQueryCatalog,
    SqlAnalysisError,
    cache_dir,
    output_columns,
    table_columns,
    type_name,
)

from beam_pipelines import compaction
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.bigquery import BigQueryWarehouse, create_missing_tables
from beam_pipelines.sinks.changelog import json_row
from beam_pipelines.sinks.compaction_sql import CompactionSql, bigquery_dialect
from beam_pipelines.sinks.upsert_sql import LINE_TABLES, staged
from beam_pipelines.transforms.rows import snapshot_rows
from schemas import (
    BIGQUERY_SCHEMA_DIR,
    CHANGELOG_TABLE,
    CURRENT_VIEWS,
    DEAD_LETTER_TABLE,
    ORDERS,
    Column,
    table_names,
    table_schema,
)
from schemas.types import standard_type

PROJECT, DATASET = "my-proj", "orders_rt"
SQL = CompactionSql(bigquery_dialect(PROJECT, DATASET))

COMPACTION_KINDS = [
    *["VariableDeclaration"] * 5,  # compaction_since, compaction_until, partition_lo, partition_hi, orders_changed
    "ResolvedBeginStmt",
    # compaction_tail, compaction_stored, compaction_conflicts, batch_orders, batch_order_items, batch_order_payments
    *["ResolvedCreateTableAsSelectStmt"] * 6,
    *["VariableAssignment"] * 3,  # partition_lo, partition_hi, orders_changed
    "ResolvedMergeStmt",  # orders
    "ResolvedMergeStmt",  # order_items
    "ResolvedDeleteStmt",
    "ResolvedMergeStmt",  # order_payments
    "ResolvedDeleteStmt",
    "ResolvedInsertStmt",  # the sequence conflicts' dead letters
    "ResolvedInsertStmt",  # compaction_runs
    "ResolvedCommitStmt",
]
VARIABLES = {
    "compaction_since": "TIMESTAMP",
    "compaction_until": "TIMESTAMP",
    "partition_lo": "TIMESTAMP",
    "partition_hi": "TIMESTAMP",
    "orders_changed": "INT64",
}
ORDERS_MERGE = COMPACTION_KINDS.index("ResolvedMergeStmt")


def bigquery_catalog() -> BigQueryCatalog:
    catalog = BigQueryCatalog()
    catalog.add_schema_tables(PROJECT, DATASET, [table_schema(name) for name in table_names()])
    return catalog


def typed_columns(columns) -> list[tuple[str, str]]:
    return [(name, type_name(type_)) for name, type_ in columns]


def schema_type(column: Column) -> str:
    """A schema column's GoogleSQL type, spelled as type_name spells it."""
    if column.fields:
        base = "STRUCT<" + ", ".join(f"{f.name} {schema_type(f)}" for f in column.fields) + ">"
    else:
        base = standard_type(column.type)
    return f"ARRAY<{base}>" if column.repeated else base


def schema_columns(table: str) -> list[tuple[str, str]]:
    return [(c.name, schema_type(c)) for c in table_schema(table).columns]


@pytest.fixture(scope="module")
def compacted(zetasql: ZetaSqlLocalService) -> tuple[BigQueryCatalog, list[AnalyzedStatement]]:
    """The compaction script analyzed once, and the catalog as the script leaves it (temp tables, variables)."""
    catalog = bigquery_catalog()
    return catalog, catalog.analyze_script(SQL.script())


# --- The catalog ---------------------------------------------------------------------------------------------


def test_the_catalog_types_nested_columns_as_arrays_of_structs() -> None:
    columns = dict(typed_columns(table_columns(table_schema(CHANGELOG_TABLE))))
    for column, table in (("items", "order_items"), ("payments", "order_payments")):
        fields = ", ".join(f"{name} {type_}" for name, type_ in schema_columns(table))
        assert columns[column] == f"ARRAY<STRUCT<{fields}>>"
    assert columns["_sequence"] == "INT64" and columns["order_purchase_timestamp"] == "TIMESTAMP"
    for name in table_names():
        assert typed_columns(table_columns(table_schema(name))) == schema_columns(name)


# --- The compaction script -----------------------------------------------------------------------------------


def test_every_statement_of_the_compaction_analyzes(
    compacted: tuple[BigQueryCatalog, list[AnalyzedStatement]],
) -> None:
    catalog, statements = compacted
    assert [s.kind for s in statements] == COMPACTION_KINDS
    assert [s.sql for s in statements] == SQL.statements()  # every statement, each analyzed whole
    for statement in SQL.upsert.statements():  # the guarded writes the DuckDB sink runs, partition-restricted
        assert statement in SQL.statements() and "partition_lo AND partition_hi" in statement
    assert {name: type_name(t) for name, t in catalog.variables.items()} == VARIABLES
    declarations = [s.resolved for s in statements if s.kind == "VariableDeclaration"]
    assert [(d.names, type_name(d.type)) for d in declarations] == [((n,), t) for n, t in VARIABLES.items()]
    assignments = [s.resolved for s in statements if s.kind == "VariableAssignment"]
    assert [a.name for a in assignments] == ["partition_lo", "partition_hi", "orders_changed"]


def test_the_staged_snapshots_hold_their_tables_columns(
    compacted: tuple[BigQueryCatalog, list[AnalyzedStatement]],
) -> None:
    """The MERGEs insert like for like: the newest snapshots are changelog rows, their lines the line tables'."""
    catalog, _ = compacted
    assert typed_columns(catalog.table_columns(staged(ORDERS))) == schema_columns(CHANGELOG_TABLE)
    assert typed_columns(catalog.table_columns("compaction_tail")) == schema_columns(CHANGELOG_TABLE)
    for table in LINE_TABLES:
        assert typed_columns(catalog.table_columns(staged(table))) == schema_columns(table)


def test_the_rendered_terraform_script_analyzes(tmp_path: Path, zetasql: ZetaSqlLocalService) -> None:
    """What Terraform deploys as the scheduled query: the same statements, under a generated-file comment."""
    compaction.render(tmp_path, compaction.DEFAULT_SETTLE_SECONDS, compaction.DEFAULT_OVERLAP_SECONDS)
    text = (tmp_path / compaction.COMPACTION_FILE).read_text()
    text = text.replace(compaction.TEMPLATE_PROJECT, PROJECT).replace(compaction.TEMPLATE_DATASET, DATASET)
    statements = bigquery_catalog().analyze_script(text)
    assert [s.sql for s in statements] == SQL.statements()


def test_a_wrong_column_in_the_compaction_fails_the_analysis(zetasql: ZetaSqlLocalService) -> None:
    script = SQL.script()
    planted = "WHEN MATCHED AND s._sequenc > t._sequence"
    wrong = script.replace("WHEN MATCHED AND s._sequence > t._sequence", planted, 1)
    assert wrong.count(planted) == 1
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog().analyze_script(wrong)
    assert failure.value.index == ORDERS_MERGE
    assert failure.value.statement.startswith(f"MERGE INTO `{PROJECT}.{DATASET}.{ORDERS}`")
    assert "_sequenc" in failure.value.message and "not found" in failure.value.message


#: Script variables of the wrong type (BigQuery types a variable as DECLAREd, like a typed query parameter):
#: (replacements, index of the statement that must fail, what the message says).
MISTYPED_VARIABLES = {
    "partition_lo DATE, assigned a TIMESTAMP": (
        [("DECLARE partition_lo TIMESTAMP", "DECLARE partition_lo DATE")],
        COMPACTION_KINDS.index("VariableAssignment"),
        "The value has type TIMESTAMP which does not coerce to DATE",
    ),
    "partition_lo DATE, compared with the TIMESTAMP partition column": (
        [
            ("DECLARE partition_lo TIMESTAMP", "DECLARE partition_lo DATE"),
            ("SET partition_lo = (SELECT MIN(ts)", "SET partition_lo = (SELECT DATE(MIN(ts))"),
        ],
        ORDERS_MERGE,
        "No matching signature for operator BETWEEN",
    ),
    "orders_changed STRING, assigned a COUNT": (
        [("DECLARE orders_changed INT64 DEFAULT (0)", "DECLARE orders_changed STRING DEFAULT ('0')")],
        COMPACTION_KINDS.index("VariableAssignment") + 2,
        "The value has type INT64 which does not coerce to STRING",
    ),
    "compaction_until INT64, declared with a TIMESTAMP default": (
        [("DECLARE compaction_until TIMESTAMP", "DECLARE compaction_until INT64")],
        1,
        "The value has type TIMESTAMP which does not coerce to INT64",
    ),
}


@pytest.mark.parametrize("case", sorted(MISTYPED_VARIABLES))
def test_a_mistyped_script_variable_fails_the_analysis(case: str, zetasql: ZetaSqlLocalService) -> None:
    replacements, index, message = MISTYPED_VARIABLES[case]
    wrong = SQL.script()
    for old, new in replacements:
        assert wrong.count(old) == 1
        wrong = wrong.replace(old, new)
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog().analyze_script(wrong)
    assert failure.value.index == index, failure.value
    assert message in failure.value.message


#: What BigQuery refuses in a script's structure, and what the analysis says about it.
SCRIPT_ERRORS = {
    "undeclared variable": (
        ("DECLARE partition_hi TIMESTAMP DEFAULT (NULL);\n", ""),
        "Undeclared variable: partition_hi",
    ),
    "declared twice": (("DECLARE partition_hi", "DECLARE partition_lo"), "Variable partition_lo is already declared"),
    "declared after a statement": (
        ("BEGIN TRANSACTION;\n", "BEGIN TRANSACTION;\nDECLARE late INT64;\n"),
        "Variable declarations are allowed only at the start of a script",
    ),
    "syntax error": (("COMMIT TRANSACTION", "COMMIT TRANSACTIONS"), "Syntax error"),
}


@pytest.mark.parametrize("case", sorted(SCRIPT_ERRORS))
def test_a_malformed_script_fails_the_analysis(case: str, zetasql: ZetaSqlLocalService) -> None:
    (old, new), message = SCRIPT_ERRORS[case]
    script = SQL.script()
    assert script.count(old) == 1
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog().analyze_script(script.replace(old, new))
    assert message in failure.value.message


# --- The current-state views ---------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(CURRENT_VIEWS))
def test_each_view_analyzes_to_its_tables_columns(table: str, zetasql: ZetaSqlLocalService) -> None:
    view = CURRENT_VIEWS[table]
    catalog = bigquery_catalog()
    ((statement,),) = [catalog.analyze_script(SQL.views()[view])]
    assert statement.kind == "ResolvedCreateViewStmt"
    assert ".".join(statement.resolved.name_path) == f"{PROJECT}.{DATASET}.{view}"
    assert typed_columns(output_columns(statement.resolved)) == schema_columns(table)
    # The view joins the catalog, as BigQuery's dataset holds it once created: readers resolve it.
    assert typed_columns(catalog.table_columns(f"{PROJECT}.{DATASET}.{view}")) == schema_columns(table)
    # The query alone (Terraform's template of the view) returns the same.
    query = bigquery_catalog().analyze(SQL.view_query(table))
    assert type(query).__name__ == "ResolvedQueryStmt"
    assert typed_columns(output_columns(query)) == schema_columns(table)


def test_the_views_are_what_create_tables_sends() -> None:
    client = RecordingClient()
    BigQueryWarehouse(PROJECT, DATASET, create_tables=True, client_factory=lambda: client).prepare()
    assert client.queries == list(SQL.views().values())
    assert client.created == list(table_names()) and client.inserted == []


#: A wrong column planted in a view: (view's table, replaced text, planted text, what the message says).
WRONG_VIEW_COLUMNS = {
    "orders: a misspelled sequence": (ORDERS, "w._sequence > o._sequence", "w._sequenc > o._sequence", "_sequenc"),
    "order_items: a field the nested items lack": (
        "order_items",
        "l.price AS price",
        "l.prices AS price",
        "Field name prices does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_VIEW_COLUMNS))
def test_a_wrong_column_in_a_view_fails_the_analysis(case: str, zetasql: ZetaSqlLocalService) -> None:
    table, old, new, message = WRONG_VIEW_COLUMNS[case]
    statement = SQL.views()[CURRENT_VIEWS[table]]
    assert statement.count(old) == 1
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog().analyze_script(statement.replace(old, new))
    assert message in failure.value.message


# --- The sink's calls: rows, never SQL -----------------------------------------------------------------------


class _Job:
    def result(self) -> list:
        return []


class RecordingClient:
    """Stands in for google.cloud.bigquery.Client: records what the sink sends."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.inserted: list[tuple[str, list, list | None]] = []
        self.created: list[str] = []
        self.tables: dict[str, Any] = {}

    def query(self, sql, job_config=None, location=None):
        self.queries.append(sql)
        return _Job()

    def insert_rows_json(self, table, rows, row_ids=None):
        self.inserted.append((table, rows, row_ids))
        return []

    def create_table(self, table, exists_ok=False):
        self.created.append(table.table_id)
        self.tables[table.table_id] = table

    def get_table(self, table_id: str):
        return self.tables[table_id.rsplit(".", 1)[-1]]


def _is_timestamp(value: Any) -> bool:
    """ISO 8601 with an explicit offset: BigQuery then reads the instant, never a zone-less local time."""
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except (TypeError, ValueError):
        return False


def _is_numeric(value: Any) -> bool:
    """NUMERIC as text: exact (a JSON number would go through a float)."""
    try:
        return isinstance(value, str) and Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _is_base64(value: Any) -> bool:
    try:
        return isinstance(value, str) and base64.b64decode(value, validate=True) is not None
    except ValueError:
        return False


#: The JSON value insertAll takes for each scalar type (google-cloud-bigquery sends rows as given).
INSERT_ALL_JSON: dict[str, Callable[[Any], bool]] = {
    "STRING": lambda v: isinstance(v, str),
    "INT64": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "FLOAT64": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "BOOL": lambda v: isinstance(v, bool),
    "NUMERIC": _is_numeric,
    "BIGNUMERIC": _is_numeric,
    "TIMESTAMP": _is_timestamp,
    "DATE": _is_date,
    "BYTES": _is_base64,
}


def insert_all_problems(value: Any, column: Column, path: str) -> list[str]:
    """Where a JSON value differs from what insertAll takes for ``column`` (recursively through RECORDs)."""
    if column.repeated:
        if not isinstance(value, list):
            return [f"{path}: REPEATED needs a JSON array, got {value!r}"]
        element = Column(column.name, column.type, "REQUIRED", column.description, column.fields)
        return [p for i, item in enumerate(value) for p in insert_all_problems(item, element, f"{path}[{i}]")]
    if value is None:
        return [f"{path}: REQUIRED but null"] if column.required else []
    if column.fields:
        if not isinstance(value, dict):
            return [f"{path}: RECORD needs a JSON object, got {value!r}"]
        return record_problems(value, column.fields, path)
    if not INSERT_ALL_JSON[standard_type(column.type)](value):
        return [f"{path}: {value!r} is not insertAll JSON for {column.type}"]
    return []


def changelog_schema() -> tuple[Column, ...]:
    """schemas/bigquery/order_snapshots.json as Terraform and create_missing_tables give it to BigQuery."""
    fields = json.loads((BIGQUERY_SCHEMA_DIR / f"{CHANGELOG_TABLE}.json").read_text(encoding="utf-8"))
    return tuple(Column.from_json(field) for field in fields)


def record_problems(row: dict[str, Any], columns: tuple[Column, ...], path: str = "") -> list[str]:
    names = [c.name for c in columns]
    problems = [f"{path}: keys {sorted(row)} are not the schema's {sorted(names)}"] if set(row) != set(names) else []
    return problems + [
        p for c in columns if c.name in row for p in insert_all_problems(row[c.name], c, f"{path}.{c.name}")
    ]


#: Flushes with lines, without any (empty REPEATED columns), and with the nullable delivery timestamps set.
FLUSHES = {
    "lines": [snapshot("o1", 3, "approved", items=2), snapshot("o2", 1, items=1)],
    "no lines": [snapshot("o3", 1, items=0)],
    "delivered": [
        snapshot(
            "o4",
            7,
            "delivered",
            items=3,
            order_delivered_carrier_date="2026-11-22T09:30:00Z",
            order_delivered_customer_date="2026-11-25T18:00:00.123456Z",
        )
    ],
}


@pytest.mark.parametrize("flush", sorted(FLUSHES))
def test_upsert_streams_changelog_rows_and_sends_no_sql(flush: str) -> None:
    client = RecordingClient()
    warehouse = BigQueryWarehouse(PROJECT, DATASET, "US", client_factory=lambda: client)
    bodies = FLUSHES[flush]
    snapshots = [snapshot_rows(OrderSnapshot(json.loads(body), ReceivedMessage(body))) for body in bodies]
    assert warehouse.upsert(snapshots) == {}
    assert client.queries == [] and client.created == []
    ((table, rows, row_ids),) = client.inserted
    assert table == f"{PROJECT}.{DATASET}.{CHANGELOG_TABLE}"
    assert len(rows) == len(bodies) and len(set(row_ids)) == len(bodies)
    assert [row["order_id"] for row in rows] == [json.loads(body)["order"]["order_id"] for body in bodies]
    columns = changelog_schema()
    for index, row in enumerate(rows):
        assert record_problems(row, columns, f"row {index}") == []
        assert [len(row["items"]), len(row["payments"])] == [
            len(json.loads(bodies[index])["items"]),
            len(json.loads(bodies[index])["payments"]),
        ]
    json.dumps(rows, allow_nan=False)  # what the client sends: plain JSON


def test_the_row_check_finds_what_insert_all_would_refuse() -> None:
    body = snapshot("o1", 3, "approved", items=1)
    row = json_row(snapshot_rows(OrderSnapshot(json.loads(body), ReceivedMessage(body))))
    columns = changelog_schema()
    assert record_problems(row, columns) == []
    planted = {
        "a NUMERIC as a JSON number": lambda r: r["items"][0].update(price=10.5),
        "a zone-less TIMESTAMP": lambda r: r.update(order_purchase_timestamp="2026-11-21T10:00:00"),
        "an INT64 as text": lambda r: r.update(_sequence="3"),
        "a REPEATED column as an object": lambda r: r.update(payments=r["payments"][0]),
        "a missing REQUIRED value": lambda r: r["payments"][0].update(payment_type=None),
        "an unknown key": lambda r: r["items"][0].update(extra=1),
        "a missing key": lambda r: r.pop("_dead_letter_id"),
    }
    for case, plant in planted.items():
        wrong = json.loads(json.dumps(row))
        plant(wrong)
        assert record_problems(wrong, columns), case


def test_the_sink_sends_no_other_sql() -> None:
    """Creating tables and writing dead letters go through the API, not SQL: nothing there to analyze."""
    client = RecordingClient()
    created = create_missing_tables(client, PROJECT, DATASET)
    warehouse = BigQueryWarehouse(PROJECT, DATASET, client_factory=lambda: client)
    warehouse.write_dead_letters([{"dead_letter_id": "d1", "error_stage": "parse", "payload_bytes": b"{"}])
    assert created == list(table_names())
    dead_letters = f"{PROJECT}.{DATASET}.{DEAD_LETTER_TABLE}"
    assert [(table, row_ids) for table, _, row_ids in client.inserted] == [(dead_letters, ["d1"])]
    assert client.queries == []


# --- What the analysis refuses, and its known limits ---------------------------------------------------------

#: SQL that DuckDB runs and BigQuery refuses, and what ZetaSQL says about it.
DUCKDB_ONLY = {
    "INSERT OR REPLACE": (
        f"INSERT OR REPLACE INTO `{PROJECT}.{DATASET}.sellers` "
        "(seller_id, seller_zip_code_prefix, seller_city, seller_state) VALUES ('s1', '01310', 'sao paulo', 'SP')",
        "INSERT OR REPLACE is not BigQuery SQL",
    ),
    "ON CONFLICT": (
        f"INSERT INTO `{PROJECT}.{DATASET}.sellers` (seller_id, seller_zip_code_prefix, seller_city, seller_state) "
        "VALUES ('s1', '01310', 'sao paulo', 'SP') ON CONFLICT DO NOTHING",
        "ON CONFLICT is not supported",
    ),
    ":: cast": (f"SELECT _sequence::STRING FROM `{PROJECT}.{DATASET}.orders`", "Syntax error"),
    "SELECT * EXCLUDE": (f"SELECT * EXCLUDE (customer_id) FROM `{PROJECT}.{DATASET}.orders`", "Syntax error"),
    "ILIKE": (f"SELECT order_id FROM `{PROJECT}.{DATASET}.orders` WHERE customer_city ILIKE 'sao%'", "Syntax error"),
    "BIGINT": (f"SELECT CAST(_sequence AS BIGINT) FROM `{PROJECT}.{DATASET}.orders`", "Type not found: BIGINT"),
    "TIMESTAMPTZ": (
        f"SELECT CAST(_event_time AS TIMESTAMPTZ) FROM `{PROJECT}.{DATASET}.orders`",
        "Type not found: TIMESTAMPTZ",
    ),
    "try_cast": (
        f"SELECT try_cast(_sequence AS STRING) FROM `{PROJECT}.{DATASET}.orders`",
        "Function not found: try_cast",
    ),
    "strftime": (
        f"SELECT strftime(_event_time, '%Y') FROM `{PROJECT}.{DATASET}.orders`",
        "Function not found: strftime",
    ),
    "RETURNING": (
        f"DELETE FROM `{PROJECT}.{DATASET}.sellers` WHERE seller_id = 's1' RETURNING seller_id",
        "RETURNING",
    ),
    # The DuckDB dialect of the compaction reads its variables so (sinks/compaction_sql.duckdb_dialect).
    "getvariable": (
        f"SELECT order_id FROM `{PROJECT}.{DATASET}.orders` "
        "WHERE order_purchase_timestamp >= getvariable('partition_lo')",
        "Function not found: getvariable",
    ),
}


@pytest.mark.parametrize("construct", sorted(DUCKDB_ONLY))
def test_duckdb_only_sql_fails_the_analysis(construct: str, zetasql: ZetaSqlLocalService) -> None:
    sql, message = DUCKDB_ONLY[construct]
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog().analyze(sql)
    assert message in failure.value.message


def test_qualify_is_reserved_as_in_bigquery(zetasql: ZetaSqlLocalService) -> None:
    """BigQuery reserves QUALIFY, so it needs no WHERE before it; ZetaSQL does too once told (zetasql_catalog)."""
    catalog = bigquery_catalog()
    resolved = catalog.analyze(
        f"SELECT order_id FROM `{PROJECT}.{DATASET}.orders` QUALIFY ROW_NUMBER() OVER (ORDER BY _sequence) = 1"
    )
    assert typed_columns(output_columns(resolved)) == [("order_id", "STRING")]
    with pytest.raises(SqlAnalysisError, match="Syntax error"):
        catalog.analyze(f"SELECT order_id AS qualify FROM `{PROJECT}.{DATASET}.orders`")


def test_what_the_analysis_cannot_tell_apart(zetasql: ZetaSqlLocalService) -> None:
    """Known limits, pinned so that a change is noticed. A double-quoted name is a column in DuckDB and a string
    literal in BigQuery; ZetaSQL reads it as BigQuery does, so the query analyzes and returns the text
    'order_id' (sqlfluff's bigquery dialect cannot tell either). ZetaSQL itself accepts INSERT OR REPLACE:
    zetasql_catalog.bigquery_restrictions refuses it after analysis."""
    resolved = bigquery_catalog().analyze(f'SELECT "order_id" AS id FROM `{PROJECT}.{DATASET}.orders`')
    assert typed_columns(output_columns(resolved)) == [("id", "STRING")]


def test_zetasql_is_compiled_once_per_machine(zetasql: ZetaSqlLocalService) -> None:
    assert [path.name for path in cache_dir().glob("zetasql-*.cwasm")]
