"""The production warehouse: BigQuery, written with one parameterized multi-statement transaction per flush.

The batch travels as typed query parameters (``UNNEST(@orders)`` etc.), never as SQL text; the statements
are the same guarded MERGE/DELETE as DuckDB's (see upsert_sql). Transient errors (rate limits, 5xx,
concurrent-transaction aborts) are retried with google-api-core's exponential backoff; when they outlast it,
the flush raises RetryLaterError and the bundle fails, so Dataflow retries it (never a dead letter). A 400 that
is not a transient in disguise is the batch's content: ContentRefusedError, and the sink splits the batch
until the offending snapshots are found. Permissions and missing tables are not the messages' fault:
RetryLaterError, so nothing is dead-lettered while the job is misconfigured.

Tables are never created implicitly: Terraform creates them, or ``--create_tables`` does from schemas/.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from google.api_core import exceptions, retry

from beam_pipelines.messages import SnapshotRows
from beam_pipelines.sinks.base import ContentRefusedError, RetryLaterError
from beam_pipelines.sinks.fold import StoredVersion
from beam_pipelines.sinks.upsert_sql import UpsertSql, staged
from schemas import DEAD_LETTER_TABLE, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, TableSchema, table_names, table_schema
from schemas.types import bigquery_schema, standard_type


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
#: insertAll takes at most 10 MB per request: dead letters go in chunks well under it.
MAX_INSERT_REQUEST_BYTES = 8 << 20
MAX_INSERT_ROWS = 500


@contextlib.contextmanager
def _classified() -> Iterator[None]:
    """Turn what the client raises (after its retries) into the sink's two answers (see sinks.base)."""
    try:
        yield
    except exceptions.RetryError as error:  # transient errors outlasted the retry budget
        raise RetryLaterError(f"BigQuery kept failing transiently: {error.cause or error}") from error
    except exceptions.GoogleAPICallError as error:
        if is_transient(error) or not isinstance(error, exceptions.BadRequest):
            raise RetryLaterError(f"BigQuery {type(error).__name__}: {error}") from error
        raise ContentRefusedError(f"BigQuery refused the batch: {error}") from error
    except (ConnectionError, TimeoutError) as error:
        raise RetryLaterError(f"BigQuery unreachable: {error}") from error
    except (TypeError, ValueError, OverflowError, UnicodeError) as error:  # building the request from values
        raise ContentRefusedError(f"{type(error).__name__}: {error}") from error


def _parameter_type(column):
    from google.cloud import bigquery

    return bigquery.ScalarQueryParameterType(standard_type(column.type), name=column.name)


def rows_parameter(name: str, table: TableSchema, rows: Sequence[dict[str, Any]]):
    """``@name`` as ARRAY<STRUCT<...>> typed from the table schema (typed even when empty)."""
    from google.cloud import bigquery

    struct_type = bigquery.StructQueryParameterType(*(_parameter_type(c) for c in table.columns))
    values = [
        bigquery.StructQueryParameter(
            None,
            *(bigquery.ScalarQueryParameter(c.name, standard_type(c.type), row[c.name]) for c in table.columns),
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

    def qualified(self, name: str) -> str:
        return f"`{self.project}.{self.dataset}.{name}`"

    @property
    def client(self):
        """The client, created on first use: on a worker, at the sink's first flush (never pickled with the
        pipeline, which is built before any client exists)."""
        if self._client is None:
            if self.client_factory is not None:
                self._client = self.client_factory()
            else:
                from google.cloud import bigquery

                self._client = bigquery.Client(project=self.project, location=self.location)
        return self._client

    def prepare(self) -> None:
        if self.create_tables:
            with _classified():
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
                    f"CREATE TEMP TABLE stored_versions AS {self.sql.stored_versions()}",
                    *self.sql.statements(),
                    "COMMIT TRANSACTION",
                    "SELECT order_id, _sequence, _event_id FROM stored_versions",
                ]
            )
            + ";"
        )

    def upsert(self, snapshots: Sequence[SnapshotRows]) -> Mapping[str, StoredVersion]:
        from google.cloud import bigquery

        with _classified():
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
        return {row[0]: StoredVersion(int(row[1]), row[2]) for row in rows}

    def write_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        table = f"{self.project}.{self.dataset}.{DEAD_LETTER_TABLE}"
        with _classified():
            for chunk in _insert_chunks([_json_row(row) for row in rows]):
                # insertId = dead_letter_id: BigQuery drops a redelivered message's second row (best effort, about
                # a minute); dbt's staging model keeps one row per dead_letter_id for what gets past it.
                row_ids = [row.get("dead_letter_id") for row in chunk]

                def insert_once(chunk=chunk, row_ids=row_ids):
                    errors = self.client.insert_rows_json(table, chunk, row_ids=row_ids)
                    if errors:
                        raise exceptions.BadRequest(f"dead-letter insert into {table} failed: {errors[:3]}")

                self.retry_policy(insert_once)()


def _insert_chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Rows in insertAll requests under MAX_INSERT_REQUEST_BYTES and MAX_INSERT_ROWS."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        row_size = len(json.dumps(row)) + 100  # the request wraps each row with its insertId
        if chunk and (size + row_size > MAX_INSERT_REQUEST_BYTES or len(chunk) >= MAX_INSERT_ROWS):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row_size
    if chunk:
        yield chunk


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
            schema=bigquery_schema(table),
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
