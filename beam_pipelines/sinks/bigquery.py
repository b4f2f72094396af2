"""The production warehouse: BigQuery, written by appending each flush's snapshots to a changelog.

A flush streams one row per order (its newest snapshot of the batch, lines nested) into ``order_snapshots``
with insertAll: no DML, so Dataflow's parallel bundles never contend for a table, and nothing a message holds
ever becomes SQL text. The ``*_current`` views give the exact newest snapshot of every order at once; a
scheduled compaction folds the changelog into ``orders``, ``order_items`` and ``order_payments`` (see
sinks/compaction_sql.py and BENCHMARKS.md for why this design, on numbers).

Transient errors (rate limits, 5xx) are retried with google-api-core's exponential backoff; when they outlast
it, the flush raises RetryLaterError and the bundle fails, so Dataflow retries it (never a dead letter). A
refused row is the batch's content: ContentRefusedError, and the sink splits the batch until the offending
snapshots are found. Permissions and missing tables are not the messages' fault: RetryLaterError, so nothing
is dead-lettered while the job is misconfigured.

Tables are never created implicitly: Terraform creates them, or ``--create_tables`` does from schemas/.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from google.api_core import exceptions, retry

from beam_pipelines.messages import SnapshotRows
from beam_pipelines.pipeline_metrics import TABLE as PIPELINE_METRICS
from beam_pipelines.sinks.base import ContentRefusedError, RetryLaterError
from beam_pipelines.sinks.changelog import json_row, json_value
from beam_pipelines.sinks.compaction_sql import CompactionSql, bigquery_dialect
from beam_pipelines.sinks.fold import StoredVersion
from schemas import CHANGELOG_TABLE, DEAD_LETTER_TABLE, table_names, table_schema
from schemas.types import bigquery_schema

LOGGER = logging.getLogger(__name__)


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
#: pipeline_metrics rows are best effort: a few quick retries, then the sink drops them (never a long wait).
METRICS_RETRY = retry.Retry(predicate=is_transient, initial=0.2, maximum=1.0, multiplier=2.0, timeout=5.0)
#: Seconds one pipeline_metrics insertAll request may take.
METRICS_REQUEST_TIMEOUT = 10.0
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
        metrics_retry_policy: retry.Retry = METRICS_RETRY,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.location = location
        self.create_tables = create_tables
        self.client_factory = client_factory
        self.retry_policy = retry_policy
        self.metrics_retry_policy = metrics_retry_policy
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
                added = add_missing_columns(self.client, self.project, self.dataset)
                if added:
                    LOGGER.warning("added columns from a newer schema: %s", ", ".join(added))
                create_views(self.client, self.project, self.dataset)

    def upsert(self, snapshots: Sequence[SnapshotRows]) -> Mapping[str, StoredVersion]:
        """Append the snapshots to the changelog. What the orders held is not read (that would be a query per
        flush): the result is empty, so the sink counts each batch winner as applied; stale and duplicate
        snapshots across batches are settled by the views and the compaction, which dead-letters conflicts."""
        # _ingested_at is when the row is appended (the changelog's order and the compaction's window), not when
        # the worker built it: a batch held up by retries still lands inside the window that reads it.
        appended_at = datetime.now(timezone.utc)
        rows = [json_row(s, appended_at) for s in snapshots]
        row_ids = [_row_id(s) for s in snapshots]
        self._insert(CHANGELOG_TABLE, rows, row_ids)
        return {}

    def write_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        # insertId = dead_letter_id: BigQuery drops a redelivered message's second row (best effort, about a
        # minute); dbt's staging model keeps one row per dead_letter_id for what gets past it.
        ids = [row.get("dead_letter_id") for row in rows]
        self._insert(DEAD_LETTER_TABLE, [_dead_letter_json(row) for row in rows], ids)

    def write_metrics(self, rows: Sequence[dict[str, Any]]) -> None:
        """insertAll pipeline_metrics rows, retried for seconds at most (METRICS_RETRY). Each row gets its own
        insertId, kept across those retries: a retried request is not counted twice, and no two rows dedupe."""
        if not rows:
            return
        self._insert(
            PIPELINE_METRICS,
            [json_value(row) for row in rows],
            [uuid.uuid4().hex for _ in rows],
            retry_policy=self.metrics_retry_policy,
            timeout=METRICS_REQUEST_TIMEOUT,
        )

    def _insert(
        self,
        name: str,
        rows: list[dict[str, Any]],
        row_ids: list[str | None],
        retry_policy: retry.Retry | None = None,
        timeout: float | None = None,
    ) -> None:
        """insertAll ``rows`` into ``name`` in requests under BigQuery's limits, each retried on transient errors
        (``retry_policy``, by default the warehouse's) and, with ``timeout``, given that many seconds each."""
        table = f"{self.project}.{self.dataset}.{name}"
        retry_policy = retry_policy or self.retry_policy
        options = {} if timeout is None else {"timeout": timeout}
        with _classified():
            for start, end in _insert_chunks(rows):

                def insert_once(chunk=rows[start:end], ids=row_ids[start:end]):
                    errors = self.client.insert_rows_json(table, chunk, row_ids=ids, **options)
                    if errors:
                        raise exceptions.BadRequest(f"insert into {table} failed: {errors[:3]}")

                retry_policy(insert_once)()


def _row_id(snapshot: SnapshotRows) -> str:
    """insertId of a changelog row: the same snapshot appended again (a redelivery, a retried bundle) is dropped
    by BigQuery's best-effort deduplication; what gets past it counts once in the views and the compaction."""
    key = f"{snapshot.order_id}\x00{snapshot.sequence}\x00{snapshot.event_id}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def _insert_chunks(rows: list[dict[str, Any]]) -> Iterator[tuple[int, int]]:
    """[start, end) ranges of ``rows`` in insertAll requests under MAX_INSERT_REQUEST_BYTES and MAX_INSERT_ROWS."""
    start, size = 0, 0
    for index, row in enumerate(rows):
        row_size = len(json.dumps(row)) + 100  # the request wraps each row with its insertId
        if index > start and (size + row_size > MAX_INSERT_REQUEST_BYTES or index - start >= MAX_INSERT_ROWS):
            yield start, index
            start, size = index, 0
        size += row_size
    if start < len(rows):
        yield start, len(rows)


def _dead_letter_json(row: dict[str, Any]) -> dict[str, Any]:
    """A dead-letter row for the streaming insert API (the attributes column is JSON: an object, not text)."""
    out = json_value(row)
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
            expiration = table.partition_expiration_days
            definition.time_partitioning = bigquery.TimePartitioning(
                type_=table.partition_type,
                field=table.partition_field,
                expiration_ms=expiration * 86_400_000 if expiration else None,
            )
        if table.clustering:
            definition.clustering_fields = list(table.clustering)
        try:
            client.create_table(definition, exists_ok=False)
            created.append(name)
        except exceptions.Conflict:
            pass
    return created


def add_missing_columns(client, project: str, dataset: str) -> list[str]:
    """Add to existing tables the nullable columns schemas/bigquery has and they lack (e.g. schema version 2's
    columns of ``orders`` and the changelog), at the end, as BigQuery adds columns. Returns "table.column"
    added. A missing REQUIRED column cannot be added to rows that exist: that is an error to migrate by hand."""
    added = []
    for name in table_names():
        table = table_schema(name)
        try:
            existing = client.get_table(f"{project}.{dataset}.{name}")
        except exceptions.NotFound:
            continue
        present = {field.name for field in existing.schema}
        missing = [column for column in table.columns if column.name not in present]
        required = [column.name for column in missing if column.required]
        if required:
            raise RuntimeError(
                f"{project}.{dataset}.{name} lacks REQUIRED column(s) {required} that schemas/bigquery has; "
                "a required column cannot be added to a table with rows (schemas/README.md)"
            )
        if missing:
            wanted = {field.name: field for field in bigquery_schema(table)}
            existing.schema = [*existing.schema, *(wanted[column.name] for column in missing)]
            client.update_table(existing, ["schema"])
            added += [f"{name}.{column.name}" for column in missing]
    return added


def create_views(client, project: str, dataset: str) -> list[str]:
    """(Re)create the ``*_current`` views (CREATE OR REPLACE: they follow the code's definition). Returns them."""
    views = CompactionSql(bigquery_dialect(project, dataset)).views()
    for statement in views.values():
        client.query(statement).result()
    return list(views)
