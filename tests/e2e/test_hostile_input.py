"""Issue 9: the pipeline cannot be killed by its input.

Every hostile message of tests/hostile_cases.py is published to the real emulator among a few hundred good
snapshots; streaming_job.py must drain them all and exit 0, with each hostile message in the dead-letter table
exactly once (stage, kind and path as the error contract says, payload kept) and the warehouse equal to the
oracle's fold of the good messages alone. Then: a sequence conflict against a stored snapshot, and a JSONL
backfill of the same cases run twice.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.cloud import pubsub_v1
from hostile_cases import EDGE_VALID, HOSTILE_CASES, MIB, SINK, HostileCase, sequence_conflict
from oracle import expected_tables, fold_latest, full_tables, warehouse_tables
from pubsub_helpers import create_pubsub_names, pull_and_ack

from publishers.stream import MessageStream, StreamSettings, attributes_of

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Good traffic: several snapshots per order, with duplicates and reordering, and no faults of its own.
GOOD_TRAFFIC = StreamSettings(
    seed=909,
    orders=60,
    start_time=datetime(2026, 6, 1, tzinfo=timezone.utc),
    duplicate_ratio=0.1,
    reorder_ratio=0.2,
)
CONFLICT_ORDERS = ("conflict-01", "conflict-02", "conflict-03")
#: What the later of two snapshots with one order's sequence and different event_ids becomes.
SEQUENCE_CONFLICT = HostileCase("sequence_conflict", b"", {}, SINK, "sequence_conflict", "$.sequence")
DEAD_LETTER_COLUMNS = (
    "dead_letter_id",
    "message_id",
    "payload_bytes",
    "payload_size_bytes",
    "payload_sha256",
    "payload_truncated",
    "attributes",
    "error_stage",
    "error_kind",
    "error_path",
    "error_message",
)
#: Ack deadline of the test subscriptions: a message pulled but never acked comes back after it. Long enough that
#: the job acks well within it; short enough to wait for a redelivery when checking that nothing was left.
ACK_DEADLINE_SECONDS = 20
SUMMARY = re.compile(r"^(?P<messages>\d+) messages: (?P<valid>\d+) valid, (?P<invalid>\d+) dead-lettered")
DEAD_LETTERS_WRITTEN = re.compile(r"(?P<written>\d+) dead letters written")


@dataclass(frozen=True)
class Outgoing:
    """One message to send: good, hostile (with its expected dead letter) or half of a sequence conflict."""

    data: bytes
    attributes: dict[str, str]
    case: HostileCase | None = None
    conflict: tuple[str, str] | None = None  # (order_id, "2a" | "2b")

    @property
    def good(self) -> bool:
        return self.case is None and self.conflict is None


@pytest.fixture
def short_lease_names(pubsub) -> dict[str, str]:
    """Fresh Pub/Sub resources, like tests/conftest.py's pubsub_names, with a short ack deadline (see _unacked)."""
    return create_pubsub_names(pubsub, ack_deadline_seconds=ACK_DEADLINE_SECONDS)


def _unacked(subscription: str) -> list:
    """Messages the job left un-acked: they are redelivered once their ack deadline passes, whereas an immediate
    pull right after the run cannot see messages still leased to a job that pulled them and never acked."""
    first = pull_and_ack(max_messages=1, subscription=subscription, expected=1, timeout=ACK_DEADLINE_SECONDS + 15)
    return first + pull_and_ack(max_messages=1, subscription=subscription) if first else []


def _traffic() -> list[Outgoing]:
    """Good snapshots, hostile cases and conflicting pairs, interleaved in a fixed shuffled order."""
    stream = list(MessageStream(GOOD_TRAFFIC))
    assert all(m.fault is None for m in stream)
    good = [Outgoing(m.data, m.attributes) for m in stream]
    good += [Outgoing(edge.data, edge.attributes) for edge in EDGE_VALID]
    conflicts = []
    for order_id in CONFLICT_ORDERS:
        first, second_a, second_b = sequence_conflict(order_id)
        good.append(Outgoing(first, attributes_of(json.loads(first))))
        conflicts += [
            Outgoing(second_a, attributes_of(json.loads(second_a)), conflict=(order_id, "2a")),
            Outgoing(second_b, attributes_of(json.loads(second_b)), conflict=(order_id, "2b")),
        ]
    hostile = [Outgoing(case.data, case.attributes, case=case) for case in HOSTILE_CASES]
    traffic = good + hostile + conflicts
    random.Random(9).shuffle(traffic)
    return traffic


def _publish(topic: str, messages: list[Outgoing]) -> list[str]:
    """Publish in order; returns the message ids the emulator gave."""
    publisher = pubsub_v1.PublisherClient()
    try:
        futures = [publisher.publish(topic, m.data, **m.attributes) for m in messages]
        return [future.result(timeout=120) for future in futures]
    finally:
        publisher.stop()


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, env=env
    )
    assert result.returncode == 0, f"exit code {result.returncode}:\n{result.stderr[-5000:]}"
    return result


def _stream(pubsub, names: dict[str, str], warehouse: Path) -> subprocess.CompletedProcess:
    return _run(
        [
            "streaming_job.py",
            "--input_subscription",
            names["subscription"],
            "--sink",
            "duckdb",
            "--duckdb_path",
            str(warehouse),
            "--dead_letter_topic",
            names["dead_letter_topic"],
            "--max_idle_seconds",
            "3",
        ],
        env=pubsub.environment(),
    )


def _dead_letters(warehouse: Path) -> list[dict[str, Any]]:
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = connection.execute(
            f"SELECT {', '.join(DEAD_LETTER_COLUMNS)} FROM orders_rt.order_events_dead_letter"
        ).fetchall()
    finally:
        connection.close()
    return [dict(zip(DEAD_LETTER_COLUMNS, row, strict=True)) for row in rows]


def _described(row: dict[str, Any]) -> str:
    return f"{row['error_stage']}/{row['error_kind']} at {row['error_path']}: {str(row['error_message'])[:200]}"


def _dead_letter_problems(
    label: str, row: dict[str, Any], data: bytes, attributes: dict[str, str], expected: HostileCase
) -> list[str]:
    """What is wrong with the one dead-letter row of a message (nothing, when it is as the contract says)."""
    problems = []
    if (row["error_stage"], row["error_kind"]) != (expected.stage, expected.kind) or not expected.path_matches(
        row["error_path"]
    ):
        problems.append(f"{label}: expected {expected.expected()}, got {_described(row)}")
    if not row["error_message"]:
        problems.append(f"{label}: empty error_message")
    if row["payload_sha256"] != hashlib.sha256(data).hexdigest() or row["payload_size_bytes"] != len(data):
        problems.append(
            f"{label}: payload_sha256/size {row['payload_sha256']}/{row['payload_size_bytes']}, "
            f"expected those of the original {len(data)} bytes"
        )
    payload = bytes(row["payload_bytes"]) if row["payload_bytes"] is not None else None
    if len(data) > MIB:
        if row["payload_truncated"] is not True or payload is None or not 0 < len(payload) <= MIB:
            problems.append(f"{label}: a {len(data)}-byte body must be kept cut to at most 1 MiB, flagged truncated")
        elif not data.startswith(payload):
            problems.append(f"{label}: payload_bytes is not the start of the original body")
    elif payload != data or row["payload_truncated"]:
        problems.append(f"{label}: payload_bytes must be the body byte for byte, not truncated")
    if json.loads(row["attributes"] or "{}") != attributes:
        problems.append(f"{label}: attributes {row['attributes']!r}, expected {attributes!r}")
    return problems


def _oracle_problems(warehouse: Path, bodies: list[bytes]) -> list[str]:
    expected = expected_tables(fold_latest(bodies))
    actual = warehouse_tables(warehouse)
    problems = []
    for table in expected:
        missing, extra = expected[table] - actual[table], actual[table] - expected[table]
        if missing or extra:
            problems.append(
                f"{table}: {len(missing)} oracle rows missing, {len(extra)} rows the oracle does not have; "
                f"e.g. missing {sorted(map(repr, missing))[:2]}, extra {sorted(map(repr, extra))[:2]}"
            )
    return problems


def _lineage(warehouse: Path, order_id: str) -> dict[str, set[str]]:
    """The _event_id values each upserted table holds for one order."""
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            table: {
                row[0]
                for row in connection.execute(
                    f"SELECT _event_id FROM orders_rt.{table} WHERE order_id = ?", [order_id]
                ).fetchall()
            }
            for table in ("orders", "order_items", "order_payments")
        }
    finally:
        connection.close()


def _conflict_winners(
    warehouse: Path, rows_of: dict[str, list[dict[str, Any]]], outgoing: list[tuple[str, Outgoing]]
) -> tuple[dict[str, bytes], list[str]]:
    """For each conflicting pair: the snapshot that must be stored (the other one is dead-lettered), and problems.

    ``rows_of`` maps a message's identity (message id, or file line) to its dead-letter rows."""
    winners: dict[str, bytes] = {}
    problems = []
    pairs: dict[str, dict[str, tuple[str, Outgoing]]] = defaultdict(dict)
    for identity, message in outgoing:
        if message.conflict is not None:
            order_id, which = message.conflict
            pairs[order_id][which] = (identity, message)
    for order_id, pair in pairs.items():
        lettered = {which for which, (identity, _) in pair.items() if rows_of.get(identity)}
        if len(lettered) != 1:
            problems.append(f"{order_id}: exactly one of 2a/2b must be dead-lettered, got {sorted(lettered) or 'none'}")
            continue
        (loser,) = lettered
        (winner,) = set(pair) - lettered
        identity, message = pair[loser]
        if len(rows_of[identity]) != 1:
            problems.append(f"{order_id} {loser}: {len(rows_of[identity])} dead-letter rows, expected 1")
        problems += _dead_letter_problems(
            f"{order_id} {loser}", rows_of[identity][0], message.data, message.attributes, SEQUENCE_CONFLICT
        )
        winner_data = pair[winner][1].data
        winners[order_id] = winner_data
        winner_event_id = json.loads(winner_data)["event_id"]
        lineage = _lineage(warehouse, order_id)
        if any(ids != {winner_event_id} for ids in lineage.values()):
            problems.append(f"{order_id}: rows must all come from {winner_event_id}, got {lineage}")
    return winners, problems


def _file_identity(path: Path, line_number: int) -> str:
    return f"file:{path}:{line_number}"


def test_hostile_messages_are_dead_lettered_once_each_and_leave_the_warehouse_alone(
    pubsub, short_lease_names, tmp_path
):
    traffic = _traffic()
    assert len(HOSTILE_CASES) >= 150 and sum(m.good for m in traffic) >= 300
    message_ids = _publish(short_lease_names["topic"], traffic)
    published = list(zip(message_ids, traffic, strict=True))
    warehouse = tmp_path / "hostile.duckdb"

    result = _stream(pubsub, short_lease_names, warehouse)  # exit code 0: it kept running and drained

    rows = _dead_letters(warehouse)
    rows_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        rows_of[row["message_id"]].append(row)
    problems: list[str] = []
    for message_id, message in published:
        found = rows_of.get(message_id, [])
        if message.good and found:
            problems.append(f"good message {message_id} dead-lettered: {_described(found[0])}")
        if message.case is None:
            continue
        case = message.case
        if len(found) != 1:
            problems.append(f"{case.name}: {len(found)} dead-letter rows, expected exactly 1 ({case.expected()})")
            continue
        row = found[0]
        expected_id = f"pubsub:{message_id}:{hashlib.sha256(case.data).hexdigest()[:16]}"
        if row["dead_letter_id"] != expected_id:
            problems.append(f"{case.name}: dead_letter_id {row['dead_letter_id']!r}, expected {expected_id!r}")
        problems += _dead_letter_problems(case.name, row, case.data, case.attributes, case)
    unknown = set(rows_of) - set(message_ids)
    problems += [f"dead letter for a message never published: {_described(rows_of[m][0])}" for m in unknown]

    winners, conflict_problems = _conflict_winners(warehouse, rows_of, published)
    problems += conflict_problems
    good_bodies = [m.data for m in traffic if m.good] + list(winners.values())
    problems += _oracle_problems(warehouse, good_bodies)

    left = _unacked(short_lease_names["subscription"])
    if left:
        problems.append(
            f"{len(left)} messages were never acked (redelivered after the run), e.g. {left[0].data[:80]!r}"
        )

    summary = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    counts, written = SUMMARY.match(summary), DEAD_LETTERS_WRITTEN.search(summary)
    hostile = sum(m.case is not None for m in traffic)
    conflicting = sum(m.conflict is not None for m in traffic)
    expected_counts = {
        "messages": len(traffic),
        "valid": len(traffic) - hostile,
        "invalid": hostile,
        "written": hostile + conflicting // 2,
    }
    actual_counts = {**counts.groupdict(), **written.groupdict()} if counts and written else {}
    if {name: int(value) for name, value in actual_counts.items()} != expected_counts:
        problems.append(f"summary {summary!r} does not reconcile with what was sent: {expected_counts}")
    if len(rows) != hostile + conflicting // 2:
        problems.append(f"{len(rows)} dead-letter rows, expected {hostile + conflicting // 2} (one per bad message)")

    problems += _dead_letter_topic_problems(short_lease_names["dead_letter_subscription"], published)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:100])


def _dead_letter_topic_problems(subscription: str, published: list[tuple[str, Outgoing]]) -> list[str]:
    """Every dead letter also reaches the dead-letter topic with its error in the attributes (a body over 1 MiB
    may arrive cut, as in the table)."""
    bad = [message for _, message in published if not message.good]
    dead_lettered = len(bad) - len(CONFLICT_ORDERS)  # one snapshot of each conflicting pair is stored
    received = pull_and_ack(max_messages=1, subscription=subscription, expected=dead_lettered, timeout=60)
    problems, seen = [], set()
    by_body = {m.data: m for m in bad}
    for message in received:
        original = by_body.get(message.data) or next(
            (m for m in bad if len(m.data) > MIB and len(message.data) > MIB // 2 and m.data.startswith(message.data)),
            None,
        )
        if original is None:
            problems.append(f"dead-letter topic: unexpected message {message.data[:80]!r}")
            continue
        seen.add(original.data)
        expected = original.case or SEQUENCE_CONFLICT
        error = (message.attributes.get("error_stage"), message.attributes.get("error_kind"))
        if error != (expected.stage, expected.kind):
            problems.append(f"dead-letter topic: {expected.name} arrived with error attributes {error}")
    missing = [m.case.name for m in bad if m.case is not None and m.data not in seen]
    if missing or len(seen) != dead_lettered:
        problems.append(f"dead-letter topic: {dead_lettered - len(seen)} dead letters missing, e.g. {missing[:5]}")
    return problems


def test_a_snapshot_that_conflicts_with_a_stored_one_is_dead_lettered_and_the_stored_one_stays(
    pubsub, short_lease_names, tmp_path
):
    first, second_a, second_b = sequence_conflict("conflict-stored")
    warehouse = tmp_path / "conflict.duckdb"
    _publish(short_lease_names["topic"], [Outgoing(first, {}), Outgoing(second_a, attributes_of(json.loads(second_a)))])
    _stream(pubsub, short_lease_names, warehouse)
    assert _dead_letters(warehouse) == []
    stored = full_tables(warehouse)
    assert _oracle_problems(warehouse, [first, second_a]) == []

    # 2b claims the stored sequence 2 with another event_id; 2a comes again (a redelivery is not an error).
    (conflict_id, _) = _publish(
        short_lease_names["topic"],
        [Outgoing(second_b, attributes_of(json.loads(second_b))), Outgoing(second_a, {})],
    )
    _stream(pubsub, short_lease_names, warehouse)

    rows = _dead_letters(warehouse)
    assert [row["message_id"] for row in rows] == [conflict_id], [_described(row) for row in rows]
    assert _dead_letter_problems("2b", rows[0], second_b, attributes_of(json.loads(second_b)), SEQUENCE_CONFLICT) == []
    assert full_tables(warehouse) == stored  # 2a stays whole: no row of 2b, no mix
    assert _unacked(short_lease_names["subscription"]) == []


def test_a_backfill_run_twice_records_each_bad_line_once(tmp_path):
    traffic = [m for m in _traffic() if m.case is None or m.case.fits_one_line]
    assert all(b"\n" not in m.data and b"\r" not in m.data for m in traffic)
    events = tmp_path / "hostile.jsonl"
    events.write_bytes(b"".join(m.data + b"\n" for m in traffic))
    lines = [(_file_identity(events, number), m) for number, m in enumerate(traffic, start=1)]
    warehouse = tmp_path / "backfill.duckdb"

    _run(["streaming_job.py", "--input_files", str(events), "--sink", "duckdb", "--duckdb_path", str(warehouse)])
    after_first_run = sorted(row["dead_letter_id"] or "" for row in _dead_letters(warehouse))
    _run(["streaming_job.py", "--input_files", str(events), "--sink", "duckdb", "--duckdb_path", str(warehouse)])

    rows = _dead_letters(warehouse)
    rows_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        rows_of[row["dead_letter_id"]].append(row)
    problems: list[str] = []
    if sorted(rows_of) != sorted(set(after_first_run)) or len(after_first_run) != len(rows):
        problems.append(f"the second run changed the dead letters: {len(after_first_run)} rows, then {len(rows)}")
    for identity, message in lines:
        found = rows_of.get(identity, [])
        if message.good and found:
            problems.append(f"good line {identity} dead-lettered: {_described(found[0])}")
        if message.case is None:
            continue
        if len(found) != 1:
            problems.append(f"{message.case.name} ({identity}): {len(found)} dead-letter rows, expected exactly 1")
            continue
        case = message.case
        problems += _dead_letter_problems(case.name, found[0], case.data, {}, case)
    unknown = set(rows_of) - {identity for identity, _ in lines}
    problems += [f"dead letter with an unexpected dead_letter_id {identity!r}" for identity in sorted(unknown)[:10]]

    file_lines = [(identity, Outgoing(m.data, {}, m.case, m.conflict)) for identity, m in lines]
    winners, conflict_problems = _conflict_winners(warehouse, rows_of, file_lines)
    problems += conflict_problems
    problems += _oracle_problems(warehouse, [m.data for m in traffic if m.good] + list(winners.values()))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:100])
