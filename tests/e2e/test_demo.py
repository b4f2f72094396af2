"""``make demo``'s program, run as a user would (non-interactively, a few seconds of traffic) in a fresh data
dir: every process it started has ended, the summary it prints equals what the warehouse files hold (read here
with plain SQL), the marts are built, latency percentiles are printed; and Ctrl-C at a random moment leaves no
process behind and a warehouse that opens read-write and holds no order mixed from two snapshots."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
STARTED = re.compile(r"started (?:the )?(?P<name>[\w /-]+?) \(pid (?P<pid>\d+)\)")


def _demo(data_dir: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "orders_local.demo", "--data-dir", str(data_dir), "--rate", "25", *flags]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended but not been reaped; /proc tells.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def _started(output: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for match in STARTED.finditer(output):
        found.setdefault(match["name"], []).append(int(match["pid"]))
    return found


def _number(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the summary:\n{text}"
    return int(match.group(1).replace(",", ""))


def _query(path: Path, sql: str):
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_the_demo_runs_live_then_stops_everything_and_its_summary_equals_the_warehouse(tmp_path):
    data = tmp_path / "data"
    result = subprocess.run(
        _demo(data, "--minutes", "0.4", "--dbt-every", "15"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    started = _started(output)
    assert {"Pub/Sub emulator", "pipeline", "publisher", "dashboard", "dbt"} <= set(started), started
    still_running = [(name, pid) for name, pids in started.items() for pid in pids if _alive(pid)]
    assert still_running == [], f"processes left running: {still_running}"
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+", output)

    summary = output.split("==> summary", 1)[1]
    warehouse = data / "warehouse.duckdb"
    orders, items, payments = (
        _query(warehouse, f"SELECT count(*) FROM orders_rt.{table}")[0][0]
        for table in ("orders", "order_items", "order_payments")
    )
    assert orders > 0
    assert _number(r"orders ([\d,]+)", summary) == orders
    assert _number(r"order items ([\d,]+)", summary) == items
    assert _number(r"payments ([\d,]+)", summary) == payments
    dead = dict(
        _query(
            warehouse,
            "SELECT error_stage || '/' || error_kind, count(*) FROM orders_rt.order_events_dead_letter GROUP BY 1",
        )
    )
    assert _number(r"dead letters: ([\d,]+)", summary) == sum(dead.values())
    for reason, count in dead.items():
        assert f"{reason} {count:,}" in summary, (reason, count, summary)
    # Messages in = valid + dead-lettered, and the publisher's count is what the pipeline received.
    published = _number(r"events published: ([\d,]+)", summary)
    received = _number(r"received by the pipeline: ([\d,]+)", summary)
    assert published > 0 and received >= published  # more only if Pub/Sub redelivered
    assert _number(r"dead_lettered ([\d,]+)", summary) >= sum(dead.values())
    assert re.search(r"p50 <= [\d.]+ ms, p95 <= [\d.]+ ms, p99 <= [\d.]+ ms", summary), summary
    analytics = data / "warehouse_analytics.duckdb"
    fct = _query(
        analytics,
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'fct_orders'",
    )
    (schema,) = fct[0]
    assert _query(analytics, f'SELECT count(*) FROM "{schema}".fct_orders')[0][0] > 0


def test_ctrl_c_leaves_no_process_and_an_undamaged_warehouse(tmp_path):
    data = tmp_path / "data"
    demo = subprocess.Popen(
        _demo(data, "--minutes", "0", "--dbt-every", "10", "--no-dashboard"),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 300
    assert demo.stdout is not None
    for line in demo.stdout:  # wait for the condition: orders are landing
        lines.append(line)
        match = re.search(r"orders ([\d,]+) ", line)
        if match and int(match.group(1).replace(",", "")) > 0:
            break
        assert time.monotonic() < deadline, "".join(lines)
    demo.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C (to the demo only: its own session)
    rest, _ = demo.communicate(timeout=300)
    output = "".join(lines) + rest
    assert demo.returncode == 130, output[-4000:]
    started = _started(output)
    still_running = [(name, pid) for name, pids in started.items() for pid in pids if _alive(pid)]
    assert still_running == [], f"processes left running: {still_running}\n{output[-3000:]}"
    warehouse = data / "warehouse.duckdb"
    connection = duckdb.connect(str(warehouse))  # read-write: not locked by a leftover, not damaged
    try:
        assert connection.execute("SELECT count(*) FROM orders_rt.orders").fetchone()[0] > 0
        mixed = connection.execute(
            "SELECT count(*) FROM orders_rt.order_items AS i JOIN orders_rt.orders AS o USING (order_id) "
            "WHERE i._sequence <> o._sequence OR i._event_id <> o._event_id"
        ).fetchone()[0]
        assert mixed == 0
    finally:
        connection.close()
