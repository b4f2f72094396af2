"""End to end on real parts: publisher CLI -> Pub/Sub emulator -> streaming_job.py -> DuckDB file, compared
with an oracle folded in the test; then a replay of the whole topic, and a batch backfill of the same events."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from oracle import dead_letter_rows, expected_tables, fold_latest, full_tables, warehouse_tables
from pubsub_helpers import pull_and_ack

from beam_pipelines import pipeline_metrics as pm
from publishers.faults import FAULTS
from publishers.stream import MessageStream, StreamSettings

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = StreamSettings(
    seed=21,
    orders=420,
    start_time=datetime(2026, 5, 1, tzinfo=timezone.utc),
    duplicate_ratio=0.1,
    reorder_ratio=0.2,
    invalid_ratio=0.05,
)
PUBLISH_FLAGS = [
    "--orders", str(SETTINGS.orders), "--seed", str(SETTINGS.seed), "--start-time", "2026-05-01T00:00:00Z",
    "--duplicate-ratio", "0.1", "--reorder-ratio", "0.2", "--invalid-ratio", "0.05",
]  # fmt: skip


@pytest.fixture(scope="module")
def expected_messages():
    """The messages the publisher CLI sends for PUBLISH_FLAGS (same seed), with its record of what it broke."""
    return list(MessageStream(SETTINGS))


def _run(args: list[str], env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _stream(pubsub, names, warehouse: Path) -> subprocess.CompletedProcess:
    return _run(
        ["streaming_job.py", "--input_subscription", names["subscription"], "--sink", "duckdb",
         "--duckdb_path", str(warehouse), "--dead_letter_topic", names["dead_letter_topic"],
         "--max_idle_seconds", "3"],
        env=pubsub.environment(),
    )  # fmt: skip


def test_stream_replay_and_backfill_all_equal_the_oracle(pubsub, pubsub_names, expected_messages, tmp_path):
    valid = [m.data for m in expected_messages if m.fault is None]
    invalid = [m for m in expected_messages if m.fault is not None]
    assert len(valid) >= 2000 and len(invalid) > 50
    oracle = expected_tables(fold_latest(valid))
    assert any(m.reordered for m in expected_messages) and any(m.duplicate for m in expected_messages)

    # 1. Stream: publish through the CLI, run the pipeline until idle.
    env = pubsub.environment()
    _run(["-m", "publishers", "--topic", pubsub_names["topic"], "--rate", "0", *PUBLISH_FLAGS], env=env)
    streamed = tmp_path / "streamed.duckdb"
    result = _stream(pubsub, pubsub_names, streamed)
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"{len(expected_messages)} messages: {len(valid)} valid, {len(invalid)} dead-lettered")

    assert warehouse_tables(streamed) == oracle
    dead = dead_letter_rows(streamed)
    assert Counter(row[0] for row in dead) == Counter(m.data for m in invalid)
    by_payload = {m.data: m.fault for m in invalid}
    for payload, stage, kind, message, path in dead:
        _, expected_stage, expected_kind, expected_path = FAULTS[by_payload[payload]]
        assert (stage, kind) == (expected_stage, expected_kind), message
        assert path.startswith(expected_path) and message
    assert pull_and_ack(pubsub_names["subscription"]) == []  # everything was acked after its commit

    dead_letter_topic = pull_and_ack(pubsub_names["dead_letter_subscription"])
    assert Counter(m.data for m in dead_letter_topic) == Counter(m.data for m in invalid)
    assert all(m.attributes["error_kind"] and m.attributes["error_stage"] for m in dead_letter_topic)

    # 2. Replay the whole topic into the same warehouse: nothing changes but the dead-letter log.
    first = full_tables(streamed)
    _run(["-m", "publishers", "--topic", pubsub_names["topic"], "--rate", "0", *PUBLISH_FLAGS], env=env)
    replay = _stream(pubsub, pubsub_names, streamed)
    assert "0 snapshots applied" in replay.stderr
    assert full_tables(streamed) == first
    assert len(dead_letter_rows(streamed)) == 2 * len(invalid)

    # 3. Backfill the same events from a JSONL file in batch mode, into a new warehouse.
    events = tmp_path / "events.jsonl"
    _run(["-m", "publishers", "--output", str(events), *PUBLISH_FLAGS])
    assert events.read_bytes() == b"".join(m.data + b"\n" for m in expected_messages)
    backfilled = tmp_path / "backfilled.duckdb"
    _run(["streaming_job.py", "--input_files", str(events), "--duckdb_path", str(backfilled)])
    assert full_tables(backfilled) == first
    assert Counter(row[0] for row in dead_letter_rows(backfilled)) == Counter(m.data for m in invalid)


def test_jsonl_lines_are_what_the_publisher_sent(expected_messages):
    assert all(b"\n" not in m.data for m in expected_messages)
    assert {json.loads(m.data)["schema_version"] for m in expected_messages if m.fault is None} == {1}


def test_a_missing_subscription_is_one_clear_line(pubsub):
    result = subprocess.run(
        [sys.executable, "streaming_job.py", "--input_subscription", f"projects/{pubsub.project}/subscriptions/absent",
         "--max_idle_seconds", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=pubsub.environment(),
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"streaming_job.py: error: subscription projects/{pubsub.project}/subscriptions/absent does not exist"
        )
    )


def test_a_missing_dead_letter_topic_is_one_clear_line(pubsub, pubsub_names):
    result = subprocess.run(
        [sys.executable, "streaming_job.py", "--input_subscription", pubsub_names["subscription"],
         "--dead_letter_topic", f"projects/{pubsub.project}/topics/absent", "--max_idle_seconds", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=pubsub.environment(),
    )  # fmt: skip
    assert result.returncode == 2
    assert f"topic projects/{pubsub.project}/topics/absent does not exist" in result.stderr.strip().splitlines()[-1]


def test_pipeline_metrics_reconcile_with_what_was_published(pubsub, pubsub_names, expected_messages, tmp_path):
    """pipeline_metrics, written by the sinks after each commit, account for every published message once:
    valid + dead-lettered = published, the outcomes of the valid ones add up, and each streamed message has a
    publish-to-commit latency (the local read takes Pub/Sub's publish time)."""
    valid = [m for m in expected_messages if m.fault is None]
    invalid = [m for m in expected_messages if m.fault is not None]
    _run(
        ["-m", "publishers", "--topic", pubsub_names["topic"], "--rate", "0", *PUBLISH_FLAGS], env=pubsub.environment()
    )
    warehouse = tmp_path / "metrics.duckdb"
    _stream(pubsub, pubsub_names, warehouse)

    connection = duckdb.connect(str(warehouse), read_only=True)
    rows = connection.execute(
        "SELECT minute, metric, kind, value, writer, written_at FROM orders_rt.pipeline_metrics"
    ).fetchall()
    connection.close()
    sums: Counter = Counter()
    for _, metric, kind, value, _, _ in rows:
        sums[(metric, kind)] += value
    dead_lettered = Counter({kind: value for (metric, kind), value in sums.items() if metric == pm.DEAD_LETTERED})
    assert sums[(pm.VALID, None)] + sum(dead_lettered.values()) == len(expected_messages)
    assert sums[(pm.VALID, None)] == len(valid)
    expected_kinds = Counter(f"{FAULTS[m.fault][1]}/{FAULTS[m.fault][2]}" for m in invalid)
    assert dead_lettered == expected_kinds  # no sink-stage dead letter: no sequence conflict in this stream
    assert sum(sums[(outcome, None)] for outcome in pm.OUTCOMES) == len(valid)
    assert sums[(pm.APPLIED, None)] > 0 and sums[(pm.DUPLICATE, None)] > 0
    latencies = {kind: value for (metric, kind), value in sums.items() if metric == pm.COMMIT_LATENCY_MS}
    assert sum(latencies.values()) == len(valid) and set(latencies) <= set(pm.LATENCY_BUCKET_KINDS)
    assert all(value > 0 for _, _, _, value, _, _ in rows)
    assert all(minute.second == 0 and minute.microsecond == 0 and minute <= written for minute, *_, written in rows)
    assert len({writer for *_, writer, _ in rows}) >= 2  # one writer per sink instance (upsert, dead letters)
