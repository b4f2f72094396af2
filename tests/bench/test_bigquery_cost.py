"""The arithmetic of bench.bigquery_cost, on a synthetic shape (no BigQuery), and the facts about the implemented
compaction script and views that the model relies on (so a change to them fails here until the model follows)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from beam_pipelines.sinks.compaction_sql import (
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_SETTLE_SECONDS,
    DEFAULT_VIEW_WINDOW_SECONDS,
    CompactionSql,
    bigquery_dialect,
)
from bench import bigquery_cost as cost
from schemas import CHANGELOG_TABLE, ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, table_schema
from schemas.types import standard_type

MiB = cost.MiB
TS = "order_purchase_timestamp"


def synthetic_shape(lag_pmf=(0.5, 0.5)) -> cost.Shape:
    """Every STRING 10 characters (12 bytes), lines 1 per order, a snapshot's events two days apart at most."""
    widths = {
        table: {c.name: cost.logical_bytes("x" * 10 if standard_type(c.type) == "STRING" else 0, c.type)
                for c in table_schema(table).columns}
        for table in cost.TABLES
    }  # fmt: skip
    widths[CHANGELOG_TABLE] = {
        **widths[ORDERS],
        "items": sum(widths[ORDER_ITEMS].values()),
        "payments": sum(widths[ORDER_PAYMENTS].values()),
        "_dead_letter_id": 12.0,
    }
    return cost.Shape(
        column_bytes=widths,
        lines_per_order={ORDER_ITEMS: 1.0, ORDER_PAYMENTS: 1.0},
        events_per_order=4.0,
        message_bytes=1000.0,
        parameter_bytes_per_snapshot=2000.0,
        changelog_json_bytes=1500.0,
        lag_pmf=tuple(lag_pmf),
        string_lengths={"order_id": 10.0},
        sample_orders=10,
        sample_events=40,
    )


def test_partition_counts_of_a_batch():
    pmf = (0.5, 0.5)
    assert cost.distinct_days(pmf, 1) == pytest.approx(1.0)
    assert cost.range_days(pmf, 1) == pytest.approx(1.5)
    assert cost.distinct_days(pmf, 2) == pytest.approx(1.5)
    assert cost.range_days(pmf, 2) == pytest.approx(1.75)  # the oldest lag is 1 day unless both draws are 0
    assert cost.distinct_days(pmf, 10**9) == pytest.approx(2.0)


def test_every_table_referenced_and_every_query_bills_at_least_10_mb_control_statements_nothing():
    flush = cost.Flush(
        [
            cost.Statement("s", {"a": 1.0, "b": 20 * MiB}),
            cost.Statement("t", {}),
            cost.Statement("BEGIN", {}, control=True),
        ],
        scanned_days=1,
        updated_days=1,
    )
    assert [flush.billed(s) for s in flush.statements] == [30 * MiB, 10 * MiB, 0.0]
    assert flush.total == 40 * MiB


def test_unpartitioned_line_statements_bill_the_whole_line_table_and_partitioned_only_touched_days():
    shape = synthetic_shape()
    tables = cost.Tables(orders=1e8, days=100)
    item_row = shape.width(ORDER_ITEMS)  # today's schema: order_purchase_timestamp included

    def item_merge(layout):
        flush = cost.flush_statements(shape, tables, layout, snapshots=1000)
        return next(s for s in flush.statements if s.name.startswith(f"MERGE {ORDER_ITEMS}")).reads[ORDER_ITEMS]

    key = ("order_id", "order_item_id", "_sequence")
    whole = 1e8 * (item_row - 8)  # t: every column of the unpartitioned table, as before abb3617
    assert item_merge(cost.UNPRUNED) == pytest.approx(whole + 1e8 * shape.width(ORDER_ITEMS, key))
    per_day = 1e6 * item_row
    q_per_day = 1e6 * shape.width(ORDER_ITEMS, (*key, TS))  # the predicate references the partition column
    assert item_merge(cost.ALL_IN) == pytest.approx(2 * (per_day + q_per_day))  # both lag days touched
    unpruned, pruned = (cost.flush_statements(shape, tables, lo, 1000).total for lo in (cost.UNPRUNED, cost.ALL_IN))
    assert pruned < unpruned / 10


def test_orders_merge_bills_referenced_columns_scanned_plus_updated_partitions():
    shape = synthetic_shape()
    tables = cost.Tables(orders=1e6, days=10)
    flush = cost.flush_statements(shape, tables, cost.UNPRUNED, snapshots=10**6)
    merge = next(s for s in flush.statements if s.name.startswith("MERGE orders"))
    q = 1e6 * shape.width(ORDERS, ("order_id", "_sequence"))  # all 10 partitions scanned
    t = 1e5 * 2 * shape.width(ORDERS)  # the 2 partitions the batch's orders are in
    assert merge.reads[ORDERS] == pytest.approx(q + t)


def test_rows_parameter_is_an_array_of_structs_typed_from_the_schema():
    schema = table_schema(ORDER_PAYMENTS)
    samples = {
        "STRING": "x",
        "INT64": 1,
        "NUMERIC": Decimal("1.25"),
        "TIMESTAMP": datetime(2026, 1, 1, tzinfo=timezone.utc),
    }
    row = {c.name: samples[standard_type(c.type)] for c in schema.columns}
    parameter = cost.rows_parameter(ORDER_PAYMENTS, schema, [row, row]).to_api_repr()
    assert parameter["name"] == ORDER_PAYMENTS
    assert parameter["parameterType"]["type"] == "ARRAY"
    struct = parameter["parameterType"]["arrayType"]
    assert struct["type"] == "STRUCT"
    assert [f["name"] for f in struct["structTypes"]] == list(schema.column_names)
    assert len(parameter["parameterValue"]["arrayValues"]) == 2


def test_measured_changelog_rows_are_the_json_rows_the_sink_sends():
    shape = cost.measure_shape(orders=30, seed=7)
    # the nested lines of a changelog row weigh what the line tables' rows of that snapshot weigh
    assert shape.width(CHANGELOG_TABLE, ["items"]) == pytest.approx(shape.order_bytes(ORDER_ITEMS))
    assert shape.width(CHANGELOG_TABLE, ["payments"]) == pytest.approx(shape.order_bytes(ORDER_PAYMENTS))
    assert shape.width(CHANGELOG_TABLE, table_schema(ORDERS).column_names) == pytest.approx(shape.width(ORDERS))
    # _dead_letter_id = pubsub:<16 digits>:<16 hex>, as a Pub/Sub message gives it
    assert shape.width(CHANGELOG_TABLE, ["_dead_letter_id"]) == 2 + len("pubsub:") + 16 + 1 + 16
    assert shape.changelog_json_bytes > shape.changelog_row_bytes > shape.width(ORDERS)


# --- design C: the model follows the implemented compaction ---------------------------------------------------------


def script() -> list[str]:
    return CompactionSql(bigquery_dialect("p", "d")).statements()


def test_the_modelled_compaction_lists_the_scripts_statements_in_order():
    run = cost.compaction_statements(synthetic_shape(), cost.Tables(1e8, 100), interval_s=3600)
    kinds = [cost.statement_kind(s) for s in script()]
    assert [s.kind for s in run.statements] == kinds
    assert len(run.statements) == len(script())
    assert kinds.count("MERGE orders") == 1
    assert sum(k.startswith(("MERGE", "DELETE")) for k in kinds) == sum(s.is_dml for s in run.statements) == 5


def test_the_model_refuses_a_script_it_does_not_follow(monkeypatch):
    monkeypatch.setattr(cost, "compaction_script", lambda: script()[:-2] + script()[-1:])
    with pytest.raises(RuntimeError, match="compaction script changed"):
        cost.compaction_statements(synthetic_shape(), cost.Tables(1e8, 100), interval_s=3600)


def test_bigquerys_script_creates_plain_temp_tables_and_the_model_tells_the_verbs_apart(monkeypatch):
    temps = [s for s in script() if cost.statement_kind(s).startswith("CREATE")]
    assert len(temps) == 6
    assert all(s.startswith("CREATE TEMP TABLE ") for s in temps)  # BigQuery's transactions: no OR REPLACE
    assert cost.statement_kind("CREATE OR REPLACE TEMP TABLE compaction_tail AS SELECT 1") == (
        "CREATE OR REPLACE TEMP TABLE compaction_tail"
    )
    replaced = [s.replace("CREATE TEMP TABLE", "CREATE OR REPLACE TEMP TABLE", 1) for s in script()]
    monkeypatch.setattr(cost, "compaction_script", lambda: replaced)
    with pytest.raises(RuntimeError, match="compaction script changed"):
        cost.compaction_statements(synthetic_shape(), cost.Tables(1e8, 100), interval_s=3600)


def test_the_scripts_reads_and_filters_are_the_ones_modelled():
    by_kind = {cost.statement_kind(s): s for s in script()}
    tail = by_kind["CREATE TEMP TABLE compaction_tail"]
    # the tail is bounded by script variables (they prune the changelog's partitions)
    assert "_ingested_at >= compaction_since AND _ingested_at < compaction_until" in tail
    # the stored versions: four columns of orders, no purchase-date filter (the whole table)
    stored = by_kind["CREATE TEMP TABLE compaction_stored"]
    assert f"SELECT order_id, _sequence, _event_id, {TS} FROM `p.d.orders` WHERE order_id IN" in stored
    assert "BETWEEN" not in stored
    # every write is pruned by a BETWEEN range (not an IN list) on each table it references
    for kind in ("MERGE orders", "MERGE order_items", "DELETE order_items", "MERGE order_payments"):
        assert f"t.{TS} BETWEEN partition_lo AND partition_hi" in by_kind[kind]
    assert by_kind["MERGE order_items"].count("BETWEEN partition_lo AND partition_hi") == 2  # target and orders
    # the dead-letter probe reads dead_letter_id, event_id and error_kind of the whole dead-letter table
    probe = by_kind["INSERT order_events_dead_letter"]
    assert (
        "NOT EXISTS (SELECT 1 FROM `p.d.order_events_dead_letter` AS x WHERE x.dead_letter_id = c._dead_letter_id) "
        "AND NOT EXISTS (SELECT 1 FROM `p.d.order_events_dead_letter` AS x "
        "WHERE x.event_id = c._event_id AND x.error_kind = 'sequence_conflict')"
    ) in probe
    # the changelog: partitioned by _ingested_at per HOUR, kept 7 days
    changelog = table_schema(CHANGELOG_TABLE)
    assert (changelog.partition_field, changelog.partition_type, changelog.partition_expiration_days) == (
        "_ingested_at",
        "HOUR",
        7,
    )
    assert cost.CHANGELOG_PARTITION_HOURS == 1.0
    assert cost.Workload().changelog_retention_days == 7
    # each view bounds its tail by a constant 6 h window (prunes) and by the subquery on compaction_runs (exact),
    # and its NOT EXISTS reads all of orders
    for table in cost.TABLES:
        view = CompactionSql(bigquery_dialect("p", "d")).view_query(table)
        assert DEFAULT_VIEW_WINDOW_SECONDS == 6 * 3600
        assert "WHERE _ingested_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 21600 SECOND) AND " in view
        assert "_ingested_at >= COALESCE(TIMESTAMP_SUB((SELECT MAX(compacted_until)" in view
        assert "(SELECT 1 FROM `p.d.orders` AS o WHERE o.order_id = w.order_id AND o._sequence >= w._sequence)" in view
        assert view.count("order_snapshots") == 1  # one tail CTE


def test_one_compaction_bills_the_tail_the_whole_stored_versions_and_the_pruned_writes():
    shape = synthetic_shape()
    tables = cost.Tables(orders=1e8, days=100)  # 1M orders a day, 4 snapshots each
    run = cost.compaction_statements(shape, tables, interval_s=3600)
    reads = {s.kind: s.reads for s in run.statements}
    events_per_s = 1e6 * 4 / cost.DAY
    window = 3600 + DEFAULT_OVERLAP_SECONDS
    assert run.tail_rows == pytest.approx(events_per_s * window)
    # HOUR partitions: half an hour before the window, and after it what the last partition already holds
    settle = DEFAULT_SETTLE_SECONDS
    hours = (window + settle - settle**2 / 7200) / 3600 + 0.5
    assert run.scanned_hours == pytest.approx(hours)
    assert reads["CREATE TEMP TABLE compaction_tail"][CHANGELOG_TABLE] == pytest.approx(
        events_per_s * hours * 3600 * shape.changelog_row_bytes
    )
    assert reads["CREATE TEMP TABLE compaction_stored"][ORDERS] == pytest.approx(
        1e8 * shape.width(ORDERS, ("order_id", "_sequence", "_event_id", TS))
    )
    assert (run.scanned_days, run.updated_days) == (pytest.approx(2.0), pytest.approx(2.0))
    q = 2e6 * shape.width(ORDERS, ("order_id", "_sequence", TS))
    assert reads["MERGE orders"][ORDERS] == pytest.approx(q + 2e6 * shape.width(ORDERS))
    assert sum(run.billed(s) for s in run.statements if s.control) == 0
    dead_letters = 0.01 * events_per_s * cost.DAY * 100
    probe = dead_letters * (shape.width(CHANGELOG_TABLE, ["_dead_letter_id", "_event_id"]) + 2 + 17)
    assert reads["INSERT order_events_dead_letter"]["order_events_dead_letter"] == pytest.approx(probe)
    longer = cost.compaction_statements(shape, tables, interval_s=4 * 3600)
    assert longer.total < 1.2 * run.total  # a run costs about the same whatever it folds


def test_design_c_is_priced_as_implemented_insert_all_with_the_write_api_as_the_saving():
    shape, prices, limits, work = synthetic_shape(), cost.Prices(), cost.Limits(), cost.Workload()
    assert cost.insert_all_row_bytes(shape, prices) == 1500.0  # the JSON sent, above the 1 KB minimum
    rows = cost.designs(100, shape, prices, limits, work)
    c = [d for d in rows if d.design.startswith("C")]
    assert [d.interval for d in c] == [f"{m} min" for m in work.compaction_minutes]
    events_per_s = 100 * shape.events_per_order
    insert_all = cost.per_million(events_per_s * 1500.0 / cost.GiB * prices.insert_all_per_gib, 100)
    assert all(d.ingest_usd_per_m == pytest.approx(insert_all) for d in c)
    assert all("Storage Write API instead" in d.note for d in c)
    tables = cost.Tables(100 * cost.DAY * work.history_days, work.history_days)
    run = cost.compaction_statements(shape, tables, 3600, limits, work)
    hourly = next(d for d in c if d.interval == "60 min")
    assert hourly.query_usd_per_m == pytest.approx(cost.per_million(cost.query_usd(run.total, prices) / 3600, 100))


def test_a_dashboard_through_the_views_reads_6_5_hours_of_changelog_and_all_of_orders_once_per_query():
    shape, limits = synthetic_shape(), cost.Limits()
    tables = cost.Tables(orders=1e9, days=100)
    assert cost.view_tail_hours() == pytest.approx(6.5)  # the 6 h window + half an hourly partition
    refresh = cost.reader_refresh(shape, tables, False, limits)
    assert refresh.tail_hours == pytest.approx(6.5)
    assert refresh.current == pytest.approx(refresh.compacted + refresh.tail + refresh.not_exists)
    # the compacted read: e.g. rt_pipeline_health reads 3 columns of orders over 90 days
    health = 1e7 * 90 * shape.width(ORDERS, ("order_purchase_timestamp", "_ingested_at", "_event_time"))
    live = 1e7 * (
        30 * shape.width(ORDERS, [c for c in cost.READS[0][2]])
        + 100 * shape.width(ORDER_ITEMS, cost.READS[1][2])
        + 100 * shape.width(ORDER_PAYMENTS, cost.READS[2][2])
    )
    assert refresh.compacted > health + live
    # through the views: order_id and _sequence of all of orders once per query (4 queries), plus _sequence of
    # the lines and orders over what each model reads (order_id it reads already)
    everything = 1e9 * shape.width(ORDERS, ("order_id", "_sequence"))
    assert 4 * everything < refresh.not_exists < 4 * everything + 1e7 * 100 * 8 * 2 + 1e7 * 90 * 8 * 4
    # the tail: 6.5 h of the changelog's rows (4 snapshots per order), TAIL_KEY at least, per query
    rows = 1e7 / cost.DAY * 4 * 6.5 * 3600
    assert refresh.tail > 4 * rows * shape.width(CHANGELOG_TABLE, cost.TAIL_KEY)
    # on 100 orders/s the per-order costs do not depend on the rate: the tables grow with it
    slow, fast = (cost.reader_refresh(shape, cost.Tables(r * cost.DAY * 365, 365), False, limits) for r in (100, 1e4))
    assert fast.current / 1e4 == pytest.approx(slow.current / 100, rel=1e-3)


def test_section_replaces_only_its_own_markers(tmp_path, capsys):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nkept before\n\n<!-- other:begin -->\nother\n<!-- other:end -->\n")
    assert cost.main(["--write", str(path)], measure=lambda orders, seed: synthetic_shape()) == 0
    first = path.read_text()
    assert first.startswith("# Benchmarks\n\nkept before\n\n<!-- other:begin -->\nother\n<!-- other:end -->\n")
    assert first.count(cost.MARK_BEGIN) == first.count(cost.MARK_END) == 1
    assert first.rstrip().endswith(cost.MARK_END)
    out = capsys.readouterr().out
    assert "### 3. Recommendation" in out and "### 1b. What one compaction scans" in out
    assert "C is implemented and is the default" in out
    assert "remaining known cost item of a run is its stored-versions read" in out
    assert "through the exact `*_current` views" in out and "can read the compacted tables instead" in out
    path.write_text(first + "\nafter\n")
    cost.main(["--write", str(path)], measure=lambda orders, seed: synthetic_shape())
    assert path.read_text() == first + "\nafter\n"
