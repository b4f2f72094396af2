"""Nothing lost across kill -9, and nothing lost while other processes take turns on the DuckDB file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from oracle import dead_letter_rows, expected_tables, fold_latest, warehouse_tables
from pubsub_helpers import create_pubsub_names

from publishers.stream import MessageStream, StreamSettings
from warehouse.connection import connect

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--orders", "600", "--seed", "31", "--start-time", "2026-06-01T00:00:00Z", "--duplicate-ratio", "0.1",
         "--reorder-ratio", "0.2", "--invalid-ratio", "0.05"]  # fmt: skip
SETTINGS = StreamSettings(seed=31, orders=600, start_time=datetime(2026, 6, 1, tzinfo=timezone.utc),
                          duplicate_ratio=0.1, reorder_ratio=0.2, invalid_ratio=0.05)  # fmt: skip


@pytest.fixture
def short_deadline(pubsub):
    """A topic and subscription whose ack deadline is 10 s, so a crashed pipeline's messages return fast."""
    names = create_pubsub_names(pubsub, ack_deadline_seconds=10)
    return names["topic"], names["subscription"]


def _pipeline(pubsub, subscription: str, path: Path, idle: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "streaming_job.py", "--input_subscription", subscription, "--duckdb_path", str(path),
         "--max_idle_seconds", str(idle), "--batch_size", "200"],
        cwd=REPO_ROOT, env=pubsub.environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _orders_in(path: Path) -> int:
    if not path.exists():
        return 0
    with connect(path, read_only=True, lock_timeout=30) as connection:
        tables = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders'")
        if not tables.fetchone()[0]:
            return 0
        return connection.execute("SELECT count(*) FROM orders_rt.orders").fetchone()[0]


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _publish(pubsub, topic: str, rate: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "publishers", "--topic", topic, "--rate", rate, *FLAGS],
        cwd=REPO_ROOT, env=pubsub.environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _oracle():
    messages = list(MessageStream(SETTINGS))
    valid = [m.data for m in messages if m.fault is None]
    return expected_tables(fold_latest(valid)), Counter(m.data for m in messages if m.fault)


def test_kill_9_mid_stream_loses_nothing(pubsub, short_deadline, tmp_path):
    topic, subscription = short_deadline
    path = tmp_path / "crash.duckdb"
    publisher = _publish(pubsub, topic, "800")
    first = _pipeline(pubsub, subscription, path, idle=60)
    _wait_for(lambda: _orders_in(path) >= 50, 120, "the first orders to land")
    os.kill(first.pid, signal.SIGKILL)  # the process this test started, by its PID
    first.wait(timeout=30)
    assert publisher.wait(timeout=300) == 0
    landed_before_restart = _orders_in(path)

    second = _pipeline(pubsub, subscription, path, idle=15)  # > the 10 s ack deadline: redeliveries arrive
    _, stderr = second.communicate(timeout=600)
    assert second.returncode == 0, stderr[-2000:]

    expected, invalid = _oracle()
    assert landed_before_restart < len(expected["orders"])  # the crash really happened mid-stream
    assert warehouse_tables(path) == expected
    assert Counter(row[0] for row in dead_letter_rows(path)) == invalid  # each once, even if redelivered


def test_reference_loads_and_dbt_builds_while_streaming_lose_nothing(pubsub, pubsub_names, tmp_path, olist_dir):
    path = tmp_path / "shared.duckdb"
    env = pubsub.environment()
    publisher = _publish(pubsub, pubsub_names["topic"], "400")
    pipeline = _pipeline(pubsub, pubsub_names["subscription"], path, idle=5)
    _wait_for(lambda: _orders_in(path) > 0, 120, "the first orders to land")
    turns = 0
    while publisher.poll() is None or turns < 2:  # other processes take turns on the file meanwhile
        subprocess.run(
            [sys.executable, "-m", "warehouse.reference", "--olist-dir", str(olist_dir), "--duckdb-path", str(path)],
            cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "warehouse.dbt_runner", "build", "--duckdb-path", str(path)],
            cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        turns += 1
    assert publisher.returncode == 0
    _, stderr = pipeline.communicate(timeout=600)
    assert pipeline.returncode == 0, stderr[-2000:]
    expected, invalid = _oracle()
    assert warehouse_tables(path) == expected
    assert Counter(row[0] for row in dead_letter_rows(path)) == invalid
    with connect(path, read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM orders_rt.products").fetchone()[0] == 32951
