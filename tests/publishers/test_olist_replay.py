"""The Olist replay on hand-made files of real shape: lifecycles, São Paulo time with its DST changes, and the
quirks of the full Kaggle set (payments numbered from 2, delivered without a date, no items, 0.00 not_defined
payments) accepted through the contract."""

from __future__ import annotations

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
