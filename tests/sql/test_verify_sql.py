"""The verify command's BigQuery lookups (beam_pipelines/verify_sql.py), analyzed by Google's ZetaSQL as BigQuery
would resolve them: against the ``*_current`` views (added to the catalog by analyzing their own CREATE VIEW
statements, as the dataset holds them once created) and the dead-letter table, with the query parameters typed
exactly as verify's client code sends them (``QueryJobConfig.to_api_repr()``, recorded at the client boundary)."""

from __future__ import annotations

import pytest
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql_catalog import BigQueryCatalog, SqlAnalysisError, output_columns, type_name

from beam_pipelines import verify_sql
from beam_pipelines.sinks.compaction_sql import CompactionSql, bigquery_dialect
from beam_pipelines.verify import BigQueryLookups
from schemas import CURRENT_VIEWS, DEAD_LETTER_TABLE, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, table_names, table_schema
from schemas.types import standard_type

PROJECT, DATASET = "my-proj", "orders_rt"


class _Job:
    def result(self) -> list:
        return []


class RecordingClient:
    """Stands in for google.cloud.bigquery.Client: records each query and its parameters as sent on the wire."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, list[dict]]] = []

    def query(self, sql, job_config=None, location=None):
        self.queries.append((sql, job_config.to_api_repr()["query"]["queryParameters"]))
        return _Job()


def sent_lookups() -> dict[str, tuple[str, list[dict]]]:
    """Each lookup as BigQueryLookups sends it, by the table it reads."""
    client = RecordingClient()
    lookups = BigQueryLookups(client, PROJECT, DATASET, None)
    sql = lookups.sql
    for statement, parameters in (sql.orders(), sql.items(), sql.payments(), sql.dead_letters()):
        lookups._fetch(statement, {name: ["an-id", "another-id"] for name in parameters})
    return dict(zip((ORDERS, ORDER_ITEMS, ORDER_PAYMENTS, DEAD_LETTER_TABLE), client.queries, strict=True))


def catalog(with_views: bool = True) -> BigQueryCatalog:
    built = BigQueryCatalog()
    built.add_schema_tables(PROJECT, DATASET, [table_schema(name) for name in table_names()])
    if with_views:
        for statement in CompactionSql(bigquery_dialect(PROJECT, DATASET)).views().values():
            built.analyze_script(statement)
    return built


def analyze(sql: str, parameters: list[dict], on: BigQueryCatalog | None = None):
    target = on or catalog()
    target.add_api_parameters(parameters)
    return target.analyze(sql)


#: The columns each lookup returns, typed as BigQuery types them: the tables' own types.
def expected_columns(table: str, columns: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, standard_type(table_schema(table).column(name).type)) for name in columns]


EXPECTED = {
    ORDERS: expected_columns(ORDERS, verify_sql.ORDER_COLUMNS),
    ORDER_ITEMS: expected_columns(ORDER_ITEMS, verify_sql.ITEM_COLUMNS),
    ORDER_PAYMENTS: expected_columns(ORDER_PAYMENTS, verify_sql.PAYMENT_COLUMNS),
    DEAD_LETTER_TABLE: expected_columns(DEAD_LETTER_TABLE, verify_sql.DEAD_LETTER_COLUMNS),
}


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_each_lookup_analyzes_with_its_typed_array_parameters(table: str, zetasql: ZetaSqlLocalService) -> None:
    sql, parameters = sent_lookups()[table]
    assert all(p["parameterType"] == {"type": "ARRAY", "arrayType": {"type": "STRING"}} for p in parameters)
    resolved = analyze(sql, parameters)
    assert type(resolved).__name__ == "ResolvedQueryStmt"
    assert [(name, type_name(t)) for name, t in output_columns(resolved)] == EXPECTED[table]
    assert "an-id" not in sql


@pytest.mark.parametrize("table", sorted(CURRENT_VIEWS))
def test_the_upserted_tables_are_read_through_their_current_views(table: str, zetasql: ZetaSqlLocalService) -> None:
    """Without the views in the dataset the lookups do not resolve: they read nothing else (the compacted tables
    alone lag by up to one compaction)."""
    sql, parameters = sent_lookups()[table]
    with pytest.raises(SqlAnalysisError) as failure:
        analyze(sql, parameters, on=catalog(with_views=False))
    assert f"Table not found: `{PROJECT}.{DATASET}.{CURRENT_VIEWS[table]}`" in failure.value.message


def test_a_wrong_column_fails_the_analysis(zetasql: ZetaSqlLocalService) -> None:
    sql, parameters = sent_lookups()[ORDERS]
    assert sql.count("_event_id") == 1
    with pytest.raises(SqlAnalysisError) as failure:
        analyze(sql.replace("_event_id", "event_id"), parameters)
    assert "Unrecognized name: event_id" in failure.value.message


#: Parameters typed otherwise than the lookups need, and what the analysis says.
MISTYPED = {
    "an array of INT64": (
        {"type": "ARRAY", "arrayType": {"type": "INT64"}},
        "No matching signature for operator IN UNNEST",
    ),
    "a scalar STRING": ({"type": "STRING"}, "Second argument of IN UNNEST must be an array"),
}


@pytest.mark.parametrize("case", sorted(MISTYPED))
def test_a_mistyped_parameter_fails_the_analysis(case: str, zetasql: ZetaSqlLocalService) -> None:
    parameter_type, message = MISTYPED[case]
    sql, parameters = sent_lookups()[DEAD_LETTER_TABLE]
    wrong = [dict(p, parameterType=parameter_type) if p["name"] == verify_sql.EVENT_IDS else p for p in parameters]
    with pytest.raises(SqlAnalysisError) as failure:
        analyze(sql, wrong)
    assert message in failure.value.message, failure.value.message
