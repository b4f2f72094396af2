"""The production warehouse: BigQuery, written with one parameterized multi-statement transaction per flush.

The batch travels as typed query parameters (``UNNEST(@orders)`` etc.), never as SQL text; the statements
are the same guarded MERGE/DELETE as DuckDB's (see upsert_sql). Transient errors (rate limits, 5xx,
concurrent-transaction aborts) are retried with google-api-core's exponential backoff; what still fails
propagates to the sink DoFn, which dead-letters the batch with the error.

Tables are never created implicitly: Terraform creates them, or ``--create_tables`` does from schemas/.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

from google.api_core import exceptions, retry

from beam_pipelines.messages import SnapshotRows
from beam_pipelines.sinks.base import UpsertOutcome
from beam_pipelines.sinks.upsert_sql import UpsertSql, staged
from schemas import DEAD_LETTER, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, TableSchema, table_names, table_schema

_SCALAR_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def is_transient(error: BaseException) -> bool:
    """Errors worth retrying: throttling, server errors, and aborted concurrent transactions."""
    if isinstance(
        error,
        exceptions.TooManyRequests
        | exceptions.InternalServerError
        | exceptions.BadGateway
        | exceptions.ServiceUnavailable
        | exceptions.GatewayTimeout
        | exceptions.Aborted
        | ConnectionError,
    ):
        return True
    text = str(error).lower()
    return isinstance(error, exceptions.BadRequest | exceptions.Forbidden) and (
        "concurrent update" in text or "ratelimitexceeded" in text or "rate limits" in text
    )


DEFAULT_RETRY = retry.Retry(predicate=is_transient, initial=1.0, maximum=32.0, multiplier=2.0, timeout=300.0)


def _parameter_type(column):
    from google.cloud import bigquery

    return bigquery.ScalarQueryParameterType(_SCALAR_TYPES.get(column.type, column.type), name=column.name)


def rows_parameter(name: str, table: TableSchema, rows: Sequence[dict[str, Any]]):
    """``@name`` as ARRAY<STRUCT<...>> typed from the table schema (typed even when empty)."""
    from google.cloud import bigquery

    struct_type = bigquery.StructQueryParameterType(*(_parameter_type(c) for c in table.columns))
    values = [
        bigquery.StructQueryParameter(
            None,
            *(
                bigquery.ScalarQueryParameter(c.name, _SCALAR_TYPES.get(c.type, c.type), row[c.name])
                for c in table.columns
            ),
        )
        for row in rows
    ]
    return bigquery.ArrayQueryParameter(name, struct_type, values)


class BigQueryWarehouse:
    """Upserts into ``project.dataset.orders`` etc. ``client_factory`` lets tests supply the client."""

    def __init__(
        self,
        project: str,
        dataset: str,
        location: str | None = None,
        create_tables: bool = False,
        client_factory: Callable[[], Any] | None = None,
        retry_policy: retry.Retry = DEFAULT_RETRY,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.location = location
        self.create_tables = create_tables
        self.client_factory = client_factory
        self.retry_policy = retry_policy
        self.sql = UpsertSql(self.qualified)
        self._client = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}

    def qualified(self, name: str) -> str:
        return f"`{self.project}.{self.dataset}.{name}`"

    @property
    def client(self):
        if self._client is None:
            if self.client_factory is not None:
                self._client = self.client_factory()
            else:
                from google.cloud import bigquery

                self._client = bigquery.Client(project=self.project, location=self.location)
        return self._client

    def prepare(self) -> None:
        if self.create_tables:
            create_missing_tables(self.client, self.project, self.dataset)

    def script(self) -> str:
        """The whole flush as one BigQuery script: stage, classify, write, commit, report."""
        stage = [
            f"CREATE TEMP TABLE {staged(name)} AS SELECT * FROM UNNEST(@{name})"
            for name in (ORDERS, ORDER_ITEMS, ORDER_PAYMENTS)
        ]
        return (
            ";\n".join(
                [
                    "BEGIN TRANSACTION",
                    *stage,
                    f"CREATE TEMP TABLE batch_outcome AS {self.sql.outcome()}",
                    *self.sql.statements(),
                    "COMMIT TRANSACTION",
                    "SELECT applied, stale, duplicate FROM batch_outcome",
                ]
            )
            + ";"
        )

    def upsert(self, snapshots: Sequence[SnapshotRows]) -> UpsertOutcome:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[
                rows_parameter(ORDERS, table_schema(ORDERS), [s.order for s in snapshots]),
                rows_parameter(ORDER_ITEMS, table_schema(ORDER_ITEMS), [r for s in snapshots for r in s.items]),
                rows_parameter(
                    ORDER_PAYMENTS, table_schema(ORDER_PAYMENTS), [r for s in snapshots for r in s.payments]
                ),
            ]
        )
        script = self.script()

        def run_once():
            return list(self.client.query(script, job_config=config, location=self.location).result())

        rows = self.retry_policy(run_once)()
        applied, stale, duplicate = (rows[0][0], rows[0][1], rows[0][2]) if rows else (0, 0, 0)
        return UpsertOutcome(int(applied or 0), int(stale or 0), int(duplicate or 0))

    def write_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        table = f"{self.project}.{self.dataset}.{DEAD_LETTER}"
        payload = [_json_row(row) for row in rows]

        # insertId = the Pub/Sub message id: BigQuery drops a redelivered message's second row (best effort).
        row_ids = [row.get("message_id") for row in rows]

        def insert_once():
            errors = self.client.insert_rows_json(table, payload, row_ids=row_ids)
            if errors:
                raise exceptions.BadRequest(f"dead-letter insert into {table} failed: {errors[:3]}")

        self.retry_policy(insert_once)()


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A dead-letter row for the streaming insert API (bytes base64, timestamps ISO)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, bytes):
            out[key] = base64.b64encode(value).decode("ascii")
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        else:
            out[key] = value
    if isinstance(out.get("attributes"), str):
        out["attributes"] = json.loads(out["attributes"])
    return out


def create_missing_tables(client, project: str, dataset: str) -> list[str]:
    """Create any missing table from schemas/bigquery with its partitioning and clustering. Returns created."""
    from google.cloud import bigquery

    created = []
    for name in table_names():
        table = table_schema(name)
        definition = bigquery.Table(
            f"{project}.{dataset}.{name}",
            schema=[
                bigquery.SchemaField(c.name, c.type, mode=c.mode, description=c.description) for c in table.columns
            ],
        )
        definition.description = table.description
        if table.partition_field:
            definition.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=table.partition_field
            )
        if table.clustering:
            definition.clustering_fields = list(table.clustering)
        try:
            client.create_table(definition, exists_ok=False)
            created.append(name)
        except exceptions.Conflict:
            pass
    return created
