"""Properties of the validator (schemas.validation) under hostile input (issue 9).

Whatever the bytes, JSON value or attributes, ``EventValidator().validate_payload`` returns a result and never
raises; a rejection names a stage, kind and path of the error contract; and it classifies the input itself rather
than falling back to ``internal_error``, which is the pipeline's safety net for the unforeseen. Where a rule decides
the verdict alone (nesting depth, bad text, an extra or missing member, a timestamp outside 0001-9999 in UTC) the
verdict is checked too. What the project's publisher sends always validates. The catalogue of hostile messages
(tests/hostile_cases.py) is checked here case by case, the validator's share of the end-to-end test.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import pytest
from hostile_cases import (
    CONTRACT_KINDS,
    EDGE_VALID,
    HOSTILE_CASES,
    MAX_BODY_BYTES,
    MAX_NESTING,
    SINK,
    TIMESTAMP_FIELDS,
    HostileCase,
    base_event,
    encode,
    json_path,
    set_at,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from publishers.stream import MessageStream, StreamSettings, attributes_of
from schemas.validation import EventValidator, ValidationResult, timestamp_errors

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INTEGER_FIELDS = {"items": ("order_item_id",), "payments": ("payment_sequential", "payment_installments")}


@cache
def validator() -> EventValidator:
    return EventValidator()


def validate(payload: bytes | str, attributes: dict[str, str] | None = None) -> ValidationResult:
    return validator().validate_payload(payload, attributes)


def assert_well_formed(result: Any) -> None:
    """A result of the contract's shape: valid with its event, or errors with a contract stage, kind and path."""
    assert isinstance(result, ValidationResult)
    if result.ok:
        assert isinstance(result.event, dict) and not result.errors
        return
    assert result.errors, "a rejection must say why"
    for error in result.errors:
        assert all(isinstance(text, str) for text in (error.stage, error.kind, error.message, error.path)), error
        assert error.kind != "internal_error", f"unclassified input (the safety net fired): {error.message}"
        assert error.kind in CONTRACT_KINDS.get(error.stage, ()), f"{error.stage}/{error.kind} is not in the contract"
        assert error.path.startswith(("$", "attributes.")), error.path
        assert error.message


# --- strategies ---------------------------------------------------------------------------------------------------

#: Any code point: lone surrogates (U+D800-U+DFFF) and C0 controls included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
#: Text a storable string may hold: no surrogates and no C0 controls (DEL and C1 controls are fine).
CLEAN_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=[chr(c) for c in range(0x20)]), max_size=12
)
SPECIAL_TEXT = st.sampled_from(
    ["", " ", "\ud800", "\udfff", "\udc00\ud800", "\x00", "\t", "\n", "\x1f", "2016-12-31T23:59:60Z",
     "9999-12-31T23:00:00-03:00", "0001-01-01T01:00:00+03:00", "2026-02-30T10:00:00Z", "order_created", "1"]
)  # fmt: skip
SPECIAL_NUMBERS = st.sampled_from([0, -1, 1.5, 3.0, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 1e-7, 10.125, 1e308])
NUMBERS = st.integers() | st.integers(min_value=-(10**40), max_value=10**40) | st.floats() | SPECIAL_NUMBERS
SCALARS = st.none() | st.booleans() | NUMBERS | ANY_TEXT | SPECIAL_TEXT
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT | SPECIAL_TEXT, children, max_size=4),
    max_leaves=25,
)
CLEAN_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | CLEAN_TEXT
)
CLEAN_JSON_VALUES = st.recursive(
    CLEAN_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(CLEAN_TEXT, children, max_size=3),
    max_leaves=10,
)
#: Pub/Sub attribute values are valid UTF-8 (no surrogates), any text otherwise.
ATTRIBUTES = st.none() | st.dictionaries(
    st.sampled_from(["event_id", "event_type", "schema_version", "event_time"]) | st.text(max_size=8),
    st.text(max_size=30) | st.sampled_from(["1", "2", "2016-12-31T23:59:60Z", "9999-12-31T23:00:00-03:00"]),
    max_size=5,
)
#: A byte alphabet that gets far into a JSON parser: structure, literals, escapes, numbers, invalid UTF-8.
JSONISH_BYTES = st.lists(
    st.sampled_from(
        [b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\", b"u", b"d800", b"0", b"1", b"e", b"-", b".", b"true",
         b"null", b"NaN", b"Infinity", b" ", b'"a"', b"\xff", b"\xed\xa0\x80", b"\xc3"]
    ),
    max_size=60,
).map(b"".join)  # fmt: skip


# --- what a value's text alone decides ----------------------------------------------------------------------------


def depth(value: Any) -> int:
    """Containers nested in ``value``: a scalar is 0, ``[]`` 1, ``{"a": []}`` 2."""
    if isinstance(value, dict):
        return 1 + max((depth(member) for member in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(element) for element in value), default=0)
    return 0


def _texts(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, member in value.items():
            yield key
            yield from _texts(member)
    elif isinstance(value, list):
        for element in value:
            yield from _texts(element)


def _numbers(value: Any):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict | list):
        for member in value.values() if isinstance(value, dict) else value:
            yield from _numbers(member)


def parse_defects(value: Any, ensure_ascii: bool) -> set[str]:
    """The parse-stage kinds that the JSON text of ``value`` (as json.dumps writes it) must get."""
    texts = list(_texts(value))
    if not ensure_ascii and any(0xD800 <= ord(c) <= 0xDFFF for text in texts for c in text):
        return {"invalid_encoding"}  # the raw body is not UTF-8: nothing further can be read
    defects = set()
    if any(0xD800 <= ord(c) <= 0xDFFF or ord(c) < 0x20 for text in texts for c in text):
        defects.add("invalid_text")
    if any(not math.isfinite(number) for number in _numbers(value)):
        defects.add("invalid_json")  # json.dumps writes NaN/Infinity
    if depth(value) > MAX_NESTING:
        defects.add("too_deep")
    return defects


def assert_parse_verdict(result: ValidationResult, defects: set[str]) -> None:
    """With one parse defect, that is the verdict; with none, the body parses (whatever comes next)."""
    if len(defects) == 1:
        assert not result.ok
        assert (result.first_error.stage, result.first_error.kind) == ("parse", *defects), result.first_error
    elif not defects:
        assert result.ok or result.first_error.stage != "parse", result.first_error


# --- any input at all ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=3000) | JSONISH_BYTES, attributes=ATTRIBUTES)
@example(data=b'{"a":' * 5000, attributes=None)
@example(data=b"[" * 100_000, attributes=None)
@example(data=b"1" * 5000, attributes=None)
@example(data=b"", attributes={"event_id": "x"})
def test_arbitrary_bytes_never_raise(data, attributes):
    assert_well_formed(validate(data, attributes))


@PROPERTY_SETTINGS
@given(value=JSON_VALUES, ensure_ascii=st.booleans(), attributes=ATTRIBUTES)
def test_arbitrary_json_values_never_raise_and_get_their_parse_verdict(value, ensure_ascii, attributes):
    body = json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
    result = validate(body, attributes)
    assert_well_formed(result)
    defects = parse_defects(value, ensure_ascii)
    assert_parse_verdict(result, defects)
    if not defects and not isinstance(value, dict):
        assert (result.first_error.stage, result.first_error.kind) == ("schema", "not_an_object")


@PROPERTY_SETTINGS
@given(levels=st.integers(min_value=1, max_value=3000), opener=st.sampled_from(["[", '{"a":', '[{"a":']))
@example(levels=MAX_NESTING, opener="[")
@example(levels=MAX_NESTING + 1, opener="[")
def test_nesting_beyond_the_limit_is_too_deep_and_never_raises(levels, opener):
    closer = {"[": "]", '{"a":': "}", '[{"a":': "}]"}[opener]
    body = opener * levels + "1" + closer * levels
    result = validate(body.encode())
    assert_well_formed(result)
    containers = levels * (2 if opener == '[{"a":' else 1)
    if containers > MAX_NESTING:
        assert (result.first_error.stage, result.first_error.kind) == ("parse", "too_deep")
    else:
        assert result.first_error.stage == "schema"


@PROPERTY_SETTINGS
@given(levels=st.integers(min_value=1, max_value=200))
@example(levels=MAX_NESTING - 1)
@example(levels=MAX_NESTING)
def test_nesting_inside_an_event_counts_from_the_top(levels):
    event = base_event("deep")
    event["note"] = json.loads("[" * levels + "]" * levels)
    result = validate(encode(event))
    assert_well_formed(result)
    if 1 + levels > MAX_NESTING:
        assert (result.first_error.stage, result.first_error.kind) == ("parse", "too_deep")
    else:  # a member the schema does not know
        assert (result.first_error.stage, result.first_error.kind) == ("schema", "schema_violation")


@settings(max_examples=20, deadline=None)
@given(extra=st.integers(min_value=-3, max_value=3))
def test_bodies_over_1_mib_are_too_large(extra):
    body = encode(base_event("big"))
    padded = body + b" " * (MAX_BODY_BYTES + extra - len(body))
    result = validate(padded)
    if len(padded) > MAX_BODY_BYTES:
        assert (result.first_error.stage, result.first_error.kind, result.first_error.path) == (
            "parse",
            "too_large",
            "$",
        )
    else:
        assert result.ok, result.first_error


# --- one change to a valid event ----------------------------------------------------------------------------------

VALID_EVENT = base_event("mutated")


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    paths = [path]
    if isinstance(value, dict):
        for key, member in value.items():
            paths += _paths(member, (*path, key))
    elif isinstance(value, list):
        for index, element in enumerate(value):
            paths += _paths(element, (*path, index))
    return paths


EVERY_PATH = [path for path in _paths(VALID_EVENT) if path]
MEMBER_PATHS = [path for path in EVERY_PATH if isinstance(path[-1], str)]


def _at(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


OBJECT_PATHS = [path for path in _paths(VALID_EVENT) if isinstance(_at(VALID_EVENT, path), dict)]


def test_the_event_mutated_below_is_valid():
    assert validate(encode(VALID_EVENT), attributes_of(VALID_EVENT)).ok


@PROPERTY_SETTINGS
@given(path=st.sampled_from(EVERY_PATH), value=JSON_VALUES, with_attributes=st.booleans())
def test_any_field_replaced_by_any_value_never_raises(path, value, with_attributes):
    event = copy.deepcopy(VALID_EVENT)
    set_at(event, path, value)
    body = json.dumps(event).encode()
    result = validate(body, attributes_of(VALID_EVENT) if with_attributes else None)
    assert_well_formed(result)
    assert_parse_verdict(result, parse_defects(event, ensure_ascii=True))
    if result.ok:
        assert result.event == json.loads(body)


#: Values that get past the parse stage (which refuses lone surrogates and control characters first).
PARSEABLE_VALUES = CLEAN_JSON_VALUES | SPECIAL_NUMBERS | SPECIAL_TEXT.filter(lambda text: text.isprintable())


@PROPERTY_SETTINGS
@given(path=st.sampled_from(EVERY_PATH), value=PARSEABLE_VALUES)
def test_the_fast_schema_check_and_the_full_report_agree_on_any_field_replaced(path, value):
    """The fast path (jsonschema-rs) decides what is valid; jsonschema only explains. A value one accepts and the
    other refuses would be stored unexplained or dead-lettered without a reason, unless the timestamp check after
    the schema refuses it (RFC 3339's leap second: valid to jsonschema-rs, not to jsonschema or the warehouse)."""
    checker = validator()
    for version in checker.versions:
        event = copy.deepcopy(VALID_EVENT)
        set_at(event, path, value)
        event["schema_version"] = version
        full_ok = not any(True for _ in checker._full[version].iter_errors(event))
        fast_ok = checker._fast_valid(version, event)
        if fast_ok != full_ok:  # only where the timestamp check that follows rejects it anyway (leap seconds)
            assert fast_ok and list(timestamp_errors(event, None)), (version, path, value, fast_ok)


@PROPERTY_SETTINGS
@given(path=st.sampled_from(MEMBER_PATHS))
def test_any_member_deleted_is_a_schema_error_at_its_object(path):
    event = copy.deepcopy(VALID_EVENT)
    del _at(event, path[:-1])[path[-1]]
    result = validate(encode(event))
    assert_well_formed(result)
    assert not result.ok, f"{json_path(path)} is required"
    assert result.first_error.stage == "schema"
    assert result.first_error.path.startswith(json_path(path[:-1])), result.first_error


@PROPERTY_SETTINGS
@given(path=st.sampled_from(OBJECT_PATHS), key=CLEAN_TEXT, value=CLEAN_JSON_VALUES)
def test_any_member_added_is_a_schema_violation_at_its_object(path, key, value):
    event = copy.deepcopy(VALID_EVENT)
    target = _at(event, path)
    if key in target:
        key += "_extra"
    target[key] = value
    result = validate(encode(event))
    assert_well_formed(result)
    assert (result.first_error.stage, result.first_error.kind) == ("schema", "schema_violation")
    assert result.first_error.path.startswith(json_path(path)), result.first_error


@PROPERTY_SETTINGS
@given(
    local=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
    offset_minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
    field=st.sampled_from(TIMESTAMP_FIELDS),
)
@example(local=datetime(9999, 12, 31, 23), offset_minutes=-180, field=("event_time",))
@example(local=datetime(1, 1, 1, 1), offset_minutes=180, field=("order", "order_purchase_timestamp"))
@example(local=datetime(9999, 12, 31, 20, 59, 59), offset_minutes=-180, field=("items", 0, "shipping_limit_date"))
def test_a_real_instant_is_accepted_exactly_when_it_is_inside_years_0001_to_9999_in_utc(local, offset_minutes, field):
    sign = "+" if offset_minutes >= 0 else "-"
    text = f"{local.isoformat()}{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    event = copy.deepcopy(VALID_EVENT)
    set_at(event, field, text)
    result = validate(encode(event))
    assert_well_formed(result)
    try:
        local.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(timezone.utc)
    except OverflowError:
        assert (result.first_error.stage, result.first_error.kind, result.first_error.path) == (
            "schema",
            "timestamp_out_of_range",
            json_path(field),
        )
    else:
        assert result.ok, f"{text}: {result.first_error}"


@PROPERTY_SETTINGS
@given(
    local=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    field=st.sampled_from(TIMESTAMP_FIELDS),
    as_attribute=st.booleans(),
)
def test_a_leap_second_is_an_invalid_timestamp_wherever_it_is(local, field, as_attribute):
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}:60Z"
    event = copy.deepcopy(VALID_EVENT)
    attributes = attributes_of(event)
    if as_attribute:
        attributes["event_time"] = text
        where = "attributes.event_time"
    else:
        set_at(event, field, text)
        where = json_path(field)
    result = validate(encode(event), attributes if as_attribute else None)
    assert_well_formed(result)
    assert (result.first_error.stage, result.first_error.kind, result.first_error.path) == (
        "schema",
        "invalid_timestamp",
        where,
    )


# --- what the publisher sends ---------------------------------------------------------------------------------


def _with_integral_floats(event: dict) -> dict:
    floated = copy.deepcopy(event)
    floated["sequence"] = float(floated["sequence"])
    for collection, names in INTEGER_FIELDS.items():
        for line in floated[collection]:
            for name in names:
                line[name] = float(line[name])
    return floated


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    orders=st.integers(min_value=1, max_value=12),
    duplicate_ratio=st.sampled_from([0.0, 0.2]),
    reorder_ratio=st.sampled_from([0.0, 0.3]),
    history_days=st.sampled_from([0.0, 30.0]),
)
def test_what_the_publisher_sends_always_validates_also_with_integral_floats(
    seed, orders, duplicate_ratio, reorder_ratio, history_days
):
    stream = MessageStream(
        StreamSettings(
            seed=seed,
            orders=orders,
            start_time=datetime(2026, 3, 1, tzinfo=timezone.utc),
            history_days=history_days,
            duplicate_ratio=duplicate_ratio,
            reorder_ratio=reorder_ratio,
        )
    )
    for message in stream:
        result = validate(message.data, message.attributes)
        assert result.ok, f"{message.data[:300]!r}: {result.error_message()}"
        event = json.loads(message.data)
        floated = validate(json.dumps(_with_integral_floats(event)).encode(), message.attributes)
        assert floated.ok, floated.error_message()
        assert floated.event == event
        assert type(floated.event["sequence"]) is int
        assert all(
            type(line[name]) is int
            for collection, names in INTEGER_FIELDS.items()
            for line in floated.event[collection]
            for name in names
        )


# --- the hostile catalogue, case by case ------------------------------------------------------------------------


def test_the_hostile_catalogue_is_well_formed():
    assert len(HOSTILE_CASES) >= 150
    assert len({case.name for case in HOSTILE_CASES}) == len(HOSTILE_CASES)
    assert len({case.data for case in HOSTILE_CASES}) == len(HOSTILE_CASES), "bodies must differ, to match rows"
    covered = {(case.stage, case.kind) for case in HOSTILE_CASES}
    contract = {(stage, kind) for stage, kinds in CONTRACT_KINDS.items() if stage != SINK for kind in kinds}
    assert covered == contract
    owners: dict[tuple[str, str], str] = {}
    for case in HOSTILE_CASES:
        assert case.data or case.attributes, "the emulator refuses a message with neither data nor attributes"
        for name, value in case.attributes.items():
            assert len(value.encode("utf-8")) <= 1024, (case.name, name)  # raises on a lone surrogate too
        for key in ("event_id", "order_id"):
            for found in _ids(case.data, key):
                owner = owners.setdefault((key, found), case.name)
                assert owner == case.name, f"{case.name} reuses {key} {found!r} of {owner}: the cases would interact"


def _ids(data: bytes, key: str) -> set[str]:
    """Values of ``key`` anywhere in a body that parses (bodies that do not have no ids to share)."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return set()
    found, stack = set(), [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get(key), str):
                found.add(node[key])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


@pytest.mark.parametrize("case", HOSTILE_CASES, ids=lambda case: case.name)
def test_each_hostile_case_gets_its_catalogued_verdict(case: HostileCase):
    result = validate(case.data, case.attributes)
    assert_well_formed(result)
    assert not result.ok, f"accepted; expected {case.expected()}"
    error = result.first_error
    assert (error.stage, error.kind) == (case.stage, case.kind) and case.path_matches(error.path), (
        f"expected {case.expected()}, got {error.stage}/{error.kind} at {error.path}: {error.message[:300]}"
    )


@pytest.mark.parametrize("case", EDGE_VALID, ids=lambda case: case.name)
def test_each_edge_of_the_contract_is_accepted(case):
    result = validate(case.data, case.attributes)
    assert result.ok, result.error_message()
