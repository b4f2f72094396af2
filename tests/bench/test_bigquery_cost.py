"""The arithmetic of bench.bigquery_cost, on a synthetic shape (no generator, no BigQuery)."""

from __future__ import annotations

import pytest

from bench import bigquery_cost as cost
from schemas import ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, table_schema
from schemas.types import standard_type

MiB = cost.MiB


def synthetic_shape(lag_pmf=(0.5, 0.5)) -> cost.Shape:
    """Every STRING 10 characters (12 bytes), lines 1 per order, a snapshot's events two days apart at most."""
    widths = {
        table: {c.name: cost.logical_bytes("x" * 10 if standard_type(c.type) == "STRING" else 0, c.type)
                for c in table_schema(table).columns}
        for table in cost.TABLES
    }  # fmt: skip
    return cost.Shape(
        column_bytes=widths,
        lines_per_order={ORDER_ITEMS: 1.0, ORDER_PAYMENTS: 1.0},
        events_per_order=4.0,
        message_bytes=1000.0,
        parameter_bytes_per_snapshot=2000.0,
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


def test_every_table_referenced_and_every_statement_bills_at_least_10_mb():
    flush = cost.Flush(
        [cost.Statement("s", {"a": 1.0, "b": 20 * MiB}), cost.Statement("t", {})], scanned_days=1, updated_days=1
    )
    assert [flush.billed(s) for s in flush.statements] == [30 * MiB, 10 * MiB]
    assert flush.total == 40 * MiB


def test_todays_line_statements_bill_the_whole_line_table_and_pruning_only_touched_days():
    shape = synthetic_shape()
    tables = cost.Tables(orders=1e8, days=100)
    item_row = shape.width(ORDER_ITEMS)

    def item_merge(layout):
        flush = cost.flush_statements(shape, tables, layout, snapshots=1000)
        return next(s for s in flush.statements if s.name.startswith(f"MERGE {ORDER_ITEMS}")).reads[ORDER_ITEMS]

    whole = 1e8 * item_row  # t: every column of the unpartitioned table
    referenced = 1e8 * shape.width(ORDER_ITEMS, ("order_id", "order_item_id", "_sequence"))  # q
    assert item_merge(cost.TODAY) == pytest.approx(whole + referenced)
    per_day = 1e6 * (item_row + 8)  # partitioned lines carry order_purchase_timestamp
    q_per_day = 1e6 * shape.width(ORDER_ITEMS, ("order_id", "order_item_id", "_sequence"))
    assert item_merge(cost.ALL_IN) == pytest.approx(2 * (per_day + q_per_day))  # both lag days touched
    today, pruned = (cost.flush_statements(shape, tables, lo, 1000).total for lo in (cost.TODAY, cost.ALL_IN))
    assert pruned < today / 10


def test_orders_merge_bills_referenced_columns_scanned_plus_updated_partitions():
    shape = synthetic_shape()
    tables = cost.Tables(orders=1e6, days=10)
    flush = cost.flush_statements(shape, tables, cost.TODAY, snapshots=10**6)
    merge = next(s for s in flush.statements if s.name.startswith("MERGE orders"))
    q = 1e6 * shape.width(ORDERS, ("order_id", "_sequence"))  # all 10 partitions scanned
    t = 1e5 * 2 * shape.width(ORDERS)  # the 2 partitions the batch's orders are in
    assert merge.reads[ORDERS] == pytest.approx(q + t)


def test_section_replaces_only_its_own_markers(tmp_path, capsys):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nkept before\n\n<!-- other:begin -->\nother\n<!-- other:end -->\n")
    assert cost.main(["--write", str(path)], measure=lambda orders, seed: synthetic_shape()) == 0
    first = path.read_text()
    assert first.startswith("# Benchmarks\n\nkept before\n\n<!-- other:begin -->\nother\n<!-- other:end -->\n")
    assert first.count(cost.MARK_BEGIN) == first.count(cost.MARK_END) == 1
    assert first.rstrip().endswith(cost.MARK_END)
    assert "### 3. Recommendation" in capsys.readouterr().out
    path.write_text(first + "\nafter\n")
    cost.main(["--write", str(path)], measure=lambda orders, seed: synthetic_shape())
    assert path.read_text() == first + "\nafter\n"
