"""Hostile messages: a catalogue of bodies (and attributes) that must each become exactly one dead letter.

Every case is a valid order snapshot (tests/sample_events.py) broken in one way, and carries the error_stage,
error_kind and error_path the error contract gives for that way (issue 9: the pipeline must not be killable by its
input). Each case has its own order_id and event_id (``hostile-NNN``) where it has any, so no two cases interact
and none touches a good order. Beside them: ``EDGE_VALID``, messages at the contract's edges that must be
accepted, and ``sequence_conflict``, two snapshots of one order that only the sink can tell apart.

Bodies are written by a small JSON writer rather than ``json.dumps`` alone, because some hostile bodies are
not expressible as Python values: an object that repeats a key, a number literal like ``1e400``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sample_events import snapshot

from publishers.stream import attributes_of
from schemas import LATEST_SCHEMA_VERSION

MIB = 1 << 20
#: Bodies up to this size are accepted; one byte more is ``too_large``.
MAX_BODY_BYTES = MIB
#: Containers may nest this deep (a valid event nests 3: event -> items -> item).
MAX_NESTING = 16

PARSE, SCHEMA, BUSINESS_RULE, SINK = "parse", "schema", "business_rule", "sink"
#: Every (stage, kind) of the error contract, internal_error aside (nothing can provoke it on purpose).
CONTRACT_KINDS = {
    PARSE: {"too_large", "invalid_encoding", "empty_body", "invalid_json", "too_deep", "duplicate_key", "invalid_text"},
    SCHEMA: {
        "not_an_object",
        "unsupported_schema_version",
        "schema_violation",
        "invalid_timestamp",
        "timestamp_out_of_range",
    },
    BUSINESS_RULE: {
        "item_numbering",
        "payment_numbering",
        "money_precision",
        "customer_mismatch",
        "attribute_mismatch",
    },
    SINK: {"sequence_conflict"},
}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class HostileCase:
    """One bad message and the dead letter it must become."""

    name: str
    data: bytes
    attributes: dict[str, str]
    stage: str
    kind: str
    path: str
    #: The contract fixes where error_path starts, not where it ends (a missing member is reported at its parent
    #: or at itself; a too-deep body at ``$`` or deeper; a bad key at its object).
    path_is_prefix: bool = False
    #: The verdict comes from the attributes, or the body cannot travel without them: not for a JSONL backfill.
    needs_attributes: bool = False

    def path_matches(self, path: str | None) -> bool:
        if path is None:
            return False
        return path.startswith(self.path) if self.path_is_prefix else path == self.path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def fits_one_line(self) -> bool:
        """Whether the body can be one line of a JSONL file as it is."""
        return not self.needs_attributes and b"\n" not in self.data and b"\r" not in self.data

    def expected(self) -> str:
        return f"{self.stage}/{self.kind} at {self.path}{'...' if self.path_is_prefix else ''}"


@dataclass(frozen=True)
class AcceptedCase:
    """A message at an edge of the contract that must be accepted like any valid snapshot."""

    name: str
    data: bytes
    attributes: dict[str, str]


# --- writing bodies -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text spliced into a body verbatim: ``Raw("1e400")``, ``Raw("NaN")``, ``Raw("[" * 5000 + ...)``."""

    text: str


@dataclass(frozen=True)
class Members:
    """A JSON object as a list of members, so that it may repeat a key."""

    pairs: tuple[tuple[str, Any], ...]


def json_text(value: Any) -> str:
    """Compact JSON, ASCII only (lone surrogates and control characters become \\u escapes, as a producer's
    ``json.dumps`` writes them), with ``Raw`` and ``Members`` written as they are."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Members):
        return "{" + ",".join(f"{json.dumps(key)}:{json_text(member)}" for key, member in value.pairs) + "}"
    if isinstance(value, dict):
        return json_text(Members(tuple(value.items())))
    if isinstance(value, list):
        return "[" + ",".join(json_text(element) for element in value) + "]"
    return json.dumps(value)  # allow_nan: a float NaN is written NaN, on purpose


def encode(value: Any) -> bytes:
    return json_text(value).encode("utf-8")


def json_path(path: Path) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def _parent(event: Any, path: Path) -> Any:
    for part in path[:-1]:
        event = event[part]
    return event


def set_at(event: dict, path: Path, value: Any) -> None:
    _parent(event, path)[path[-1]] = value


def delete_at(event: dict, path: Path) -> None:
    del _parent(event, path)[path[-1]]


def repeat_key(event: dict, path: Path, second_value: Any) -> Members | None:
    """Make the object holding ``path`` repeat that key (``second_value`` right after the original member).
    Returns the event itself as ``Members`` when the repeated key is top-level, else changes it in place."""
    pairs: list[tuple[str, Any]] = []
    for name, value in _parent(event, path).items():
        pairs.append((name, value))
        if name == path[-1]:
            pairs.append((name, second_value))
    members = Members(tuple(pairs))
    if len(path) == 1:
        return members
    set_at(event, path[:-1], members)
    return None


# --- the valid snapshot every case starts from ----------------------------------------------------------------

ORDER_TIMESTAMPS = (
    "order_purchase_timestamp",
    "order_approved_at",
    "order_delivered_carrier_date",
    "order_delivered_customer_date",
    "order_estimated_delivery_date",
)
#: Every timestamp of the base event (all non-null: it is delivered), items[1] to check the index in the path.
TIMESTAMP_FIELDS: tuple[Path, ...] = (
    ("event_time",),
    *(("order", name) for name in ORDER_TIMESTAMPS),
    ("items", 0, "shipping_limit_date"),
    ("items", 1, "shipping_limit_date"),
)
#: Every string field of the base event.
STRING_FIELDS: tuple[Path, ...] = (
    ("event_id",),
    ("event_type",),
    ("event_time",),
    ("order", "order_id"),
    ("order", "customer_id"),
    ("order", "order_status"),
    *(("order", name) for name in ORDER_TIMESTAMPS),
    ("customer", "customer_id"),
    ("customer", "customer_unique_id"),
    ("customer", "customer_zip_code_prefix"),
    ("customer", "customer_city"),
    ("customer", "customer_state"),
    ("items", 0, "product_id"),
    ("items", 0, "seller_id"),
    ("items", 0, "shipping_limit_date"),
    ("payments", 0, "payment_type"),
)


def base_event(order_id: str, sequence: int = 1) -> dict[str, Any]:
    """A delivered order with every timestamp set, two items and two payments, all its ids derived from
    ``order_id``: valid, and breakable in one place at a time."""
    event = json.loads(
        snapshot(
            order_id,
            sequence,
            status="delivered",
            items=2,
            order_delivered_carrier_date="2026-11-22T09:30:00-03:00",
            order_delivered_customer_date="2026-11-24T15:10:00Z",
        )
    )
    event["event_type"] = "order_delivered"
    event["event_time"] = "2026-11-24T15:10:00.250Z"
    event["order"]["customer_id"] = event["customer"]["customer_id"] = f"{order_id}-customer"
    event["customer"]["customer_unique_id"] = f"{order_id}-person"
    event["items"][1]["shipping_limit_date"] = "2026-11-23T12:00:00-03:00"
    event["payments"] = [
        {"payment_sequential": 1, "payment_type": "voucher", "payment_installments": 1, "payment_value": 5.0},
        {"payment_sequential": 2, "payment_type": "credit_card", "payment_installments": 3, "payment_value": 20.5},
    ]
    return event


# --- the catalogue ----------------------------------------------------------------------------------------------


class _Catalogue:
    """Numbers the cases (hostile-001, ...) as they are added; each gets a fresh base event."""

    def __init__(self) -> None:
        self.cases: list[HostileCase] = []

    def next_order_id(self) -> str:
        return f"hostile-{len(self.cases) + 1:03d}"

    def add(
        self,
        name: str,
        data: bytes,
        stage: str,
        kind: str,
        path: str = "$",
        *,
        attributes: dict[str, str] | None = None,
        prefix: bool = False,
        needs_attributes: bool = False,
    ) -> None:
        self.cases.append(
            HostileCase(
                name=f"{len(self.cases) + 1:03d}-{name}",
                data=data,
                attributes=dict(attributes or {}),
                stage=stage,
                kind=kind,
                path=path,
                path_is_prefix=prefix,
                needs_attributes=needs_attributes,
            )
        )

    def mutated(
        self,
        name: str,
        mutate: Callable[[dict[str, Any]], Any],
        stage: str,
        kind: str,
        path: str,
        *,
        prefix: bool = False,
        with_attributes: bool = True,
    ) -> None:
        """A case made by ``mutate`` on a fresh base event, sent with the base event's (valid) attributes. When
        ``mutate`` returns something, that is the body instead of the event (e.g. ``Members``)."""
        event = base_event(self.next_order_id())
        attributes = attributes_of(event) if with_attributes else {}
        replacement = mutate(event)
        body = encode(event if replacement is None else replacement)
        self.add(name, body, stage, kind, path, attributes=attributes, prefix=prefix)

    def field(
        self, name: str, path: Path, value: Any, stage: str, kind: str, where: str | None = None, **options: Any
    ) -> None:
        """The field at ``path`` set to ``value``; the error is expected at that field, or ``where``."""
        self.mutated(name, lambda event: set_at(event, path, value), stage, kind, where or json_path(path), **options)

    def raw_bytes(self, name: str, path: Path, raw: bytes, stage: str, kind: str, where: str = "$") -> None:
        """The string at ``path`` replaced by ``raw`` bytes spliced into the body (not expressible as text)."""
        marker = "@@RAW-BYTES@@"
        event = base_event(self.next_order_id())
        attributes = attributes_of(event)
        set_at(event, path, marker)
        data = encode(event).replace(marker.encode(), raw)
        self.add(name, data, stage, kind, where, attributes=attributes)

    def text(self, name: str, transform: Callable[[str], str | bytes], stage: str, kind: str) -> None:
        """The base event's JSON text transformed as a whole (truncated, re-quoted, ...)."""
        event = base_event(self.next_order_id())
        original = json_text(event)
        result = transform(original)
        data = result if isinstance(result, bytes) else result.encode("utf-8")
        assert data != original.encode(), f"{name}: the transformation changed nothing"
        self.add(name, data, stage, kind, "$", attributes=attributes_of(event))


def _dotted(path: Path) -> str:
    return json_path(path).removeprefix("$.")


BAD_TIMESTAMPS: dict[str, tuple[str, str]] = {
    "leap_second": ("2016-12-31T23:59:60Z", "invalid_timestamp"),
    "february_30": ("2026-02-30T10:00:00Z", "invalid_timestamp"),
    "hour_24": ("2026-11-21T24:00:00Z", "invalid_timestamp"),
    "offset_24_hours": ("2026-11-21T10:00:00+24:00", "invalid_timestamp"),
    "after_9999_in_utc": ("9999-12-31T23:00:00-03:00", "timestamp_out_of_range"),
    "before_0001_in_utc": ("0001-01-01T01:00:00+03:00", "timestamp_out_of_range"),
}
#: More instants that pass the RFC 3339 pattern but cannot be stored, on event_time only.
MORE_BAD_TIMESTAMPS: dict[str, tuple[str, str]] = {
    "month_13": ("2026-13-01T10:00:00Z", "invalid_timestamp"),
    "day_00": ("2026-11-00T10:00:00Z", "invalid_timestamp"),
    "february_29_of_2025": ("2025-02-29T10:00:00Z", "invalid_timestamp"),
    "minute_60": ("2026-11-21T10:60:00Z", "invalid_timestamp"),
    "offset_minutes_60": ("2026-11-21T10:00:00+03:60", "invalid_timestamp"),
    "leap_second_lowercase_with_fraction": ("2016-12-31t23:59:60.5z", "invalid_timestamp"),
    "one_minute_before_0001_in_utc": ("0001-01-01T00:00:00+00:01", "timestamp_out_of_range"),
}
#: Text that does not even look like an RFC 3339 timestamp: a plain schema violation.
NOT_TIMESTAMPS: dict[str, Any] = {
    "day_first": "21/11/2026 23:54",
    "date_only": "2026-11-21",
    "no_offset": "2026-11-21T10:00:00",
    "offset_without_colon": "2026-11-21T10:00:00+0300",
    "no_seconds": "2026-11-21T10:00Z",
    "ten_fraction_digits": "2026-11-21T10:00:00.1234567890Z",
    "five_digit_year": "10000-01-01T00:00:00Z",
    "empty": "",
    "epoch_number": 1700000000,
}
#: Characters no stored text may hold, escaped as a producer's json.dumps writes them: the short escapes \t \n \r
#: \b \f for five C0 controls, \u00XX for the others and for lone surrogates.
BAD_CHARACTERS = {
    "nul": "\u0000",
    "control_01": "\u0001",
    "bell": "\u0007",
    "tab": "\t",
    "newline_escaped": "\n",
    "carriage_return_escaped": "\r",
    "backspace_escaped": "\b",
    "form_feed_escaped": "\f",
    "control_1f": "\u001f",
    "lone_low_surrogate": "\udc00",
    "reversed_surrogate_pair": "\udc00\ud800",
}


def _too_large_cases(c: _Catalogue) -> None:
    event = base_event(c.next_order_id())
    body = encode(event)
    c.add(
        "too_large:valid_event_padded_to_1MiB_plus_1",
        body + b" " * (MAX_BODY_BYTES + 1 - len(body)),
        PARSE,
        "too_large",
        attributes=attributes_of(event),
    )
    c.field("too_large:3MiB_customer_city", ("customer", "customer_city"), "x" * (3 * MIB), PARSE, "too_large", "$")
    c.add("too_large:1MiB_plus_1_of_non_json", b"x" * (MAX_BODY_BYTES + 1), PARSE, "too_large")


def _encoding_cases(c: _Catalogue) -> None:
    city = ("customer", "customer_city")
    c.text(
        "invalid_encoding:utf16_with_bom",
        lambda text: b"\xff\xfe" + text.encode("utf-16-le"),
        PARSE,
        "invalid_encoding",
    )
    for name, raw in {
        "latin1_city": "São Paulo".encode("latin-1"),
        "overlong_slash": b"sao\xc0\xafpaulo",
        "cesu_surrogate_bytes": b"sao\xed\xa0\x80paulo",
        "lone_continuation_byte": b"sao\x80paulo",
        "code_point_above_10ffff": b"sao\xf4\x90\x80\x80paulo",
        "five_byte_sequence": b"sao\xf8\x88\x80\x80\x80paulo",
    }.items():
        c.raw_bytes(f"invalid_encoding:{name}", city, b'"' + raw + b'"', PARSE, "invalid_encoding")
    c.text("invalid_encoding:cut_multibyte_at_end", lambda text: text.encode() + b"\xc3", PARSE, "invalid_encoding")


def _empty_body_cases(c: _Catalogue) -> None:
    event = base_event(c.next_order_id())
    c.add(
        "empty_body:with_attributes", b"", PARSE, "empty_body", attributes=attributes_of(event), needs_attributes=True
    )


def _invalid_json_cases(c: _Catalogue) -> None:
    for name, transform in {
        "truncated": lambda text: text[: len(text) // 2],
        "trailing_comma": lambda text: text[:-1] + ",}",
        "single_quotes": lambda text: text.replace('"', "'"),
        "unquoted_key": lambda text: text.replace('"event_type"', "event_type"),
        "text_after_the_object": lambda text: text + " and more",
        "two_objects": lambda text: text + text,
        "comment": lambda text: "/* order */" + text,
        "raw_nul_in_string": lambda text: text.encode().replace(b"sao paulo", b"sao\x00paulo"),
        "raw_control_character_in_string": lambda text: text.encode().replace(b"sao paulo", b"sao\x01paulo"),
    }.items():
        c.text(f"invalid_json:{name}", transform, PARSE, "invalid_json")
    c.add("invalid_json:lone_brace", b"{", PARSE, "invalid_json")
    c.add("invalid_json:nan_body", b"NaN", PARSE, "invalid_json")
    for name, path, literal in (
        ("nan_price", ("items", 0, "price"), "NaN"),
        ("infinity_sequence", ("sequence",), "Infinity"),
        ("minus_infinity_payment_value", ("payments", 0, "payment_value"), "-Infinity"),
        ("hex_sequence", ("sequence",), "0x10"),
        ("leading_zero_sequence", ("sequence",), "01"),
        ("plus_sign_sequence", ("sequence",), "+1"),
        ("bare_fraction_price", ("items", 0, "price"), ".5"),
        ("bad_escape_in_city", ("customer", "customer_city"), '"sao\\xpaulo"'),
        ("short_unicode_escape_in_city", ("customer", "customer_city"), '"sao\\u12"'),
        # Longer than Python's 4,300-digit limit for int(): not readable as a number at all.
        ("5001_digit_sequence", ("sequence",), "1" + "0" * 5000),
    ):
        c.field(f"invalid_json:{name}", path, Raw(literal), PARSE, "invalid_json", "$")


def _too_deep_cases(c: _Catalogue) -> None:
    deep = 5000
    c.add("too_deep:unclosed_objects_x5000", b'{"a":' * deep, PARSE, "too_deep", prefix=True)
    c.add("too_deep:closed_objects_x5000", b'{"a":' * deep + b"1" + b"}" * deep, PARSE, "too_deep", prefix=True)
    c.add("too_deep:arrays_x5000", b"[" * deep + b"]" * deep, PARSE, "too_deep", prefix=True)
    c.add(
        "too_deep:arrays_and_objects_x5000",
        b'[{"a":' * (deep // 2) + b"1" + b"}]" * (deep // 2),
        PARSE,
        "too_deep",
        prefix=True,
    )
    c.add(
        f"too_deep:arrays_x{MAX_NESTING + 1}",
        b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1),
        PARSE,
        "too_deep",
        prefix=True,
    )
    # Nested inside a valid event: reported at "$" or anywhere deeper.
    c.field(
        "too_deep:order_id_holds_objects_x5000",
        ("order", "order_id"),
        Raw('{"a":' * deep + "1" + "}" * deep),
        PARSE,
        "too_deep",
        "$",
        prefix=True,
    )
    c.field(
        "too_deep:order_id_holds_arrays_x5000",
        ("order", "order_id"),
        Raw("[" * deep + "]" * deep),
        PARSE,
        "too_deep",
        "$",
        prefix=True,
    )
    c.field(
        "too_deep:extra_member_holds_arrays_x40",
        ("note",),
        Raw("[" * 40 + "]" * 40),
        PARSE,
        "too_deep",
        "$",
        prefix=True,
    )


def _duplicate_key_cases(c: _Catalogue) -> None:
    for name, path, second in (
        ("sequence_twice", ("sequence",), 2),
        ("event_id_twice_same_value", ("event_id",), None),
        ("order_object_twice", ("order",), None),
        ("order_id_twice", ("order", "order_id"), "other-order"),
        ("order_status_twice_same_value", ("order", "order_status"), None),
        ("customer_city_twice", ("customer", "customer_city"), "rio de janeiro"),
        ("items0_price_twice", ("items", 0, "price"), 99.0),
        ("items1_order_item_id_twice", ("items", 1, "order_item_id"), 3),
        ("payments0_payment_value_twice", ("payments", 0, "payment_value"), 1.0),
    ):

        def mutate(event: dict, path: Path = path, second: Any = second) -> Members | None:
            value = _parent(event, path)[path[-1]]
            if second == "other-order":
                second = f"{value}-again"
            return repeat_key(event, path, copy.deepcopy(value) if second is None else second)

        c.mutated(f"duplicate_key:{name}", mutate, PARSE, "duplicate_key", json_path(path))
    c.field(
        "duplicate_key:inside_an_extra_member",
        ("note",),
        Members((("k", 1), ("k", 1))),
        PARSE,
        "duplicate_key",
        "$.note.k",
    )


def _invalid_text_cases(c: _Catalogue) -> None:
    for path in STRING_FIELDS:

        def mutate(event: dict, path: Path = path) -> None:
            set_at(event, path, _parent(event, path)[path[-1]] + "\ud800")

        c.mutated(f"invalid_text:{_dotted(path)}:lone_surrogate", mutate, PARSE, "invalid_text", json_path(path))
    city = ("customer", "customer_city")
    for name, character in BAD_CHARACTERS.items():
        c.field(f"invalid_text:customer_city:{name}", city, f"sao{character}paulo", PARSE, "invalid_text")
    c.field(
        "invalid_text:customer_unique_id:nul", ("customer", "customer_unique_id"), "u\u0000nique", PARSE, "invalid_text"
    )
    c.field("invalid_text:product_id:bell", ("items", 1, "product_id"), "p\u00071", PARSE, "invalid_text")

    def surrogate_event_id(event: dict) -> None:
        event["event_id"] += "\ud800"

    c.mutated(
        "invalid_text:event_id:lone_surrogate_without_attributes",
        surrogate_event_id,
        PARSE,
        "invalid_text",
        "$.event_id",
        with_attributes=False,
    )
    c.field("invalid_text:extra_member", ("note",), "\ud800", PARSE, "invalid_text")
    c.field(
        "invalid_text:inside_nested_extra_member",
        ("note",),
        [["fine", "nul\u0000"]],
        PARSE,
        "invalid_text",
        "$.note[0][1]",
    )
    for name, parent, key in (
        ("order_key_lone_surrogate", ("order",), "\ud800"),
        ("customer_key_with_nul", ("customer",), "customer_city\u0000"),
        ("item_key_control_01", ("items", 0), "\u0001"),
        ("event_key_lone_surrogate", (), "note\udfff"),
    ):

        def add_key(event: dict, parent: Path = parent, key: str = key) -> None:
            (_parent(event, (*parent, key)) if parent else event)[key] = "x"

        c.mutated(f"invalid_text:{name}", add_key, PARSE, "invalid_text", json_path(parent), prefix=True)


def _not_an_object_cases(c: _Catalogue) -> None:
    for name, body in (
        ("empty_array", b"[]"),
        ("string", b'"order"'),
        ("number", b"42"),
        ("null", b"null"),
        ("true", b"true"),
        (f"arrays_x{MAX_NESTING}", b"[" * MAX_NESTING + b"]" * MAX_NESTING),
    ):
        c.add(f"not_an_object:{name}", body, SCHEMA, "not_an_object")
    event = base_event(c.next_order_id())
    c.add(
        "not_an_object:event_in_an_array",
        b"[" + encode(event) + b"]",
        SCHEMA,
        "not_an_object",
        attributes=attributes_of(event),
    )


def _schema_version_cases(c: _Catalogue) -> None:
    for name, value in (
        ("next", LATEST_SCHEMA_VERSION + 1),
        ("string_1", "1"),
        ("true", True),
        ("0", 0),
        ("null", None),
        ("1.5", 1.5),
        ("huge", 10**30),
    ):
        c.field(f"unsupported_schema_version:{name}", ("schema_version",), value, SCHEMA, "unsupported_schema_version")


def _schema_violation_cases(c: _Catalogue) -> None:
    violation = (SCHEMA, "schema_violation")
    beyond_int64 = 2**63
    wrong_values: dict[Path, dict[str, Any]] = {
        ("event_id",): {"number": 7, "empty": "", "space": "has space", "129_chars": "e" * 129, "null": None},
        ("event_type",): {"unknown": "order_teleported", "number": 5, "null": None, "upper_case": "ORDER_CREATED"},
        ("sequence",): {
            "string": "3",
            "zero": 0,
            "negative": -1,
            "fraction": 1.5,
            "true": True,
            "null": None,
            "int64_max_plus_1": beyond_int64,
            "10e30": 10**30,
            "int64_min_minus_1": -(2**63) - 1,
            "array": [1],
            "object": {"n": 1},
        },
        ("order",): {"string": "x", "null": None, "array": []},
        ("order", "order_id"): {"number": 123, "empty": "", "space": "a b", "null": None, "129_chars": "o" * 129},
        ("order", "customer_id"): {"number": 7},
        ("order", "order_status"): {"unknown": "lost", "null": None, "capitalised": "Delivered"},
        ("order", "order_purchase_timestamp"): {"null": None},
        ("order", "order_estimated_delivery_date"): {"date_only": "2026-12-01"},
        ("order", "order_approved_at"): {"word": "yesterday"},
        ("customer",): {"array": []},
        ("customer", "customer_zip_code_prefix"): {
            "number": 1310,
            "4_digits": "1310",
            "6_digits": "013100",
            "letters": "ABCDE",
        },
        ("customer", "customer_state"): {"unknown": "XX", "lower_case": "sp"},
        ("customer", "customer_city"): {"empty": "", "101_chars": "c" * 101, "number": 42, "null": None},
        ("customer", "customer_unique_id"): {"empty": "", "space": "a b"},
        ("items",): {"string": "x", "object": {}},
        ("items", 0): {"string": "x"},
        ("items", 0, "order_item_id"): {
            "string": "1",
            "fraction": 1.5,
            "true": True,
            "10e30": 10**30,
            "int64_max_plus_1": beyond_int64,
            "null": None,
        },
        ("items", 0, "product_id"): {"number": 5, "empty": ""},
        ("items", 0, "seller_id"): {"null": None},
        ("items", 0, "shipping_limit_date"): {"number": 20261121},
        ("items", 0, "price"): {
            "negative": -0.01,
            "string": "10.50",
            "true": True,
            "null": None,
            "over_maximum": 1000000.01,
            "1e400": Raw("1e400"),
        },
        ("items", 1, "freight_value"): {"negative": -1, "false": False},
        ("payments",): {"null": None},
        ("payments", 0, "payment_sequential"): {
            "string": "1",
            "fraction": 1.5,
            "true": True,
            "int64_max_plus_1": beyond_int64,
            "null": None,
        },
        ("payments", 0, "payment_type"): {"unknown": "pix", "null": None},
        ("payments", 1, "payment_installments"): {
            "25": 25,
            "negative": -1,
            "fraction": 1.5,
            "string": "3",
            "true": True,
            "1e400": Raw("1e400"),
            "int64_max_plus_1": beyond_int64,
        },
        ("payments", 0, "payment_value"): {"negative": -5, "1e400": Raw("1e400"), "true": True, "string": "25.5"},
    }
    for path, values in wrong_values.items():
        for name, value in values.items():
            c.field(f"schema_violation:{_dotted(path)}:{name}", path, value, *violation)
    for name, value in NOT_TIMESTAMPS.items():
        c.field(f"schema_violation:event_time:{name}", ("event_time",), value, *violation)
    c.field("schema_violation:event_time:null", ("event_time",), None, *violation)

    def hundred_and_one_items(event: dict) -> None:
        event["items"] = [dict(event["items"][0], order_item_id=n) for n in range(1, 102)]

    c.mutated("schema_violation:items:101_items", hundred_and_one_items, *violation, "$.items")
    for parent, member in (
        ((), "payments"),
        (("order",), "order_status"),
        (("items", 0), "price"),
        (("customer",), "customer_city"),
    ):
        c.mutated(
            f"schema_violation:missing:{_dotted((*parent, member))}",
            lambda event, path=(*parent, member): delete_at(event, path),
            *violation,
            json_path(parent),
            prefix=True,
        )
    for parent in ((), ("order",), ("customer",), ("items", 1), ("payments", 0)):
        c.mutated(
            f"schema_violation:extra_member:{_dotted(parent) or 'event'}",
            lambda event, parent=parent: set_at(event, (*parent, "order_channel"), "app"),
            *violation,
            json_path(parent),
            prefix=True,
        )


def _timestamp_cases(c: _Catalogue) -> None:
    for path in TIMESTAMP_FIELDS:
        for name, (text, kind) in BAD_TIMESTAMPS.items():
            c.field(f"{kind}:{_dotted(path)}:{name}", path, text, SCHEMA, kind)
    for name, (text, kind) in MORE_BAD_TIMESTAMPS.items():
        c.field(f"{kind}:event_time:{name}", ("event_time",), text, SCHEMA, kind)
    c.field(
        "timestamp_out_of_range:order_purchase_timestamp:one_microsecond_before_0001",
        ("order", "order_purchase_timestamp"),
        "0001-01-01T00:00:00.999999+00:01",
        SCHEMA,
        "timestamp_out_of_range",
    )
    for name, (text, kind) in BAD_TIMESTAMPS.items():
        event = base_event(c.next_order_id())
        c.add(
            f"{kind}:attributes.event_time:{name}",
            encode(event),
            SCHEMA,
            kind,
            "attributes.event_time",
            attributes={**attributes_of(event), "event_time": text},
            needs_attributes=True,
        )


def _business_rule_cases(c: _Catalogue) -> None:
    def numbered(collection: str, key: str, numbers: list[int]) -> Callable[[dict], None]:
        def mutate(event: dict) -> None:
            template = event[collection][0]
            event[collection] = [dict(template, **{key: number}) for number in numbers]

        return mutate

    for numbers in ([1, 1], [2], [1, 3], [2, 3]):
        c.mutated(
            f"item_numbering:{numbers}",
            numbered("items", "order_item_id", numbers),
            BUSINESS_RULE,
            "item_numbering",
            "$.items",
            prefix=True,
        )
    # Gaps in payment_sequential are real Olist data (accepted); repeats are not (non-positive numbers are
    # schema violations: the schema says minimum 1).
    c.mutated(
        "payment_numbering:[0]",
        numbered("payments", "payment_sequential", [0]),
        SCHEMA,
        "schema_violation",
        "$.payments[0].payment_sequential",
    )
    for numbers in ([1, 1], [2, 2]):
        c.mutated(
            f"payment_numbering:{numbers}",
            numbered("payments", "payment_sequential", numbers),
            BUSINESS_RULE,
            "payment_numbering",
            "$.payments",
            prefix=True,
        )
    for path, value in (
        (("items", 0, "price"), 10.123),
        (("items", 1, "freight_value"), 0.001),
        (("payments", 0, "payment_value"), 5.555),
        (("payments", 1, "payment_value"), 20.505),
        (("items", 0, "price"), Raw("1e-7")),
    ):
        c.field(f"money_precision:{_dotted(path)}:{json_text(value)}", path, value, BUSINESS_RULE, "money_precision")

    def other_customer(event: dict) -> None:
        event["customer"]["customer_id"] += "-other"

    c.mutated("customer_mismatch", other_customer, BUSINESS_RULE, "customer_mismatch", "$.customer.customer_id")
    for name, value in (
        ("event_id", "another-event"),
        ("event_type", "order_created"),
        ("schema_version", "2"),
        ("event_time", "2026-11-24T15:10:01.250Z"),
    ):
        event = base_event(c.next_order_id())
        c.add(
            f"attribute_mismatch:{name}",
            encode(event),
            BUSINESS_RULE,
            "attribute_mismatch",
            f"attributes.{name}",
            attributes={**attributes_of(event), name: value},
            needs_attributes=True,
        )


def build_catalogue() -> list[HostileCase]:
    catalogue = _Catalogue()
    for add_cases in (
        _too_large_cases,
        _encoding_cases,
        _empty_body_cases,
        _invalid_json_cases,
        _too_deep_cases,
        _duplicate_key_cases,
        _invalid_text_cases,
        _not_an_object_cases,
        _schema_version_cases,
        _schema_violation_cases,
        _timestamp_cases,
        _business_rule_cases,
    ):
        add_cases(catalogue)
    return catalogue.cases


HOSTILE_CASES: tuple[HostileCase, ...] = tuple(build_catalogue())


# --- the accepting side of the same edges ---------------------------------------------------------------------


def _edge_valid_cases() -> list[AcceptedCase]:
    cases: list[AcceptedCase] = []

    def add(
        name: str,
        change: Callable[[dict], bytes | None],
        attributes: Callable[[dict], dict[str, str]] = attributes_of,
    ) -> None:
        event = base_event(f"edge-{len(cases) + 1:02d}")
        valid_attributes = attributes(event)  # from the event before the change: what a producer would send
        data = change(event) or encode(event)
        cases.append(AcceptedCase(name, data, valid_attributes))

    def padded_to_the_limit(event: dict) -> bytes:
        body = encode(event)
        return body + b" " * (MAX_BODY_BYTES - len(body))

    def integral_floats(event: dict) -> None:
        event["sequence"] = 2.0
        for item in event["items"]:
            item["order_item_id"] = float(item["order_item_id"])
        for payment in event["payments"]:
            payment["payment_sequential"] = float(payment["payment_sequential"])
            payment["payment_installments"] = float(payment["payment_installments"])

    def portuguese_text_as_utf8(event: dict) -> bytes:
        event["customer"]["customer_city"] = "são joão del-rei"
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def hundred_items_and_payments(event: dict) -> None:
        event["items"] = [dict(event["items"][0], order_item_id=n) for n in range(1, 101)]
        event["payments"] = [dict(event["payments"][0], payment_sequential=n) for n in range(1, 101)]

    def near_the_ends_of_time(event: dict) -> None:
        # A day inside 0001-9999 in UTC after converting the offset (a day, so that reading the rows back in any
        # session time zone stays inside Python's datetime range too).
        event["order"]["order_purchase_timestamp"] = "0001-01-02T03:00:00+03:00"
        event["items"][0]["shipping_limit_date"] = "9999-12-30T20:59:59.999999-03:00"

    def rfc3339_spellings(event: dict) -> None:
        event["order"]["order_approved_at"] = "2026-11-21t11:00:00z"  # RFC 3339 allows lower case t and z
        event["items"][1]["shipping_limit_date"] = "2026-11-23t12:00:00.123456789-03:00"

    def money_at_the_bounds(event: dict) -> None:
        event["items"][0].update(price=0, freight_value=1000000)
        event["payments"][1]["payment_value"] = 0.1

    def real_source_quirks(event: dict) -> None:
        # Real Olist orders: delivered without a delivery date, one payment numbered 2. Accepted and flagged
        # (_quality_flags), never dead-lettered.
        event["event_type"] = "order_delivered"
        event["order"].update(order_status="delivered", order_delivered_customer_date=None)
        event["payments"] = [dict(event["payments"][0], payment_sequential=2)]

    def created_with_a_delivery_date(event: dict) -> None:
        event["event_type"] = "order_created"
        event["order"].update(order_status="created", order_approved_at=None, order_delivered_carrier_date=None)

    add("body_of_exactly_1MiB", padded_to_the_limit)
    add("delivered_without_date_and_payment_numbered_2", real_source_quirks, attributes=lambda event: {})
    add("created_with_a_delivery_date", created_with_a_delivery_date, attributes=lambda event: {})
    add("sequence_int64_max", lambda event: event.update(sequence=2**63 - 1))
    add("integral_floats_in_integer_fields", integral_floats)
    add("escaped_surrogate_pair_emoji", lambda event: event["customer"].update(customer_city="sao paulo \U0001f600"))
    add("portuguese_text_as_utf8", portuguese_text_as_utf8)
    add("hundred_items_and_payments", hundred_items_and_payments)
    add("near_the_ends_of_time", near_the_ends_of_time)
    add("rfc3339_spellings", rfc3339_spellings)
    add("money_at_the_bounds", money_at_the_bounds)
    add("no_attributes", lambda event: None, attributes=lambda event: {})
    add(
        "attribute_event_time_in_another_offset_and_an_extra_attribute",
        lambda event: None,
        attributes=lambda event: {
            **attributes_of(event),
            "event_time": "2026-11-24T12:10:00.25-03:00",
            "origin": "hostile-input-test",
        },
    )
    return cases


EDGE_VALID: tuple[AcceptedCase, ...] = tuple(_edge_valid_cases())


def sequence_conflict(order_id: str) -> tuple[bytes, bytes, bytes]:
    """An order's first snapshot, then two different snapshots that both claim sequence 2 (a producer bug):
    2a is approved with two items, 2b invoiced with three items and other payments."""
    first = base_event(order_id, 1)
    first.update(event_type="order_created", event_id=f"{order_id}-1")
    first["order"].update(
        order_status="created",
        order_approved_at=None,
        order_delivered_carrier_date=None,
        order_delivered_customer_date=None,
    )
    second_a = copy.deepcopy(first)
    second_a.update(event_type="order_approved", event_id=f"{order_id}-2a", sequence=2)
    second_a["order"].update(order_status="approved", order_approved_at="2026-11-21T11:00:00Z")
    second_b = copy.deepcopy(second_a)
    second_b.update(event_type="order_invoiced", event_id=f"{order_id}-2b")
    second_b["order"]["order_status"] = "invoiced"
    second_b["items"].append(dict(second_b["items"][0], order_item_id=3, price=1.25))
    second_b["payments"] = [
        {"payment_sequential": 1, "payment_type": "boleto", "payment_installments": 1, "payment_value": 26.75}
    ]
    return encode(first), encode(second_a), encode(second_b)
