"""Reads of a DuckDB file served by the process that writes it, so that a dashboard never takes the file away.

DuckDB lets one process at a time open a file read-write, and a reader in another process locks the writer out
as long as its connection is open: a dashboard polling every 100 ms costs the pipeline an open (20-35 ms), a
checkpoint (30-55 ms) and a wait for the reader on most flushes, and the reader waits for the writer in turn
(BENCHMARKS.md, publish→visible latency). So the local pipeline, which holds its file between flushes
(warehouse.connection.hold), also answers SELECTs over loopback HTTP, on connections to its own database
instance: MVCC gives each read the last committed state, and nothing is opened or closed.

- The service listens on 127.0.0.1, on a free port, and announces itself in ``<file>.reads.json`` (port, pid and a
  random token; mode 0600), removed when it stops. A request must carry the token: only users who can read that
  file, i.e. who could read the warehouse itself, can ask.
- A request is one SELECT (anything else is refused: DuckDB's own parser says what the statement is), run in a
  read-only transaction, with its parameters sent as one Arrow row, so timestamps, decimals and lists arrive as
  they were given. The answer is an Arrow IPC stream; an error is the DuckDB error's text, raised again in the
  reader as ``duckdb.Error``.
- ``reading(path)`` is the reader's side: a connection-like object whose ``execute`` returns a DuckDB result
  (the served Arrow table, queried in a private in-memory DuckDB), or, when no service is announced or it does not
  answer, a plain read-only connection (warehouse.connection.connect), as before.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from schemas.settings import DEFAULT_LOCK_TIMEOUT
from warehouse.connection import WarehouseLockedError, connect

LOGGER = logging.getLogger(__name__)
PATH = "/query"
TOKEN_HEADER = "X-Warehouse-Token"  # noqa: S105 (a header name; the token is random per service)
#: How long one served read may wait for the file when the service's process does not hold it at that moment.
SERVED_LOCK_TIMEOUT = 5.0
#: Longest a reader waits for an answer before it reads the file itself.
CLIENT_TIMEOUT = 30.0
#: Longest the service waits for a client to send its request (or to take the answer).
HANDLER_TIMEOUT = 10.0
_SQL_KEY = b"sql"
_NAMED_KEY = b"named"


def announcement_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".reads.json")


class RefusedStatementError(ValueError):
    """The request was not exactly one SELECT."""


def check_select(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    statements = connection.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise RefusedStatementError(f"the read service runs exactly one SELECT; this request holds: {kinds}")


# --- the request and answer as bytes -----------------------------------------------------------------------


def encode_request(sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None) -> bytes:
    """SQL in the schema's metadata, parameters as one row (positional ones as columns "0", "1", …)."""
    named = isinstance(parameters, Mapping)
    if named:
        columns = {str(key): [value] for key, value in parameters.items()}
    else:
        columns = {str(index): [value] for index, value in enumerate(parameters or ())}
    metadata = {_SQL_KEY: sql.encode(), _NAMED_KEY: b"1" if named else b"0"}
    if columns:
        table = pa.table(columns).replace_schema_metadata(metadata)
    else:
        table = pa.Table.from_batches([], pa.schema([], metadata=metadata))
    return _ipc(table)


def decode_request(body: bytes) -> tuple[str, list[Any] | dict[str, Any] | None]:
    table = pa.ipc.open_stream(body).read_all()
    metadata = table.schema.metadata or {}
    sql = metadata[_SQL_KEY].decode()
    if table.num_columns == 0:
        return sql, None
    row = table.slice(0, 1).to_pylist()[0]
    if metadata.get(_NAMED_KEY) == b"1":
        return sql, row
    return sql, [row[str(index)] for index in range(table.num_columns)]


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# --- the service ---------------------------------------------------------------------------------------------


def run_select(path: str | Path, sql: str, parameters, lock_timeout: float = SERVED_LOCK_TIMEOUT) -> pa.Table:
    """One SELECT on ``path`` from the writing process (through its held instance when it holds the file)."""
    # Read-write configuration on purpose: in this process the file is (or is about to be) open read-write, and
    # DuckDB refuses a second configuration of one instance; the statement check and the read-only transaction
    # keep the request a read.
    with connect(path, lock_timeout=lock_timeout) as connection:
        check_select(connection, sql)
        connection.execute("BEGIN TRANSACTION READ ONLY")
        try:
            return connection.sql(sql, params=parameters).to_arrow_table()
        finally:
            connection.execute("ROLLBACK")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    #: Seconds a connection may stay silent: ``stop()`` waits for every request in progress, never for a client
    #: that sends nothing.
    timeout = HANDLER_TIMEOUT

    def do_POST(self) -> None:
        if self.path != PATH:
            self._answer(404, b"unknown path")
            return
        if not secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), self.server.token):
            self._answer(403, b"wrong or missing token")
            return
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sql, parameters = decode_request(body)
            table = run_select(self.server.warehouse, sql, parameters)
        except WarehouseLockedError as error:
            self._answer(503, str(error).encode())
            return
        except (RefusedStatementError, duckdb.Error, pa.ArrowException, KeyError, ValueError) as error:
            self._answer(400, f"{type(error).__name__}: {error}".encode())
            return
        self._answer(200, _ipc(table), "application/vnd.apache.arrow.stream")

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        LOGGER.debug("read service: " + format, *args)


class _Server(ThreadingHTTPServer):
    # Request threads are joined by server_close(), so stop() returns only once none is left inside DuckDB: a
    # thread still running a query (or closing the file it opened) when the interpreter finalizes aborts the
    # process as it comes back for the GIL.
    daemon_threads = False
    block_on_close = True

    def __init__(self, warehouse: Path, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.warehouse = warehouse
        self.token = token


class ReadService:
    """Serves SELECTs on ``warehouse`` from this process until ``stop()``; announces itself beside the file."""

    def __init__(self, warehouse: str | Path) -> None:
        self.warehouse = Path(warehouse)
        self.announcement = announcement_path(self.warehouse)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int | None:
        return None if self._server is None else self._server.server_address[1]

    def start(self) -> ReadService:
        token = secrets.token_hex(16)
        self._server = _Server(self.warehouse, token)
        self._thread = threading.Thread(target=self._server.serve_forever, name="warehouse-read-service", daemon=True)
        self._thread.start()
        text = json.dumps({"port": self.port, "pid": os.getpid(), "token": token})
        temporary = self.announcement.with_name(f".{self.announcement.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(temporary, self.announcement)
        LOGGER.info("serving reads of %s on 127.0.0.1:%d (%s)", self.warehouse, self.port, self.announcement)
        return self

    def stop(self) -> None:
        """Withdraw the announcement, stop serving, and wait for the requests in progress."""
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(self.announcement.read_text())["pid"] == os.getpid():
                self.announcement.unlink()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ReadService:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


# --- the reader's side ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Announcement:
    port: int
    pid: int
    token: str


def announced(path: str | Path) -> Announcement | None:
    try:
        data = json.loads(announcement_path(path).read_text())
        return Announcement(int(data["port"]), int(data["pid"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ServiceUnavailableError(ConnectionError):
    """The announced service did not answer (gone, or its process could not reach the file in time)."""


class ServedConnection:
    """What ``reading`` yields when a service answers: ``execute(sql, parameters)`` returns a DuckDB result."""

    def __init__(self, announcement: Announcement, timeout: float = CLIENT_TIMEOUT) -> None:
        self.announcement = announcement
        self.timeout = timeout
        self._local = duckdb.connect()  # where answers are queried, so callers get DuckDB's own result objects
        self._local.execute("SET TimeZone = 'UTC'")
        self._answers = 0

    def fetch(self, sql: str, parameters=None) -> pa.Table:
        connection = http.client.HTTPConnection("127.0.0.1", self.announcement.port, timeout=self.timeout)
        try:
            connection.request(
                "POST",
                PATH,
                body=encode_request(sql, parameters),
                headers={TOKEN_HEADER: self.announcement.token, "Content-Type": "application/vnd.apache.arrow.stream"},
            )
            response = connection.getresponse()
            body = response.read()
        except OSError as error:
            raise ServiceUnavailableError(f"read service on port {self.announcement.port}: {error}") from error
        finally:
            connection.close()
        if response.status == 200:
            return pa.ipc.open_stream(body).read_all()
        if response.status in (503, 404, 403):
            raise ServiceUnavailableError(f"read service answered {response.status}: {body.decode(errors='replace')}")
        raise duckdb.Error(body.decode(errors="replace"))

    def execute(self, sql: str, parameters=None) -> duckdb.DuckDBPyConnection:
        table = self.fetch(sql, parameters)
        self._answers += 1
        name = f"served_{self._answers}"
        cursor = self._local.cursor()  # a result per cursor: callers may leave one unfinished, as with DuckDB's
        cursor.register(name, table)
        return cursor.execute(f'SELECT * FROM "{name}"')  # noqa: S608 (a name this class made)

    def close(self) -> None:
        self._local.close()


class _FallingBack:
    """A served connection that reads the file itself from the first time the service does not answer."""

    def __init__(self, path: Path, served: ServedConnection, stack: contextlib.ExitStack, **connect_args) -> None:
        self._path, self._served, self._stack, self._connect_args = path, served, stack, connect_args
        self._direct: duckdb.DuckDBPyConnection | None = None
        self.served = True

    def execute(self, sql: str, parameters=None):
        if self._direct is None:
            try:
                return self._served.execute(sql, parameters)
            except ServiceUnavailableError as error:
                LOGGER.debug("reading %s directly: %s", self._path, error)
                self._direct = self._stack.enter_context(connect(self._path, read_only=True, **self._connect_args))
                self.served = False
        return self._direct.execute(sql, parameters)


@contextlib.contextmanager
def reading(
    path: str | Path,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    initial_backoff: float = 0.005,
    max_backoff: float = 0.5,
) -> Iterator[Any]:
    """A read-only connection-like object for ``path``: through the writer's read service when one is announced
    (no file lock taken), else (or when it stops answering) a read-only connection as ``connect`` opens it."""
    path = Path(path)
    connect_args = {"lock_timeout": lock_timeout, "initial_backoff": initial_backoff, "max_backoff": max_backoff}
    announcement = announced(path)
    if announcement is None or announcement.pid == os.getpid():
        with connect(path, read_only=True, **connect_args) as connection:
            yield connection
        return
    with contextlib.ExitStack() as stack:
        served = ServedConnection(announcement)
        stack.callback(served.close)
        yield _FallingBack(path, served, stack, **connect_args)
