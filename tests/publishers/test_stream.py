"""The publisher's event stream: valid, realistic, deterministic, with faults exactly where asked."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from publishers.faults import FAULTS
from publishers.stream import MessageStream, StreamSettings
from schemas.validation import validate_payload

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _messages(**settings):
    stream = MessageStream(StreamSettings(start_time=START, **settings))
    return list(stream), stream.stats


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ten_thousand_generated_events_all_validate(seed):
    messages, stats = _messages(seed=seed, orders=2100)
    assert stats.events >= 10_000
    assert len(messages) == stats.events
    failures = [r.error_message() for r in (validate_payload(m.data, m.attributes) for m in messages) if not r.ok]
    assert failures == []


def test_events_are_full_snapshots_with_increasing_sequence_per_order():
    messages, _ = _messages(seed=5, orders=300)
    sequences = defaultdict(list)
    statuses = defaultdict(list)
    for message in messages:
        event = json.loads(message.data)
        assert message.ordering_key == event["order"]["order_id"]
        sequences[message.order_id].append(event["sequence"])
        statuses[message.order_id].append(event["order"]["order_status"])
        total = sum(Decimal(str(i["price"])) + Decimal(str(i["freight_value"])) for i in event["items"])
        paid = sum(Decimal(str(p["payment_value"])) for p in event["payments"])
        assert paid == total, event["order"]["order_id"]
    assert len(sequences) == 300
    for order_id, seen in sequences.items():
        assert seen == list(range(1, len(seen) + 1)), order_id
        assert statuses[order_id][0] == "created"
    final = [s[-1] for s in statuses.values()]
    assert final.count("delivered") > 200
    assert {"canceled", "shipped"} <= set(final)


def test_lines_dropped_by_a_later_snapshot_exist():
    """Some snapshots have fewer items than the previous one, so the sink's delete path is exercised."""
    messages, _ = _messages(seed=11, orders=3000)
    items = defaultdict(list)
    for message in messages:
        items[message.order_id].append(len(json.loads(message.data)["items"]))
    assert any(counts[-1] < max(counts) for counts in items.values())


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def run(seed: int, name: str) -> bytes:
        path = tmp_path / name
        subprocess.run(
            [
                sys.executable,
                "-m",
                "publishers",
                "--orders",
                "300",
                "--seed",
                str(seed),
                "--output",
                str(path),
                "--duplicate-ratio",
                "0.1",
                "--reorder-ratio",
                "0.2",
                "--invalid-ratio",
                "0.05",
            ],
            check=True,
            capture_output=True,
        )
        return path.read_bytes()

    first, again, other = run(42, "a.jsonl"), run(42, "b.jsonl"), run(43, "c.jsonl")
    assert first == again
    assert first != other
    assert first.count(b"\n") > 1500


def test_duplicates_are_exact_copies_and_reordered_snapshots_arrive_late():
    messages, stats = _messages(seed=9, orders=1000, duplicate_ratio=0.1, reorder_ratio=0.2)
    assert 0.07 < stats.duplicates / stats.events < 0.13
    assert stats.reordered / stats.events > 0.1
    by_data = defaultdict(int)
    for message in messages:
        by_data[message.data] += 1
    assert sum(n - 1 for n in by_data.values()) == stats.duplicates
    seen_max: dict[str, int] = {}
    late = 0
    for message in messages:
        if message.duplicate:
            continue
        if message.sequence < seen_max.get(message.order_id, 0):
            late += 1
            assert message.reordered
        seen_max[message.order_id] = max(seen_max.get(message.order_id, 0), message.sequence)
    assert late == stats.reordered


def test_each_injected_fault_fails_with_its_specific_reason():
    messages, stats = _messages(seed=4, orders=2000, invalid_ratio=0.2)
    injected = [m for m in messages if m.fault]
    assert {m.fault for m in injected} == set(FAULTS)
    assert len(injected) == sum(stats.invalid.values())
    for message in injected:
        _, stage, kind, path = FAULTS[message.fault]
        result = validate_payload(message.data, message.attributes)
        assert not result.ok, message.fault
        error = result.first_error
        assert (error.stage, error.kind) == (stage, kind), (message.fault, result.error_message())
        assert error.path.startswith(path), (message.fault, error.path)


def test_no_faults_by_default():
    messages, stats = _messages(seed=1, orders=200)
    assert stats.duplicates == stats.reordered == sum(stats.invalid.values()) == 0
    assert all(m.fault is None and not m.duplicate and not m.reordered for m in messages)


def test_bad_ratios_are_rejected():
    with pytest.raises(ValueError, match="invalid_ratio must be between 0 and 1"):
        StreamSettings(invalid_ratio=1.5)


def test_simulated_timeline_reports_each_change_when_it_happens():
    """event_time is the business time of the change: in order, and never before the dates it reports."""
    messages, stats = _messages(seed=12, orders=400, history_days=60)
    assert stats.orders == 400
    events = [json.loads(m.data) for m in messages]
    times = [e["event_time"] for e in events]
    assert times == sorted(times)
    assert times[-1] <= START.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # nothing after "now" (the window's end)
    for event in events:
        stamped = event["event_time"][:19] + "Z"
        order = event["order"]
        for name in (
            "order_purchase_timestamp",
            "order_approved_at",
            "order_delivered_carrier_date",
            "order_delivered_customer_date",
        ):
            assert order[name] is None or order[name] <= stamped, (name, event)
    final = {e["order"]["order_id"]: e["order"]["order_status"] for e in events}
    assert {"created", "approved", "invoiced"} & set(final.values())  # some orders are still open "now"
