"""The sink's rows -> Arrow conversion (beam_pipelines.sinks.arrow_rows) keeps every value: the table holds the
rows' values (instants, exact money, text), and equals what Arrow's own ``pa.Table.from_pylist`` gives, for every
table of schemas/, on generated rows (nulls, any UTC offset, far-past and far-future instants, NUMERIC at its
full precision and scale, any unicode) and on the edge cases named below."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_events import snapshot

from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.arrow_rows import arrow_batch
from beam_pipelines.transforms.rows import snapshot_rows
from schemas import ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, table_names, table_schema
from schemas.types import arrow_schema
from schemas.validation import EventValidator

NUMERIC_MAX = Decimal("99999999999999999999999999999.999999999")  # DECIMAL(38, 9): 29 digits, then 9
NUMERIC_MIN = Decimal("-99999999999999999999999999999.999999999")  # not -NUMERIC_MAX: that rounds to 28 digits
NUMERIC_STEP = Decimal("0.000000001")
#: Far enough from datetime's own limits that every offset still gives an instant Python can hold.
EARLIEST = datetime(1, 1, 2)
LATEST = datetime(9999, 12, 30)

#: Offsets as RFC 3339 writes them: whole minutes (Arrow drops the fraction of a second of an odd offset, see
#: test_an_offset_with_a_fraction_of_a_second_keeps_its_instant).
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=st.just(timezone.utc) | offsets)


def values(type_: pa.DataType) -> st.SearchStrategy[Any]:
    """Python values a column of ``type_`` takes (None included)."""
    if pa.types.is_timestamp(type_):
        base = instants
    elif pa.types.is_decimal(type_):
        base = st.decimals(min_value=NUMERIC_MIN, max_value=NUMERIC_MAX, places=9, allow_nan=False)
    elif pa.types.is_string(type_):
        base = st.text(max_size=20)
    elif pa.types.is_integer(type_):
        base = st.integers(min_value=-(2**63), max_value=2**63 - 1)
    elif pa.types.is_floating(type_):
        base = st.floats(allow_nan=False)
    elif pa.types.is_boolean(type_):
        base = st.booleans()
    elif pa.types.is_date(type_):
        base = st.dates()
    elif pa.types.is_binary(type_):
        base = st.binary(max_size=20)
    elif pa.types.is_struct(type_):
        base = st.fixed_dictionaries({f.name: values(f.type) for f in type_})
    elif pa.types.is_list(type_):
        base = st.lists(values(type_.value_type), max_size=3)
    else:
        raise AssertionError(f"no values for {type_}")
    return st.none() | base


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    name = draw(st.sampled_from(table_names()))
    row = st.fixed_dictionaries({f.name: values(f.type) for f in arrow_schema(table_schema(name))})
    return name, draw(st.lists(row, max_size=4))


def reference(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(table_schema(name)))


def assert_keeps(name: str, rows: list[dict[str, Any]]) -> None:
    """The table equals Arrow's own conversion, and holds exactly the rows' values (columns a row leaves out
    are null; aware datetimes compare as instants, Decimals exactly)."""
    table = arrow_batch(name, rows)
    assert table.schema == arrow_schema(table_schema(name))
    assert table.equals(reference(name, rows))
    assert table.to_pylist() == [{column: row.get(column) for column in table.column_names} for row in rows]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_every_table_keeps_any_row_values(case: tuple[str, list[dict[str, Any]]]) -> None:
    assert_keeps(*case)


UTC = timezone.utc
EDGE_INSTANTS = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # just before the epoch
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2026, 11, 21, 10, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=-23, minutes=-59))),
    datetime(2016, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-3))),
]
EDGE_MONEY = [NUMERIC_MAX, NUMERIC_MIN, NUMERIC_STEP, -NUMERIC_STEP, Decimal("0"), Decimal("-0"), Decimal("25.50")]
EDGE_TEXT = ["", "São Paulo", "Ñandú 🛒", "e\u0301", "ß", "\u00a0", "a\x00b", "\U0010ffff", "日本語"]


def _item(index: int, **values: Any) -> dict[str, Any]:
    instant = EDGE_INSTANTS[index % len(EDGE_INSTANTS)]
    return {
        "order_id": EDGE_TEXT[index % len(EDGE_TEXT)],
        "order_item_id": index,
        "product_id": "p",
        "seller_id": "s",
        "shipping_limit_date": instant,
        "price": EDGE_MONEY[index % len(EDGE_MONEY)],
        "freight_value": EDGE_MONEY[-1 - index % len(EDGE_MONEY)],
        "order_purchase_timestamp": None if index % 2 else instant,
        "_sequence": 2**63 - 1 if index % 3 else -(2**63),
        "_event_id": "e",
        "_event_time": instant,
        "_ingested_at": instant,
        **values,
    }


def test_edge_values_are_kept() -> None:
    assert_keeps(ORDER_ITEMS, [_item(index) for index in range(3 * len(EDGE_TEXT))])


def test_every_value_null_and_no_rows() -> None:
    names = arrow_schema(table_schema(ORDER_ITEMS)).names
    assert_keeps(ORDER_ITEMS, [dict.fromkeys(names)] * 3)
    assert_keeps(ORDER_ITEMS, [])


def test_offsets_are_normalized_to_the_same_instant() -> None:
    local = datetime(2026, 11, 21, 7, 0, tzinfo=timezone(timedelta(hours=-3)))
    table = arrow_batch(ORDER_ITEMS, [_item(0, shipping_limit_date=local)])
    stored = table.column("shipping_limit_date").cast(pa.int64())[0].as_py()
    assert stored == int(datetime(2026, 11, 21, 10, 0, tzinfo=UTC).timestamp()) * 1_000_000
    assert table.column("shipping_limit_date").type == pa.timestamp("us", tz="UTC")


def test_an_offset_with_a_fraction_of_a_second_keeps_its_instant() -> None:
    """Python allows such an offset (RFC 3339 does not, and ToRows gives UTC datetimes): the table has the exact
    instant, where Arrow's own conversion (``utcoffset()`` in whole seconds) is a microsecond off."""
    odd = datetime(2000, 1, 1, tzinfo=timezone(timedelta(microseconds=1)))
    table = arrow_batch(ORDER_ITEMS, [_item(0, _ingested_at=odd)])
    assert table.column("_ingested_at")[0].as_py() == odd == datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert reference(ORDER_ITEMS, [_item(0, _ingested_at=odd)]).column("_ingested_at")[0].as_py() != odd


def test_rows_that_leave_columns_out_have_them_null() -> None:
    rows = [_item(1), {"order_id": "o2", "price": Decimal("1.5"), "not_a_column": object()}]
    assert_keeps(ORDER_ITEMS, rows)


def test_naive_datetimes_are_converted_as_arrow_does() -> None:
    """Naive values never come from the pipeline; should one, it is stored as Arrow reads it (as UTC)."""
    rows = [_item(0, shipping_limit_date=datetime(2026, 11, 21, 10, 0)), _item(1)]
    table = arrow_batch(ORDER_ITEMS, rows)
    assert table.equals(reference(ORDER_ITEMS, rows))
    assert table.column("shipping_limit_date")[0].as_py() == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("shipping_limit_date", "2026-11-21T10:00:00Z"),
        ("shipping_limit_date", date(2026, 11, 21)),
        ("price", Decimal("0.0000000001")),  # a tenth of NUMERIC's step
        ("price", Decimal("999999999999999999999999999999")),  # 30 digits before the point
        ("price", "1.5"),
        ("order_item_id", 2**63),
        ("order_id", b"\xff"),
        ("order_id", "\ud800"),  # a lone surrogate: not UTF-8
    ],
)
def test_values_arrow_refuses_are_refused_alike(column: str, value: Any) -> None:
    rows = [_item(0), _item(1, **{column: value})]
    with pytest.raises(Exception) as expected:  # whatever Arrow raises, the fast path raises the same
        reference(ORDER_ITEMS, rows)
    with pytest.raises(type(expected.value)):
        arrow_batch(ORDER_ITEMS, rows)


def test_pipeline_rows_are_kept() -> None:
    """Rows as ToRows builds them, from validated events."""
    validator = EventValidator()
    snapshots = []
    for number in range(6):
        body = snapshot(f"o{number}", number + 1, items=number % 3)
        event = json.loads(body)
        event["order"]["order_approved_at"] = None if number % 2 else "2026-11-21T10:05:00.123456+05:30"
        result = validator.validate_payload(json.dumps(event).encode())
        assert result.event is not None, result
        snapshots.append(snapshot_rows(OrderSnapshot(result.event, ReceivedMessage(body))))
    assert_keeps(ORDERS, [s.order for s in snapshots])
    assert_keeps(ORDER_ITEMS, [row for s in snapshots for row in s.items])
    assert_keeps(ORDER_PAYMENTS, [row for s in snapshots for row in s.payments])
