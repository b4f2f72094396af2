"""The dead-letter replay's BigQuery SQL (beam_pipelines/replay_sql.py), analyzed by ZetaSQL as BigQuery resolves it.

The page query is analyzed with the query parameters exactly as google-cloud-bigquery sends them
(``BigQueryReplayStore.job_config(...).to_api_repr()``), against a catalog of schemas/bigquery/*.json. Its output
must be the columns the row reader takes, with their types; planted errors (a wrong column, a mistyped parameter)
must fail. The replay's only other write is an insertAll append to dead_letter_replays: those rows are checked
against the table's schema as insertAll would read them.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from test_bigquery_sql import DATASET, PROJECT, bigquery_catalog, record_problems, typed_columns
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql_catalog import SqlAnalysisError, output_columns

from beam_pipelines.replay import (
    PUBLISHED,
    BigQueryReplayStore,
    DeadLetterRow,
    Replay,
    Selection,
    record_row,
)
from beam_pipelines.replay_sql import PAGE_COLUMNS, PARAMETERS, bigquery_dialect, page_sql
from schemas import REPLAYS_TABLE, table_schema

SQL = page_sql(bigquery_dialect(PROJECT, DATASET))
#: What each page column is, as the row reader (DeadLetterRow.from_page_row) takes it.
PAGE_TYPES = {
    "dead_letter_id": "STRING",
    "timestamp": "TIMESTAMP",
    "message_id": "STRING",
    "event_id": "STRING",
    "error_stage": "STRING",
    "error_kind": "STRING",
    "error_message": "STRING",
    "payload_bytes": "BYTES",
    "attributes_json": "STRING",
}
SELECTIONS = {
    "no filter, first page": (Selection(), None),
    "every filter, a later page": (
        Selection(
            kinds=("customer_mismatch",),
            stages=("business_rule",),
            event_ids=("e-1", "e-2"),
            since=datetime(2026, 11, 1, tzinfo=timezone.utc),
            until=datetime(2026, 11, 2, tzinfo=timezone.utc),
            limit=10,
        ),
        (datetime(2026, 11, 1, 12, 30, 0, 123456, tzinfo=timezone.utc), "pubsub:7:abc"),
    ),
}


def api_parameters(selection: Selection, after) -> list[dict]:
    """The query parameters as the client sends them for one page."""
    config = BigQueryReplayStore(PROJECT, DATASET).job_config(selection.parameters(after, 500))
    return config.to_api_repr()["query"]["queryParameters"]


def analyze(sql: str, parameters: list[dict]):
    catalog = bigquery_catalog()
    catalog.add_api_parameters(parameters)
    return catalog.analyze(sql)


@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_the_page_query_analyzes_to_the_columns_the_reader_takes(name: str, zetasql: ZetaSqlLocalService) -> None:
    selection, after = SELECTIONS[name]
    parameters = api_parameters(selection, after)
    assert {parameter["name"] for parameter in parameters} == set(PARAMETERS)
    resolved = analyze(SQL, parameters)
    assert typed_columns(output_columns(resolved)) == [(column, PAGE_TYPES[column]) for column in PAGE_COLUMNS]


PLANTED = {
    "a column the replay log lacks": (SQL.replace("r.outcome =", "r.status ="), "Name status not found"),
    "a column the dead letters lack": (SQL.replace("error_kind IN UNNEST", "error_type IN UNNEST"), "error_type"),
    "the other table": (SQL.replace("dead_letter_replays`", "dead_letter_replay`"), "Table not found"),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_a_wrong_name_fails_the_analysis(case: str, zetasql: ZetaSqlLocalService) -> None:
    sql, message = PLANTED[case]
    assert sql != SQL
    with pytest.raises(SqlAnalysisError) as failure:
        analyze(sql, api_parameters(Selection(), None))
    assert message in failure.value.message


#: (A STRING parameter compared with a TIMESTAMP is coerced, as BigQuery coerces parameters like literals: not an
#: error, so not planted.)
MISTYPED = {
    "since as a number": ("since", {"type": "INT64"}),
    "page_size as text": ("page_size", {"type": "STRING"}),
    "kinds as one string": ("kinds", {"type": "STRING"}),
    "after_timestamp as a date": ("after_timestamp", {"type": "DATE"}),
}


@pytest.mark.parametrize("case", sorted(MISTYPED))
def test_a_mistyped_parameter_fails_the_analysis(case: str, zetasql: ZetaSqlLocalService) -> None:
    name, wrong_type = MISTYPED[case]
    parameters = [
        {**parameter, "parameterType": wrong_type} if parameter["name"] == name else parameter
        for parameter in api_parameters(Selection(), None)
    ]
    with pytest.raises(SqlAnalysisError):
        analyze(SQL, parameters)


def test_the_replay_log_rows_are_what_insert_all_takes() -> None:
    from beam_pipelines.sinks.changelog import json_value

    dead_letter = DeadLetterRow(
        dead_letter_id="pubsub:7:abc",
        timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc),
        message_id=None,
        event_id=None,
        error_stage="schema",
        error_kind="schema_violation",
        error_message="bad",
        payload=b"{}",
        attributes={},
    )
    at = datetime(2026, 11, 2, tzinfo=timezone.utc)
    published = Replay(dead_letter, PUBLISHED, b"{}", {}, "e-1", replay_message_id="42")
    failed = Replay(dead_letter, "transform_failed", reason="KeyError: 'x'")
    columns = table_schema(REPLAYS_TABLE).columns
    for item, transform in ((published, "fixes:repair"), (failed, None)):
        row = json_value(record_row(item, "run-1", "projects/p/topics/orders", transform, at))
        assert record_problems(row, columns) == []
    wrong = json_value(record_row(failed, "run-1", "projects/p/topics/orders", None, at))
    wrong.pop("replayed_from")
    assert record_problems(wrong, columns)
