"""The Olist replay on hand-made files of real shape: lifecycles, São Paulo time with its DST changes, and the
quirks of the full Kaggle set (payments numbered from 2, delivered without a date, no items, 0.00 not_defined
payments) accepted through the contract."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from olist_edge_orders import write_kaggle_files

from publishers.__main__ import main
from publishers.olist_replay import ReplayError, load_orders, local_to_utc, replay_events
from schemas.validation import validate_payload


@pytest.fixture
def kaggle_dir(tmp_path: Path) -> Path:
    return write_kaggle_files(tmp_path)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("2017-10-14 23:59:59", _utc(2017, 10, 15, 2, 59, 59)),  # standard time, -03:00
        ("2017-10-15 00:30:00", _utc(2017, 10, 15, 3, 30)),  # did not exist (clocks jumped to 01:00): fold=0
        ("2017-10-15 01:00:00", _utc(2017, 10, 15, 3, 0)),  # daylight saving time, -02:00
        ("2018-02-17 23:30:00", _utc(2018, 2, 18, 1, 30)),  # happened twice: the first (-02:00)
        ("2018-02-18 00:30:00", _utc(2018, 2, 18, 3, 30)),  # standard time again
        ("2019-11-01 12:00:00", _utc(2019, 11, 1, 15, 0)),  # Brazil dropped DST in 2019
    ],
)
def test_sao_paulo_wall_clock_converts_with_the_offset_of_its_date(local, utc):
    assert local_to_utc(local) == utc


def test_each_order_becomes_its_lifecycle_and_every_event_is_valid(kaggle_dir):
    events = [event for _, event in replay_events(load_orders(kaggle_dir))]
    by_order: dict[str, list[dict]] = {}
    for event in events:
        by_order.setdefault(event["order"]["order_id"], []).append(event)
        assert validate_payload(json.dumps(event)).ok, event
    for evs in by_order.values():
        evs.sort(key=lambda e: e["sequence"])  # o-dst-gap: its purchase, in the DST gap, is later in UTC
    statuses = {order: [e["order"]["order_status"] for e in evs] for order, evs in by_order.items()}
    assert statuses == {
        "o-quirk-delivered": ["created", "approved", "shipped", "delivered"],
        "o-payment-2": ["created", "approved", "shipped", "delivered"],
        "o-canceled-empty": ["created", "canceled"],
        "o-dst-gap": ["created", "approved", "shipped"],
    }
    for evs in by_order.values():
        assert [e["sequence"] for e in evs] == list(range(1, len(evs) + 1))
    times = [e["event_time"] for e in events]
    assert times == sorted(times)  # event-time order across orders
    # The quirks are accepted and flagged, not dead-lettered.
    last = {order: evs[-1] for order, evs in by_order.items()}
    assert validate_payload(json.dumps(last["o-quirk-delivered"])).quality_flags == ("delivered_without_delivery_date",)
    assert validate_payload(json.dumps(last["o-payment-2"])).quality_flags == ("payment_sequence_gap",)
    empty = last["o-canceled-empty"]
    assert empty["items"] == [] and empty["payments"] == [
        {"payment_sequential": 1, "payment_type": "not_defined", "payment_installments": 0, "payment_value": 0.0}
    ]
    assert last["o-dst-gap"]["order"]["order_purchase_timestamp"] == "2017-10-15T03:30:00Z"
    assert last["o-payment-2"]["customer"]["customer_zip_code_prefix"] == "01310"


def test_a_replay_is_deterministic_so_sending_it_twice_is_a_redelivery(kaggle_dir, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["--replay-olist", str(kaggle_dir), "--output", str(first)]) == 0
    assert main(["--replay-olist", str(kaggle_dir), "--output", str(second), "--orders", "2"]) == 0
    lines = first.read_bytes().splitlines()
    assert len(lines) == 13 and second.read_bytes().splitlines() == [
        line for line in lines if json.loads(line)["order"]["order_id"] in {"o-quirk-delivered", "o-payment-2"}
    ]


def test_missing_files_and_wrong_flags_give_one_clear_error(tmp_path, capsys):
    with pytest.raises(ReplayError, match=r"olist_customers_dataset\.csv not found"):
        load_orders(tmp_path)
    with pytest.raises(SystemExit):
        main(["--replay-olist", str(tmp_path), "--output", "x.jsonl", "--duplicate-ratio", "0.1"])
    assert "no --duration or *-ratio flags" in capsys.readouterr().err


REVIEW_COLUMNS = (
    "review_id",
    "order_id",
    "review_score",
    "review_comment_title",
    "review_comment_message",
    "review_creation_date",
    "review_answer_timestamp",
)


def test_version_2_attaches_each_orders_newest_real_review_to_its_last_snapshot(kaggle_dir, tmp_path):
    # The Kaggle reviews file's quirks: comments over several lines, empty texts, an order reviewed twice, a
    # review of an order not replayed.
    rows = [
        ("r-old", "o-quirk-delivered", "1", "", "chegou quebrado", "2017-10-20 00:00:00", "2017-10-21 10:00:00"),
        ("r-new", "o-quirk-delivered", "4", "Resolvido", "trocaram o produto,\r\nobrigado", "2017-10-25 00:00:00",
         "2017-10-26 09:30:00"),
        ("r-cancel", "o-canceled-empty", "1", "", "", "2017-11-02 00:00:00", ""),
        ("r-other", "not-replayed", "5", "", "", "2017-11-02 00:00:00", "2017-11-03 00:00:00"),
    ]  # fmt: skip
    with (kaggle_dir / "olist_order_reviews_dataset.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REVIEW_COLUMNS)
        writer.writerows(rows)
    output = tmp_path / "v2.jsonl"
    assert main(["--replay-olist", str(kaggle_dir), "--output", str(output), "--schema-version", "2"]) == 0
    events = [json.loads(line) for line in output.read_bytes().splitlines()]
    for line in output.read_bytes().splitlines():
        assert validate_payload(line).ok, line
    assert {e["schema_version"] for e in events} == {2} and all("channel" not in e["order"] for e in events)
    last = {}
    for event in events:
        if event["sequence"] > last.get(event["order"]["order_id"], {}).get("sequence", 0):
            last[event["order"]["order_id"]] = event
    reviewed = {e["order"]["order_id"]: e["order_review"] for e in events if e.get("order_review")}
    assert set(reviewed) == {"o-quirk-delivered", "o-canceled-empty"}
    assert all(last[order_id].get("order_review") for order_id in reviewed)  # on the last snapshot only
    assert sum(1 for e in events if e.get("order_review")) == 2
    assert reviewed["o-quirk-delivered"] == {
        "review_id": "r-new",
        "review_score": 4,
        "review_comment_title": "Resolvido",
        "review_comment_message": "trocaram o produto,\r\nobrigado",
        "review_creation_date": "2017-10-25T02:00:00Z",  # São Paulo midnight in daylight saving time (-02:00)
        "review_answer_timestamp": "2017-10-26T11:30:00Z",
    }
    assert reviewed["o-canceled-empty"]["review_comment_message"] is None
    assert reviewed["o-canceled-empty"]["review_answer_timestamp"] is None
