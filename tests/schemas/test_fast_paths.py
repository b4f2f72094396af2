"""The validator's fast paths (issue 14) give exactly what the general paths they skip would give.

``parse_timestamp`` reads the canonical UTC form (``2026-01-01T00:00:30.358Z``) with ``datetime.fromisoformat``
before the general RFC 3339 parser; the money rule reads the decimals of a float's shortest text without building
a Decimal; a plain body (no escapes, no long numbers, no repeated key) is read by orjson instead of ``json.loads``
with the repeated-key hook. Each property compares the two on any input, so a fast path that ever disagrees fails here.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from publishers.stream import MessageStream, StreamSettings
from schemas.fast_json import loads_plain
from schemas.timestamps import TimestampError, parse_rfc3339, parse_timestamp
from schemas.validation import _over_two_decimals, _reject_constant, _unique_keys

PROPERTY_SETTINGS = settings(max_examples=1000, deadline=None)


def _outcome(parse, text):
    """What a parser makes of ``text``: the instant with its tzinfo, or the error's kind and message."""
    try:
        instant = parse(text)
    except TimestampError as error:
        return ("error", error.kind, str(error))
    assert isinstance(instant, datetime)
    return ("instant", instant, instant.tzinfo, instant.utcoffset())


def _digits(count: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from("0123456789"), min_size=count, max_size=count)


ZONES = st.sampled_from(
    ["Z", "z", "", "+00:00", "-00:00", "-03:00", "+14:00", "+23:59", "+24:00", "+03:60", " Z", "Z "]
)
#: Texts near the canonical form: any digits (month 13, Feb 30, second 60, year 0000), any separators, fraction
#: and zone, so that both sides of every check of the fast path are reached.
NEAR_CANONICAL = st.builds(
    lambda *parts: "".join(parts),
    _digits(4) | st.sampled_from(["0000", "0001", "2016", "2026", "9999"]),
    st.sampled_from(["-", "/", ""]),
    _digits(2) | st.sampled_from(["01", "02", "12", "13"]),
    st.just("-"),
    _digits(2) | st.sampled_from(["28", "29", "30", "31"]),
    st.sampled_from(["T", "t", " ", "_"]),
    _digits(2) | st.sampled_from(["00", "23", "24"]),
    st.just(":"),
    _digits(2),
    st.just(":"),
    _digits(2) | st.sampled_from(["59", "60", "61"]),
    st.sampled_from(["", "."]) | st.builds(lambda d: "." + d, st.text(st.sampled_from("0123456789"), max_size=11)),
    ZONES,
)


#: Real instants written the canonical way (any fraction length), in any zone, and with a T, t or space.
def _written(moment: datetime, separator: str, digits: int, zone: str) -> str:
    fraction = f".{moment.microsecond:06d}"[: digits + 1] if digits else ""
    return f"{moment.year:04d}-{moment:%m-%d}{separator}{moment:%H:%M:%S}{fraction}{zone}"


REAL_INSTANTS = st.builds(
    _written,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
    st.sampled_from(["T", "t", " "]),
    st.integers(0, 6),
    ZONES,
)


@PROPERTY_SETTINGS
@given(text=REAL_INSTANTS | NEAR_CANONICAL | st.text(max_size=40))
@example(text="2026-01-01T00:00:30.358Z")
@example(text="2026-02-30T10:00:00Z")
@example(text="2016-12-31T23:59:60Z")
@example(text="0000-01-01T00:00:00Z")
@example(text="9999-12-31T23:59:59.999999999Z")
@example(text="2026-01-01T24:00:00Z")
@example(text=" 2026-01-01T00:00:30Z")
@example(text="2026-01-01T00:00:30.Z")
def test_the_fast_timestamp_parse_equals_the_general_parse(text):
    assert _outcome(parse_timestamp, text) == _outcome(parse_rfc3339, text)


@given(value=st.none() | st.integers() | st.floats() | st.binary(max_size=8))
def test_a_timestamp_that_is_not_text_is_refused_alike(value):
    assert _outcome(parse_timestamp, value) == _outcome(parse_rfc3339, value)


def _general_over_two_decimals(amount: float):
    try:
        return Decimal(repr(amount)).as_tuple().exponent < -2
    except TypeError as error:  # inf and nan: the exponent is a letter
        return type(error)


def _fast_over_two_decimals(amount: float):
    try:
        return _over_two_decimals(amount)
    except TypeError as error:
        return type(error)


@PROPERTY_SETTINGS
@given(
    amount=st.floats()
    | st.builds(lambda cents, scale: cents / scale, st.integers(-(10**9), 10**9), st.sampled_from([1, 10, 100, 1000]))
)
@example(amount=1e-05)
@example(amount=1.5e16)
@example(amount=12.34)
@example(amount=0.30000000000000004)
def test_the_fast_decimal_count_equals_decimals_exponent(amount):
    assert _fast_over_two_decimals(amount) == _general_over_two_decimals(amount)


# --- orjson's read of plain bodies (schemas.fast_json) ------------------------------------------------------------


def _general_loads(text: str):
    try:
        return ("value", json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys))
    except (ValueError, RecursionError) as error:
        return ("error", type(error))


def _same(left, right) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True and 0.0 == -0.0 for ==; not here)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return (left == right and math.copysign(1, left) == math.copysign(1, right)) or (
            left != left and right != right
        )
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return left == right


NUMBER_TEXT = st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][-+]?[0-9]{1,3})?", fullmatch=True) | (
    st.from_regex(r"[-+]?[0-9]{0,3}\.?[0-9]{0,3}([eE][-+]?[0-9]{0,3})?", fullmatch=True)
)
KEY_TEXT = st.sampled_from(["a", "b", "order_id", "é", "\x7f", "", '"']) | st.text(max_size=4)
SPACE = st.sampled_from(["", " ", "\n", "\t", "\r", "\x0b", "\x0c", "\u00a0"])


def _json_texts(leaf):
    """JSON-like texts written member by member, so that keys may repeat and numbers be written any way."""

    def _object(pairs):
        return "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"

    return st.recursive(
        leaf,
        lambda inner: (
            st.lists(inner, max_size=4).map(lambda values: "[" + ",".join(values) + "]")
            | st.lists(st.tuples(KEY_TEXT.flatmap(_written_string), inner), max_size=4).map(_object)
        ),
        max_leaves=12,
    )


def _escaped(text: str) -> str:
    return '"' + "".join(f"\\u{ord(character):04x}" for character in text) + '"'


def _written_string(text: str) -> st.SearchStrategy[str]:
    """A string as JSON text: raw, with the usual escapes, or every character escaped."""
    return st.sampled_from([json.dumps(text, ensure_ascii=False), json.dumps(text), _escaped(text)])


LEAF_TEXT = (
    NUMBER_TEXT
    | st.sampled_from(["null", "true", "false", "NaN", "Infinity", "-Infinity", "1e400", "-0", "-0.0", '"\\u00e9"'])
    | st.text(max_size=6).flatmap(_written_string)
    | st.sampled_from(['"\\u0022"', '"\\u0022\\u0022"', '"\\""', '"\\\\"', '"x:y"'])
    | st.integers().map(str)
    | st.floats().map(repr)
)
JSON_TEXTS = st.builds(lambda before, body, after: before + body + after, SPACE, _json_texts(LEAF_TEXT), SPACE)


@PROPERTY_SETTINGS
@given(text=JSON_TEXTS | st.text(max_size=30))
@example(text='{"a":1,"a":1}')
@example(text='{"a":{"b":"x:y","b":"x:y"}}')
@example(text='{"a":0,"a":"\\u0022\\u0022"}')
@example(text="18446744073709551616")
@example(text="-9223372036854775809")
@example(text="[" * 300 + "]" * 300)
@example(text='"\\ud800"')
@example(text="\ufeff{}")
def test_orjson_read_of_a_plain_body_is_the_standard_parse(text):
    fast, value = loads_plain(text.encode("utf-8", "surrogatepass"))
    if fast:
        general = _general_loads(text)
        assert general[0] == "value" and _same(value, general[1]), (value, general)


def test_orjson_reads_what_the_publisher_sends():
    for message in MessageStream(
        StreamSettings(seed=3, orders=50, start_time=datetime(2026, 1, 1, tzinfo=timezone.utc))
    ):
        text = message.data.decode("utf-8")
        fast, value = loads_plain(text.encode("utf-8", "surrogatepass"))
        assert fast and _same(value, _general_loads(text)[1])
