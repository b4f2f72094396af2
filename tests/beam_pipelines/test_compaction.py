"""BigQuery's changelog design, run on DuckDB: the *_current views and the compaction against the fold oracle.

The statements are the ones BigQuery runs, generated for DuckDB by the same code (sinks/compaction_sql.py; the
BigQuery text is analyzed by ZetaSQL in tests/sql). Rows enter the changelog exactly as the sink builds them.
The oracle (tests/oracle.py) folds the raw event bodies in arrival order with plain Python.

Arrival order: the changelog orders rows by ``_ingested_at``. With rows that arrive late (visible after rows
ingested later) the order among *equal* sequences is the changelog's, so the late-arrival property runs without
conflicts; the conflict property runs with rows in arrival order, and one test pins down the late-conflict rule.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import ITEMS_COLUMNS, ORDERS_COLUMNS, PAYMENTS_COLUMNS, expected_tables, fold_latest
from sample_events import snapshot

from beam_pipelines.compaction import compact_duckdb, create_views_duckdb, set_duckdb_now
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.changelog import changelog_row
from beam_pipelines.sinks.compaction_sql import DEFAULT_VIEW_WINDOW_SECONDS
from beam_pipelines.sinks.duckdb import arrow_batch
from beam_pipelines.transforms.rows import snapshot_rows
from schemas import CHANGELOG_TABLE, CURRENT_VIEWS
from warehouse.duckdb_schema import create_all_sql

SCHEMA = "orders_rt"
T0 = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
SETTLE, OVERLAP = 60, 120
COLUMNS = {"orders": ORDERS_COLUMNS, "order_items": ITEMS_COLUMNS, "order_payments": PAYMENTS_COLUMNS}
STATUSES = ("created", "approved", "invoiced", "shipped", "delivered")


def event_body(order: int, sequence: int, variant: int) -> bytes:
    """A deterministic snapshot: the same (order, sequence, variant) is the same event; another variant of the
    same sequence is a conflicting event (different id and content)."""
    body = json.loads(
        snapshot(
            f"o{order}",
            sequence,
            STATUSES[(sequence + variant) % len(STATUSES)],
            items=(sequence + 2 * variant) % 4,
            order_purchase_timestamp=f"2026-{1 + order % 12:02d}-{1 + sequence:02d}T10:00:00Z",
        )
    )
    body["event_id"] = f"o{order}-{sequence}-v{variant}"
    return json.dumps(body).encode()


class Changelog:
    """An in-memory DuckDB warehouse with the changelog design: append, compact, read views and tables."""

    def __init__(self) -> None:
        self.connection = duckdb.connect()
        self.connection.execute("SET TimeZone = 'UTC'")
        for statement in create_all_sql(SCHEMA):
            self.connection.execute(statement)
        create_views_duckdb(self.connection, SCHEMA)
        self.appended = 0
        self.clock = T0  # "now" for the views' window; the tests advance it

    def append(self, bodies: list[bytes], ingested_at: list[datetime]) -> None:
        rows = []
        for body, at in zip(bodies, ingested_at, strict=True):
            self.appended += 1
            message = ReceivedMessage(body, message_id=str(self.appended))
            rows.append(changelog_row(snapshot_rows(OrderSnapshot(json.loads(body), message), at)))
        self.connection.register("appended", arrow_batch(CHANGELOG_TABLE, rows))
        self.connection.execute(f"INSERT INTO {SCHEMA}.{CHANGELOG_TABLE} BY NAME SELECT * FROM appended")
        self.connection.unregister("appended")
        self.clock = max(self.clock, *ingested_at)

    def compact(self, now: datetime) -> tuple:
        self.clock = max(self.clock, now)
        return compact_duckdb(self.connection, SCHEMA, now, SETTLE, OVERLAP)

    def read(self, views: bool) -> dict[str, set[tuple]]:
        set_duckdb_now(self.connection, self.clock)
        out = {}
        for table, columns in COLUMNS.items():
            name = CURRENT_VIEWS[table] if views else table
            rows = self.connection.execute(f"SELECT {', '.join(columns)} FROM {SCHEMA}.{name}").fetchall()
            out[table] = set(rows)
            assert len(out[table]) == len(rows), f"duplicate rows in {name}"
        return out

    def conflicts(self) -> list[str]:
        return sorted(
            row[0]
            for row in self.connection.execute(
                f"SELECT event_id FROM {SCHEMA}.order_events_dead_letter WHERE error_kind = 'sequence_conflict'"
            ).fetchall()
        )


def fold_conflicts(bodies: list[bytes]) -> list[str]:
    """Event ids the one-at-a-time fold calls conflicts: same sequence as the held snapshot, another event."""
    held: dict[str, tuple[int, str]] = {}
    conflicts = set()
    for body in bodies:
        event = json.loads(body)
        order_id, sequence, event_id = event["order"]["order_id"], event["sequence"], event["event_id"]
        current = held.get(order_id)
        if current is None or sequence > current[0]:
            held[order_id] = (sequence, event_id)
        elif sequence == current[0] and event_id != current[1]:
            conflicts.add(event_id)
    return sorted(conflicts)


events = st.tuples(st.integers(0, 3), st.integers(1, 5), st.integers(0, 1))
#: A step appends a few events (a flush) or runs a compaction, after some seconds pass.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(events, min_size=1, max_size=4), st.integers(0, 90)),
        st.tuples(st.just("compact"), st.just([]), st.integers(0, 90)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps)
def test_views_are_exact_at_every_step_and_compaction_equals_the_fold(steps):
    """Duplicates, reordering, redelivery and conflicts, with compactions at any point: the views always equal
    the fold of what has arrived; after a final compaction the tables do; the conflicts are dead-lettered once."""
    log = Changelog()
    arrived: list[bytes] = []
    clock = T0
    for action, batch, seconds in steps:
        clock += timedelta(seconds=seconds)
        if action == "append":
            bodies = [event_body(*event) for event in batch]
            # Each row a microsecond apart: arrival order is _ingested_at order.
            log.append(bodies, [clock + timedelta(microseconds=n) for n in range(len(bodies))])
            clock += timedelta(microseconds=len(bodies))
            arrived += bodies
        else:
            log.compact(clock)
        assert log.read(views=True) == expected_tables(fold_latest(arrived))
    log.compact(clock + timedelta(seconds=SETTLE + 1))
    assert log.read(views=False) == expected_tables(fold_latest(arrived))
    assert log.read(views=True) == expected_tables(fold_latest(arrived))
    assert log.conflicts() == fold_conflicts(arrived)
    log.compact(clock + timedelta(seconds=SETTLE + 2))  # the overlap re-reads: nothing changes, nothing twice
    assert log.read(views=False) == expected_tables(fold_latest(arrived))
    assert log.conflicts() == fold_conflicts(arrived)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["append", "compact"]),
            st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5), st.just(0)), min_size=1, max_size=4),
            st.integers(0, 90),
            st.integers(0, SETTLE + OVERLAP - 1),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_rows_visible_late_are_still_folded(steps):
    """A streamed row can become visible after rows ingested later, and after a compaction whose window already
    covers its _ingested_at (up to settle + overlap late): the views and the next compaction still fold it."""
    log = Changelog()
    arrived: list[bytes] = []
    clock = T0
    for action, batch, seconds, lateness in steps:
        clock += timedelta(seconds=seconds)
        if action == "append":
            bodies = [event_body(*event) for event in batch]
            log.append(bodies, [clock - timedelta(seconds=lateness)] * len(bodies))
            arrived += bodies
        else:
            log.compact(clock)
        assert log.read(views=True) == expected_tables(fold_latest(arrived))
    log.compact(clock + timedelta(seconds=SETTLE + 1))
    assert log.read(views=False) == expected_tables(fold_latest(arrived))
    assert log.conflicts() == []


def test_a_conflict_that_arrives_after_its_rival_was_compacted_is_dead_lettered_and_the_stored_one_stays():
    log = Changelog()
    first, rival = event_body(1, 3, 0), event_body(1, 3, 1)
    log.append([first], [T0])
    log.compact(T0 + timedelta(seconds=SETTLE + 1))
    # Ingested *before* the stored one but visible only now: the stored snapshot was stored first and stays whole.
    log.append([rival], [T0 - timedelta(seconds=1)])
    assert log.read(views=True) == expected_tables(fold_latest([first]))
    run = log.compact(T0 + timedelta(seconds=SETTLE + 2))
    assert log.read(views=False) == expected_tables(fold_latest([first]))
    assert log.conflicts() == ["o1-3-v1"]
    assert run[-1] == 1  # compaction_runs.conflicts


def test_compaction_leaves_young_rows_for_the_next_run_and_records_each_run():
    log = Changelog()
    log.append([event_body(1, 1, 0)], [T0])
    log.append([event_body(2, 1, 0)], [T0 + timedelta(seconds=50)])
    _, _, until, read, changed, conflicts = log.compact(T0 + timedelta(seconds=SETTLE + 10))
    assert (until, read, changed, conflicts) == (T0 + timedelta(seconds=10), 1, 1, 0)
    assert {row[0] for row in log.read(views=False)["orders"]} == {"o1"}  # o2 is younger than settle
    assert {row[0] for row in log.read(views=True)["orders"]} == {"o1", "o2"}  # the views have both
    _, since, until, read, changed, _ = log.compact(T0 + timedelta(seconds=SETTLE + 100))
    assert since == T0 + timedelta(seconds=10 - OVERLAP) and (read, changed) == (2, 1)  # o1 re-read: unchanged
    assert {row[0] for row in log.read(views=False)["orders"]} == {"o1", "o2"}


@pytest.mark.parametrize("table", ["order_items", "order_payments"])
def test_a_newer_snapshot_without_lines_removes_them_through_view_and_compaction(table):
    log = Changelog()
    with_lines, without = event_body(1, 2, 0), json.loads(event_body(1, 4, 0))
    without["items"], without["payments"] = [], []
    without = json.dumps(without).encode()
    log.append([with_lines], [T0])
    log.compact(T0 + timedelta(seconds=SETTLE + 1))
    assert log.read(views=False)[table]
    log.append([without], [T0 + timedelta(seconds=100)])
    assert log.read(views=True)[table] == set()
    log.compact(T0 + timedelta(seconds=SETTLE + 200))
    assert log.read(views=False)[table] == set()


def test_the_views_read_the_changelog_only_within_their_window_the_compaction_reads_it_all():
    """The bound that lets BigQuery prune the changelog: a row older than the window that no compaction has
    folded (the schedule stalled for hours) drops out of the views until the next compaction folds it."""
    log = Changelog()
    log.append([event_body(1, 1, 0)], [T0])
    log.clock = T0 + timedelta(seconds=DEFAULT_VIEW_WINDOW_SECONDS + 1)
    assert log.read(views=True)["orders"] == set()
    log.compact(log.clock)
    assert log.read(views=True) == log.read(views=False) == expected_tables(fold_latest([event_body(1, 1, 0)]))
