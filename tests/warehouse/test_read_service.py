"""warehouse.read_service: SELECTs served by the writing process, over real loopback HTTP and a real file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from warehouse import connection as wc
from warehouse.read_service import (
    ReadService,
    announced,
    announcement_path,
    decode_request,
    encode_request,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
QUERIES = [
    ("SELECT * FROM t ORDER BY i", None),
    ("SELECT i, d FROM t WHERE ts >= ? AND s = ANY(?) ORDER BY i", [datetime(2020, 6, 1, tzinfo=timezone.utc), ["b"]]),
    (
        "SELECT sum(d) AS total, count(*) FILTER (WHERE s IS NULL) AS blank FROM t WHERE d > $least",
        {"least": Decimal("1")},
    ),
    ("SELECT count(*) FROM t WHERE ts IS NULL", []),
]


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with wc.connect(path) as connection:
        connection.execute("CREATE TABLE t (i INTEGER, ts TIMESTAMPTZ, d DECIMAL(18, 2), s VARCHAR)")
        connection.execute(
            "INSERT INTO t VALUES (1, '2020-01-01 00:00:00+00', 1.50, 'a'), (2, '2021-01-01 12:30:00+00', 2.25, 'b'), "
            "(3, NULL, 9.99, NULL)"
        )
    yield path
    wc.release_all()


def _direct(path, sql, parameters):
    with duckdb.connect(str(path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        result = connection.execute(sql, parameters)
        return result.fetchall(), [column[0] for column in result.description]


def test_parameters_travel_with_their_types():
    values = [1, "x", datetime(2020, 1, 1, tzinfo=timezone.utc), Decimal("1.50"), ["a", "b"], None, 2.5, True]
    sql, decoded = decode_request(encode_request("SELECT ?", values))
    assert sql == "SELECT ?"
    assert decoded == values
    assert [type(v) for v in decoded] == [type(v) for v in values]
    assert decode_request(encode_request("SELECT $a", {"a": 1})) == ("SELECT $a", {"a": 1})
    assert decode_request(encode_request("SELECT 1", None)) == ("SELECT 1", None)


def test_served_reads_equal_direct_reads_of_the_file(warehouse):
    expected = [_direct(warehouse, sql, parameters) for sql, parameters in QUERIES]
    with ReadService(warehouse):
        served = _in_another_process(warehouse)
    assert served["served"] is True
    assert [(rows, names) for rows, names in served["answers"]] == [
        (json.loads(json.dumps(rows, default=str)), names) for rows, names in expected
    ]


def test_a_reader_served_by_a_holding_writer_does_not_make_it_let_go(warehouse):
    assert wc.hold(warehouse, idle_release=3600)
    with wc.connect(warehouse) as connection:
        connection.execute("INSERT INTO t VALUES (4, NULL, 0.01, 'd')")  # committed while held, not checkpointed
    with ReadService(warehouse):
        served = _in_another_process(warehouse)
    assert served["served"] is True
    assert served["answers"][0][0][-1] == [4, None, "0.01", "d"]
    assert wc.held_files() == [os.path.realpath(warehouse)]  # no lock was asked for
    assert not wc.waiting_directory(warehouse).exists()


def test_anything_but_one_select_is_refused_and_changes_nothing(warehouse):
    with ReadService(warehouse):
        answer = _in_another_process(
            warehouse, ["DELETE FROM t", "SELECT 1; DELETE FROM t", "COPY t TO 'x.csv'", "SELECT nonsense FROM t"]
        )
    errors = answer["errors"]
    assert "exactly one SELECT" in errors[0] and "DELETE" in errors[0]
    assert "exactly one SELECT" in errors[1]
    assert "COPY" in errors[2]
    assert "nonsense" in errors[3]  # DuckDB's own binder error, raised again in the reader
    assert _direct(warehouse, "SELECT count(*) FROM t", None)[0] == [(3,)]


def test_the_announcement_is_private_and_gone_when_the_service_stops(warehouse):
    with ReadService(warehouse) as service:
        path = announcement_path(warehouse)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert announced(warehouse).port == service.port
    assert not path.exists()
    assert announced(warehouse) is None


def test_stopping_the_service_waits_for_the_request_in_progress(warehouse):
    """No request thread is left inside DuckDB once stop() returns (at interpreter exit one would abort the
    process), and the request in progress gets its whole answer."""
    import threading
    import time

    from warehouse.read_service import ServedConnection

    def request_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if "process_request_thread" in t.name and t.is_alive()]

    answers = []
    service = ReadService(warehouse).start()
    try:
        served = ServedConnection(announced(warehouse))
        slow = "SELECT count(*) AS n FROM range(300000000) r(i) WHERE i % 7 = 3"  # a second or more here
        client = threading.Thread(target=lambda: answers.append(served.fetch(slow)))
        client.start()
        deadline = time.monotonic() + 30
        while not request_threads():
            assert client.is_alive() and time.monotonic() < deadline, "the request never reached the service"
            time.sleep(0.005)
    finally:
        service.stop()
    assert request_threads() == []
    client.join(timeout=60)
    assert [answer.to_pylist() for answer in answers] == [[{"n": len(range(3, 300000000, 7))}]]


def test_a_reader_reads_the_file_itself_when_the_announced_service_does_not_answer(warehouse):
    with ReadService(warehouse):
        pass
    # a service killed with -9 leaves its announcement behind; a wrong token is refused the same way
    for port, token in ((_free_port(), "stale"), (None, "wrong")):
        with ReadService(warehouse) as live:
            port = port or live.port
            announcement_path(warehouse).write_text(json.dumps({"port": port, "pid": 1, "token": token}))
            answer = _in_another_process(warehouse)
        assert answer["served"] is False
        assert answer["answers"][0][0][0] == [1, "2020-01-01 00:00:00+00:00", "1.50", "a"]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


READER = """
import json, sys
from warehouse.read_service import reading
path, queries = sys.argv[1], json.loads(sys.argv[2])
answers, errors, served = [], [], None
with reading(path, lock_timeout=30) as connection:
    for sql in queries:
        try:
            result = connection.execute(sql)
            answers.append([[list(r) for r in result.fetchall()], [c[0] for c in result.description]])
        except Exception as error:
            errors.append(str(error))
    served = getattr(connection, "served", None)
print(json.dumps({"answers": answers, "errors": errors, "served": served}, default=str))
"""
READER_WITH_PARAMETERS = """
import json, sys
from warehouse.read_service import reading
from tests.warehouse.test_read_service import QUERIES
with reading(sys.argv[1], lock_timeout=30) as connection:
    answers = []
    for sql, parameters in QUERIES:
        result = connection.execute(sql, parameters)
        answers.append([[list(r) for r in result.fetchall()], [c[0] for c in result.description]])
    served = getattr(connection, "served", None)
print(json.dumps({"answers": answers, "served": served}, default=str))
"""


def _in_another_process(warehouse, queries: list[str] | None = None) -> dict:
    """Read ``warehouse`` from a second process, as the dashboard does (the QUERIES with their parameters when
    ``queries`` is None)."""
    code = READER_WITH_PARAMETERS if queries is None else READER
    args = [] if queries is None else [json.dumps(queries)]
    done = subprocess.run(
        [sys.executable, "-c", code, str(warehouse), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
