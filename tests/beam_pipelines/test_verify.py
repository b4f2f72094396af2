"""python -m beam_pipelines.verify on a real DuckDB file, filled through the project's own DuckDB sink (accepted
snapshots) and dead-letter writer, or changed by hand with plain SQL; then the same verdicts on BigQuery, through
a fake client answering from that file's rows. Every expected class is written out by hand from the scenario,
not computed by the code under test."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from google.api_core import exceptions
from google.cloud import bigquery
from google.cloud.bigquery.table import Row
from sample_events import snapshot

from beam_pipelines import verify
from beam_pipelines.dead_letters import dead_letter
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.duckdb import DuckDBWarehouse
from beam_pipelines.transforms.rows import snapshot_rows
from schemas import CURRENT_VIEWS, DEAD_LETTER_TABLE
from schemas.validation import validate_payload

REPO_ROOT = Path(__file__).resolve().parents[2]


def with_event_id(body: bytes, event_id: str) -> bytes:
    event = json.loads(body)
    event["event_id"] = event_id
    return json.dumps(event).encode()


def accept(warehouse: Path, *bodies: bytes, one_flush: bool = False) -> None:
    """Each body through the DuckDB sink, one flush each in order, as the pipeline applies valid snapshots (or all
    in one flush, for bodies of distinct orders)."""
    sink = DuckDBWarehouse(str(warehouse))
    sink.prepare()
    snapshots = []
    for body in bodies:
        assert validate_payload(body).ok, body
        snapshots.append(snapshot_rows(OrderSnapshot(json.loads(body), ReceivedMessage(body))))
    for flush in [snapshots] if one_flush else [[s] for s in snapshots]:
        sink.upsert(flush)


def dead_letter_of(warehouse: Path, body: bytes, stage: str, kind: str, origin: str) -> None:
    sink = DuckDBWarehouse(str(warehouse))
    sink.prepare()
    message = ReceivedMessage(body, origin=origin)
    sink.write_dead_letters([dead_letter(message, stage, kind, f"{kind} here", "$.x").row])


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def run_verify(*args: str | Path) -> tuple[int, dict]:
    """main() in-process, with --json: (exit code, the JSON report)."""
    report = Path(str(args[0]) + ".report.json")
    code = verify.main([str(a) for a in args] + ["--json", str(report)])
    return code, json.loads(report.read_text())


def classes_by_line(report: dict) -> dict[int, str]:
    return {entry["line"]: entry["class"] for entry in report["lines"]}


# Bodies of the main scenario.
O1_1, O1_2 = snapshot("o1", 1), snapshot("o1", 2, "approved")
O2_1 = snapshot("o2", 1)
O2_1_CONFLICT = with_event_id(O2_1, "o2-1-other")  # same sequence, another event: dead-lettered by the pipeline
O3_2 = snapshot("o3", 2, "approved")
O3_2_CONFLICT = with_event_id(snapshot("o3", 2, "approved", items=1), "o3-2-other")  # lost, never dead-lettered
O4_1 = snapshot("o4", 1)  # never reached the warehouse
O5_1, O5_2 = snapshot("o5", 1), snapshot("o5", 2, "approved")  # the warehouse holds 1 only
NOT_JSON = b'{"event_id": "bad-1", "order": {"order_id": "o1"'  # truncated: dead-lettered
SCHEMA_VIOLATION = json.dumps({**json.loads(O1_1), "event_id": "bad-2", "sequence": "3"}).encode()  # not dead-lettered
NOT_UTF8 = b"\xff\xfe{\x00}\x00"  # not dead-lettered


@pytest.fixture
def scenario(tmp_path: Path) -> tuple[Path, Path]:
    warehouse = tmp_path / "warehouse.duckdb"
    accept(warehouse, O1_1, O1_2, O2_1, O2_1_CONFLICT, O3_2, O3_2_CONFLICT, O5_1)
    dead_letter_of(warehouse, O2_1_CONFLICT, "sink", "sequence_conflict", "x:4")
    dead_letter_of(warehouse, NOT_JSON, "parse", "invalid_json", "x:9")
    lines = [O1_1, O1_2, O2_1, O2_1_CONFLICT, O3_2, O3_2_CONFLICT, O4_1, O1_2, NOT_JSON, b"", SCHEMA_VIOLATION]
    lines += [O5_1, O5_2, NOT_UTF8]
    return warehouse, write_lines(tmp_path / "published.jsonl", lines)


EXPECTED = {
    1: "superseded",
    2: "current",
    3: "current",
    4: "dead_lettered",
    5: "current",
    6: "superseded",
    7: "missing",
    8: "current",  # the duplicate of line 2: counted once, same class
    9: "dead_lettered",
    # 10 is blank
    11: "missing",
    12: "current",
    13: "missing",
    14: "missing",
}


def test_every_line_gets_its_class(scenario: tuple[Path, Path]) -> None:
    warehouse, published = scenario
    code, report = run_verify(published, "--duckdb_path", warehouse)
    assert code == verify.EXIT_PROBLEMS
    assert classes_by_line(report) == EXPECTED
    summary = report["summary"]
    assert summary["lines"] == 14 and summary["blank_lines"] == 1 and summary["duplicate_lines"] == 1
    assert summary["classes"] == {"current": 4, "superseded": 2, "dead_lettered": 2, "mismatch": 0, "missing": 4}
    assert summary["events"] == 12 and not summary["ok"]
    assert summary["dead_letter_reasons"] == {"parse/invalid_json": 1, "sink/sequence_conflict": 1}
    assert summary["lost_sequence_conflicts"] == 2


def test_each_verdict_says_why(scenario: tuple[Path, Path]) -> None:
    warehouse, published = scenario
    _, report = run_verify(published, "--duckdb_path", warehouse)
    by_line = {entry["line"]: entry for entry in report["lines"]}
    assert by_line[1]["detail"] == "the warehouse holds sequence 2 (event o1-2)"
    assert by_line[8]["duplicate_of"] == f"{published}:2"
    conflict = by_line[4]
    assert conflict["dead_letter"]["kind"] == "sequence_conflict" and conflict["dead_letter"]["matched_by"] == (
        "payload_sha256"
    )
    assert conflict["lost_sequence_conflict"] and "event o2-1 holds sequence 1" in conflict["detail"]
    assert by_line[6]["detail"].startswith("lost a sequence conflict: event o3-2 holds sequence 2")
    assert by_line[7]["detail"] == "the warehouse has no row for this order"
    assert by_line[9]["dead_letter"]["stage"] == "parse" and by_line[9]["event_id"] is None
    assert by_line[11]["detail"].startswith("not in the dead letters; expected schema/schema_violation")
    assert by_line[11]["event_id"] == "bad-2" and by_line[11]["order_id"] == "o1"
    assert by_line[13]["detail"] == "the warehouse holds an older sequence 1 (event o5-1)"
    assert by_line[14]["expected_dead_letter"] == "parse/invalid_encoding"


def test_the_text_report_lists_the_problems_by_line(scenario: tuple[Path, Path], capsys) -> None:
    warehouse, published = scenario
    assert verify.main([str(published), "--duckdb_path", str(warehouse), "--max_listed", "2"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: 4 missing; by line:" in out
    listed = [line for line in out.splitlines() if f"{published}:" in line]
    assert len(listed) == 2
    assert listed[0].split()[:5] == [f"{published}:7", "missing", "o4-1", "o4", "1"]
    assert listed[1].split()[:3] == [f"{published}:11", "missing", "bad-2"]
    assert "... and 2 more" in out
    for klass, count in (("current", 4), ("superseded", 2), ("dead_lettered", 2), ("missing", 4)):
        assert any(line.split()[:2] == [klass, str(count)] for line in out.splitlines()), klass


def test_nothing_missing_exits_0_and_counts_duplicates_once(tmp_path: Path, capsys) -> None:
    warehouse = tmp_path / "w.duckdb"
    accept(warehouse, O1_1, O1_2, O2_1)
    published = write_lines(tmp_path / "p.jsonl", [O1_1, O1_2, O1_1, O2_1, O1_2, O1_2])
    code = verify.main([str(published), "--duckdb_path", str(warehouse)])
    out = capsys.readouterr().out
    assert code == verify.EXIT_OK
    assert "OK: nothing missing or mismatched" in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("  ")}
    assert rows["current"] == "2" and rows["superseded"] == "1" and rows["duplicates"] == "3" and rows["events"] == "3"


def test_lines_read_as_the_backfill_reads_them(tmp_path: Path) -> None:
    """CRLF endings and a last line without a newline: the body's hash is the one the pipeline stored."""
    warehouse = tmp_path / "w.duckdb"
    accept(warehouse, O1_2)
    dead_letter_of(warehouse, NOT_JSON, "parse", "invalid_json", "x:2")
    published = tmp_path / "crlf.jsonl"
    published.write_bytes(O1_2 + b"\r\n" + NOT_JSON + b"\r\n\r\n" + O1_1)
    code, report = run_verify(published, "--duckdb_path", warehouse)
    assert code == 0
    assert classes_by_line(report) == {1: "current", 2: "dead_lettered", 4: "superseded"}
    assert report["summary"]["blank_lines"] == 1 and report["summary"]["lines"] == 4


# --- mismatch: the order row holds the event, its lines do not --------------------------------------------------


ITEMS, PAYMENTS, ORDERS = "orders_rt.order_items", "orders_rt.order_payments", "orders_rt.orders"
LINE_CHANGES = {
    "an item deleted": (
        f"DELETE FROM {ITEMS} WHERE order_id = 'o1' AND order_item_id = 2",
        "order_items: 2 lines in the warehouse, 3 in the event; order_items: lacks order_item_id 2",
    ),
    "the payments deleted": (
        f"DELETE FROM {PAYMENTS} WHERE order_id = 'o1'",
        "order_payments: lacks payment_sequential 1",
    ),
    "a price changed": (
        f"UPDATE {ITEMS} SET price = 99.99 WHERE order_id = 'o1' AND order_item_id = 1",
        "order_items: order_item_id 1 has price 99.99, the event 10.5",
    ),
    "a payment added": (
        f"INSERT INTO {PAYMENTS} SELECT * REPLACE (7 AS payment_sequential) FROM {PAYMENTS} WHERE order_id = 'o1'",
        "order_payments: payment_sequential 7 is not in the event",
    ),
    "a line of another snapshot": (
        f"UPDATE {ITEMS} SET _sequence = 1, _event_id = 'o1-1' WHERE order_id = 'o1' AND order_item_id = 1",
        "order_items: order_item_id 1 is from sequence 1 (event o1-1)",
    ),
    "the status changed": (
        f"UPDATE {ORDERS} SET order_status = 'shipped' WHERE order_id = 'o1'",
        "orders: order_status is shipped, the event approved",
    ),
}


@pytest.mark.parametrize("case", sorted(LINE_CHANGES))
def test_a_current_event_whose_lines_differ_is_a_mismatch(tmp_path: Path, case: str) -> None:
    change, detail = LINE_CHANGES[case]
    warehouse = tmp_path / "w.duckdb"
    body = snapshot("o1", 2, "approved", items=3)
    accept(warehouse, body, O2_1)
    published = write_lines(tmp_path / "p.jsonl", [body, O2_1])
    assert run_verify(published, "--duckdb_path", warehouse)[0] == 0
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(change)
    code, report = run_verify(published, "--duckdb_path", warehouse)
    assert code == verify.EXIT_PROBLEMS
    assert classes_by_line(report) == {1: "mismatch", 2: "current"}
    assert detail in report["lines"][0]["detail"], report["lines"][0]["detail"]


def test_an_order_without_items_or_payments_is_current(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    empty = snapshot("o9", 1, items=0)
    accept(warehouse, empty)
    code, report = run_verify(write_lines(tmp_path / "p.jsonl", [empty]), "--duckdb_path", warehouse)
    assert (code, classes_by_line(report)) == (0, {1: "current"})


# --- dead letters matched by event_id ------------------------------------------------------------------------


def test_a_dead_letter_without_a_body_hash_matches_by_event_id(tmp_path: Path) -> None:
    """BigQuery's compaction records a sequence conflict with the changelog row, no payload_sha256."""
    warehouse = tmp_path / "w.duckdb"
    accept(warehouse, O3_2, O3_2_CONFLICT)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            "INSERT INTO orders_rt.order_events_dead_letter (timestamp, event_id, dead_letter_id, error_stage, "
            "error_kind, error_message, error_path) VALUES (now(), 'o3-2-other', 'changelog:o3-2-other', 'sink', "
            "'sequence_conflict', 'order o3 already has a snapshot with sequence 2', '$.sequence')"
        )
    code, report = run_verify(write_lines(tmp_path / "p.jsonl", [O3_2, O3_2_CONFLICT]), "--duckdb_path", warehouse)
    assert code == 0
    loser = report["lines"][1]
    assert loser["class"] == "dead_lettered" and loser["dead_letter"]["matched_by"] == "event_id"
    assert loser["lost_sequence_conflict"] and "(matched by event_id)" in loser["detail"]


def test_another_body_with_a_dead_lettered_event_id_matches_only_when_nothing_else_explains_it(tmp_path: Path) -> None:
    """A line that lost a newline in the JSONL has another hash than the body that was dead-lettered; its event_id
    still finds it. A valid event the warehouse supersedes stays superseded."""
    warehouse = tmp_path / "w.duckdb"
    accept(warehouse, O1_1, O1_2)
    published_body = b'{"event_id": "bad-7",\n "sequence": "x"}'
    dead_letter_of(warehouse, published_body, "schema", "schema_violation", "x:1")
    dead_letter_of(warehouse, with_event_id(O1_1, "o1-1") + b" ", "parse", "invalid_json", "x:2")  # same event_id
    line = published_body.replace(b"\n", b" ")
    code, report = run_verify(write_lines(tmp_path / "p.jsonl", [line, O1_1, O1_2]), "--duckdb_path", warehouse)
    assert code == 0
    assert [(e["class"], (e["dead_letter"] or {}).get("matched_by")) for e in report["lines"]] == [
        ("dead_lettered", "event_id"),
        ("superseded", None),
        ("current", None),
    ]


# --- batching ------------------------------------------------------------------------------------------------


def test_lookups_are_batched_by_chunk_never_per_line(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    bodies = [snapshot(f"order-{n:03d}", s) for n in range(23) for s in (1, 2)]
    accept(warehouse, *bodies[1::2], one_flush=True)  # the newest of each order
    published = write_lines(tmp_path / "p.jsonl", bodies + bodies[:5])
    lookups = verify.DuckDBLookups(warehouse, "orders_rt", 10.0)
    sent: list[tuple[str, dict]] = []
    session = lookups.session

    @contextlib.contextmanager
    def recording_session():
        with session() as fetch:
            yield lambda sql, parameters: sent.append((sql, parameters)) or fetch(sql, parameters)

    lookups.session = recording_session
    summary = verify.reconcile([published], lookups, chunk_size=10)
    assert summary.classes == {"current": 23, "superseded": 23} and summary.duplicate_lines == 5
    chunks = -(-46 // 10)
    assert len(sent) == 4 * chunks  # dead letters, orders, items, payments: per chunk, never per line
    assert max(len(ids) for _, parameters in sent for ids in parameters.values()) <= 10
    assert not any("order-0" in sql for sql, _ in sent)  # ids travel as parameters only
    orders_sql = lookups.sql.orders()[0]
    every_order = {i for sql, parameters in sent if sql == orders_sql for i in parameters["order_ids"]}
    assert every_order == {f"order-{n:03d}" for n in range(23)}


# --- command line --------------------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beam_pipelines.verify", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    accept(warehouse, O1_1)
    published = write_lines(tmp_path / "p.jsonl", [O1_1])
    for args, fragment in (
        ((), "the following arguments are required: FILE.jsonl"),
        ((str(tmp_path / "absent.jsonl"), "--duckdb_path", str(warehouse)), "absent.jsonl: no such file"),
        ((str(published), "--duckdb_path", str(tmp_path / "none.duckdb")), "no DuckDB warehouse at"),
        ((str(published), "--duckdb_path", str(warehouse), "--bq_project", "my-proj"), "name two warehouses"),
        ((str(published), "--bq_project", "my-proj", "--bq_dataset", "x`; DROP"), "is not a BigQuery dataset name"),
        ((str(published), "--bq-project", "P"), "'P' is not a BigQuery project id"),
        ((str(published), "--chunk_size", "0"), "expected a whole number > 0"),
        ((str(published), "--duckdb_path", str(warehouse), "--json", f"{published}/r.json"), "cannot write --json"),
    ):
        result = _cli(*args)
        assert result.returncode == verify.EXIT_USAGE, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_the_default_warehouse_is_the_projects(tmp_path: Path) -> None:
    """No --duckdb_path: $ORDERS_DUCKDB_PATH, else data/warehouse.duckdb under the working directory."""
    accept(tmp_path / "data" / "warehouse.duckdb", O1_1)
    published = write_lines(tmp_path / "p.jsonl", [O1_1])
    result = subprocess.run(
        [sys.executable, "-m", "beam_pipelines.verify", str(published)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "ORDERS_DUCKDB_PATH": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "against DuckDB data/warehouse.duckdb (schema orders_rt)" in result.stdout


def test_a_warehouse_without_the_tables_exits_3(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    result = _cli(str(write_lines(tmp_path / "p.jsonl", [O1_1])), "--duckdb_path", str(empty), "--json",
                  str(tmp_path / "report.json"))  # fmt: skip
    assert result.returncode == verify.EXIT_WAREHOUSE
    assert "--duckdb_schema" in result.stderr and "order_events_dead_letter" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.duckdb", "p.jsonl"]  # no report, no partial file


def test_a_warehouse_locked_past_the_timeout_exits_3(tmp_path: Path) -> None:
    """The read goes through warehouse.connection's lock backoff: another process holding the file read-write
    makes verify wait, then give up with exit 3 (never a traceback)."""
    warehouse = tmp_path / "w.duckdb"
    accept(warehouse, O1_1)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.readline()", str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _cli(str(write_lines(tmp_path / "p.jsonl", [O1_1])), "--duckdb_path", str(warehouse),
                      "--lock_timeout", "0.5")  # fmt: skip
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert result.returncode == verify.EXIT_WAREHOUSE, result.stderr
    assert "stayed locked by another process" in result.stderr and "Traceback" not in result.stderr


# --- BigQuery: the same lookups through a fake client --------------------------------------------------------


class LookupClient:
    """Stands in for google.cloud.bigquery.Client on verify's lookups, answering them from rows (those of a DuckDB
    file filled as above: what the ``*_current`` views and the dead-letter table would hold).

    It records each query with its job configuration as the client sends it (``to_api_repr()``) and evaluates the
    one statement shape the lookups have, ``SELECT columns FROM `relation` WHERE column IN UNNEST(@array) [OR ...]``,
    refusing anything else: an unknown relation or column (KeyError), a parameter that is not ARRAY<STRING>, or
    SQL of another shape. ``error`` is raised by ``result()`` instead, as a failed job does."""

    SHAPE = re.compile(r"SELECT (?P<columns>.+) FROM `(?P<relation>[^`]+)` WHERE (?P<where>.+)")
    CONDITION = re.compile(r"(?P<column>\w+) IN UNNEST\(@(?P<parameter>\w+)\)")
    SUBSTR = re.compile(r"SUBSTR\((?P<column>\w+), 1, (?P<chars>\d+)\) AS (?P<alias>\w+)")

    def __init__(self, relations: dict[str, list[dict]], error: Exception | None = None) -> None:
        self.relations = relations
        self.error = error
        self.queries: list[tuple[str, dict, str | None]] = []

    def query(self, sql: str, job_config: bigquery.QueryJobConfig | None = None, location: str | None = None):
        self.queries.append((sql, job_config.to_api_repr(), location))
        shape = self.SHAPE.fullmatch(sql)
        assert shape, sql
        rows = self.relations[shape["relation"]]
        parameters = {}
        for parameter in job_config.query_parameters:
            assert isinstance(parameter, bigquery.ArrayQueryParameter) and parameter.array_type == "STRING"
            parameters[parameter.name] = set(parameter.values)
        conditions = [self.CONDITION.fullmatch(part) for part in shape["where"].split(" OR ")]
        assert all(conditions), sql
        matching = [r for r in rows if any(r[c["column"]] in parameters[c["parameter"]] for c in conditions)]
        names, getters = [], []
        for column in re.split(r",\s*(?![^()]*\))", shape["columns"]):
            if substring := self.SUBSTR.fullmatch(column):
                names.append(substring["alias"])
                getters.append(lambda r, s=substring: (r[s["column"]] or "")[: int(s["chars"])] or None)
            else:
                names.append(column)
                getters.append(lambda r, c=column: r[c])
        index = {name: i for i, name in enumerate(names)}
        return FakeJob([Row(tuple(get(r) for get in getters), index) for r in matching], self.error)


class FakeJob:
    def __init__(self, rows: list, error: Exception | None) -> None:
        self.rows = rows
        self.error = error

    def result(self):
        if self.error is not None:
            raise self.error
        return iter(self.rows)


PROJECT, DATASET = "my-proj", "orders_rt"


def as_bigquery(warehouse: Path, error: Exception | None = None) -> LookupClient:
    """The fake client over a DuckDB file's rows: the *_current views hold the tables' rows (the changelog's tail is
    empty), the dead-letter table its own."""
    relations = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for table, relation in [*CURRENT_VIEWS.items(), (DEAD_LETTER_TABLE, DEAD_LETTER_TABLE)]:
            result = connection.execute(f"SELECT * FROM orders_rt.{table}")
            names = [d[0] for d in result.description]
            relations[f"{PROJECT}.{DATASET}.{relation}"] = [
                dict(zip(names, row, strict=True)) for row in result.fetchall()
            ]
    return LookupClient(relations, error)


def test_bigquery_gives_the_same_verdicts_from_the_current_views(scenario: tuple[Path, Path]) -> None:
    warehouse, published = scenario
    client = as_bigquery(warehouse)
    report_path = published.with_suffix(".bq.json")
    code = verify.main(
        [str(published), "--bq_project", PROJECT, "--bq_dataset", DATASET, "--bq_location", "US",
         "--chunk_size", "5", "--json", str(report_path)],
        bigquery_client=lambda project, location: client if (project, location) == (PROJECT, "US") else None,
    )  # fmt: skip
    report = json.loads(report_path.read_text())
    assert code == verify.EXIT_PROBLEMS
    assert classes_by_line(report) == EXPECTED
    assert report["summary"]["warehouse"] == f"BigQuery {PROJECT}.{DATASET} (the *_current views)"
    _, duckdb_report = run_verify(published, "--duckdb_path", warehouse)
    assert report["lines"] == duckdb_report["lines"]

    relations = {LookupClient.SHAPE.fullmatch(sql)["relation"] for sql, _, _ in client.queries}
    assert relations == {f"{PROJECT}.{DATASET}.{v}" for v in [*CURRENT_VIEWS.values(), DEAD_LETTER_TABLE]}
    assert {location for *_, location in client.queries} == {"US"}
    sent_ids = set()
    for sql, config, _ in client.queries:
        for parameter in config["query"]["queryParameters"]:
            assert parameter["parameterType"] == {"type": "ARRAY", "arrayType": {"type": "STRING"}}
            values = [v["value"] for v in parameter["parameterValue"]["arrayValues"]]
            assert len(values) <= 5
            sent_ids |= set(values)
            assert not any(value in sql for value in values)  # never spliced into the text
    assert {"o1", "o4", "o1-2", "bad-2", hashlib.sha256(NOT_UTF8).hexdigest()} <= sent_ids


def test_a_failing_bigquery_job_exits_3(scenario: tuple[Path, Path], capsys) -> None:
    _, published = scenario
    client = as_bigquery(scenario[0], exceptions.Forbidden("Access Denied: Table my-proj:orders_rt.orders_current"))
    code = verify.main([str(published), "--bq_project", PROJECT], bigquery_client=lambda *_: client)
    assert code == verify.EXIT_WAREHOUSE
    assert "Access Denied" in capsys.readouterr().err


def test_bigquery_client_errors_exit_3(tmp_path: Path, capsys) -> None:
    def no_credentials(project: str, location: str | None):
        raise RuntimeError("Your default credentials were not found")

    published = write_lines(tmp_path / "p.jsonl", [O1_1])
    assert verify.main([str(published), "--bq-project", PROJECT], bigquery_client=no_credentials) == 3
    assert "cannot create a BigQuery client: Your default credentials were not found" in capsys.readouterr().err
