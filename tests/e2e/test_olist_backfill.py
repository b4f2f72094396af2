"""The real Olist orders, replayed through the publisher's JSONL mode and backfilled by the pipeline: every order
lands with its real final status, lines and payments, to the cent. The oracle is read straight from the CSVs."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from olist_edge_orders import write_kaggle_files
from pubsub_helpers import pull_and_ack

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]


def _csv(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _oracle(directory: Path) -> dict[str, tuple]:
    """order_id -> (status, item count, price total, freight total, payment count, payment total)."""
    items: dict[str, list] = defaultdict(list)
    for row in _csv(directory, "olist_order_items_dataset.csv"):
        items[row["order_id"]].append(row)
    payments: dict[str, list] = defaultdict(list)
    for row in _csv(directory, "olist_order_payments_dataset.csv"):
        payments[row["order_id"]].append(row)
    return {
        row["order_id"]: (
            row["order_status"],
            len(items[row["order_id"]]),
            sum((Decimal(i["price"]) for i in items[row["order_id"]]), Decimal(0)),
            sum((Decimal(i["freight_value"]) for i in items[row["order_id"]]), Decimal(0)),
            len(payments[row["order_id"]]),
            sum((Decimal(p["payment_value"]) for p in payments[row["order_id"]]), Decimal(0)),
        )
        for row in _csv(directory, "olist_orders_dataset.csv")
    }


def _run(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_every_real_order_lands_with_its_final_status_and_money_to_the_cent(olist_dir, tmp_path):
    events, warehouse = tmp_path / "olist.jsonl", tmp_path / "olist.duckdb"
    _run("-m", "publishers", "--replay-olist", str(olist_dir), "--output", str(events))
    result = _run("streaming_job.py", "--input_files", str(events), "--duckdb_path", str(warehouse))
    assert "0 dead-lettered at validation" in result.stderr.strip().splitlines()[-1]

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        landed = connection.execute(
            """
            SELECT o.order_id, o.order_status,
                   (SELECT count(*) FROM orders_rt.order_items i WHERE i.order_id = o.order_id),
                   (SELECT coalesce(sum(price), 0) FROM orders_rt.order_items i WHERE i.order_id = o.order_id),
                   (SELECT coalesce(sum(freight_value), 0) FROM orders_rt.order_items i WHERE i.order_id = o.order_id),
                   (SELECT count(*) FROM orders_rt.order_payments p WHERE p.order_id = o.order_id),
                   (SELECT coalesce(sum(payment_value), 0) FROM orders_rt.order_payments p
                     WHERE p.order_id = o.order_id)
            FROM orders_rt.orders o
            """
        ).fetchall()
        dead_letters = connection.execute("SELECT count(*) FROM orders_rt.order_events_dead_letter").fetchone()[0]
    expected = _oracle(olist_dir)
    assert dead_letters == 0
    assert {row[0]: tuple(row[1:]) for row in landed} == expected  # no order lost, each exact
    assert Counter(status for status, *_ in expected.values()) == Counter(row[1] for row in landed)


def test_real_shape_edge_orders_all_land_flagged_not_dead_lettered(tmp_path):
    kaggle = write_kaggle_files(tmp_path / "kaggle")
    events, warehouse = tmp_path / "edge.jsonl", tmp_path / "edge.duckdb"
    _run("-m", "publishers", "--replay-olist", str(kaggle), "--output", str(events))
    _run("streaming_job.py", "--input_files", str(events), "--duckdb_path", str(warehouse))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        orders = dict(connection.execute("SELECT order_id, order_status FROM orders_rt.orders").fetchall())
        flags = dict(connection.execute("SELECT order_id, _quality_flags FROM orders_rt.orders").fetchall())
        dead_letters = connection.execute("SELECT count(*) FROM orders_rt.order_events_dead_letter").fetchone()[0]
    expected = _oracle(kaggle)
    assert orders == {order_id: status for order_id, (status, *_) in expected.items()} and dead_letters == 0
    assert flags == {
        "o-quirk-delivered": "delivered_without_delivery_date",
        "o-payment-2": "payment_sequence_gap",
        "o-canceled-empty": None,
        "o-dst-gap": None,
    }


def test_the_replay_streams_to_a_topic_paced_by_event_time(pubsub, pubsub_names, tmp_path):
    kaggle = write_kaggle_files(tmp_path / "kaggle")
    files = tmp_path / "edge.jsonl"
    _run("-m", "publishers", "--replay-olist", str(kaggle), "--output", str(files))
    result = subprocess.run(
        [sys.executable, "-m", "publishers", "--replay-olist", str(kaggle), "--topic", pubsub_names["topic"],
         "--speedup", "1e9"],
        cwd=REPO_ROOT, env=pubsub.environment(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    expected = files.read_bytes().splitlines()
    received = pull_and_ack(pubsub_names["subscription"], expected=len(expected), timeout=60)
    assert sorted(m.data for m in received) == sorted(expected)
    assert all(m.attributes["event_id"] and m.ordering_key for m in received)
