"""Schema version 2 beside version 1: what it adds, what the same validator accepts and refuses, and the rows."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest
from test_contract import VALID_EVENT

import schemas
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.transforms.rows import snapshot_rows
from publishers.stream import MessageStream, StreamSettings
from schemas.validation import EventValidator, accepted_versions

REVIEW = {
    "review_id": "7bc2406110b926393aa56f80a40eba40",
    "review_score": 4,
    "review_comment_title": None,
    "review_comment_message": "Recebi bem antes do prazo estipulado.\r\nRecomendo!",
    "review_creation_date": "2026-11-25T03:00:00Z",
    "review_answer_timestamp": "2026-11-26T12:31:50-03:00",
}


def version_2(**changes) -> dict:
    event = copy.deepcopy(VALID_EVENT)
    event["schema_version"] = 2
    event["order"]["channel"] = "app"
    event["order_review"] = copy.deepcopy(REVIEW)
    for path, value in changes.items():
        target = event
        *parents, last = path.split(".")
        for name in parents:
            target = target[name]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return event


_DELETE = object()


def _verdict(event: dict, versions=None) -> tuple[str, str, str] | None:
    result = EventValidator(versions).validate_payload(json.dumps(event))
    error = result.first_error
    return None if error is None else (error.stage, error.kind, error.path)


def test_version_2_is_version_1_plus_channel_and_order_review_and_nothing_else():
    v1, v2 = schemas.event_schema(1), schemas.event_schema(2)
    assert v2["properties"]["schema_version"] == {"const": 2}
    assert set(v2["properties"]) - set(v1["properties"]) == {"order_review"}
    assert set(v2["properties"]["order"]["properties"]) - set(v1["properties"]["order"]["properties"]) == {"channel"}
    assert (
        v2["required"] == v1["required"]
        and v2["properties"]["order"]["required"] == v1["properties"]["order"]["required"]
    )
    for name in set(v1["properties"]) - {"schema_version", "order"}:
        assert v2["properties"][name] == v1["properties"][name], name
    for name, definition in v1["$defs"].items():
        assert v2["$defs"][name] == definition, name


def test_a_version_2_event_with_or_without_its_new_fields_is_valid():
    assert _verdict(version_2()) is None
    assert _verdict(version_2(**{"order.channel": _DELETE, "order_review": _DELETE})) is None
    assert _verdict(version_2(**{"order.channel": None, "order_review": None})) is None
    assert _verdict(version_2(**{"order_review.review_answer_timestamp": None})) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"order_review.review_score": 6}, ("schema", "schema_violation", "$.order_review.review_score")),
        ({"order_review.review_score": 0}, ("schema", "schema_violation", "$.order_review.review_score")),
        ({"order_review.review_id": _DELETE}, ("schema", "schema_violation", "$.order_review")),
        ({"order_review.stars": 5}, ("schema", "schema_violation", "$.order_review")),
        (
            {"order_review.review_creation_date": "2026-02-30T00:00:00Z"},
            ("schema", "invalid_timestamp", "$.order_review.review_creation_date"),
        ),
        (
            {"order_review.review_answer_timestamp": "9999-12-31T23:00:00-03:00"},
            ("schema", "timestamp_out_of_range", "$.order_review.review_answer_timestamp"),
        ),
        ({"order.channel": "Web"}, ("schema", "schema_violation", "$.order.channel")),
        ({"order.channel": ""}, ("schema", "schema_violation", "$.order.channel")),
        (
            {"order_review.review_comment_message": "ok\x00"},
            ("parse", "invalid_text", "$.order_review.review_comment_message"),
        ),
        ({"order_review.review_id": "a\nb"}, ("parse", "invalid_text", "$.order_review.review_id")),
    ],
)
def test_each_version_2_defect_is_reported_with_stage_kind_and_path(changes, expected):
    assert _verdict(version_2(**changes)) == expected


def test_review_comments_may_hold_line_breaks_and_tabs_but_no_other_field_may():
    assert _verdict(version_2(**{"order_review.review_comment_title": "bom\tproduto\n"})) is None
    city = version_2()
    city["customer"]["customer_city"] = "sao\npaulo"
    assert _verdict(city) == ("parse", "invalid_text", "$.customer.customer_city")


def test_version_1_events_cannot_carry_the_version_2_fields():
    event = copy.deepcopy(VALID_EVENT)
    event["order_review"] = REVIEW
    assert _verdict(event) == ("schema", "schema_violation", "$")


def test_a_pipeline_limited_to_version_1_dead_letters_version_2_as_unsupported():
    result = EventValidator((1,)).validate_payload(json.dumps(version_2()))
    assert (result.first_error.kind, result.first_error.path) == ("unsupported_schema_version", "$.schema_version")
    assert "schema_version 2 is not accepted by this pipeline; expected one of: 1" in result.first_error.message
    unknown = EventValidator().validate_payload(json.dumps(version_2(schema_version=schemas.LATEST_SCHEMA_VERSION + 1)))
    assert (
        unknown.first_error.kind == "unsupported_schema_version" and "is not supported" in unknown.first_error.message
    )
    assert (
        EventValidator((2,)).validate_payload(json.dumps(VALID_EVENT)).first_error.kind == "unsupported_schema_version"
    )


def test_accepted_versions_refuses_versions_without_a_schema_file():
    assert accepted_versions(None) == tuple(sorted(schemas.EVENT_SCHEMA_FILES))
    assert accepted_versions([2, 1, 2]) == (1, 2)
    with pytest.raises(ValueError, match=r"unknown schema versions \[7\]"):
        accepted_versions([1, 7])
    with pytest.raises(ValueError, match="none given"):
        accepted_versions([])


def _order_row(event: dict) -> dict:
    result = EventValidator().validate_payload(json.dumps(event))
    assert result.ok, result.error_message()
    return snapshot_rows(OrderSnapshot(result.event, ReceivedMessage(b"{}"))).order


def test_version_2_fields_become_the_orders_rows_new_columns_and_version_1_leaves_them_null():
    row = _order_row(version_2(**{"order_review.review_score": 4.0}))
    assert row["channel"] == "app" and row["_schema_version"] == 2
    assert row["review_score"] == 4 and type(row["review_score"]) is int  # an integral float made an int
    assert row["review_comment_message"] == REVIEW["review_comment_message"]
    assert row["review_answer_timestamp"] == datetime(2026, 11, 26, 15, 31, 50, tzinfo=timezone.utc)
    old = _order_row(VALID_EVENT)
    added = [c.name for c in schemas.table_schema("orders").columns if "schema version 2" in c.description]
    assert "_schema_version" in added and old.pop("_schema_version") == 1
    assert all(old[name] is None for name in added if name in old)
    assert set(row) == set(schemas.table_schema("orders").column_names)


def test_the_publisher_in_version_2_sends_the_same_orders_plus_channels_and_reviews_all_valid():
    settings = {"seed": 11, "orders": 150, "start_time": datetime(2026, 11, 1, tzinfo=timezone.utc)}
    first = [json.loads(m.data) for m in MessageStream(StreamSettings(**settings))]
    second = [json.loads(m.data) for m in MessageStream(StreamSettings(**settings, schema_version=2))]
    assert [(e["order"]["order_id"], e["sequence"], e["event_id"]) for e in first] == [
        (e["order"]["order_id"], e["sequence"], e["event_id"]) for e in second
    ]
    validator = EventValidator()
    assert all(validator.validate(copy.deepcopy(e)).ok for e in second)
    assert {e["schema_version"] for e in first} == {1} and {e["schema_version"] for e in second} == {2}
    delivered = {e["order"]["order_id"] for e in second if e["order"]["order_status"] == "delivered"}
    reviewed = {e["order"]["order_id"] for e in second if e.get("order_review")}
    assert delivered and reviewed == delivered  # a review comes with delivery, and stays on later snapshots
    channels = {}
    for event in second:
        channels.setdefault(event["order"]["order_id"], set()).add(event["order"]["channel"])
    assert all(len(values) == 1 for values in channels.values())  # one channel per order
    assert len(set().union(*channels.values())) > 1
