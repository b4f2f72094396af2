"""Every SQL statement the BigQuery sink sends, analyzed by Google's ZetaSQL as BigQuery would resolve it.

What is analyzed is what google-cloud-bigquery is handed: ``BigQueryWarehouse.upsert`` runs with a recording
client, and its script and QueryJobConfig are taken from the call. The catalog holds the tables of
schemas/bigquery/*.json under their BigQuery names, and the query parameters' types are read from the job's
API representation (what goes on the wire), never from a second copy of the schema. The script is analyzed
statement by statement; each ``CREATE TEMP TABLE`` adds its result to the catalog, so the MERGE and DELETE
statements resolve ``batch_orders`` & co. with the columns and types the parameters give them.

The script holds every statement of ``UpsertSql`` (the MERGE/DELETE writes and ``stored_versions``; DuckDB runs
the same text). The sink's other BigQuery calls send no SQL: ``create_missing_tables`` creates tables through
the API (``client.create_table``) and ``write_dead_letters`` streams rows (``insert_rows_json``); a test below
keeps it that way.
"""

from __future__ import annotations

import copy
import json

import pytest
from sample_events import snapshot
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql_catalog import (
    BigQueryCatalog,
    SqlAnalysisError,
    cache_dir,
    output_columns,
    table_columns,
    type_name,
)

from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks import bigquery as bigquery_sink
from beam_pipelines.sinks.bigquery import BigQueryWarehouse, create_missing_tables
from beam_pipelines.sinks.upsert_sql import UpsertSql
from beam_pipelines.transforms.rows import snapshot_rows
from schemas import ORDER_ITEMS, ORDERS, UPSERTED_TABLES, table_names, table_schema
from schemas.types import standard_type

PROJECT, DATASET = "my-proj", "orders_rt"

#: Flushes whose parameters are typed both ways google-cloud-bigquery types an ARRAY<STRUCT> parameter: from
#: its first value, and from the declared StructQueryParameterType when the array is empty.
BATCHES = {
    "lines": [snapshot("o1", 3, "approved", items=2), snapshot("o2", 1, items=1)],
    "no-lines": [snapshot("o3", 1, items=0)],
}

SCRIPT_KINDS = [
    "ResolvedBeginStmt",
    *["ResolvedCreateTableAsSelectStmt"] * 4,  # batch_orders, batch_order_items, batch_order_payments, stored_versions
    "ResolvedMergeStmt",  # orders
    "ResolvedMergeStmt",  # order_items
    "ResolvedDeleteStmt",
    "ResolvedMergeStmt",  # order_payments
    "ResolvedDeleteStmt",
    "ResolvedCommitStmt",
    "ResolvedQueryStmt",  # the stored versions, read back by upsert()
]


class _Job:
    def result(self) -> list:
        return []


class RecordingClient:
    """Stands in for google.cloud.bigquery.Client: records what the sink sends."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, object]] = []
        self.inserted: list[tuple[str, list]] = []
        self.created: list[str] = []

    def query(self, sql, job_config=None, location=None):
        self.queries.append((sql, job_config))
        return _Job()

    def insert_rows_json(self, table, rows, row_ids=None):
        self.inserted.append((table, rows))
        return []

    def create_table(self, table, exists_ok=False):
        self.created.append(table.table_id)


def sent_flush(bodies: list[bytes]) -> tuple[str, list[dict]]:
    """The script and query parameters (API representation) one real upsert sends."""
    client = RecordingClient()
    warehouse = BigQueryWarehouse(PROJECT, DATASET, "US", client_factory=lambda: client)
    warehouse.upsert([snapshot_rows(OrderSnapshot(json.loads(body), ReceivedMessage(body))) for body in bodies])
    ((sql, config),) = client.queries
    return sql, config.to_api_repr()["query"]["queryParameters"]


def bigquery_catalog(parameters: list[dict]) -> BigQueryCatalog:
    catalog = BigQueryCatalog()
    catalog.add_schema_tables(PROJECT, DATASET, [table_schema(name) for name in table_names()])
    catalog.add_api_parameters(parameters)
    return catalog


def typed_columns(columns) -> list[tuple[str, str]]:
    return [(name, type_name(type_)) for name, type_ in columns]


@pytest.fixture(params=sorted(BATCHES))
def flush(request: pytest.FixtureRequest, zetasql: ZetaSqlLocalService) -> tuple[str, list[dict]]:
    return sent_flush(BATCHES[request.param])


def test_every_statement_of_the_flush_analyzes(flush: tuple[str, list[dict]]) -> None:
    script, parameters = flush
    catalog = bigquery_catalog(parameters)
    statements = catalog.analyze_script(script)
    assert [s.kind for s in statements] == SCRIPT_KINDS
    assert "\n".join(f"{s.sql};" for s in statements) == script  # every statement, each analyzed whole
    # The staged batches hold exactly their table's columns and types, so the MERGEs insert like for like.
    for name in UPSERTED_TABLES:
        staged = catalog.table_columns(f"batch_{name}")
        assert typed_columns(staged) == typed_columns(table_columns(table_schema(name)))
    # What upsert() reads back as StoredVersion(int(sequence), event_id).
    assert typed_columns(output_columns(statements[-1].resolved)) == [
        ("order_id", "STRING"),
        ("_sequence", "INT64"),
        ("_event_id", "STRING"),
    ]


def test_parameter_types_come_from_what_is_sent(flush: tuple[str, list[dict]]) -> None:
    _, parameters = flush
    catalog = bigquery_catalog(parameters)
    assert sorted(catalog.parameters) == sorted(UPSERTED_TABLES)
    for name in UPSERTED_TABLES:
        fields = ", ".join(f"{c.name} {standard_type(c.type)}" for c in table_schema(name).columns)
        assert type_name(catalog.parameters[name]) == f"ARRAY<STRUCT<{fields}>>"


def test_the_script_holds_every_upsert_sql_statement() -> None:
    warehouse = BigQueryWarehouse(PROJECT, DATASET)
    script = warehouse.script()
    sql = UpsertSql(warehouse.qualified)
    statements = [s.strip() for s in script.split(";")]
    for statement in sql.statements():
        assert statement in statements
    assert f"CREATE TEMP TABLE stored_versions AS {sql.stored_versions()}" in statements


def test_a_wrong_column_fails_the_analysis(zetasql: ZetaSqlLocalService) -> None:
    script, parameters = sent_flush(BATCHES["lines"])
    planted = "WHEN MATCHED AND s._sequenc > t._sequence"
    wrong = script.replace("WHEN MATCHED AND s._sequence > t._sequence", planted, 1)
    assert wrong.count(planted) == 1
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog(parameters).analyze_script(wrong)
    assert failure.value.index == SCRIPT_KINDS.index("ResolvedMergeStmt")  # the orders MERGE
    assert failure.value.statement.startswith(f"MERGE INTO `{PROJECT}.{DATASET}.{ORDERS}`")
    assert "_sequenc" in failure.value.message and "not found" in failure.value.message


def test_a_parameter_field_of_the_wrong_type_fails_the_analysis(zetasql: ZetaSqlLocalService) -> None:
    """The orders parameter's _sequence sent as STRING: the MERGE compares it with the INT64 column."""
    script, parameters = sent_flush(BATCHES["lines"])
    wrong = copy.deepcopy(parameters)
    (orders,) = [p for p in wrong if p["name"] == ORDERS]
    (field,) = [f for f in orders["parameterType"]["arrayType"]["structTypes"] if f["name"] == "_sequence"]
    field["type"] = {"type": "STRING"}
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog(wrong).analyze_script(script)
    assert failure.value.statement.startswith(f"MERGE INTO `{PROJECT}.{DATASET}.{ORDERS}`")
    assert "STRING" in failure.value.message and "INT64" in failure.value.message


def test_a_wrong_type_map_in_the_sink_fails_the_analysis(
    monkeypatch: pytest.MonkeyPatch, zetasql: ZetaSqlLocalService
) -> None:
    """A sink bug sending NUMERIC money as FLOAT64: the MERGE cannot assign FLOAT64 to the NUMERIC price."""
    monkeypatch.setattr(bigquery_sink, "standard_type", lambda t: "FLOAT64" if t == "NUMERIC" else standard_type(t))
    script, parameters = sent_flush(BATCHES["lines"])
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog(parameters).analyze_script(script)
    assert failure.value.statement.startswith(f"MERGE INTO `{PROJECT}.{DATASET}.{ORDER_ITEMS}`")
    assert "FLOAT64" in failure.value.message and "NUMERIC" in failure.value.message
    assert "price" in failure.value.message


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
}


@pytest.mark.parametrize("construct", sorted(DUCKDB_ONLY))
def test_duckdb_only_sql_fails_the_analysis(construct: str, zetasql: ZetaSqlLocalService) -> None:
    sql, message = DUCKDB_ONLY[construct]
    with pytest.raises(SqlAnalysisError) as failure:
        bigquery_catalog([]).analyze(sql)
    assert message in failure.value.message


def test_what_the_analysis_cannot_tell_apart(zetasql: ZetaSqlLocalService) -> None:
    """Known limits, pinned so that a change is noticed. A double-quoted name is a column in DuckDB and a string
    literal in BigQuery; ZetaSQL reads it as BigQuery does, so the query analyzes and returns the text
    'order_id' (sqlfluff's bigquery dialect cannot tell either). ZetaSQL itself accepts INSERT OR REPLACE:
    zetasql_catalog.bigquery_restrictions refuses it after analysis."""
    resolved = bigquery_catalog([]).analyze(f'SELECT "order_id" AS id FROM `{PROJECT}.{DATASET}.orders`')
    assert typed_columns(output_columns(resolved)) == [("id", "STRING")]


def test_the_sink_sends_no_other_sql() -> None:
    """Creating tables and writing dead letters go through the API, not SQL: nothing there to analyze."""
    client = RecordingClient()
    created = create_missing_tables(client, PROJECT, DATASET)
    warehouse = BigQueryWarehouse(PROJECT, DATASET, client_factory=lambda: client)
    warehouse.write_dead_letters([{"dead_letter_id": "d1", "error_stage": "parse", "payload_bytes": b"{"}])
    assert created == list(table_names()) and len(client.inserted) == 1
    assert client.queries == []


def test_zetasql_is_compiled_once_per_machine(zetasql: ZetaSqlLocalService) -> None:
    assert [path.name for path in cache_dir().glob("zetasql-*.cwasm")]
