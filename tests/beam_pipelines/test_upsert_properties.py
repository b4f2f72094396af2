"""Property: whatever the arrival order, duplication, equal-sequence conflicts, zero-item snapshots and batch
splits, the real DuckDB sink ends equal to an independent one-at-a-time fold (first arrival wins a conflict),
and dead-letters exactly the conflicts that fold finds."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import expected_tables, warehouse_tables
from sample_events import snapshot

from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.duckdb import DuckDBWarehouse
from beam_pipelines.sinks.fold import StoredVersion, replacing
from beam_pipelines.transforms.rows import snapshot_rows
from beam_pipelines.transforms.upsert import UpsertSnapshotsFn

ORDERS = ("o1", "o2", "o3")


def _body(order_id: str, sequence: int, variant: int, items: int) -> bytes:
    """Snapshot ``sequence`` of an order; variant 0 is the true one, others reuse the sequence (a producer bug)."""
    event = json.loads(snapshot(order_id, sequence, "approved" if sequence > 1 else "created", items=items))
    if variant:
        event["event_id"] = f"{order_id}-{sequence}-bug{variant}"
        event["customer"]["customer_city"] = f"variant {variant}"
    return json.dumps(event).encode()


arrival = st.tuples(
    st.sampled_from(ORDERS),
    st.integers(min_value=1, max_value=4),  # sequence
    st.sampled_from([0, 0, 0, 1, 2]),  # mostly the true snapshot, sometimes a conflicting one
)


def oracle(bodies: list[bytes]) -> tuple[dict[str, dict], set[str]]:
    """One message at a time, as DESIGN.md states the semantics (no code shared with the sink)."""
    current: dict[str, dict] = {}
    conflicts: set[str] = set()
    for body in bodies:
        event = json.loads(body)
        held = current.get(event["order"]["order_id"])
        if held is None or event["sequence"] > held["sequence"]:
            current[event["order"]["order_id"]] = event
        elif event["sequence"] == held["sequence"] and event["event_id"] != held["event_id"]:
            conflicts.add(event["event_id"])
    return current, conflicts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arrivals=st.lists(arrival, min_size=1, max_size=30),
    items_by_version=st.lists(st.integers(min_value=0, max_value=3), min_size=12, max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=6),
    batch_size=st.integers(min_value=1, max_value=8),
)
def test_the_duckdb_sink_ends_equal_to_the_one_at_a_time_fold(arrivals, items_by_version, cuts, batch_size):
    # Line counts differ between versions, including between conflicting variants of one sequence: a mix of
    # two snapshots' lines would show.
    bodies = [_body(order, seq, variant, items_by_version[(seq - 1) * 3 + variant]) for order, seq, variant in arrivals]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "w.duckdb"
        fn = UpsertSnapshotsFn(DuckDBWarehouse(str(path)), batch_size=batch_size)
        fn.setup()
        fn.start_bundle()
        dead = []
        for index, body in enumerate(bodies):
            message = ReceivedMessage(body)
            dead += list(fn.process(snapshot_rows(OrderSnapshot(json.loads(body), message))))
            if index + 1 in cuts:  # a bundle ends here: flush what is buffered
                dead += [out.value for out in fn.finish_bundle()]
                fn.start_bundle()
        dead += [out.value for out in fn.finish_bundle()]
        current, conflicts = oracle(bodies)
        assert warehouse_tables(path) == expected_tables(current)
        assert {(d.row["error_stage"], d.row["error_kind"]) for d in dead} <= {("sink", "sequence_conflict")}
        assert {json.loads(d.row["payload_bytes"])["event_id"] for d in dead} == conflicts


def _rows(order_id: str, sequence: int, event_id: str):
    event = json.loads(snapshot(order_id, sequence))
    event["event_id"] = event_id
    return snapshot_rows(OrderSnapshot(event, ReceivedMessage(json.dumps(event).encode())))


def test_only_winners_newer_than_what_their_order_holds_replace_it():
    winners = [_rows("new", 1, "n1"), _rows("newer", 3, "b3"), _rows("older", 1, "b1"), _rows("tie", 2, "b2")]
    stored = {
        "newer": StoredVersion(2, "s2"),
        "older": StoredVersion(4, "s4"),
        "tie": StoredVersion(2, "s2"),  # an equal sequence does not replace (a duplicate or a conflict)
    }
    assert [(s.order_id, s.sequence, s.event_id) for s in replacing(winners, stored)] == [
        ("new", 1, "n1"),
        ("newer", 3, "b3"),
    ]
