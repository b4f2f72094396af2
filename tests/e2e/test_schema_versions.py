"""Schema versions 1 and 2 side by side, end to end: a producer rollout streamed through the emulator into a
warehouse created before version 2 existed, then dbt.

The publisher writes the same orders in both versions (same seed: the same event ids and sequences). The test
switches each order from version 1 to version 2 at a point of its own, as producers moving one instance at a time
do, and adds a version the pipeline does not know. The oracle is computed here from the published bodies alone:
each order's highest-sequence event says its status, channel, review and version.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from google.cloud import pubsub_v1

from schemas import table_schema
from warehouse.connection import connect
from warehouse.duckdb_schema import create_table_sql

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, env=env
    )
    assert result.returncode == 0, f"exit code {result.returncode}:\n{result.stderr[-5000:]}"
    return result


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _mixed(first: list[dict], second: list[dict]) -> list[dict]:
    """Each order's events from version 1 up to a switch point of its own (drawn here), version 2 after it."""
    assert [(e["event_id"], e["sequence"]) for e in first] == [(e["event_id"], e["sequence"]) for e in second]
    rng = random.Random(5)
    switch: dict[str, int] = {}
    mixed = []
    for old, new in zip(first, second, strict=True):
        order_id = old["order"]["order_id"]
        at = switch.setdefault(order_id, rng.choice([1, 2, 3, 4, 99]))  # 1: all version 2; 99: all version 1
        mixed.append(new if old["sequence"] >= at else old)
    return mixed


def _publish(topic: str, events: list[dict]) -> None:
    publisher = pubsub_v1.PublisherClient()
    try:
        futures = [
            publisher.publish(
                topic,
                json.dumps(event).encode(),
                event_id=event["event_id"],
                event_type=event["event_type"],
                schema_version=str(event["schema_version"]),
                event_time=event["event_time"],
            )
            for event in events
        ]
        for future in futures:
            future.result(timeout=120)
    finally:
        publisher.stop()


def _version_1_warehouse(path: Path) -> None:
    """A warehouse file as the pipeline made it before schema version 2: orders without its columns."""
    orders = table_schema("orders")
    version_1 = replace(orders, columns=tuple(c for c in orders.columns if "schema version 2" not in c.description))
    with connect(path) as connection:
        connection.execute("CREATE SCHEMA orders_rt")
        connection.execute(create_table_sql(version_1))


def test_versions_1_and_2_stream_side_by_side_into_a_warehouse_from_before_version_2(pubsub, pubsub_names, tmp_path):
    generated = {}
    for version in (1, 2):
        generated[version] = tmp_path / f"v{version}.jsonl"
        _run(["-m", "publishers", "--output", str(generated[version]), "--orders", "120", "--seed", "21",
              "--schema-version", str(version), "--start-time", "2026-11-01T00:00:00Z"])  # fmt: skip
    events = _mixed(_events(generated[1]), _events(generated[2]))
    future = dict(events[0], event_id="from-the-future", schema_version=3)
    _publish(pubsub_names["topic"], [*events, future])
    assert {e["schema_version"] for e in events} == {1, 2}

    warehouse = tmp_path / "warehouse.duckdb"
    _version_1_warehouse(warehouse)
    _run(
        ["streaming_job.py", "--input_subscription", pubsub_names["subscription"], "--duckdb_path", str(warehouse),
         "--max_idle_seconds", "3"],
        env=pubsub.environment(),
    )  # fmt: skip

    newest: dict[str, dict] = {}
    for event in events:
        order_id = event["order"]["order_id"]
        if order_id not in newest or event["sequence"] > newest[order_id]["sequence"]:
            newest[order_id] = event
    expected = {
        order_id: (
            e["order"]["order_status"],
            e["schema_version"],
            e["order"].get("channel"),
            (e.get("order_review") or {}).get("review_id"),
            (e.get("order_review") or {}).get("review_score"),
            (e.get("order_review") or {}).get("review_comment_message"),
        )
        for order_id, e in newest.items()
    }
    assert {v[1] for v in expected.values()} == {1, 2} and any(v[4] for v in expected.values())
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        stored = {
            row[0]: row[1:]
            for row in connection.execute(
                "SELECT order_id, order_status, _schema_version, channel, review_id, review_score, "
                "review_comment_message FROM orders_rt.orders"
            ).fetchall()
        }
        dead = connection.execute(
            "SELECT event_id, error_kind, error_message FROM orders_rt.order_events_dead_letter"
        ).fetchall()
    assert stored == expected
    assert dead == [("from-the-future", "unsupported_schema_version", dead[0][2])]
    assert "schema_version 3 is not supported; expected one of: 1, 2" in dead[0][2]

    # dbt exposes the new columns: fct_orders has them, and the channel KPI adds up (a dbt data test).
    _run(["-m", "warehouse.dbt_runner", "build", "--duckdb-path", str(warehouse)])
    with duckdb.connect(str(tmp_path / "warehouse_analytics.duckdb"), read_only=True) as connection:
        (schema,) = connection.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'fct_orders'"
        ).fetchone()
        facts = {
            row[0]: row[1:]
            for row in connection.execute(
                f"SELECT order_id, channel, review_score, schema_version FROM {schema}.fct_orders"
            ).fetchall()
        }
        channels = dict(
            connection.execute(
                f"SELECT channel, sum(order_count) FROM {schema}.kpi_channel_reviews_monthly GROUP BY channel"
            ).fetchall()
        )
    assert facts == {order_id: (v[2], v[4], v[1]) for order_id, v in expected.items()}
    sales = [v for v in expected.values() if v[0] not in ("canceled", "unavailable")]
    assert channels == {
        channel: sum(1 for v in sales if (v[2] or "unknown") == channel)
        for channel in {v[2] or "unknown" for v in sales}
    }
