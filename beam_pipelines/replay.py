"""``python -m beam_pipelines.replay``: republish dead letters to the orders topic, optionally transformed.

A dead letter that was refused for a reason since fixed (a schema version deployed later, a producer bug a
function can repair) is selected from ``order_events_dead_letter``, optionally passed through a user function,
republished to the topic with its attributes plus ``replayed_from``, and recorded in ``dead_letter_replays``.

- **Selection**: ``--kind``, ``--stage``, ``--event_id`` (each repeatable), ``--since``/``--until`` (on the
  dead letter's ``timestamp``: since inclusive, until exclusive) and ``--limit``; one row per
  ``dead_letter_id``, oldest first. Rows ``dead_letter_replays`` records as published are never selected again,
  so a second run replays nothing. Rows whose payload was cut (over 1 MiB) or not kept cannot be replayed and
  are never selected.
- **Transform** (``--transform module:function`` or ``path/file.py:function``): called as
  ``function(body, attributes)``. ``body`` is the payload parsed as JSON (usually a dict) when it is UTF-8
  JSON, else the raw bytes; ``attributes`` is a copy of the original attributes (dict of str). It returns
  ``(new_body, new_attributes)`` to publish (a bytes or str body is sent as is, anything else as compact
  JSON) or ``None`` to skip the row. An exception skips that row only (``transform_failed``, with the
  error), never the run. When the new body is a JSON object, the attributes that repeat a body field
  (event_id, event_type, schema_version, event_time) are set from it, because the pipeline dead-letters a
  message whose attributes disagree with its body. Without a transform the payload is republished byte for
  byte with its original attributes.
- **Marking**: dead-letter rows are never updated (on BigQuery they arrive by streaming insert, and rows in
  the streaming buffer cannot be UPDATEd); each handled row is appended to ``dead_letter_replays`` with its
  outcome. Publish first, then record: a crash in between republishes those rows on the next run, which the
  pipeline's idempotent upsert absorbs (same event_id and sequence: a duplicate, counted, not applied twice).
- **Dry run** by default: the same selection and transform, nothing published or recorded; ``--execute``
  publishes.

The SQL lives in beam_pipelines/replay_sql.py (values bound as parameters, never spliced).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from beam_pipelines.replay_sql import PAGE_COLUMNS, PARAMETERS, bigquery_dialect, duckdb_dialect, page_sql, record_sql
from schemas import DEAD_LETTER_TABLE, REPLAYS_TABLE
from schemas.settings import (
    DEFAULT_DATASET,
    DEFAULT_LOCK_TIMEOUT,
    DUCKDB_PATH_ENV,
    PUBSUB_EMULATOR_HOST_ENV,
    default_duckdb_path,
    default_raw_schema,
)
from schemas.timestamps import TimestampError, parse_timestamp
from schemas.validation import ATTRIBUTE_FIELDS

LOGGER = logging.getLogger(__name__)

#: The attribute that names what a republished message replays: the dead letter's message id (or its
#: dead_letter_id when it has none, e.g. a file backfill).
REPLAYED_FROM = "replayed_from"
#: Outcomes recorded in dead_letter_replays. Only PUBLISHED keeps a dead letter from being selected again.
PUBLISHED = "published"
SKIPPED = "skipped"
TRANSFORM_FAILED = "transform_failed"
PUBLISH_FAILED = "publish_failed"
#: What a dry run reports for a row it would publish.
WOULD_PUBLISH = "would_publish"
FAILED_OUTCOMES = (TRANSFORM_FAILED, PUBLISH_FAILED)

#: Exit codes (also in --help).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_ROWS_FAILED = 3
EXIT_INTERRUPTED = 130

#: Dead letters per page: one query, one publish batch and one append to dead_letter_replays.
DEFAULT_PAGE_SIZE = 500
#: How long the start-up check waits for Pub/Sub answering with transient errors (an emulator not up yet).
PUBSUB_PATIENCE_SECONDS = 15.0
#: How long one publish may take before its row counts as publish_failed.
PUBLISH_TIMEOUT_SECONDS = 120.0
#: Seconds between two progress lines of a long run.
PROGRESS_EVERY_SECONDS = 5.0
#: Longest reason text recorded (a transform's exception message can be anything).
MAX_REASON_CHARS = 2000

EPILOG = """examples:
  # what would be replayed (a dry run: nothing is published or recorded)
  python -m beam_pipelines.replay --kind unsupported_schema_version --since 2026-11-01

  # republish them to the local emulator's orders topic
  export PUBSUB_EMULATOR_HOST=127.0.0.1:8085
  python -m beam_pipelines.replay --kind unsupported_schema_version --since 2026-11-01 \\
      --topic projects/local-project/topics/orders --execute

  # repair a field with your own function first (see "transform" below), 100 rows at most
  python -m beam_pipelines.replay --stage business_rule --kind customer_mismatch \\
      --transform fixes/orders.py:copy_customer_id --limit 100 --topic projects/local-project/topics/orders --execute

  # on BigQuery (the dataset Terraform created; credentials from gcloud application-default login)
  python -m beam_pipelines.replay --bq_project my-proj --bq_dataset orders_rt --event_id 3f1c... \\
      --topic projects/my-proj/topics/orders --execute

transform: def fix(body, attributes) -> tuple[body, attributes] | None
  body is the parsed JSON (usually a dict) when the payload is UTF-8 JSON, else the raw bytes. Return the
  body to publish (bytes/str as is, anything else as JSON) and its attributes, or None to skip the row. An
  exception skips only that row. event_id, event_type, schema_version and event_time attributes are set from
  a JSON object body; replayed_from=<original message id> is always added.

exit codes:
  0  done: every selected row was published (or would be, in a dry run) or skipped by the transform
  1  could not run: no warehouse file or table, the DuckDB file locked too long, BigQuery or Pub/Sub
     unreachable, the topic missing, --transform not importable
  2  wrong flags
  3  done, but some rows failed (the transform raised, or publishing failed): they are recorded with the
     reason and selected again by the next run
  130 interrupted
"""


class ReplayError(RuntimeError):
    """The replay cannot run (or go on): the message says what to fix."""


# --- What is replayed ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which dead letters to replay; empty tuples and None select everything."""

    kinds: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def parameters(self, after: tuple[datetime, str] | None, page_size: int) -> dict[str, Any]:
        """Values of replay_sql.PARAMETERS for the page after ``after`` (the last key of the previous page)."""
        return {
            "kinds": list(self.kinds),
            "stages": list(self.stages),
            "event_ids": list(self.event_ids),
            "since": self.since,
            "until": self.until,
            "published": PUBLISHED,
            "after_timestamp": after[0] if after else None,
            "after_dead_letter_id": after[1] if after else None,
            "page_size": page_size,
        }


@dataclass(frozen=True)
class DeadLetterRow:
    """A selected row of order_events_dead_letter."""

    dead_letter_id: str
    timestamp: datetime
    message_id: str | None
    event_id: str | None
    error_stage: str
    error_kind: str
    error_message: str
    payload: bytes
    attributes: dict[str, str]

    @property
    def key(self) -> tuple[datetime, str]:
        """Its place in the selection's order (the keyset of the next page)."""
        return self.timestamp, self.dead_letter_id

    @property
    def replayed_from(self) -> str:
        return self.message_id or self.dead_letter_id

    @classmethod
    def from_page_row(cls, values: Sequence[Any]) -> DeadLetterRow:
        row = dict(zip(PAGE_COLUMNS, values, strict=True))
        attributes = json.loads(row["attributes_json"]) if row["attributes_json"] else {}
        return cls(
            dead_letter_id=row["dead_letter_id"],
            timestamp=row["timestamp"],
            message_id=row["message_id"],
            event_id=row["event_id"],
            error_stage=row["error_stage"],
            error_kind=row["error_kind"],
            error_message=row["error_message"],
            payload=bytes(row["payload_bytes"]),
            attributes={str(key): str(value) for key, value in (attributes or {}).items()},
        )


@dataclass(frozen=True)
class Replay:
    """What one dead letter becomes: a message to publish, or a row skipped or failed (with the reason)."""

    dead_letter: DeadLetterRow
    outcome: str
    data: bytes | None = None
    attributes: dict[str, str] | None = None
    event_id: str | None = None
    reason: str | None = None
    replay_message_id: str | None = None


# --- The transform ------------------------------------------------------------------------------------------

Transform = Callable[[Any, dict[str, str]], Any]


def load_transform(spec: str) -> Transform:
    """``module:function`` (imported; the working directory is on the path) or ``path/to/file.py:function``."""
    module_name, _, function_name = spec.rpartition(":")
    if not module_name or not function_name:
        raise ReplayError(f"--transform must be module:function or path/file.py:function, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ReplayError(f"--transform {spec}: no file {path}")
            module_spec = importlib.util.spec_from_file_location(f"replay_transform_{path.stem}", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except ReplayError:
        raise
    except Exception as error:  # an import error, or the module raising while it loads
        raise ReplayError(
            f"--transform {spec}: cannot import {module_name}: {type(error).__name__}: {error}"
        ) from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ReplayError(f"--transform {spec}: {module_name} has no function {function_name!r}")
    return function


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parsed_body(payload: bytes) -> Any:
    """The payload as parsed JSON when it is UTF-8 JSON (no NaN/Infinity), else the bytes themselves."""
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return bytes(payload)


def encoded_body(body: Any) -> bytes:
    """What a transform returned, as message data: bytes as is, text as UTF-8, anything else as compact JSON."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def consistent_attributes(body: Any, attributes: Mapping[str, str]) -> dict[str, str]:
    """``attributes`` with those that repeat a field of a JSON-object ``body`` set from it (dropped when the body
    lacks the field), as the publisher builds them, so the pipeline finds them agreeing with the body."""
    out = dict(attributes)
    if not isinstance(body, dict):
        return out
    for name in ATTRIBUTE_FIELDS:
        value = body.get(name)
        if value is None or isinstance(value, dict | list):
            out.pop(name, None)
        else:
            out[name] = str(value)
    return out


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def prepare(row: DeadLetterRow, transform: Transform | None = None) -> Replay:
    """The message to republish for ``row`` (WOULD_PUBLISH), or why not (SKIPPED, TRANSFORM_FAILED). Never raises."""
    if transform is None:
        attributes = {**row.attributes, REPLAYED_FROM: row.replayed_from}
        return Replay(row, WOULD_PUBLISH, row.payload, attributes, row.event_id)
    try:
        result = transform(parsed_body(row.payload), dict(row.attributes))
        if result is None:
            return Replay(row, SKIPPED, reason="the transform returned None", event_id=row.event_id)
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise TypeError(f"the transform must return (body, attributes) or None, got {type(result).__name__}")
        body, attributes = result
        if not isinstance(attributes, Mapping):
            raise TypeError(f"the attributes it returns must be a dict, got {type(attributes).__name__}")
        data = encoded_body(body)
        attributes = consistent_attributes(body, attributes)
        wrong = [key for key, value in attributes.items() if not isinstance(key, str) or not isinstance(value, str)]
        if wrong:
            raise TypeError(f"attribute keys and values must be strings; not so for {sorted(map(str, wrong))}")
    except Exception as error:  # the user's code: one row fails, never the run
        return Replay(row, TRANSFORM_FAILED, reason=_short(error), event_id=row.event_id)
    attributes[REPLAYED_FROM] = row.replayed_from
    event_id = attributes.get("event_id") if isinstance(body, dict) else row.event_id
    return Replay(row, WOULD_PUBLISH, data, attributes, event_id)


# --- The warehouse: select pages, record outcomes -----------------------------------------------------------


class ReplayStore(Protocol):
    """Where dead letters are read and replays recorded (DuckDB or BigQuery)."""

    description: str

    def prepare(self) -> None:
        """Check that the tables are there (raise ReplayError saying how to create them)."""

    def page(self, selection: Selection, after: tuple[datetime, str] | None, size: int) -> list[DeadLetterRow]:
        """The next ``size`` dead letters of the selection after the key ``after``."""

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to dead_letter_replays."""


class DuckDBReplayStore:
    """The local warehouse file. Each page and each record is one short connection, waiting (bounded) while
    another process (the pipeline) holds the file."""

    def __init__(self, path: Path, schema: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.sql = page_sql(duckdb_dialect(schema))
        self.description = f"DuckDB {self.path} (schema {schema})"

    @contextlib.contextmanager
    def _connection(self, read_only: bool) -> Iterator[Any]:
        import duckdb

        from warehouse.connection import WarehouseLockedError, connect

        try:
            with connect(self.path, read_only=read_only, lock_timeout=self.lock_timeout) as connection:
                yield connection
        except WarehouseLockedError as error:
            raise ReplayError(
                f"{error} (is a pipeline holding it? try again, or raise --duckdb_lock_timeout)"
            ) from error
        except duckdb.Error as error:
            raise ReplayError(f"{self.path}: {type(error).__name__}: {error}") from error

    def prepare(self) -> None:
        import duckdb

        from warehouse.connection import WarehouseLockedError, ensure_tables

        if not self.path.is_file():
            raise ReplayError(
                f"no DuckDB warehouse at {self.path}: give --duckdb_path (default ${DUCKDB_PATH_ENV} or "
                "data/warehouse.duckdb), or run the pipeline first"
            )
        with self._connection(read_only=True) as connection:
            present = {
                name
                for (name,) in connection.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [self.schema]
                ).fetchall()
            }
        if DEAD_LETTER_TABLE not in present:
            raise ReplayError(
                f"{self.path} has no table {self.schema}.{DEAD_LETTER_TABLE}: wrong --duckdb_schema, or no pipeline "
                "ever wrote to this file"
            )
        if REPLAYS_TABLE not in present:  # a file from before replays: create the table as every command would
            try:
                ensure_tables(self.path, self.schema, lock_timeout=self.lock_timeout)
            except (WarehouseLockedError, duckdb.Error) as error:
                raise ReplayError(f"{self.path}: cannot create {self.schema}.{REPLAYS_TABLE}: {error}") from error

    def page(self, selection: Selection, after: tuple[datetime, str] | None, size: int) -> list[DeadLetterRow]:
        with self._connection(read_only=True) as connection:
            rows = connection.execute(self.sql, selection.parameters(after, size)).fetchall()
        return [DeadLetterRow.from_page_row(row) for row in rows]

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        from beam_pipelines.sinks.duckdb import arrow_batch

        batch = arrow_batch(REPLAYS_TABLE, rows)
        with self._connection(read_only=False) as connection:
            connection.register("batch_dead_letter_replays", batch)
            connection.execute(record_sql(self.schema, batch.column_names, "batch_dead_letter_replays"))


class BigQueryReplayStore:
    """The production dataset: the page query is a parameterized query job; records are insertAll appends (no
    DML, so nothing waits on the streaming buffer). ``client_factory`` lets tests supply the client."""

    def __init__(
        self,
        project: str,
        dataset: str,
        location: str | None = None,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.location = location
        self.client_factory = client_factory
        self.sql = page_sql(bigquery_dialect(project, dataset))
        self.description = f"BigQuery {project}.{dataset}"
        self._client = None

    @property
    def client(self) -> Any:
        if self._client is None:
            if self.client_factory is not None:
                self._client = self.client_factory()
            else:
                from google.cloud import bigquery

                self._client = bigquery.Client(project=self.project, location=self.location)
        return self._client

    def table_id(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"

    @contextlib.contextmanager
    def _classified(self, doing: str) -> Iterator[None]:
        from google.api_core import exceptions

        try:
            yield
        except exceptions.NotFound as error:
            raise ReplayError(
                f"{doing}: not found ({error}). Terraform creates the tables "
                f"(terraform apply), or `python streaming_job.py --sink bigquery --bq_project {self.project} "
                f"--bq_dataset {self.dataset} --create_tables ...` does"
            ) from error
        except exceptions.Forbidden as error:
            raise ReplayError(
                f"{doing}: permission denied ({error}). Replay needs the replay service account's roles "
                "(terraform/replay.tf) or the same grants"
            ) from error
        except (exceptions.GoogleAPIError, ConnectionError, TimeoutError) as error:
            raise ReplayError(f"{doing}: BigQuery {type(error).__name__}: {error}") from error

    def prepare(self) -> None:
        for name in (DEAD_LETTER_TABLE, REPLAYS_TABLE):
            with self._classified(f"table {self.table_id(name)}"):
                self.client.get_table(self.table_id(name))

    def job_config(self, parameters: Mapping[str, Any]) -> Any:
        from google.cloud import bigquery

        query_parameters = []
        for name, (type_, repeated) in PARAMETERS.items():
            if repeated:
                query_parameters.append(bigquery.ArrayQueryParameter(name, type_, list(parameters[name])))
            else:
                query_parameters.append(bigquery.ScalarQueryParameter(name, type_, parameters[name]))
        return bigquery.QueryJobConfig(query_parameters=query_parameters)

    def page(self, selection: Selection, after: tuple[datetime, str] | None, size: int) -> list[DeadLetterRow]:
        config = self.job_config(selection.parameters(after, size))
        with self._classified("selecting dead letters"):
            rows = self.client.query(self.sql, job_config=config, location=self.location).result()
            return [DeadLetterRow.from_page_row([row[column] for column in PAGE_COLUMNS]) for row in rows]

    def record(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        from google.api_core import exceptions

        from beam_pipelines.sinks.bigquery import DEFAULT_RETRY
        from beam_pipelines.sinks.changelog import json_value

        table = self.table_id(REPLAYS_TABLE)
        # insertId per (run, dead letter): a retried request is stored once, and no two rows dedupe.
        row_ids = [hashlib.sha256(f"{r['run_id']}\x00{r['dead_letter_id']}".encode()).hexdigest()[:32] for r in rows]

        def insert_once() -> None:
            errors = self.client.insert_rows_json(table, [json_value(row) for row in rows], row_ids=row_ids)
            if errors:
                raise exceptions.BadRequest(f"insert into {table} failed: {errors[:3]}")

        with self._classified(f"recording replays in {table}"):
            DEFAULT_RETRY(insert_once)()


# --- Pub/Sub ------------------------------------------------------------------------------------------------


class TopicPublisher:
    """Publishes to one topic (PUBSUB_EMULATOR_HOST selects the emulator); ``client`` lets tests supply one."""

    def __init__(self, topic: str, client: Any = None) -> None:
        self.topic = topic
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import pubsub_v1

            self._client = pubsub_v1.PublisherClient()
        return self._client

    def check(self, patience: float = PUBSUB_PATIENCE_SECONDS) -> None:
        """Fail early, before anything is published, when the topic is missing or Pub/Sub unreachable."""
        from google.api_core import exceptions

        from beam_pipelines.pubsub_client import pubsub_retry

        where = os.environ.get(PUBSUB_EMULATOR_HOST_ENV)
        where = f"the emulator at {where} ({PUBSUB_EMULATOR_HOST_ENV})" if where else "Google Cloud Pub/Sub"
        try:
            self.client.get_topic(request={"topic": self.topic}, retry=pubsub_retry(patience), timeout=patience)
        except exceptions.NotFound as error:
            raise ReplayError(f"topic {self.topic} does not exist on {where}") from error
        except exceptions.PermissionDenied as error:
            raise ReplayError(f"no permission on topic {self.topic}: {error}") from error
        except (exceptions.GoogleAPIError, ConnectionError, TimeoutError) as error:
            raise ReplayError(f"cannot reach {where}: {type(error).__name__}: {error}") from error

    def publish(self, messages: Sequence[tuple[bytes, dict[str, str]]]) -> list[str | BaseException]:
        """Publish all, then wait for each: its message id, or the error that kept it from being published."""
        futures = []
        for data, attributes in messages:
            try:
                futures.append(self.client.publish(self.topic, data, **attributes))
            except Exception as error:  # refused before sending (e.g. an attribute over Pub/Sub's limits)
                futures.append(error)
        results: list[str | BaseException] = []
        for future in futures:
            if isinstance(future, BaseException):
                results.append(future)
                continue
            try:
                results.append(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
            except Exception as error:
                results.append(error)
        return results

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.stop()


# --- The run ------------------------------------------------------------------------------------------------


@dataclass
class ReplayReport:
    """What a run selected and did; ``shown`` keeps the first rows for the listing."""

    execute: bool
    show: int = 20
    selected: int = 0
    by_error: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    shown: list[Replay] = field(default_factory=list)
    failures: list[Replay] = field(default_factory=list)

    def add(self, replays: Sequence[Replay]) -> None:
        for item in replays:
            self.selected += 1
            self.by_error[(item.dead_letter.error_stage, item.dead_letter.error_kind)] += 1
            self.outcomes[item.outcome] += 1
            if len(self.shown) < self.show:
                self.shown.append(item)
            if item.outcome in FAILED_OUTCOMES and len(self.failures) < max(self.show, 20):
                self.failures.append(item)

    @property
    def failed(self) -> int:
        return sum(self.outcomes[outcome] for outcome in FAILED_OUTCOMES)


def record_row(item: Replay, run_id: str, topic: str, transform_name: str | None, at: datetime) -> dict[str, Any]:
    """The dead_letter_replays row of one handled dead letter."""
    return {
        "run_id": run_id,
        "replayed_at": at,
        "dead_letter_id": item.dead_letter.dead_letter_id,
        "outcome": item.outcome,
        "reason": item.reason,
        "replay_message_id": item.replay_message_id,
        "topic": topic,
        "transform": transform_name,
        "event_id": item.event_id,
        "replayed_from": item.dead_letter.replayed_from,
        "error_stage": item.dead_letter.error_stage,
        "error_kind": item.dead_letter.error_kind,
    }


def _published(prepared: list[Replay], publisher: TopicPublisher) -> list[Replay]:
    """Publish what is to be published; each such row becomes PUBLISHED (with its message id) or PUBLISH_FAILED."""
    sending = [index for index, item in enumerate(prepared) if item.outcome == WOULD_PUBLISH]
    results = publisher.publish([(prepared[i].data, prepared[i].attributes) for i in sending])
    done = list(prepared)
    for index, result in zip(sending, results, strict=True):
        if isinstance(result, BaseException):
            done[index] = replace(prepared[index], outcome=PUBLISH_FAILED, reason=_short(result))
        else:
            done[index] = replace(prepared[index], outcome=PUBLISHED, replay_message_id=str(result))
    return done


def run_replay(
    store: ReplayStore,
    selection: Selection,
    *,
    transform: Transform | None = None,
    transform_name: str | None = None,
    publisher: TopicPublisher | None = None,
    topic: str | None = None,
    show: int = 20,
    page_size: int = DEFAULT_PAGE_SIZE,
    on_page: Callable[[ReplayReport], None] | None = None,
) -> ReplayReport:
    """Replay the selection page by page: select, transform and, with a ``publisher`` (--execute), publish then
    record. Without one (a dry run) nothing is published or recorded."""
    execute = publisher is not None
    report = ReplayReport(execute=execute, show=show)
    run_id = uuid.uuid4().hex
    after = None
    remaining = selection.limit
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        page = store.page(selection, after, size)
        if not page:
            break
        after = page[-1].key
        handled = [prepare(row, transform) for row in page]
        if execute:
            handled = _published(handled, publisher)
            now = datetime.now(timezone.utc)
            rows = [record_row(item, run_id, topic or publisher.topic, transform_name, now) for item in handled]
            try:
                store.record(rows)
            except ReplayError as error:
                published = sum(item.outcome == PUBLISHED for item in handled)
                raise ReplayError(
                    f"{error}. {published} message(s) of the last page were published but not recorded: the next "
                    "run publishes them again, which the pipeline absorbs (same event_id and sequence)"
                ) from error
        report.add(handled)
        if on_page is not None:
            on_page(report)
        if remaining is not None:
            remaining -= len(page)
        if len(page) < size:
            break
    return report


# --- The command --------------------------------------------------------------------------------------------


def _moment(text: str) -> datetime:
    """An RFC 3339 timestamp, or an ISO 8601 date or zone-less date-time taken as UTC."""
    try:
        return parse_timestamp(text)
    except TimestampError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 timestamp (2026-11-21, 2026-11-21T10:00:00Z), got {text!r}"
        ) from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _topic(text: str) -> str:
    parts = text.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "topics" or not all(parts):
        raise argparse.ArgumentTypeError(f"expected projects/PROJECT/topics/TOPIC, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    from orders_local.cli import OneLineErrorParser  # the command line only: not in the Dataflow image

    parser = OneLineErrorParser(
        prog="python -m beam_pipelines.replay",
        description="Republish dead letters from order_events_dead_letter to the orders topic, optionally "
        "repaired by your own function, and record each in dead_letter_replays so that none is replayed twice. "
        "A dry run unless --execute is given. Multi-word flags are spelled as streaming_job.py and "
        "beam_pipelines.compaction spell them (--bq_project); the hyphenated spelling works too.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    select = parser.add_argument_group("which dead letters (all given filters apply; repeat a flag for several)")
    select.add_argument(
        "--kind", action="append", default=[], metavar="KIND", help="error_kind, e.g. customer_mismatch"
    )
    select.add_argument("--stage", action="append", default=[], metavar="STAGE", help="error_stage, e.g. schema")
    select.add_argument("--event_id", "--event-id", action="append", default=[], metavar="ID", help="event_id")
    select.add_argument("--since", type=_moment, metavar="TIME", help="dead-lettered at or after TIME (ISO 8601; UTC)")
    select.add_argument("--until", type=_moment, metavar="TIME", help="dead-lettered before TIME (ISO 8601; UTC)")
    select.add_argument("--limit", type=_positive, metavar="N", help="at most N dead letters, oldest first")
    act = parser.add_argument_group("what to do")
    act.add_argument(
        "--transform",
        metavar="MODULE:FUNCTION",
        help="pass each payload through FUNCTION(body, attributes) of MODULE (importable from the working "
        "directory) or of a file (path/file.py:function) before republishing; see 'transform' below",
    )
    act.add_argument("--topic", type=_topic, help="republish to projects/P/topics/T (needed with --execute)")
    act.add_argument(
        "--execute", action="store_true", help="publish and record; without it, only show what would be replayed"
    )
    act.add_argument("--show", type=_non_negative, default=20, metavar="N", help="list the first N rows (default 20)")
    local = parser.add_argument_group("local warehouse (default)")
    local.add_argument(
        "--duckdb_path",
        "--duckdb-path",
        type=Path,
        default=None,
        help=f"DuckDB file (default ${DUCKDB_PATH_ENV} or data/warehouse.duckdb)",
    )
    local.add_argument(
        "--duckdb_schema",
        "--duckdb-schema",
        default=None,
        help=f"schema of its tables (default $ORDERS_RT_SCHEMA or {DEFAULT_DATASET})",
    )
    local.add_argument(
        "--duckdb_lock_timeout",
        "--duckdb-lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        help=f"seconds to wait while another process holds the file (default {DEFAULT_LOCK_TIMEOUT:.0f})",
    )
    cloud = parser.add_argument_group("BigQuery (instead of DuckDB)")
    cloud.add_argument("--bq_project", "--bq-project", help="GCP project of the dataset")
    cloud.add_argument(
        "--bq_dataset", "--bq-dataset", default=None, help=f"dataset of the tables (default {DEFAULT_DATASET})"
    )
    cloud.add_argument("--bq_location", "--bq-location", default=None, help="BigQuery location (e.g. US)")
    return parser


def make_store(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ReplayStore:
    if args.bq_project:
        if args.duckdb_path is not None or args.duckdb_schema is not None:
            parser.error("give either --bq_project (BigQuery) or --duckdb_path/--duckdb_schema (DuckDB), not both")
        return BigQueryReplayStore(args.bq_project, args.bq_dataset or DEFAULT_DATASET, args.bq_location)
    if args.bq_dataset or args.bq_location:
        parser.error("--bq_dataset and --bq_location go with --bq_project")
    return DuckDBReplayStore(
        args.duckdb_path or default_duckdb_path(), args.duckdb_schema or default_raw_schema(), args.duckdb_lock_timeout
    )


def _one_line(text: str | None, width: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_report(report: ReplayReport, topic: str | None, transform_name: str | None, store: str) -> str:
    verb = "replayed" if report.execute else "would replay"
    lines = [
        f"{'' if report.execute else 'DRY RUN (nothing published or recorded; add --execute): '}"
        f"{report.selected:,} dead letter(s) selected from {store}; {verb} to {topic or '(no --topic given)'}"
        + (f" through {transform_name}" if transform_name else "")
    ]
    if report.selected:
        lines.append("by stage/kind:")
        for (stage, kind), count in sorted(report.by_error.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"  {stage}/{kind}: {count:,}")
        lines.append("outcomes: " + ", ".join(f"{name} {count:,}" for name, count in sorted(report.outcomes.items())))
    if report.shown:
        lines.append(f"first {len(report.shown)}:")
        lines.append(f"  {'dead_letter_id':<44} {'event_id':<38} {'kind':<28} {'outcome':<16} message")
        for item in report.shown:
            row = item.dead_letter
            lines.append(
                f"  {_one_line(row.dead_letter_id, 44):<44} {_one_line(row.event_id, 38):<38} "
                f"{_one_line(row.error_kind, 28):<28} {item.outcome:<16} {_one_line(row.error_message, 100)}"
            )
    if report.failures:
        lines.append("failed rows (selected again by the next run):")
        lines += [f"  {item.dead_letter.dead_letter_id}: {item.outcome}: {item.reason}" for item in report.failures]
    return "\n".join(lines)


def _progress(started: float, every: float = PROGRESS_EVERY_SECONDS) -> Callable[[ReplayReport], None]:
    """A progress line on stderr after a page, at most every ``every`` seconds (long runs only)."""
    last = [started]

    def report_page(report: ReplayReport) -> None:
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        rate = report.selected / max(now - started, 1e-9)
        counts = ", ".join(f"{name} {count:,}" for name, count in sorted(report.outcomes.items()))
        print(f"  {report.selected:,} dead letters so far ({counts}), {rate:,.0f}/s", file=sys.stderr, flush=True)

    return report_page


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.execute and not args.topic:
        parser.error("--execute needs --topic projects/P/topics/T")
    if args.since and args.until and args.since >= args.until:
        parser.error("--since must be before --until")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    store = make_store(args, parser)
    selection = Selection(
        kinds=tuple(args.kind),
        stages=tuple(args.stage),
        event_ids=tuple(args.event_id),
        since=args.since,
        until=args.until,
        limit=args.limit,
    )
    publisher = TopicPublisher(args.topic) if args.execute else None
    try:
        transform = load_transform(args.transform) if args.transform else None
        store.prepare()
        if publisher is not None:
            publisher.check()
        report = run_replay(
            store,
            selection,
            transform=transform,
            transform_name=args.transform,
            publisher=publisher,
            topic=args.topic,
            show=args.show,
            on_page=_progress(time.monotonic()),
        )
    except ReplayError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: what was published before the last record is republished by the next run", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if publisher is not None:
            publisher.close()
    print(format_report(report, args.topic, args.transform, store.description))
    return EXIT_ROWS_FAILED if report.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
