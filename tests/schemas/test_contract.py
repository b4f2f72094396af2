"""The event contract (schemas/order_event.v1.json) and the validation library built on it."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

import schemas
from schemas.validation import EventValidator, validate_payload

VALID_EVENT = {
    "event_id": "3f1c2a4e-8b1d-4c3e-9f00-1234567890ab",
    "event_type": "order_shipped",
    "event_time": "2026-11-21T23:54:47.123Z",
    "sequence": 4,
    "schema_version": 1,
    "order": {
        "order_id": "e481f51cbdc54678b7cc49136f2d6af7",
        "customer_id": "9ef432eb6251297304e76186b10a928d",
        "order_status": "shipped",
        "order_purchase_timestamp": "2026-11-18T10:56:33Z",
        "order_approved_at": "2026-11-18T11:07:15-03:00",
        "order_delivered_carrier_date": "2026-11-20T19:49:00Z",
        "order_delivered_customer_date": None,
        "order_estimated_delivery_date": "2026-12-02T00:00:00Z",
    },
    "customer": {
        "customer_id": "9ef432eb6251297304e76186b10a928d",
        "customer_unique_id": "7c396fd4830fd04220f754e42b4e5bff",
        "customer_zip_code_prefix": "03149",
        "customer_city": "sao paulo",
        "customer_state": "SP",
    },
    "items": [
        {
            "order_item_id": 1,
            "product_id": "87285b34884572647811a353c7ac498a",
            "seller_id": "3504c0cb71d7fa48d967e0e4c94d59d9",
            "shipping_limit_date": "2026-11-23T10:56:33Z",
            "price": 29.99,
            "freight_value": 8.72,
        },
        {
            "order_item_id": 2,
            "product_id": "87285b34884572647811a353c7ac498a",
            "seller_id": "3504c0cb71d7fa48d967e0e4c94d59d9",
            "shipping_limit_date": "2026-11-23T10:56:33Z",
            "price": 0.29,
            "freight_value": 0,
        },
    ],
    "payments": [
        {"payment_sequential": 1, "payment_type": "voucher", "payment_installments": 1, "payment_value": 2},
        {
            "payment_sequential": 2,
            "payment_type": "credit_card",
            "payment_installments": 3,
            "payment_value": 37.0,
        },
    ],
}


def _event(**changes) -> dict:
    """VALID_EVENT with changes given as dotted paths: _event(**{"order.order_status": "created"})."""
    event = copy.deepcopy(VALID_EVENT)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        target = event
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(leaf) if leaf.isdigit() else leaf]
        else:
            target[int(leaf) if leaf.isdigit() else leaf] = value
    return event


_DELETE = object()


def _errors(event) -> list[tuple[str, str, str]]:
    result = validate_payload(json.dumps(event))
    return [(e.stage, e.kind, e.path) for e in result.errors]


def test_event_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(schemas.event_schema(1))
    assert schemas.event_schema(1)["$schema"].endswith("2020-12/schema")


def test_valid_event_passes_and_returns_the_event():
    result = validate_payload(json.dumps(VALID_EVENT).encode())
    assert result.ok, result.error_message()
    assert result.event == VALID_EVENT


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"order.order_status": "sent"}, ("schema", "schema_violation", "$.order.order_status")),
        ({"customer.customer_state": "XX"}, ("schema", "schema_violation", "$.customer.customer_state")),
        ({"payments.0.payment_type": "pix"}, ("schema", "schema_violation", "$.payments[0].payment_type")),
        ({"event_type": "order_paid"}, ("schema", "schema_violation", "$.event_type")),
        (
            {"customer.customer_zip_code_prefix": "3149"},
            ("schema", "schema_violation", "$.customer.customer_zip_code_prefix"),
        ),
        (
            {"customer.customer_zip_code_prefix": 3149},
            ("schema", "schema_violation", "$.customer.customer_zip_code_prefix"),
        ),
        ({"event_time": "2026-11-21 23:54"}, ("schema", "schema_violation", "$.event_time")),
        ({"event_time": "2026-11-21T23:54:47"}, ("schema", "schema_violation", "$.event_time")),
        ({"event_time": "2026-13-40T23:54:47Z"}, ("schema", "invalid_timestamp", "$.event_time")),
        ({"event_time": "2016-12-31T23:59:60Z"}, ("schema", "invalid_timestamp", "$.event_time")),
        ({"event_time": "9999-12-31T23:00:00-03:00"}, ("schema", "timestamp_out_of_range", "$.event_time")),
        (
            {"order.order_purchase_timestamp": "0001-01-01T01:00:00+03:00"},
            ("schema", "timestamp_out_of_range", "$.order.order_purchase_timestamp"),
        ),
        (
            {"items.1.shipping_limit_date": "2021-02-30T10:00:00Z"},
            ("schema", "invalid_timestamp", "$.items[1].shipping_limit_date"),
        ),
        ({"customer.customer_city": "sao\u0000paulo"}, ("parse", "invalid_text", "$.customer.customer_city")),
        ({"customer.customer_city": "sao\ud800paulo"}, ("parse", "invalid_text", "$.customer.customer_city")),
        ({"event_id": "\udfff"}, ("parse", "invalid_text", "$.event_id")),
        ({"sequence": 2**63}, ("schema", "schema_violation", "$.sequence")),
        ({"payments.0.payment_sequential": 10**30}, ("schema", "schema_violation", "$.payments[0].payment_sequential")),
        ({"items.0.price": -1}, ("schema", "schema_violation", "$.items[0].price")),
        ({"items.0.price": "29.99"}, ("schema", "schema_violation", "$.items[0].price")),
        ({"sequence": 0}, ("schema", "schema_violation", "$.sequence")),
        ({"sequence": 1.5}, ("schema", "schema_violation", "$.sequence")),
        ({"order.order_id": _DELETE}, ("schema", "schema_violation", "$.order")),
        ({"order.coupon": "X"}, ("schema", "schema_violation", "$.order")),
        ({"extra": 1}, ("schema", "schema_violation", "$")),
        (
            {"schema_version": schemas.LATEST_SCHEMA_VERSION + 1},
            ("schema", "unsupported_schema_version", "$.schema_version"),
        ),
        ({"schema_version": True}, ("schema", "unsupported_schema_version", "$.schema_version")),
        ({"schema_version": "1"}, ("schema", "unsupported_schema_version", "$.schema_version")),
        ({"items.0.price": 29.999}, ("business_rule", "money_precision", "$.items[0].price")),
        ({"items.1.order_item_id": 3}, ("business_rule", "item_numbering", "$.items[1].order_item_id")),
        ({"items.1.order_item_id": 1}, ("business_rule", "item_numbering", "$.items[0].order_item_id")),
        (
            {"payments.0.payment_sequential": 2},
            ("business_rule", "payment_numbering", "$.payments[1].payment_sequential"),
        ),
        (
            {"customer.customer_id": "someoneelse"},
            ("business_rule", "customer_mismatch", "$.customer.customer_id"),
        ),
    ],
)
def test_each_defect_is_reported_with_stage_kind_and_path(changes, expected):
    errors = _errors(_event(**changes))
    assert errors, f"{changes} was accepted"
    assert errors[0] == expected


def test_every_schema_error_is_reported_not_just_the_first():
    errors = _errors(_event(**{"items.0.price": -1, "customer.customer_state": "XX", "sequence": 0}))
    assert {path for _, _, path in errors} == {"$.items[0].price", "$.customer.customer_state", "$.sequence"}
    message = validate_payload(json.dumps(_event(**{"items.0.price": -1, "sequence": 0}))).error_message()
    assert message.startswith("2 errors: ")
    assert "$.items[0].price" in message and "minimum" in message


@pytest.mark.parametrize(
    ("payload", "kind", "fragment"),
    [
        (b'{"event_id": "x",', "invalid_json", "line 1 column"),
        (b"\xff\xfe{}", "invalid_encoding", "not UTF-8"),
        (b"", "empty_body", "empty"),
        (b'{"sequence": NaN}', "invalid_json", "NaN"),
        (b"[1, 2]", "not_an_object", "got list"),
    ],
)
def test_unparseable_payloads(payload, kind, fragment):
    result = validate_payload(payload)
    assert not result.ok
    assert result.first_error.kind == kind
    assert fragment in result.first_error.message


def test_money_with_two_decimals_is_valid_even_where_binary_floats_are_inexact():
    # 0.29 / 0.01 != 29 in floating point: a multipleOf rule would wrongly reject these.
    for amount in (0.29, 0.57, 72.19, 1234.56, 0, 10):
        event = _event(**{"items.0.price": amount, "payments.1.payment_value": amount})
        assert validate_payload(json.dumps(event)).ok, amount


def test_a_delivered_order_without_its_delivery_date_is_kept_and_flagged():
    event = _event(**{"order.order_status": "delivered", "event_type": "order_delivered"})
    result = validate_payload(json.dumps(event))
    assert result.ok and [(w.kind, w.path) for w in result.warnings] == [
        ("delivered_without_delivery_date", "$.order.order_delivered_customer_date")
    ]
    event["order"]["order_delivered_customer_date"] = "2026-11-25T12:00:00Z"
    assert validate_payload(json.dumps(event)).quality_flags == ()


def test_canceled_and_unavailable_accept_any_step_and_empty_lines():
    event = _event(**{"order.order_status": "unavailable", "items": [], "payments": []})
    assert _errors(event) == []


def test_attributes_must_agree_with_the_body_when_present():
    body = json.dumps(VALID_EVENT)
    agreeing = {
        "event_id": VALID_EVENT["event_id"],
        "event_type": "order_shipped",
        "schema_version": "1",
        "event_time": "2026-11-21T23:54:47.123+00:00",
    }
    assert validate_payload(body, agreeing).ok
    assert validate_payload(body, {}).ok
    result = validate_payload(body, {**agreeing, "event_type": "order_delivered"})
    assert [(e.kind, e.path) for e in result.errors] == [("attribute_mismatch", "attributes.event_type")]


def test_fast_and_full_validators_agree_on_what_is_invalid():
    validator = EventValidator()
    for changes in ({"items.0.price": -1}, {"order.order_status": "sent"}, {"event_time": "yesterday"}):
        event = _event(**changes)
        full = list(validator._full[1].iter_errors(event))
        assert full, changes
        assert not validator.validate(event).ok


def test_table_schemas_load_and_layouts_name_real_columns():
    for name in schemas.table_names():
        table = schemas.table_schema(name)
        assert table.columns, name
        for column in (*table.primary_key, *table.clustering):
            table.column(column)
        if table.partition_field:
            assert table.column(table.partition_field).type == "TIMESTAMP"
    for name in schemas.UPSERTED_TABLES:
        assert {"_sequence", "_event_id", "_event_time", "_ingested_at"} <= set(schemas.table_schema(name).column_names)
    dead_letter = schemas.table_schema(schemas.DEAD_LETTER_TABLE)
    assert {
        "timestamp",
        "payload_string",
        "payload_bytes",
        "attributes",
        "event_id",
        "schema_version",
        "error_stage",
        "error_message",
        "error_path",
        "stacktrace",
    } <= set(dead_letter.column_names)


def test_event_fields_are_the_olist_columns_of_the_tables():
    properties = schemas.event_schema(1)["properties"]
    orders = set(schemas.table_schema("orders").column_names)
    assert set(properties["order"]["properties"]) <= orders
    assert set(properties["customer"]["properties"]) <= orders
    items = set(schemas.table_schema("order_items").column_names)
    assert set(properties["items"]["items"]["properties"]) <= items
    payments = set(schemas.table_schema("order_payments").column_names)
    assert set(properties["payments"]["items"]["properties"]) <= payments


def test_unknown_names_give_clear_errors():
    with pytest.raises(KeyError, match="unknown schema_version 9"):
        schemas.event_schema(9)
    with pytest.raises(KeyError, match="unknown table 'customers'"):
        schemas.table_schema("customers")


def test_delivered_without_approval_time_is_valid_as_in_real_olist_data():
    event = _event(
        **{
            "order.order_status": "delivered",
            "order.order_approved_at": None,
            "order.order_delivered_customer_date": "2026-11-25T12:00:00Z",
        }
    )
    assert _errors(event) == []


def test_identifiers_are_any_text_without_white_space():
    assert _errors(_event(**{"order.order_id": "order:2026/11/000042"})) == []
    assert _errors(_event(**{"order.order_id": "order 42"}))[0][2] == "$.order.order_id"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"a":' * 5000, ("parse", "too_deep", "$")),
        ("[" * 40 + "]" * 40, ("parse", "too_deep", "$" + "[0]" * 16)),
        ('{"event_id": "a", "event_id": "b"}', ("parse", "duplicate_key", "$.event_id")),
        ('{"order": {"order_id": "a", "x": 1, "order_id": "b"}}', ("parse", "duplicate_key", "$.order.order_id")),
        ('{"bad\\u0001key": 1}', ("parse", "invalid_text", "$")),
        ('{"a": NaN}', ("parse", "invalid_json", "$")),
        ("1" * 5000, ("parse", "invalid_json", "$")),
        ("{" + " " * (1 << 20) + "}", ("parse", "too_large", "$")),
    ],
)
def test_bodies_that_would_crash_later_steps_are_errors(body, expected):
    result = validate_payload(body.encode())
    assert (result.first_error.stage, result.first_error.kind, result.first_error.path) == expected


def test_integral_floats_in_integer_fields_are_accepted_as_ints():
    result = validate_payload(json.dumps(_event(**{"sequence": 3.0, "items.0.order_item_id": 1.0})))
    assert result.ok, result.error_message()
    assert type(result.event["sequence"]) is int and type(result.event["items"][0]["order_item_id"]) is int


def test_payments_may_skip_numbers_but_not_repeat_them():
    """Real Olist orders have a single payment numbered 2 (payment attempts): accepted."""
    assert validate_payload(json.dumps(_event(**{"payments.0.payment_sequential": 3}))).ok


def test_an_event_time_attribute_the_warehouse_cannot_store_is_named():
    result = validate_payload(json.dumps(VALID_EVENT), {"event_time": "0001-01-01T01:00:00+03:00"})
    assert (result.first_error.kind, result.first_error.path) == ("timestamp_out_of_range", "attributes.event_time")


@pytest.mark.parametrize(
    ("changes", "flags"),
    [
        ({"order.order_delivered_carrier_date": None}, ("shipped_without_carrier_date",)),
        ({"order.order_status": "created"}, ("created_with_approval", "created_with_carrier_date")),
        (
            {"order.order_status": "delivered", "payments.0.payment_sequential": 3},
            ("delivered_without_delivery_date", "payment_sequence_gap"),
        ),
    ],
)
def test_inconsistencies_real_sources_have_are_accepted_and_flagged(changes, flags):
    """Soft rules: the order is kept as the source says, flagged for the data-quality models."""
    result = validate_payload(json.dumps(_event(**changes)))
    assert result.ok, result.error_message()
    assert result.quality_flags == flags
    assert all(w.stage == "quality" and w.path.startswith("$.") for w in result.warnings)


def test_a_clean_event_has_no_flags():
    assert validate_payload(json.dumps(VALID_EVENT)).quality_flags == ()
