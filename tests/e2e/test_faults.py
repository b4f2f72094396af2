"""Faults of the real stack while streaming: the emulator stopping and starting again, and another process
holding the DuckDB file longer than the sink waits. Nothing may be lost or duplicated, and the job keeps on."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from oracle import dead_letter_rows, expected_tables, fold_latest, warehouse_tables
from pubsub_helpers import create_pubsub_names

from orders_local import emulator as pubsub_emulator
from publishers.stream import MessageStream, StreamSettings

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Holds the DuckDB file read-write until its standard input closes (the test decides when).
HOLD_THE_FILE = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


def _batch(seed: int, orders: int) -> tuple[list[str], list]:
    """Publisher flags and the messages they produce (the oracle's input)."""
    start = "2026-07-01T00:00:00Z"
    flags = ["--orders", str(orders), "--seed", str(seed), "--start-time", start,
             "--duplicate-ratio", "0.1", "--reorder-ratio", "0.2", "--invalid-ratio", "0.05"]  # fmt: skip
    settings = StreamSettings(
        seed=seed, orders=orders, start_time=datetime(2026, 7, 1, tzinfo=timezone.utc),
        duplicate_ratio=0.1, reorder_ratio=0.2, invalid_ratio=0.05,
    )  # fmt: skip
    return flags, list(MessageStream(settings))


def _publish(env: dict, topic: str, flags: list[str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "publishers", "--topic", topic, "--rate", "0", *flags],
        cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip


def _pipeline(env: dict, subscription: str, path: Path, log: Path, *flags: str) -> subprocess.Popen:
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "streaming_job.py", "--input_subscription", subscription, "--duckdb_path", str(path),
             "--batch_size", "200", *flags],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip


def _landed(path: Path, expected: dict, invalid: Counter) -> bool:
    """The warehouse holds exactly ``expected`` and the dead letters ``invalid`` (False while it is busy)."""
    try:
        return warehouse_tables(path) == expected and Counter(row[0] for row in dead_letter_rows(path)) == invalid
    except duckdb.Error:  # missing tables, or the pipeline holds the file right now
        return False


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _expected(*batches: list) -> tuple[dict, Counter]:
    messages = [m for batch in batches for m in batch]
    return expected_tables(fold_latest(m.data for m in messages if m.fault is None)), Counter(
        m.data for m in messages if m.fault
    )


def test_the_job_survives_an_emulator_stop_and_start(tmp_path):
    data_dir = tmp_path / "emulator"
    running = pubsub_emulator.start(data_dir, project="fault-project")
    try:
        names = create_pubsub_names(running, ack_deadline_seconds=10)
        env = running.environment()
        first_flags, first = _batch(seed=41, orders=150)
        second_flags, second = _batch(seed=42, orders=150)
        path, log = tmp_path / "w.duckdb", tmp_path / "pipeline.log"
        _publish(env, names["topic"], first_flags)
        pipeline = _pipeline(env, names["subscription"], path, log, "--max_idle_seconds", "30")
        # Everything of batch 1 landed: the emulator keeps messages in memory only, so anything still waiting
        # in it when it stops is lost by the emulator, not by the pipeline.
        _wait_for(lambda: _landed(path, *_expected(first)), 180, "batch 1 to land")

        pubsub_emulator.stop(running)  # the emulator this test started, by its PID
        _wait_for(lambda: "failed" in log.read_text(), 60, "the pipeline to notice the emulator is gone")
        assert pipeline.poll() is None, log.read_text()[-3000:]  # still running
        port = int(running.host.rsplit(":", 1)[1])
        running = pubsub_emulator.start(data_dir, project="fault-project", port=port)
        # The emulator keeps nothing across a restart: recreate the same topic and subscription.
        pubsub_emulator.create_resources(
            running, **{key: path_.rsplit("/", 1)[1] for key, path_ in names.items()}, ack_deadline_seconds=10
        )
        _publish(env, names["topic"], second_flags)

        assert pipeline.wait(timeout=600) == 0, log.read_text()[-3000:]
        summary = log.read_text().strip().splitlines()[-1]
        # It met the outage (a failed pull or ack, retried or left for redelivery) and carried on.
        assert "pull errors retried" in summary or "ack errors" in summary, summary
        expected, invalid = _expected(first, second)
        assert warehouse_tables(path) == expected
        assert Counter(row[0] for row in dead_letter_rows(path)) == invalid
    finally:
        pubsub_emulator.stop(running)


def test_a_lock_held_past_the_sinks_patience_leaves_messages_for_redelivery(pubsub, tmp_path):
    names = create_pubsub_names(pubsub, ack_deadline_seconds=10)
    env = pubsub.environment()
    flags, messages = _batch(seed=43, orders=200)
    path, log = tmp_path / "w.duckdb", tmp_path / "pipeline.log"
    # The sink waits 1 s for the lock; the holder keeps it for longer; idle > the 10 s ack deadline.
    warm_up_flags, warm_up = _batch(seed=44, orders=5)
    _publish(env, names["topic"], warm_up_flags)
    pipeline = _pipeline(
        env, names["subscription"], path, log, "--duckdb_lock_timeout", "1", "--max_idle_seconds", "25"
    )
    _wait_for(lambda: _landed(path, *_expected(warm_up)), 120, "the pipeline to be up and writing")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_FILE, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        _publish(env, names["topic"], flags)
        _wait_for(lambda: "left for redelivery" in log.read_text(), 120, "a flush to give up on the lock")
    finally:
        holder.stdin.close()  # release the file
        holder.wait(timeout=30)
    assert pipeline.wait(timeout=600) == 0, log.read_text()[-3000:]
    summary = log.read_text().strip().splitlines()[-1]
    assert "left for redelivery" in summary, summary
    expected, invalid = _expected(warm_up, messages)
    assert warehouse_tables(path) == expected
    assert Counter(row[0] for row in dead_letter_rows(path)) == invalid  # each once, though redelivered
