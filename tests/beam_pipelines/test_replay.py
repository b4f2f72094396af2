"""Dead-letter replay (beam_pipelines/replay.py): selection, idempotence, transforms, attributes, dry run, errors.

The DuckDB tests run every statement against a real warehouse file (created by the pipeline's own DDL, dead
letters written by the pipeline's own dead-letter writer). What should be selected is computed by the tests from
the rows they wrote, with plain Python filters; what was published is seen at the Pub/Sub client boundary (a
recording client with the real client's ``publish``/``get_topic`` signatures). The BigQuery store is driven
against a recording BigQuery client: the exact query parameters and insertAll rows it sends are checked here, and
the SQL itself is analyzed by ZetaSQL in tests/sql/test_replay_sql.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.api_core import exceptions
from sample_events import snapshot

from beam_pipelines import replay
from beam_pipelines.dead_letters import dead_letter
from beam_pipelines.messages import ReceivedMessage
from beam_pipelines.replay import (
    PUBLISH_FAILED,
    PUBLISHED,
    REPLAYED_FROM,
    SKIPPED,
    TRANSFORM_FAILED,
    WOULD_PUBLISH,
    BigQueryReplayStore,
    DuckDBReplayStore,
    ReplayError,
    Selection,
    TopicPublisher,
    run_replay,
)
from beam_pipelines.replay_sql import PAGE_COLUMNS, bigquery_dialect, page_sql
from beam_pipelines.sinks.duckdb import DuckDBWarehouse
from beam_pipelines.transforms.dead_letter import minimal_row
from orders_local.emulator import free_port

SCHEMA = "orders_rt"
TOPIC = "projects/test-project/topics/orders"
T0 = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
REPO_ROOT = Path(__file__).resolve().parents[2]


# --- Fixtures: dead letters in a real DuckDB file -----------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One dead letter the test writes, and what the test knows about it (its own record, the oracle's input)."""

    order_id: str
    stage: str
    kind: str
    minutes: int  # dead-lettered at T0 + minutes
    message_id: str | None = None  # None: a file backfill line
    body: bytes | None = None

    @property
    def data(self) -> bytes:
        return self.body if self.body is not None else snapshot(self.order_id, 1)

    @property
    def event_id(self) -> str | None:
        try:
            return json.loads(self.data)["event_id"]
        except ValueError:
            return None

    @property
    def attributes(self) -> dict[str, str]:
        try:
            event = json.loads(self.data)
        except ValueError:
            return {"source": "test"}
        return {"event_id": event["event_id"], "event_type": event["event_type"], "schema_version": "1", "x": "y"}

    def message(self) -> ReceivedMessage:
        origin = None if self.message_id else f"/data/backfill.jsonl:{self.minutes}"
        return ReceivedMessage(self.data, self.attributes, message_id=self.message_id, origin=origin)

    @property
    def dead_letter_id(self) -> str:
        return self.message().dead_letter_id

    def row(self) -> dict[str, Any]:
        row = dead_letter(self.message(), self.stage, self.kind, f"{self.kind} in {self.order_id}", "$.x").row
        row["timestamp"] = T0 + timedelta(minutes=self.minutes)
        return row


SPECS = [
    Spec("o1", "business_rule", "customer_mismatch", 1, "101"),
    Spec("o2", "business_rule", "customer_mismatch", 2, "102"),
    Spec("o3", "schema", "schema_violation", 3, "103"),
    Spec("o4", "schema", "unsupported_schema_version", 4, "104"),
    Spec("o5", "schema", "unsupported_schema_version", 5, "105"),
    Spec("o6", "business_rule", "money_precision", 6, None),
    Spec("o7", "parse", "invalid_json", 7, "107", body=b'{"event_id": "broken'),
    Spec("o8", "schema", "schema_violation", 8, "108"),
    Spec("o9", "business_rule", "customer_mismatch", 8, "109"),  # same timestamp as o8: the id orders them
    Spec("o10", "sink", "sequence_conflict", 10, "110"),
]


def write_dead_letters(path: Path, specs: list[Spec]) -> None:
    warehouse = DuckDBWarehouse(str(path))
    warehouse.prepare()
    warehouse.write_dead_letters([spec.row() for spec in specs])


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    write_dead_letters(path, SPECS)
    return path


def store(path: Path) -> DuckDBReplayStore:
    duckdb_store = DuckDBReplayStore(path, SCHEMA, lock_timeout=10)
    duckdb_store.prepare()
    return duckdb_store


def replay_log(path: Path) -> list[dict[str, Any]]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        cursor = connection.execute(f"SELECT * FROM {SCHEMA}.dead_letter_replays ORDER BY replayed_at, dead_letter_id")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


# --- A Pub/Sub client that records what is published ----------------------------------------------------------


class RecordingPubSub:
    """google-cloud-pubsub's PublisherClient as replay uses it: get_topic and publish (a future of the message id).
    ``fail_when(data)`` makes the publish of a body fail, as a refused message does."""

    def __init__(self, fail_when=lambda data: False, topics=(TOPIC,)) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []
        self.fail_when = fail_when
        self.topics = set(topics)

    def get_topic(self, request, retry=None, timeout=None):
        if request["topic"] not in self.topics:
            raise exceptions.NotFound(f"Topic not found: {request['topic']}")
        return request

    def publish(self, topic: str, data: bytes, **attributes: str) -> Future:
        future: Future = Future()
        if self.fail_when(data):
            future.set_exception(exceptions.InvalidArgument("message refused"))
        else:
            self.published.append((topic, data, dict(attributes)))
            future.set_result(f"m{len(self.published)}")
        return future

    def stop(self) -> None:
        pass


EVERYTHING = Selection()


def execute(path_or_store, selection: Selection = EVERYTHING, client: RecordingPubSub | None = None, **kwargs):
    client = client or RecordingPubSub()
    target = store(path_or_store) if isinstance(path_or_store, Path) else path_or_store
    report = run_replay(target, selection, publisher=TopicPublisher(TOPIC, client), topic=TOPIC, **kwargs)
    return report, client


def dry_run(path: Path, selection: Selection = EVERYTHING, **kwargs):
    return run_replay(store(path), selection, **kwargs)


def selected_ids(report) -> list[str]:
    return [item.dead_letter.dead_letter_id for item in report.shown]


# --- Selection ----------------------------------------------------------------------------------------------


def expected(selection: Selection, specs: list[Spec] = SPECS) -> list[str]:
    """The oracle: the specs the selection names, oldest first (then by id), at most ``limit``."""
    chosen = [
        spec
        for spec in specs
        if (not selection.kinds or spec.kind in selection.kinds)
        and (not selection.stages or spec.stage in selection.stages)
        and (not selection.event_ids or spec.event_id in selection.event_ids)
        and (selection.since is None or T0 + timedelta(minutes=spec.minutes) >= selection.since)
        and (selection.until is None or T0 + timedelta(minutes=spec.minutes) < selection.until)
    ]
    chosen.sort(key=lambda spec: (spec.minutes, spec.dead_letter_id))
    ids = [spec.dead_letter_id for spec in chosen]
    return ids if selection.limit is None else ids[: selection.limit]


SELECTIONS = {
    "everything": Selection(),
    "one kind": Selection(kinds=("customer_mismatch",)),
    "two kinds": Selection(kinds=("customer_mismatch", "unsupported_schema_version")),
    "a stage": Selection(stages=("schema",)),
    "stage and kind": Selection(stages=("schema",), kinds=("schema_violation", "customer_mismatch")),
    "event ids": Selection(event_ids=("o3-1", "o9-1", "no-such-event")),
    "since": Selection(since=T0 + timedelta(minutes=5)),
    "until (exclusive)": Selection(until=T0 + timedelta(minutes=5)),
    "range and stage": Selection(since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=8), stages=("schema",)),
    "limit": Selection(limit=3),
    "limit across the equal timestamps": Selection(limit=9),
    "kind and limit": Selection(kinds=("customer_mismatch",), limit=2),
    "nothing": Selection(kinds=("no_such_kind",)),
}


@pytest.mark.parametrize("page_size", [2, 500])
@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_selection_matches_an_independent_filter(warehouse: Path, name: str, page_size: int) -> None:
    selection = SELECTIONS[name]
    report = dry_run(warehouse, selection, page_size=page_size, show=100)
    assert selected_ids(report) == expected(selection)
    assert report.selected == len(expected(selection))


def test_the_oracle_is_not_trivial() -> None:
    """The selections above tell filters apart: no two give the same rows, and none gives all but 'everything'."""
    results = {name: tuple(expected(selection)) for name, selection in SELECTIONS.items()}
    assert len(set(results.values())) == len(results)
    assert [name for name, ids in results.items() if len(ids) == len(SPECS)] == ["everything"]


def test_rows_that_cannot_be_replayed_are_never_selected_and_duplicates_count_once(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    good = Spec("ok", "schema", "schema_violation", 1, "201")
    cut = Spec("cut", "parse", "too_large", 2, "202", body=b"x" * ((1 << 20) + 10))
    refused = Spec("refused", "schema", "schema_violation", 3, "203")
    write_dead_letters(path, [good, cut])
    # The minimal form of a refused dead-letter row (no payload), and one row without a dead_letter_id.
    DuckDBWarehouse(str(path)).write_dead_letters([minimal_row(refused.row(), ValueError("refused"))])
    anonymous = Spec("anon", "schema", "schema_violation", 4, "204").row()
    anonymous["dead_letter_id"] = None
    DuckDBWarehouse(str(path)).write_dead_letters([anonymous])
    # BigQuery's best-effort dedup can leave a dead letter twice; DuckDB's writer would skip it, so insert directly.
    connection = duckdb.connect(str(path))
    connection.execute(
        f"INSERT INTO {SCHEMA}.order_events_dead_letter SELECT * FROM {SCHEMA}.order_events_dead_letter "
        "WHERE dead_letter_id = ?",
        [good.dead_letter_id],
    )
    connection.close()

    report, client = execute(path)

    assert selected_ids(report) == [good.dead_letter_id]
    assert [data for _, data, _ in client.published] == [good.data]


# --- Execute: publish, record, never twice --------------------------------------------------------------------


def test_execute_publishes_each_payload_as_stored_then_records_it_and_a_second_run_selects_nothing(
    warehouse: Path,
) -> None:
    selection = Selection(kinds=("customer_mismatch", "unsupported_schema_version"))
    chosen = [spec for spec in SPECS if spec.dead_letter_id in expected(selection)]

    report, client = execute(warehouse, selection, page_size=2)

    assert report.outcomes == {PUBLISHED: len(chosen)}
    assert [data for _, data, _ in client.published] == [spec.data for spec in chosen]
    assert {topic for topic, _, _ in client.published} == {TOPIC}
    for (_, _, attributes), spec in zip(client.published, chosen, strict=True):
        assert attributes == {**spec.attributes, REPLAYED_FROM: spec.message_id}
    log = replay_log(warehouse)
    assert [(row["dead_letter_id"], row["outcome"]) for row in log] == [
        (spec.dead_letter_id, PUBLISHED) for spec in chosen
    ]
    assert [row["replay_message_id"] for row in log] == [f"m{n}" for n in range(1, len(chosen) + 1)]
    assert {row["topic"] for row in log} == {TOPIC} and {row["transform"] for row in log} == {None}
    assert [row["event_id"] for row in log] == [spec.event_id for spec in chosen]
    assert [(row["error_stage"], row["error_kind"]) for row in log] == [(spec.stage, spec.kind) for spec in chosen]
    assert len({row["run_id"] for row in log}) == 1

    again, second_client = execute(warehouse, selection)
    assert again.selected == 0 and second_client.published == []
    assert replay_log(warehouse) == log
    # The rest of the dead letters are still there to replay.
    rest, _ = execute(warehouse)
    assert selected_ids(rest) == [i for i in expected(Selection()) if i not in expected(selection)]


def test_a_file_backfill_dead_letter_is_replayed_from_its_dead_letter_id(warehouse: Path) -> None:
    (spec,) = [spec for spec in SPECS if spec.message_id is None]
    _, client = execute(warehouse, Selection(event_ids=(spec.event_id,)))
    ((_, _, attributes),) = client.published
    assert attributes[REPLAYED_FROM] == spec.dead_letter_id == "file:/data/backfill.jsonl:6"
    assert replay_log(warehouse)[0]["replayed_from"] == spec.dead_letter_id


def test_a_publish_failure_is_recorded_and_the_row_is_selected_again(warehouse: Path) -> None:
    selection = Selection(stages=("schema",))
    refused = next(spec for spec in SPECS if spec.order_id == "o4")
    failing = RecordingPubSub(fail_when=lambda data: data == refused.data)

    report, _ = execute(warehouse, selection, failing)

    assert report.outcomes == {PUBLISHED: len(expected(selection)) - 1, PUBLISH_FAILED: 1}
    (failure,) = report.failures
    assert failure.dead_letter.dead_letter_id == refused.dead_letter_id and "message refused" in failure.reason
    log = {row["dead_letter_id"]: row for row in replay_log(warehouse)}
    assert log[refused.dead_letter_id]["outcome"] == PUBLISH_FAILED
    assert "InvalidArgument" in log[refused.dead_letter_id]["reason"]
    assert log[refused.dead_letter_id]["replay_message_id"] is None

    retry, client = execute(warehouse, selection)
    assert selected_ids(retry) == [refused.dead_letter_id]
    assert [data for _, data, _ in client.published] == [refused.data]


# --- Transforms ---------------------------------------------------------------------------------------------


def test_a_transform_error_skips_only_its_row_and_leaves_it_for_the_next_run(tmp_path: Path) -> None:
    from replay_fixes import fail_on_order

    path = tmp_path / "warehouse.duckdb"
    order_ids = ("o-ok", "o-broken", "o-skip", "o-ok2")
    specs = [Spec(order_id, "schema", "schema_violation", n, str(300 + n)) for n, order_id in enumerate(order_ids, 1)]
    write_dead_letters(path, specs)

    report, client = execute(path, transform=fail_on_order, transform_name="replay_fixes:fail_on_order")

    assert report.outcomes == {PUBLISHED: 2, TRANSFORM_FAILED: 1, SKIPPED: 1}
    assert [json.loads(data)["order"]["order_id"] for _, data, _ in client.published] == ["o-ok", "o-ok2"]
    (failure,) = report.failures
    assert failure.dead_letter.event_id == "o-broken-1"
    assert failure.reason == "KeyError: 'no such field: order.channel'"
    log = {row["event_id"]: row for row in replay_log(path)}
    assert {event: row["outcome"] for event, row in log.items()} == {
        "o-ok-1": PUBLISHED,
        "o-broken-1": TRANSFORM_FAILED,
        "o-skip-1": SKIPPED,
        "o-ok2-1": PUBLISHED,
    }
    assert log["o-skip-1"]["reason"] == "the transform returned None"
    assert {row["transform"] for row in log.values()} == {"replay_fixes:fail_on_order"}

    # Fixed transform, next run: only the failed and the skipped rows are selected again.
    retry, client = execute(path, transform=lambda body, attributes: (body, attributes))
    assert sorted(item.dead_letter.event_id for item in retry.shown) == ["o-broken-1", "o-skip-1"]
    assert retry.outcomes == {PUBLISHED: 2}


def test_a_transformed_body_sets_the_attributes_that_repeat_its_fields(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    spec = Spec("o1", "schema", "unsupported_schema_version", 1, "401")
    write_dead_letters(path, [spec])

    def restamp(body, attributes):
        body["event_id"] = "o1-1-fixed"
        body["event_type"] = "order_approved"
        body["event_time"] = "2026-11-21T11:00:00.000Z"
        attributes["note"] = "kept"
        return body, attributes  # stale event_* attributes: replay must set them from the body

    report, client = execute(path, transform=restamp)

    ((_, data, attributes),) = client.published
    body = json.loads(data)
    assert data == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert attributes == {
        "event_id": "o1-1-fixed",
        "event_type": "order_approved",
        "schema_version": "1",
        "event_time": "2026-11-21T11:00:00.000Z",  # absent before: the body has it
        "x": "y",
        "note": "kept",
        REPLAYED_FROM: "401",
    }
    assert replay_log(path)[0]["event_id"] == "o1-1-fixed"
    assert report.outcomes == {PUBLISHED: 1}


def test_a_body_that_is_not_json_reaches_the_transform_as_bytes(warehouse: Path) -> None:
    seen = []

    def inspect(body, attributes):
        seen.append((body, attributes))
        return body + b"}", attributes

    _, client = execute(warehouse, Selection(kinds=("invalid_json",)), transform=inspect)
    assert seen == [(b'{"event_id": "broken', {"source": "test"})]
    assert client.published == [(TOPIC, b'{"event_id": "broken}', {"source": "test", REPLAYED_FROM: "107"})]


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        ({"not": "a pair"}, "must return (body, attributes) or None, got dict"),
        (({"event_id": "e"}, ["not", "a dict"]), "attributes it returns must be a dict, got list"),
        (({"event_id": "e"}, {"count": 3}), "attribute keys and values must be strings; not so for ['count']"),
        (({"sequence": float("nan")}, {}), "ValueError: Out of range float values are not JSON compliant"),
    ],
)
def test_a_transform_returning_the_wrong_shape_fails_its_row(warehouse: Path, returned, reason: str) -> None:
    report, client = execute(warehouse, Selection(limit=1), transform=lambda body, attributes: returned)
    assert client.published == []
    (failure,) = report.failures
    assert failure.outcome == TRANSFORM_FAILED and reason in failure.reason


def test_transforms_are_loaded_from_a_module_or_a_file(tmp_path: Path) -> None:
    from replay_fixes import repair_order

    assert replay.load_transform("replay_fixes:repair_order") is repair_order
    by_path = replay.load_transform(str(REPO_ROOT / "tests" / "replay_fixes.py") + ":repair_order")
    assert by_path.__name__ == "repair_order" and by_path is not repair_order
    problems = {
        "replay_fixes": "must be module:function",
        "no_such_module_here:fix": "cannot import no_such_module_here: ModuleNotFoundError",
        "replay_fixes:no_such_function": "replay_fixes has no function 'no_such_function'",
        f"{tmp_path}/missing.py:fix": "no file",
    }
    for spec, message in problems.items():
        with pytest.raises(ReplayError, match=message.replace("(", r"\(")):
            replay.load_transform(spec)


# --- Dry run ------------------------------------------------------------------------------------------------


class NoPublisherAllowed:
    def __init__(self, *args, **kwargs) -> None:
        raise AssertionError("a dry run must not create a Pub/Sub publisher")


def test_the_dry_run_publishes_and_records_nothing_and_lists_what_it_would_do(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from google.cloud import pubsub_v1

    monkeypatch.setattr(pubsub_v1, "PublisherClient", NoPublisherAllowed)
    code = replay.main(
        ["--duckdb_path", str(warehouse), "--kind", "customer_mismatch", "--topic", TOPIC, "--show", "2"]
    )
    out = capsys.readouterr().out
    assert code == replay.EXIT_OK
    assert replay_log(warehouse) == []
    assert "DRY RUN" in out and "3 dead letter(s) selected" in out
    assert "business_rule/customer_mismatch: 3" in out and f"{WOULD_PUBLISH} 3" in out
    ids = expected(Selection(kinds=("customer_mismatch",)))
    assert ids[0] in out and ids[1] in out and ids[2] not in out  # --show 2
    assert "o1-1" in out and "customer_mismatch in o1" in out

    # The same flags with --execute do publish (through the client the dry run never made).
    client = RecordingPubSub()
    monkeypatch.setattr(pubsub_v1, "PublisherClient", lambda *args, **kwargs: client)
    assert (
        replay.main(["--duckdb_path", str(warehouse), "--kind", "customer_mismatch", "--topic", TOPIC, "--execute"])
        == 0
    )
    assert len(client.published) == 3 and len(replay_log(warehouse)) == 3


def test_a_dry_run_reports_transform_failures_with_exit_code_3(warehouse: Path, capsys: pytest.CaptureFixture) -> None:
    path = warehouse.parent / "failing.duckdb"
    write_dead_letters(
        path, [Spec("o-broken", "schema", "schema_violation", 1, "501"), Spec("o-ok", "schema", "x", 2, "502")]
    )
    code = replay.main(["--duckdb-path", str(path), "--transform", "replay_fixes:fail_on_order"])
    out = capsys.readouterr().out
    assert code == replay.EXIT_ROWS_FAILED
    assert f"{TRANSFORM_FAILED} 1" in out and f"{WOULD_PUBLISH} 1" in out
    assert "pubsub:501:" in out and "KeyError: 'no such field: order.channel'" in out
    assert replay_log(path) == []


# --- Errors -------------------------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "beam_pipelines.replay", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_clear_errors_and_exit_codes(warehouse: Path, tmp_path: Path) -> None:
    cases = {
        "no such file": ((["--duckdb_path", str(tmp_path / "none.duckdb")]), 1, "no DuckDB warehouse at"),
        "wrong schema": ((["--duckdb_path", str(warehouse), "--duckdb_schema", "other"]), 1, "no table other."),
        "bad transform": (
            ["--duckdb_path", str(warehouse), "--transform", "tests/nope.py:fix"],
            1,
            "--transform tests/nope.py:fix: no file tests/nope.py",
        ),
        "execute without topic": (["--duckdb_path", str(warehouse), "--execute"], 2, "--execute needs --topic"),
        "bad topic": (["--topic", "orders"], 2, "expected projects/PROJECT/topics/TOPIC"),
        "bad time": (["--since", "yesterday"], 2, "expected an ISO 8601 timestamp"),
        "empty range": (["--since", "2026-11-02", "--until", "2026-11-01"], 2, "--since must be before --until"),
        "both warehouses": (["--bq_project", "p", "--duckdb_path", "x"], 2, "not both"),
        "zero limit": (["--limit", "0"], 2, "expected an integer > 0"),
    }
    for name, (args, code, message) in cases.items():
        result = run_cli(*args)
        assert (result.returncode, message in result.stderr) == (code, True), f"{name}: {result.stderr}"
        assert len(result.stderr.strip().splitlines()) == 1, f"{name}: not one line: {result.stderr}"
    assert replay_log(warehouse) == []


def test_help_gives_examples_the_transform_contract_and_exit_codes() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for text in ("examples:", "--execute", "def fix(body, attributes)", "exit codes:", "--bq_project", "--event-id"):
        assert text in result.stdout, text


def test_an_unreachable_emulator_is_one_clear_error(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    with pytest.raises(ReplayError, match=f"cannot reach the emulator at {host}"):
        TopicPublisher(TOPIC).check(patience=2)


def test_a_missing_topic_is_found_before_anything_is_published(warehouse: Path) -> None:
    client = RecordingPubSub(topics=())
    with pytest.raises(ReplayError, match=f"topic {TOPIC} does not exist"):
        TopicPublisher(TOPIC, client).check()


def test_a_file_from_before_replays_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    write_dead_letters(path, SPECS[:2])
    connection = duckdb.connect(str(path))
    connection.execute(f"DROP TABLE {SCHEMA}.dead_letter_replays")
    connection.close()
    report, _ = execute(path)
    assert report.outcomes == {PUBLISHED: 2} and len(replay_log(path)) == 2


# --- The DuckDB lock ----------------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
connection.close()
"""


def test_replay_waits_while_another_process_holds_the_file(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(warehouse)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        impatient = DuckDBReplayStore(warehouse, SCHEMA, lock_timeout=0.2)
        with pytest.raises(ReplayError, match="stayed locked by another process"):
            impatient.prepare()

        attempts = threading.Semaphore(0)
        real_connect = duckdb.connect

        def counting_connect(*args, **kwargs):
            attempts.release()
            return real_connect(*args, **kwargs)

        monkeypatch.setattr(duckdb, "connect", counting_connect)
        outcome: dict[str, Any] = {}

        def replay_in_background() -> None:
            try:
                outcome["report"], outcome["client"] = execute(DuckDBReplayStore(warehouse, SCHEMA, lock_timeout=120))
            except BaseException as error:  # reported by the assertion below
                outcome["error"] = error

        worker = threading.Thread(target=replay_in_background)
        worker.start()
        for _ in range(3):  # the replay has tried, and been refused, more than once: it is backing off
            assert attempts.acquire(timeout=60)
        holder.stdin.close()
        worker.join(timeout=120)
        assert not worker.is_alive() and "error" not in outcome, outcome.get("error")
        assert outcome["report"].outcomes == {PUBLISHED: len(SPECS)}
    finally:
        if holder.stdin and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=30)
    assert len(replay_log(warehouse)) == len(SPECS)


# --- BigQuery, at the client boundary -----------------------------------------------------------------------


class _Job:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def result(self) -> list[dict[str, Any]]:
        return self.rows


class RecordingBigQuery:
    """google.cloud.bigquery.Client as replay uses it (get_table, query, insert_rows_json), recording each call.
    ``pages`` are the rows successive queries return (then none); ``missing`` tables raise NotFound."""

    def __init__(self, pages: list[list[dict[str, Any]]], missing: tuple[str, ...] = ()) -> None:
        self.pages = list(pages)
        self.missing = missing
        self.queries: list[tuple[str, list[dict[str, Any]], str | None]] = []
        self.inserted: list[tuple[str, list[dict[str, Any]], list[str]]] = []

    def get_table(self, table_id: str) -> str:
        if table_id in self.missing:
            raise exceptions.NotFound(f"Not found: Table {table_id}")
        return table_id

    def query(self, sql: str, job_config=None, location=None) -> _Job:
        self.queries.append((sql, job_config.to_api_repr()["query"]["queryParameters"], location))
        return _Job(self.pages.pop(0) if self.pages else [])

    def insert_rows_json(self, table: str, rows, row_ids=None) -> list:
        self.inserted.append((table, json.loads(json.dumps(rows)), list(row_ids)))
        return []


def bigquery_row(spec: Spec) -> dict[str, Any]:
    """A selected row as google-cloud-bigquery hands it out (BYTES as bytes, TIMESTAMP as an aware datetime)."""
    row = spec.row()
    return {
        "dead_letter_id": row["dead_letter_id"],
        "timestamp": row["timestamp"],
        "message_id": row["message_id"],
        "event_id": row["event_id"],
        "error_stage": row["error_stage"],
        "error_kind": row["error_kind"],
        "error_message": row["error_message"],
        "payload_bytes": row["payload_bytes"],
        "attributes_json": row["attributes"],
    }


def parameter_values(api_parameters: list[dict[str, Any]]) -> dict[str, tuple[str, Any]]:
    """{name: (type, value)} from the API representation of query parameters."""
    out = {}
    for parameter in api_parameters:
        kind = parameter["parameterType"]["type"]
        value = parameter["parameterValue"]
        if kind == "ARRAY":
            kind = f"ARRAY<{parameter['parameterType']['arrayType']['type']}>"
            value = [item["value"] for item in value["arrayValues"]]
        else:
            value = value.get("value")
        out[parameter["name"]] = (kind, value)
    return out


def test_bigquery_sends_typed_parameters_and_appends_exactly_these_rows() -> None:
    first, second, third = SPECS[0], SPECS[1], SPECS[3]
    client = RecordingBigQuery([[bigquery_row(first), bigquery_row(second)], [bigquery_row(third)]])
    bigquery_store = BigQueryReplayStore("my-proj", "orders_rt", "US", client_factory=lambda: client)
    bigquery_store.prepare()
    selection = Selection(
        kinds=("customer_mismatch", "unsupported_schema_version"),
        stages=("business_rule", "schema"),
        since=T0,
        limit=5,
    )

    report, pubsub = execute(bigquery_store, selection, page_size=2, transform_name=None)

    sql = page_sql(bigquery_dialect("my-proj", "orders_rt"))
    assert [(text, location) for text, _, location in client.queries] == [(sql, "US"), (sql, "US")]
    common = {
        "kinds": ("ARRAY<STRING>", ["customer_mismatch", "unsupported_schema_version"]),
        "stages": ("ARRAY<STRING>", ["business_rule", "schema"]),
        "event_ids": ("ARRAY<STRING>", []),
        "since": ("TIMESTAMP", "2026-11-20 12:00:00+00:00"),
        "until": ("TIMESTAMP", None),
        "published": ("STRING", "published"),
    }
    assert parameter_values(client.queries[0][1]) == {
        **common,
        "after_timestamp": ("TIMESTAMP", None),
        "after_dead_letter_id": ("STRING", None),
        "page_size": ("INT64", "2"),
    }
    # Page 2 starts after page 1's last key, and asks only for what the limit leaves (a full page of 2: 5 - 2 > 2).
    assert parameter_values(client.queries[1][1]) == {
        **common,
        "after_timestamp": ("TIMESTAMP", "2026-11-20 12:02:00+00:00"),
        "after_dead_letter_id": ("STRING", second.dead_letter_id),
        "page_size": ("INT64", "2"),
    }
    # Page 2 came back short: no third query.
    assert report.outcomes == {PUBLISHED: 3}
    assert [data for _, data, _ in pubsub.published] == [first.data, second.data, third.data]

    table = "my-proj.orders_rt.dead_letter_replays"
    assert [name for name, _, _ in client.inserted] == [table, table]
    rows = [row for _, chunk, _ in client.inserted for row in chunk]
    run_ids = {row.pop("run_id") for row in rows}
    recorded_at = {row.pop("replayed_at") for row in rows}
    assert len(run_ids) == 1 and all(datetime.fromisoformat(at).tzinfo is not None for at in recorded_at)
    assert rows == [
        {
            "dead_letter_id": spec.dead_letter_id,
            "outcome": PUBLISHED,
            "reason": None,
            "replay_message_id": f"m{n}",
            "topic": TOPIC,
            "transform": None,
            "event_id": spec.event_id,
            "replayed_from": spec.message_id,
            "error_stage": spec.stage,
            "error_kind": spec.kind,
        }
        for n, spec in enumerate((first, second, third), start=1)
    ]
    row_ids = [row_id for _, _, ids in client.inserted for row_id in ids]
    assert len(set(row_ids)) == 3 and all(len(row_id) == 32 for row_id in row_ids)


def test_bigquery_dry_run_queries_but_inserts_nothing() -> None:
    client = RecordingBigQuery([[bigquery_row(SPECS[0])]])
    bigquery_store = BigQueryReplayStore("my-proj", "orders_rt", client_factory=lambda: client)
    report = run_replay(bigquery_store, Selection())
    assert report.outcomes == {WOULD_PUBLISH: 1}
    assert len(client.queries) == 1 and client.inserted == []


def test_bigquery_missing_table_is_a_clear_error() -> None:
    client = RecordingBigQuery([], missing=("my-proj.orders_rt.dead_letter_replays",))
    bigquery_store = BigQueryReplayStore("my-proj", "orders_rt", client_factory=lambda: client)
    with pytest.raises(
        ReplayError, match=r"table my-proj\.orders_rt\.dead_letter_replays: not found .*terraform apply"
    ):
        bigquery_store.prepare()


def test_the_page_columns_are_what_the_row_reader_takes() -> None:
    assert set(PAGE_COLUMNS) == set(bigquery_row(SPECS[0]))


def test_the_cli_runs_from_any_directory(warehouse: Path, tmp_path: Path) -> None:
    """`python -m beam_pipelines.replay` with a module transform resolves it from the working directory."""
    (tmp_path / "my_fixes.py").write_text("def keep(body, attributes):\n    return body, attributes\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "beam_pipelines.replay",
            "--duckdb_path",
            str(warehouse),
            "--transform",
            "my_fixes:keep",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert f"{WOULD_PUBLISH} {len(SPECS)}" in result.stdout


def test_long_runs_print_progress_after_pages(warehouse: Path, capsys: pytest.CaptureFixture) -> None:
    started = time.monotonic()
    run_replay(store(warehouse), EVERYTHING, page_size=3, on_page=replay._progress(started, every=0))
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" dead letters")[0].strip() for line in lines] == ["3", "6", "9", "10"]
    assert lines[-1].startswith(f"  10 dead letters so far ({WOULD_PUBLISH} 10), ")
    # Throttled: a run shorter than the interval prints nothing.
    run_replay(store(warehouse), EVERYTHING, page_size=3, on_page=replay._progress(time.monotonic(), every=3600))
    assert capsys.readouterr().err == ""
