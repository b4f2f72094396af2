"""verify end to end on real parts: the publisher CLI with --tee -> Pub/Sub emulator -> streaming_job.py -> DuckDB
file -> python -m beam_pipelines.verify. The expected counts are the test's own: each order's newest snapshot by
the oracle's fold (tests/oracle.py), the invalid bodies from the publisher's record of what it corrupted; none of
verify's code is used to compute them. Then rows deleted by hand must be reported, by line and event_id."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from oracle import fold_latest

from publishers.faults import FAULTS
from publishers.stream import MessageStream, StreamSettings

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = StreamSettings(
    seed=13,
    orders=150,
    start_time=datetime(2026, 7, 1, tzinfo=timezone.utc),
    duplicate_ratio=0.1,
    reorder_ratio=0.2,
    invalid_ratio=0.08,
)
PUBLISH_FLAGS = [
    "--orders", str(SETTINGS.orders), "--seed", str(SETTINGS.seed), "--start-time", "2026-07-01T00:00:00Z",
    "--duplicate-ratio", "0.1", "--reorder-ratio", "0.2", "--invalid-ratio", "0.08",
]  # fmt: skip


@pytest.fixture(scope="module")
def sent():
    """The messages the publisher CLI sends for PUBLISH_FLAGS (same seed), with its record of what it broke."""
    return list(MessageStream(SETTINGS))


def _run(args: list[str], env: dict | None = None, expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == expect, (result.returncode, result.stdout[-3000:], result.stderr[-3000:])
    return result


def _verify(files: list[Path], warehouse: Path, report: Path, expect: int) -> tuple[str, dict]:
    result = _run(
        ["-m", "beam_pipelines.verify", *map(str, files), "--duckdb-path", str(warehouse), "--json", str(report),
         "--max_listed", "100"],
        expect=expect,
    )  # fmt: skip
    return result.stdout, json.loads(report.read_text())


def expected_summary(lines: list[bytes], sent: list) -> dict:
    """What verify must find in a warehouse that took every line: counted here, from the lines themselves."""
    faults = {m.data: m.fault for m in sent if m.fault is not None}
    distinct = list(dict.fromkeys(lines))
    valid = [body for body in distinct if body not in faults]
    newest = fold_latest(valid)
    return {
        "classes": {
            "current": len(newest),
            "superseded": len(valid) - len(newest),
            "dead_lettered": len(distinct) - len(valid),
            "mismatch": 0,
            "missing": 0,
        },
        "duplicate_lines": len(lines) - len(distinct),
        "events": len(distinct),
        "dead_letter_reasons": dict(
            Counter(f"{FAULTS[faults[b]][1]}/{FAULTS[faults[b]][2]}" for b in distinct if b in faults)
        ),
    }


def _summary_part(report: dict) -> dict:
    summary = report["summary"]
    return {key: summary[key] for key in ("classes", "duplicate_lines", "events", "dead_letter_reasons")}


def test_verify_a_streamed_run_then_find_what_was_deleted(pubsub, pubsub_names, sent, tmp_path):
    env = pubsub.environment()
    tee = tmp_path / "published.jsonl"
    published = _run(
        ["-m", "publishers", "--topic", pubsub_names["topic"], "--rate", "0", *PUBLISH_FLAGS, "--tee", str(tee)],
        env=env,
    )
    assert f"tee: {len(sent)} acknowledged bodies in {tee}" in published.stderr.strip().splitlines()[-1]
    assert tee.read_bytes() == b"".join(m.data + b"\n" for m in sent)  # exactly what was published, in order
    lines = tee.read_bytes().split(b"\n")[:-1]
    expected = expected_summary(lines, sent)
    assert expected["duplicate_lines"] > 0 and expected["classes"]["dead_lettered"] > 0
    assert any(m.reordered for m in sent) and expected["classes"]["superseded"] > 0

    warehouse = tmp_path / "streamed.duckdb"
    _run(
        ["streaming_job.py", "--input_subscription", pubsub_names["subscription"], "--sink", "duckdb",
         "--duckdb_path", str(warehouse), "--max_idle_seconds", "3"],
        env=env,
    )  # fmt: skip

    # 1. A normal run: nothing missing, and the counts are the test's own.
    out, report = _verify([tee], warehouse, tmp_path / "verify.json", expect=0)
    assert _summary_part(report) == expected
    assert report["summary"]["ok"] and "OK: nothing missing or mismatched" in out
    assert len(report["lines"]) == len(lines)

    # 2. Delete one order's row by hand (the one with the most events), and one item line of another order.
    invalid = {m.data for m in sent if m.fault is not None}
    distinct_valid = [body for body in dict.fromkeys(lines) if body not in invalid]
    newest = fold_latest(distinct_valid)
    events_of = Counter(_order_of(body) for body in distinct_valid)
    victim = max(sorted(newest), key=events_of.__getitem__)
    other = next(o for o in sorted(newest) if o != victim and len(newest[o]["items"]) >= 2)
    item = newest[other]["items"][1]["order_item_id"]
    with duckdb.connect(str(warehouse)) as connection:
        assert connection.execute("DELETE FROM orders_rt.orders WHERE order_id = ?", [victim]).fetchall() == [(1,)]
        deleted = connection.execute(
            "DELETE FROM orders_rt.order_items WHERE order_id = ? AND order_item_id = ?", [other, item]
        ).fetchall()
        assert deleted == [(1,)]

    out, report = _verify([tee], warehouse, tmp_path / "verify-after.json", expect=1)
    line_of: dict[bytes, int] = {}
    for number, body in enumerate(lines, start=1):
        line_of.setdefault(body, number)
    event_id_of = {body: json.loads(body)["event_id"] for body in distinct_valid}
    body_of = {event_id: body for body, event_id in event_id_of.items()}
    problems = [
        (e["class"], e["line"], e["event_id"]) for e in report["lines"] if e["class"] in ("missing", "mismatch")
    ]
    # Every distinct event of the deleted order is missing (nothing reflects it any more), and nothing else is.
    victim_events = {(line_of[b], event_id_of[b]) for b in distinct_valid if _order_of(b) == victim}
    assert len(victim_events) == events_of[victim] >= 3
    assert {(line, event_id) for klass, line, event_id in problems if klass == "missing"} == victim_events
    # The other order's newest event is reflected by its row, but not its lines.
    other_newest = newest[other]["event_id"]
    assert [(line, e) for klass, line, e in problems if klass == "mismatch"] == [
        (line_of[body_of[other_newest]], other_newest)
    ]
    assert report["summary"]["classes"]["current"] == expected["classes"]["current"] - 2

    # The text names the deleted order's newest message, by its line and event_id, on one row.
    victim_newest = newest[victim]["event_id"]
    (named,) = [row for row in out.splitlines() if row.strip().startswith(f"{tee}:{line_of[body_of[victim_newest]]} ")]
    assert named.split()[1:4] == ["missing", victim_newest, victim]
    assert "the warehouse has no row for this order" in named
    (lost_line,) = [row for row in out.splitlines() if row.split()[1:2] == ["mismatch"]]
    assert f"order_items: lacks order_item_id {item}" in lost_line and other_newest in lost_line


def _order_of(body: bytes) -> str:
    return json.loads(body)["order"]["order_id"]


def test_verify_a_backfill_of_the_same_file_twice(sent, tmp_path):
    """--output (what the publisher writes for a backfill) and streaming_job.py --input_files; two copies of the
    file verify as one, every line of the second a duplicate."""
    events = tmp_path / "events.jsonl"
    _run(["-m", "publishers", "--output", str(events), *PUBLISH_FLAGS])
    assert events.read_bytes() == b"".join(m.data + b"\n" for m in sent)
    warehouse = tmp_path / "backfilled.duckdb"
    _run(["streaming_job.py", "--input_files", str(events), "--duckdb_path", str(warehouse)])
    again = tmp_path / "again.jsonl"
    shutil.copyfile(events, again)

    lines = events.read_bytes().split(b"\n")[:-1]
    expected = expected_summary(lines + lines, sent)
    out, report = _verify([events, again], warehouse, tmp_path / "verify.json", expect=0)
    assert _summary_part(report) == expected and "verify: " in out and "2 files" in out
    assert expected["duplicate_lines"] >= len(lines)
    assert {e["duplicate_of"].rsplit(":", 1)[0] for e in report["lines"] if e["file"] == str(again)} == {str(events)}
