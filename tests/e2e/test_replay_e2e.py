"""Dead-letter replay end to end, on real parts: the publisher CLI's events, the Pub/Sub emulator, streaming_job.py,
a DuckDB file and ``python -m beam_pipelines.replay``.

Scenario A: some orders reach the topic with a producer bug in every snapshot (a customer id that is not the
order's, a zip prefix sent as a number). The pipeline dead-letters them and stores the rest. A dry run then
shows them and changes nothing; ``--execute`` with a repairing ``--transform`` (tests/replay_fixes.py)
republishes them with ``replayed_from``; the next pipeline run stores them. The oracle is the publisher's own,
unbroken events, folded by the test (tests/oracle.py): the repaired messages must be exactly those events, and
the warehouse their fold. A second replay selects nothing and changes nothing.

Scenario B (the issue's example): producers moved to schema version 2 before the pipeline accepted it
(``--schema_versions 1``), so their messages were dead-lettered as ``unsupported_schema_version``. Once the
pipeline accepts version 2 (its default), a replay without any transform republishes them byte for byte and they
land, newer snapshots over the older version 1 ones already stored. Again, a second replay changes nothing.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.cloud import pubsub_v1
from oracle import expected_tables, fold_latest, full_tables, warehouse_tables
from pubsub_helpers import pull_and_ack

from orders_local import emulator as pubsub_emulator
from publishers.stream import attributes_of
from warehouse.connection import ensure_tables

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
PUBLISH_FLAGS = [
    "--orders", "24", "--seed", "31", "--start-time", "2026-05-01T00:00:00Z",
    "--duplicate-ratio", "0.1", "--reorder-ratio", "0.2",
]  # fmt: skip
MISMATCHED_ORDERS, ZIP_ORDERS = 4, 4
GARBAGE = [b"not json at all", b'{"event_id": "cut-off']
REPAIR = "tests/replay_fixes.py:repair_order"
#: The two bugs' dead letters, by kind and stage (repeated flags; the garbage is parse/invalid_json: not selected).
SELECTED_KINDS = [
    "--kind", "customer_mismatch", "--kind", "schema_violation", "--stage", "business_rule", "--stage", "schema",
]  # fmt: skip


def _run(args: list[str], env: dict[str, str] | None = None, expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env
    )
    assert result.returncode == expect, f"exit {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _stream(pubsub, subscription: str, warehouse: Path, *extra: str) -> subprocess.CompletedProcess:
    return _run(
        ["streaming_job.py", "--input_subscription", subscription, "--sink", "duckdb", "--duckdb_path",
         str(warehouse), "--max_idle_seconds", "3", *extra],
        env=pubsub.environment(),
    )  # fmt: skip


def _replay(pubsub, warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(["-m", "beam_pipelines.replay", "--duckdb_path", str(warehouse), *args], env=pubsub.environment())


def _publish(topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
    publisher = pubsub_v1.PublisherClient()
    try:
        futures = [publisher.publish(topic, data, **attributes) for data, attributes in messages]
        return [future.result(timeout=120) for future in futures]
    finally:
        publisher.stop()


def _query(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _dead_letters(warehouse: Path) -> list[dict[str, Any]]:
    return _query(
        warehouse,
        "SELECT dead_letter_id, message_id, error_stage, error_kind, payload_bytes "
        "FROM orders_rt.order_events_dead_letter ORDER BY dead_letter_id",
    )


def _replays(warehouse: Path) -> list[dict[str, Any]]:
    return _query(warehouse, "SELECT * FROM orders_rt.dead_letter_replays ORDER BY dead_letter_id, replayed_at")


def _oracle_problems(warehouse: Path, bodies: list[bytes]) -> list[str]:
    expected, actual = expected_tables(fold_latest(bodies)), warehouse_tables(warehouse)
    return [
        f"{table}: {len(expected[table] - actual[table])} oracle rows missing, "
        f"{len(actual[table] - expected[table])} rows the oracle does not have"
        for table in expected
        if expected[table] != actual[table]
    ]


def _audit_subscription(pubsub, topic: str) -> str:
    """A subscription that sees only what is published to the topic from now on (the replayed messages)."""
    subscription = pubsub.subscription(f"replay-audit-{topic.rsplit('-', 1)[-1]}")
    subscriber = pubsub_v1.SubscriberClient()
    try:
        subscriber.create_subscription(request={"name": subscription, "topic": topic}, timeout=30)
    finally:
        subscriber.close()
    return subscription


def _break(event: dict[str, Any], bug: str) -> bytes:
    broken = json.loads(json.dumps(event))
    if bug == "customer_mismatch":
        broken["customer"]["customer_id"] += "-typo"
    else:  # the zip prefix as a JSON number: "01310" becomes 1310
        broken["customer"]["customer_zip_code_prefix"] = int(broken["customer"]["customer_zip_code_prefix"])
    return json.dumps(broken, separators=(",", ":")).encode()


def test_replaying_repaired_dead_letters_lands_them_once(pubsub, pubsub_names, tmp_path: Path) -> None:
    events_file = tmp_path / "events.jsonl"
    _run(["-m", "publishers", "--output", str(events_file), *PUBLISH_FLAGS])
    bodies = [line for line in events_file.read_bytes().splitlines() if line]
    events = [json.loads(body) for body in bodies]
    order_ids = sorted({event["order"]["order_id"] for event in events})
    # Orders with a leading-zero zip go to the zip bug first, where the repair has the zero to restore.
    zip_first = sorted(order_ids, key=lambda o: not any(
        e["customer"]["customer_zip_code_prefix"].startswith("0") for e in events if e["order"]["order_id"] == o
    ))  # fmt: skip
    zip_orders = set(zip_first[:ZIP_ORDERS])
    mismatched = set([o for o in order_ids if o not in zip_orders][:MISMATCHED_ORDERS])
    bug_of = {**dict.fromkeys(mismatched, "customer_mismatch"), **dict.fromkeys(zip_orders, "schema_violation")}

    outgoing = [
        (_break(event, bug_of[event["order"]["order_id"]]) if event["order"]["order_id"] in bug_of else body,
         attributes_of(event))
        for body, event in zip(bodies, events, strict=True)
    ] + [(garbage, {}) for garbage in GARBAGE]  # fmt: skip
    message_ids = _publish(pubsub_names["topic"], outgoing)
    # Each broken message's id -> the publisher's unbroken body (the oracle of what the repair must restore).
    broken_by_message_id = {
        message_id: body
        for message_id, body, event in zip(message_ids, bodies, events, strict=False)
        if event["order"]["order_id"] in bug_of
    }
    warehouse = tmp_path / "warehouse.duckdb"
    assert len(broken_by_message_id) >= MISMATCHED_ORDERS + ZIP_ORDERS

    # 1. The pipeline stores the good orders and dead-letters every broken message and the garbage.
    _stream(pubsub, pubsub_names["subscription"], warehouse)
    good_bodies = [body for body, event in zip(bodies, events, strict=True) if event["order"]["order_id"] not in bug_of]
    assert _oracle_problems(warehouse, good_bodies) == []
    dead = _dead_letters(warehouse)
    by_message = {row["message_id"]: row for row in dead}
    assert len(dead) == len(broken_by_message_id) + len(GARBAGE)
    for message_id, original in broken_by_message_id.items():
        bug = bug_of[json.loads(original)["order"]["order_id"]]
        assert by_message[message_id]["error_kind"] == bug, by_message[message_id]
    garbage_ids = {row["dead_letter_id"] for row in dead if row["error_kind"] == "invalid_json"}
    assert len(garbage_ids) == len(GARBAGE)

    # 2. A dry run lists them, publishes nothing, records nothing.
    audit = _audit_subscription(pubsub, pubsub_names["topic"])
    selection = [*SELECTED_KINDS, "--transform", REPAIR, "--topic", pubsub_names["topic"]]
    dry = _replay(pubsub, warehouse, *selection)
    assert f"{len(broken_by_message_id)} dead letter(s) selected" in dry.stdout, dry.stdout
    expected_kinds = Counter(bug_of[json.loads(o)["order"]["order_id"]] for o in broken_by_message_id.values())
    for kind, count in expected_kinds.items():
        stage = "business_rule" if kind == "customer_mismatch" else "schema"
        assert f"{stage}/{kind}: {count}" in dry.stdout, dry.stdout
    assert f"would_publish {len(broken_by_message_id)}" in dry.stdout
    assert _replays(warehouse) == []
    assert pull_and_ack(audit) == []

    # 3. --execute republishes each repaired message once, with replayed_from, then records it.
    executed = _replay(pubsub, warehouse, *selection, "--execute")
    assert f"published {len(broken_by_message_id)}" in executed.stdout, executed.stdout
    replayed = pull_and_ack(audit, expected=len(broken_by_message_id), timeout=60)
    assert sorted(m.attributes["replayed_from"] for m in replayed) == sorted(broken_by_message_id)
    for message in replayed:
        original = broken_by_message_id[message.attributes["replayed_from"]]
        assert json.loads(message.data) == json.loads(original), "the repair must restore the publisher's event"
        expected_attributes = {
            **attributes_of(json.loads(original)),
            "replayed_from": message.attributes["replayed_from"],
        }
        assert dict(message.attributes) == expected_attributes
    log = _replays(warehouse)
    dead_letter_of = {row["message_id"]: row["dead_letter_id"] for row in dead}
    assert sorted(row["dead_letter_id"] for row in log) == sorted(dead_letter_of[m] for m in broken_by_message_id)
    assert {row["outcome"] for row in log} == {"published"} and {row["transform"] for row in log} == {REPAIR}
    assert sorted(row["replay_message_id"] for row in log) == sorted(m.message_id for m in replayed)
    assert not garbage_ids & {row["dead_letter_id"] for row in log}

    # 4. The pipeline stores them: the warehouse is now the fold of every event the publisher made.
    _stream(pubsub, pubsub_names["subscription"], warehouse)
    assert _oracle_problems(warehouse, bodies) == []
    assert _dead_letters(warehouse) == dead, "a repaired message was dead-lettered again"
    stored = full_tables(warehouse)

    # 5. Replaying again selects nothing: nothing published, nothing recorded, the warehouse unchanged.
    again = _replay(pubsub, warehouse, *selection, "--execute")
    assert "0 dead letter(s) selected" in again.stdout, again.stdout
    assert pull_and_ack(audit) == []
    _stream(pubsub, pubsub_names["subscription"], warehouse)
    assert full_tables(warehouse) == stored
    assert _replays(warehouse) == log


def _v2_columns(warehouse: Path) -> dict[str, tuple]:
    rows = _query(warehouse, "SELECT order_id, _schema_version, channel, review_id, review_score FROM orders_rt.orders")
    return {
        row["order_id"]: (row["_schema_version"], row["channel"], row["review_id"], row["review_score"]) for row in rows
    }


def test_version_2_messages_rejected_before_it_was_deployed_land_when_replayed(
    pubsub, pubsub_names, tmp_path: Path
) -> None:
    files = {version: tmp_path / f"v{version}.jsonl" for version in (1, 2)}
    for version, path in files.items():
        _run(["-m", "publishers", "--output", str(path), *PUBLISH_FLAGS, "--schema-version", str(version)])
    v1, v2 = ([line for line in files[v].read_bytes().splitlines() if line] for v in (1, 2))
    # The same orders in both versions; each order's producer moves to version 2 at a sequence of its own
    # (1: every snapshot in version 2; 99: never).
    rng = random.Random(13)
    switch: dict[str, int] = {}
    bodies = []
    for old, new in zip(v1, v2, strict=True):
        event = json.loads(old)
        at = switch.setdefault(event["order"]["order_id"], rng.choice([1, 2, 3, 99]))
        bodies.append(new if event["sequence"] >= at else old)
    events = [json.loads(body) for body in bodies]
    assert {event["schema_version"] for event in events} == {1, 2}
    message_ids = _publish(
        pubsub_names["topic"], [(body, attributes_of(e)) for body, e in zip(bodies, events, strict=True)]
    )
    v2_by_message_id = {
        m: body for m, body, e in zip(message_ids, bodies, events, strict=True) if e["schema_version"] == 2
    }
    warehouse = tmp_path / "warehouse.duckdb"

    # 1. A pipeline that accepts only version 1: every version 2 message is dead-lettered.
    _stream(pubsub, pubsub_names["subscription"], warehouse, "--schema_versions", "1")
    assert (
        _oracle_problems(warehouse, [body for body, e in zip(bodies, events, strict=True) if e["schema_version"] == 1])
        == []
    )
    dead = _dead_letters(warehouse)
    assert sorted(row["message_id"] for row in dead) == sorted(v2_by_message_id)
    assert {(row["error_stage"], row["error_kind"]) for row in dead} == {("schema", "unsupported_schema_version")}

    # 2. Version 2 is deployed (the pipeline's default accepts 1 and 2); the replay republishes the payloads as they
    #    were, byte for byte, with replayed_from.
    audit = _audit_subscription(pubsub, pubsub_names["topic"])
    selection = ["--kind", "unsupported_schema_version", "--since", "2000-01-01", "--topic", pubsub_names["topic"]]
    executed = _replay(pubsub, warehouse, *selection, "--execute")
    assert f"schema/unsupported_schema_version: {len(v2_by_message_id)}" in executed.stdout, executed.stdout
    assert f"published {len(v2_by_message_id)}" in executed.stdout, executed.stdout
    replayed = pull_and_ack(audit, expected=len(v2_by_message_id), timeout=60)
    assert sorted((m.attributes["replayed_from"], m.data) for m in replayed) == sorted(v2_by_message_id.items())
    _stream(pubsub, pubsub_names["subscription"], warehouse)

    # 3. They land: the warehouse is the fold of every message, version 2 columns included; no new dead letter.
    assert _oracle_problems(warehouse, bodies) == []
    newest = fold_latest(bodies)
    assert _v2_columns(warehouse) == {
        order_id: (
            event["schema_version"],
            event["order"].get("channel"),
            (event.get("order_review") or {}).get("review_id"),
            (event.get("order_review") or {}).get("review_score"),
        )
        for order_id, event in newest.items()
    }
    assert any(v[1] for v in _v2_columns(warehouse).values()), "no version 2 snapshot is the newest of its order"
    assert _dead_letters(warehouse) == dead
    stored, log = full_tables(warehouse), _replays(warehouse)
    assert len(log) == len(v2_by_message_id) and {row["outcome"] for row in log} == {"published"}

    # 4. Replaying again changes nothing.
    again = _replay(pubsub, warehouse, *selection, "--execute")
    assert "0 dead letter(s) selected" in again.stdout, again.stdout
    assert pull_and_ack(audit) == []
    _stream(pubsub, pubsub_names["subscription"], warehouse)
    assert full_tables(warehouse) == stored and _replays(warehouse) == log


def test_an_unreachable_emulator_and_a_missing_topic_are_one_clear_line(pubsub, pubsub_names, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    ensure_tables(warehouse)
    missing = _run(
        ["-m", "beam_pipelines.replay", "--duckdb_path", str(warehouse), "--execute", "--topic",
         pubsub.topic("no-such-topic")],
        env=pubsub.environment(),
        expect=1,
    )  # fmt: skip
    where = f"the emulator at {pubsub.host} (PUBSUB_EMULATOR_HOST)"
    assert missing.stderr.strip() == f"error: topic {pubsub.topic('no-such-topic')} does not exist on {where}"
    nobody = f"127.0.0.1:{pubsub_emulator.free_port()}"
    unreachable = _run(
        ["-m", "beam_pipelines.replay", "--duckdb_path", str(warehouse), "--execute", "--topic", pubsub_names["topic"]],
        env={**pubsub.environment(), "PUBSUB_EMULATOR_HOST": nobody},
        expect=1,
    )
    assert unreachable.stderr.startswith(f"error: cannot reach the emulator at {nobody}"), unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1
