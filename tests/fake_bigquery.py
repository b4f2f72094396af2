"""A fake google-cloud-bigquery Client that models what matters under concurrency: streaming inserts append,
multi-statement transactions that mutate the same table abort each other.

Only the two calls the sink makes are modelled, with their real signatures:

- ``insert_rows_json(table, rows, row_ids)`` (insertAll): the request body is recorded as the JSON text the
  real client sends (``{"rows": [{"insertId": ..., "json": row}]}``). No transaction, no DML: appends never
  contend, as BigQuery's streaming inserts don't. Best-effort deduplication on insertId is *not* modelled
  (every row lands): the worst case, which the views and the compaction must settle.
- ``query(sql, job_config=None, location=None)`` returns a job whose ``.result()`` runs the script. The fake
  does not execute SQL: it finds the tables the script mutates inside ``BEGIN TRANSACTION ... COMMIT
  TRANSACTION`` (MERGE / DELETE / INSERT / UPDATE / TRUNCATE targets) and holds them for the simulated server
  time of the job. A transaction that starts while another in-flight transaction mutates one of the same
  tables is aborted, as BigQuery does. BigQuery's documentation (Multi-statement transactions, "Transaction
  concurrency", https://cloud.google.com/bigquery/docs/transactions#transaction_concurrency): "If a
  transaction mutates (update or deletes) rows in a table, then other transactions or DML statements that
  mutate rows in the same table cannot run concurrently. Conflicting transactions are cancelled." The error
  is a 400 reported by the job; its wording as users saw it, e.g. estuary/connectors#111: "Query error:
  Transaction is aborted due to concurrent update against table acmeCo:dataset.flow_checkpoints_v1.
  Transaction ID: 61e30eea-... at [24:9]", and dlt-hub/dlt#2892, elementary-data/elementary#1914 (same text).

Every aborted attempt is counted (``aborted``), so a test can report how much contention a design causes.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions

_TRANSACTION = re.compile(r"\bBEGIN\s+TRANSACTION\s*;(.*?)\bCOMMIT(?:\s+TRANSACTION)?\s*;", re.IGNORECASE | re.DOTALL)
_DML_TARGET = re.compile(
    r"\s*(?:MERGE(?:\s+INTO)?|DELETE(?:\s+FROM)?|INSERT(?:\s+INTO)?|UPDATE|TRUNCATE\s+TABLE)\s+(`[^`]+`|[\w.:-]+)",
    re.IGNORECASE,
)


def mutated_tables(sql: str) -> dict[str, int]:
    """Permanent tables a script's transactions mutate -> offset in ``sql`` of the first statement doing it.

    Statement-leading keywords only (a MERGE's ``WHEN MATCHED THEN UPDATE SET`` is not a target). Names without
    a dataset (``batch_orders``) are the script's temp tables: private to the session, they contend with nothing.
    DML outside a transaction is not modelled (BigQuery queues it rather than aborting it).
    """
    tables: dict[str, int] = {}
    for transaction in _TRANSACTION.finditer(sql):
        offset = transaction.start(1)
        for statement in transaction.group(1).split(";"):
            match = _DML_TARGET.match(statement)
            if match:
                name = match.group(1).strip("`")
                if "." in name:
                    tables.setdefault(name, offset + match.start(1))
            offset += len(statement) + 1
    return tables


def _legacy_name(table: str) -> str:
    """``project.dataset.table`` as BigQuery's error messages spell it: ``project:dataset.table``."""
    project, _, rest = table.partition(".")
    return f"{project}:{rest}" if rest else table


def _position(sql: str, offset: int) -> str:
    """``[line:column]`` of ``offset`` (1-based), as BigQuery reports where a script failed."""
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return f"[{line}:{column}]"


@dataclass
class _Transaction:
    id: str
    tables: frozenset[str]
    ends_at: float


@dataclass
class FakeQueryJob:
    """A started query job; ``result()`` waits for it the way the real job's ``result()`` polls."""

    server: FakeBigQuery
    sql: str
    ends_at: float
    error: exceptions.GoogleAPICallError | None = None
    rows: list[Any] = field(default_factory=list)

    def result(self, *args, **kwargs) -> list[Any]:
        self.server._wait_until(self.ends_at)
        if self.error is not None:
            raise self.error
        return list(self.rows)


class FakeBigQuery:
    """The fake client: share one instance between threads, as they would share the BigQuery service.

    ``transaction_seconds``: server time of a script with a transaction (it holds its tables that long);
    ``abort_seconds``: how long a conflicting script runs before BigQuery reports its abort; ``insert_seconds``:
    round trip of an insertAll request; ``query_seconds``: of any other query.
    """

    def __init__(
        self,
        transaction_seconds: float = 0.1,
        abort_seconds: float = 0.02,
        insert_seconds: float = 0.005,
        query_seconds: float = 0.005,
        query_rows: Sequence[Any] = (),
    ) -> None:
        self.transaction_seconds = transaction_seconds
        self.abort_seconds = abort_seconds
        self.insert_seconds = insert_seconds
        self.query_seconds = query_seconds
        self.query_rows = list(query_rows)
        self._lock = threading.Lock()
        # Set only by close(): every simulated server wait ends early then (see _wait_until).
        self._closed = threading.Event()
        self._in_flight: list[_Transaction] = []
        #: Every query attempt, transactions committed and aborted (each attempt of a retried flush counts).
        self.queries = 0
        self.committed = 0
        self.aborted = 0
        self.abort_messages: list[str] = []
        #: (table, request body as JSON text) of every insertAll request, in arrival order.
        self.insert_requests: list[tuple[str, str]] = []
        #: The most insertAll requests that were on the server at once (shows the appends did overlap).
        self.max_concurrent_inserts = 0
        self._inserts_in_flight = 0

    # -- the client's API ----------------------------------------------------------------------------------------
    def query(self, sql: str, job_config: Any = None, location: str | None = None, **kwargs) -> FakeQueryJob:
        """Start a job. The server checks the script's transaction against those in flight when the job starts:
        the later of two transactions mutating a table is the one aborted."""
        tables = mutated_tables(sql)
        now = time.monotonic()
        with self._lock:
            self.queries += 1
            if not tables:
                return FakeQueryJob(self, sql, now + self.query_seconds, rows=list(self.query_rows))
            self._in_flight = [t for t in self._in_flight if t.ends_at > now]
            transaction_id = str(uuid.uuid4())
            for other in self._in_flight:
                contested = sorted(tables.keys() & other.tables, key=tables.__getitem__)  # first hit in the script
                if contested:
                    self.aborted += 1
                    message = (
                        f"Query error: Transaction is aborted due to concurrent update against table "
                        f"{_legacy_name(contested[0])}. Transaction ID: {transaction_id} at "
                        f"{_position(sql, tables[contested[0]])}"
                    )
                    self.abort_messages.append(message)
                    return FakeQueryJob(self, sql, now + self.abort_seconds, error=exceptions.BadRequest(message))
            ends_at = now + self.transaction_seconds
            self._in_flight.append(_Transaction(transaction_id, frozenset(tables), ends_at))
            self.committed += 1  # nothing can abort it any more: the later transaction is the one cancelled
            return FakeQueryJob(self, sql, ends_at, rows=list(self.query_rows))

    def insert_rows_json(
        self, table: Any, json_rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str | None] | None = None, **kwargs
    ) -> list[dict[str, Any]]:
        """insertAll: the body as the real client builds it, serialized as it goes on the wire; no errors."""
        ids = list(row_ids) if row_ids is not None else [None] * len(json_rows)
        body = json.dumps({"rows": [{"insertId": i, "json": row} for i, row in zip(ids, json_rows, strict=True)]})
        with self._lock:
            self._inserts_in_flight += 1
            self.max_concurrent_inserts = max(self.max_concurrent_inserts, self._inserts_in_flight)
        self._wait_until(time.monotonic() + self.insert_seconds)
        with self._lock:
            self._inserts_in_flight -= 1
            self.insert_requests.append((str(table), body))
        return []

    # -- for tests -----------------------------------------------------------------------------------------------
    def inserted_rows(self, table: str | None = None) -> list[tuple[str | None, dict[str, Any]]]:
        """(insertId, row) of every row received, parsed back from the recorded request bodies."""
        with self._lock:
            requests = list(self.insert_requests)
        return [
            (row["insertId"], row["json"])
            for name, body in requests
            if table is None or name == table
            for row in json.loads(body)["rows"]
        ]

    def close(self) -> None:
        """End every simulated server wait now (a test's teardown never waits behind them)."""
        self._closed.set()

    def _wait_until(self, deadline: float) -> None:
        # The simulated server time (network round trip + execution) is a wait on an Event with that timeout,
        # not time.sleep: it is the time a real call spends blocked on the server, during which other threads
        # run and other jobs start (so transactions overlap for real), and close() can cut it short. It stands
        # for latency only; nothing here uses a sleep to wait for another thread's progress: contention is
        # decided under the lock from the in-flight transactions' end times.
        remaining = deadline - time.monotonic()
        if remaining > 0:
            self._closed.wait(remaining)
