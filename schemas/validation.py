"""Validation of order events, shared by the publisher, the pipeline and the tests.

Fast path: one parse (orjson where its answer is json.loads', see schemas.fast_json) and a jsonschema-rs validator
(Rust) built once per schema version. Only when that fails does jsonschema build the full report (every error with
its JSON path), so bad messages pay for the detail and good ones don't. Business rules the schema cannot say run
after the schema passes.

Nothing here raises, whatever the input: every outcome is a :class:`ValidationResult`, and an unforeseen
exception becomes an ``internal_error`` with its stacktrace (a message that raised would otherwise be a poison
pill that stops the pipeline). Before the schema, the body is checked for what would crash or corrupt later
steps: its size, nesting depth, duplicate keys, and text that is not valid Unicode scalar text (lone
surrogates) or holds NUL/C0 control characters. After it, every timestamp must be a real instant that converts
to UTC within years 0001-9999, and integral floats in integer fields (``3.0``, valid JSON Schema integers)
become ints.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs

from schemas import EVENT_SCHEMA_FILES, ORDER_TIMESTAMPS, REVIEW_TIMESTAMPS, event_schema
from schemas.fast_json import loads_plain
from schemas.timestamps import TimestampError, parse_timestamp

# error_stage values (one column of the dead-letter table).
STAGE_PARSE = "parse"
STAGE_SCHEMA = "schema"
STAGE_BUSINESS_RULE = "business_rule"
#: Stage of data-quality warnings: accepted, flagged on the order row (``_quality_flags``), counted.
STAGE_QUALITY = "quality"

#: A body above this size is rejected unread. The largest valid v1 event (100 items and 100 payments, every
#: id at its 128-character maximum written as \\uXXXX escapes) is under 300 KiB, so 1 MiB leaves room for
#: additive fields while bounding parse time, memory and the dead-letter row.
MAX_BODY_BYTES = 1 << 20
#: Containers nested deeper than this are rejected: a valid event nests 3 deep (event -> items -> item).
#: json.loads itself raises RecursionError near 1,000 levels, and later recursive steps fail earlier.
MAX_NESTING = 16
#: Error details kept per message: enough to act on, bounded for the dead-letter row.
MAX_REPORTED_ERRORS = 20
MAX_ERROR_TEXT = 500
_BAD_TEXT = re.compile("[\x00-\x1f\ud800-\udfff]")
#: Free text a customer writes (schema version 2's review comments) may hold tabs and line breaks, as Olist's
#: reviews do; no other field may.
_BAD_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
FREE_TEXT_PATHS = frozenset({"$.order_review.review_comment_title", "$.order_review.review_comment_message"})
#: Integer fields: JSON Schema accepts integral floats (3.0) there; the warehouse needs ints.
_INTEGER_FIELDS = {"items": ("order_item_id",), "payments": ("payment_sequential", "payment_installments")}

# Timestamps each status requires (non-null) and forbids (must still be null). Only what a status cannot do
# without: real Olist data has delivered orders without an approval time, so later statuses don't demand every
# earlier step. canceled/unavailable can happen at any step, so they constrain nothing.
_NOT_YET_SHIPPED = ("order_delivered_carrier_date", "order_delivered_customer_date")
_STATUS_TIMESTAMPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "created": ((), ("order_approved_at", *_NOT_YET_SHIPPED)),
    "approved": (("order_approved_at",), _NOT_YET_SHIPPED),
    "invoiced": (("order_approved_at",), _NOT_YET_SHIPPED),
    "processing": (("order_approved_at",), _NOT_YET_SHIPPED),
    "shipped": (("order_delivered_carrier_date",), ("order_delivered_customer_date",)),
    "delivered": (("order_delivered_customer_date",), ()),
}
#: How a timestamp is named in a quality flag (delivered_without_delivery_date).
_FLAG_NAMES = {
    "order_approved_at": "approval",
    "order_delivered_carrier_date": "carrier_date",
    "order_delivered_customer_date": "delivery_date",
}
_MONEY_FIELDS = {"items": ("price", "freight_value"), "payments": ("payment_value",)}
#: Pub/Sub attributes that repeat a body field; when present they must agree with the body.
ATTRIBUTE_FIELDS = ("event_id", "event_type", "schema_version", "event_time")


@dataclass(frozen=True)
class ValidationError:
    """One thing wrong with a message: where it failed, what kind, a readable message and the JSON path."""

    stage: str
    kind: str
    message: str
    path: str = "$"
    stacktrace: str | None = None

    def describe(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class ValidationResult:
    """The parsed event when valid, else every error found (the first is the headline). A valid event may
    carry data-quality ``warnings``: accepted, and flagged on its row."""

    event: dict[str, Any] | None
    errors: tuple[ValidationError, ...] = field(default_factory=tuple)
    warnings: tuple[ValidationError, ...] = field(default_factory=tuple)
    #: Every timestamp of a valid event, parsed (its text -> the instant): ToRows reuses them.
    timestamps: dict[str, datetime] = field(default_factory=dict)

    @property
    def quality_flags(self) -> tuple[str, ...]:
        """The warnings' kinds, sorted and once each: what the order row's ``_quality_flags`` holds."""
        return tuple(sorted({warning.kind for warning in self.warnings}))

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def first_error(self) -> ValidationError | None:
        return self.errors[0] if self.errors else None

    def error_message(self) -> str:
        """All errors in one line, for the dead-letter table."""
        if not self.errors:
            return ""
        described = "; ".join(error.describe() for error in self.errors)
        return described if len(self.errors) == 1 else f"{len(self.errors)} errors: {described}"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid JSON number")


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    built = dict(pairs)
    if len(built) != len(pairs):
        raise _DuplicateKeyError
    return built


def _short(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _member_path(parent: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key, ensure_ascii=True)}]"


def _walk(value: Any, path: str = "$", depth: int = 1) -> Iterator[tuple[str, Any, int]]:
    """(path, value, depth) of every node, iteratively (a recursive walk could itself overflow)."""
    stack = [(path, value, depth)]
    while stack:
        path, value, depth = stack.pop()
        yield path, value, depth
        if isinstance(value, dict):
            stack.extend((_member_path(path, k), v, depth + 1) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((_member_path(path, i), v, depth + 1) for i, v in reversed(list(enumerate(value))))


def _duplicate_key_path(text: str) -> str:
    """Where the first repeated key is (parsing again, keeping every pair)."""
    pairs_tree = json.loads(text, object_pairs_hook=lambda pairs: ("pairs", pairs))
    stack = [("$", pairs_tree)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, tuple) and len(node) == 2 and node[0] == "pairs":
            seen = set()
            for key, _value in node[1]:
                if key in seen:
                    return _member_path(path, key)
                seen.add(key)
            stack.extend((_member_path(path, key), value) for key, value in reversed(node[1]))
        elif isinstance(node, list):
            stack.extend((_member_path(path, i), item) for i, item in reversed(list(enumerate(node))))
    return "$"


def _structure_error(value: Any, text: str) -> ValidationError | None:
    """Nesting too deep, or text that is not storable: checked only where the raw text says it may occur."""
    check_depth = text.count("{") + text.count("[") > MAX_NESTING
    # Control characters and surrogates can only come from escapes (\u0000, \ud800, and the short \t \n
    # \r \b \f): JSON forbids raw control characters in strings, and UTF-8 cannot encode a surrogate.
    check_text = "\\" in text
    if not (check_depth or check_text):
        return None
    for path, node, depth in _walk(value):
        if depth > MAX_NESTING:
            return ValidationError(
                STAGE_PARSE, "too_deep", f"containers nest deeper than {MAX_NESTING} levels; an event nests 3", path
            )
        if check_text:
            forbidden = _BAD_FREE_TEXT if isinstance(node, str) and path in FREE_TEXT_PATHS else _BAD_TEXT
            for text_value, where in _texts(node, path):
                bad = forbidden.search(text_value)
                if bad:
                    return ValidationError(
                        STAGE_PARSE,
                        "invalid_text",
                        f"{where} holds U+{ord(bad.group()):04X} at character {bad.start()}; text must be valid "
                        "Unicode without NUL, control characters or lone surrogates",
                        path,
                    )
    return None


def _texts(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield node, "the string"
    elif isinstance(node, dict):
        for key in node:
            yield key, f"the key {key.encode('utf-8', 'backslashreplace').decode('ascii', 'backslashreplace')!r}"


def parse_payload(payload: bytes | str) -> tuple[Any, ValidationError | None]:
    """Decode and parse a message body. Errors, not values: invalid UTF-8, a body over MAX_BODY_BYTES, NaN and
    Infinity, duplicate keys, nesting deeper than MAX_NESTING, strings with NUL/C0 controls or lone surrogates."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    payload = bytes(payload)
    if len(payload) > MAX_BODY_BYTES:
        return None, ValidationError(
            STAGE_PARSE, "too_large", f"body is {len(payload):,} bytes; the limit is {MAX_BODY_BYTES:,} bytes"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, ValidationError(
            STAGE_PARSE, "invalid_encoding", f"body is not UTF-8 ({error.reason} at byte {error.start})"
        )
    if not text.strip():
        return None, ValidationError(STAGE_PARSE, "empty_body", "body is empty; expected a JSON object")
    plain, value = loads_plain(payload)  # orjson, for a body without escapes, long numbers or repeated keys
    if plain:
        error = _structure_error(value, text)
        if error is None:
            return value, None
    # The standard parser for everything else, and for a plain body that fails a structure check (its
    # verdict, e.g. nesting too deep for json.loads, is the standard parser's).
    try:
        value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError:
        message = "an object repeats this key; keys must be unique"
        return None, ValidationError(STAGE_PARSE, "duplicate_key", message, _duplicate_key_path(text))
    except RecursionError:
        return None, ValidationError(
            STAGE_PARSE, "too_deep", f"containers nest deeper than {MAX_NESTING} levels; an event nests 3"
        )
    except json.JSONDecodeError as error:
        return None, ValidationError(
            STAGE_PARSE,
            "invalid_json",
            f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        )
    except ValueError as error:  # NaN/Infinity, integers longer than Python's digit limit
        return None, ValidationError(STAGE_PARSE, "invalid_json", f"body is not valid JSON: {_short(str(error))}")
    return value, _structure_error(value, text)


def accepted_versions(versions: Iterable[int] | None = None) -> tuple[int, ...]:
    """``versions`` sorted and checked against the schema files (None: every version there is)."""
    chosen = tuple(sorted(set(EVENT_SCHEMA_FILES if versions is None else versions)))
    unknown = [version for version in chosen if version not in EVENT_SCHEMA_FILES]
    if unknown or not chosen:
        known = ", ".join(str(v) for v in sorted(EVENT_SCHEMA_FILES))
        raise ValueError(f"unknown schema versions {unknown or '(none given)'}; known versions: {known}")
    return chosen


class EventValidator:
    """Validates parsed events against the JSON Schema of their ``schema_version`` plus business rules.

    ``versions`` limits what is accepted (default: every schema file): a version left out is dead-lettered as
    ``unsupported_schema_version``, exactly like one that does not exist (how a version is rolled out or retired:
    schemas/README.md)."""

    def __init__(self, versions: Iterable[int] | None = None) -> None:
        self.versions = accepted_versions(versions)
        self._fast = {
            version: jsonschema_rs.validator_for(event_schema(version), validate_formats=True)
            for version in self.versions
        }
        self._full = {
            version: jsonschema.Draft202012Validator(
                event_schema(version), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
            )
            for version in self.versions
        }

    def validate_payload(self, payload: bytes | str, attributes: Mapping[str, str] | None = None) -> ValidationResult:
        """Parse a message body and validate it (and its attributes, when given). Never raises."""
        try:
            event, parse_error = parse_payload(payload)
        except Exception as unforeseen:  # a message must never stop the pipeline: report, don't raise
            return ValidationResult(None, (_internal_error(STAGE_PARSE, unforeseen),))
        if parse_error is not None:
            return ValidationResult(None, (parse_error,))
        return self.validate(event, attributes)

    def validate(self, event: Any, attributes: Mapping[str, str] | None = None) -> ValidationResult:
        """Validate an already parsed event. Never raises."""
        try:
            return self._validate(event, attributes)
        except RecursionError:
            message = f"containers nest too deep to validate (limit {MAX_NESTING})"
            return ValidationResult(None, (ValidationError(STAGE_SCHEMA, "too_deep", message),))
        except Exception as unforeseen:
            return ValidationResult(None, (_internal_error(STAGE_SCHEMA, unforeseen),))

    def _validate(self, event: Any, attributes: Mapping[str, str] | None) -> ValidationResult:
        if not isinstance(event, dict):
            kind = type(event).__name__
            error = ValidationError(STAGE_SCHEMA, "not_an_object", f"expected a JSON object, got {kind}")
            return ValidationResult(None, (error,))
        version = event.get("schema_version")
        if isinstance(version, float) and version.is_integer():
            version = int(version)
        if type(version) is not int or version not in self._fast:
            known = ", ".join(str(v) for v in self.versions)
            known_version = type(version) is int and version in EVENT_SCHEMA_FILES
            why = "is not accepted by this pipeline" if known_version else "is not supported"
            error = ValidationError(
                STAGE_SCHEMA,
                "unsupported_schema_version",
                f"schema_version {version!r} {why}; expected one of: {known}",
                "$.schema_version",
            )
            return ValidationResult(None, (error,))
        if not self._fast_valid(version, event):
            return ValidationResult(None, self._schema_report(version, event))
        event = _with_integers(event, version)
        parsed: dict[str, datetime] = {}
        errors = tuple(timestamp_errors(event, attributes, parsed))
        if not errors:
            errors = tuple(business_rule_errors(event)) + tuple(attribute_errors(event, attributes, parsed))
        if errors:
            return ValidationResult(None, errors)
        return ValidationResult(event, (), tuple(quality_warnings(event)), parsed)

    def _fast_valid(self, version: int, event: dict[str, Any]) -> bool:
        """jsonschema-rs's verdict; a value it cannot take (an integer beyond 64 bits) goes to the full report."""
        try:
            return self._fast[version].is_valid(event)
        except (ValueError, OverflowError, TypeError, RecursionError):
            return False

    def _schema_report(self, version: int, event: dict[str, Any]) -> tuple[ValidationError, ...]:
        found = []
        for error in self._full[version].iter_errors(event):
            found.append(error)
            if len(found) >= 10 * MAX_REPORTED_ERRORS:  # a huge wrong document: enough to act on
                break
        found.sort(key=lambda e: (list(map(str, e.path)), e.message))
        if not found:  # the two libraries disagree: report what the fast one said rather than nothing
            return (self._fast_error(version, event),)
        return tuple(_schema_error(error) for error in found[:MAX_REPORTED_ERRORS])

    def _fast_error(self, version: int, event: dict[str, Any]) -> ValidationError:
        try:
            error = next(iter(self._fast[version].iter_errors(event)))
        except (StopIteration, ValueError, OverflowError, TypeError, RecursionError) as cannot:
            message = f"the event cannot be checked against schema version {version}: {cannot or 'no detail'}"
            return ValidationError(STAGE_SCHEMA, "schema_violation", _short(message))
        path = "$" + "".join(_member_path("", part) for part in error.instance_path)
        return ValidationError(STAGE_SCHEMA, "schema_violation", _short(error.message), path)


def _schema_error(error: jsonschema.ValidationError) -> ValidationError:
    """A schema error; a date-time that has the right shape but is no real instant says why, by its own kind."""
    if error.validator == "format" and isinstance(error.instance, str):
        try:
            parse_timestamp(error.instance)
        except TimestampError as timestamp_error:
            return ValidationError(STAGE_SCHEMA, timestamp_error.kind, str(timestamp_error), error.json_path)
    return ValidationError(STAGE_SCHEMA, "schema_violation", _short(error.message), _short(error.json_path))


def _internal_error(stage: str, error: BaseException) -> ValidationError:
    return ValidationError(
        stage,
        "internal_error",
        _short(f"unexpected {type(error).__name__} while validating: {error}"),
        "$",
        traceback.format_exc(),
    )


def _with_integers(event: dict[str, Any], version: int) -> dict[str, Any]:
    """The event with integral floats in integer fields made ints (the schema already checked they are integral)."""
    event["schema_version"] = version
    event["sequence"] = int(event["sequence"])
    for collection, names in _INTEGER_FIELDS.items():
        for line in event[collection]:
            for name in names:
                line[name] = int(line[name])
    review = event.get("order_review")
    if review is not None:
        review["review_score"] = int(review["review_score"])
    return event


def _timestamp_fields(event: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    yield "$.event_time", event["event_time"]
    for name in ORDER_TIMESTAMPS:
        yield f"$.order.{name}", event["order"][name]
    for index, item in enumerate(event["items"]):
        yield f"$.items[{index}].shipping_limit_date", item["shipping_limit_date"]
    review = event.get("order_review")  # version 2
    if review is not None:
        for name in REVIEW_TIMESTAMPS:
            yield f"$.order_review.{name}", review.get(name)


def timestamp_errors(
    event: dict[str, Any], attributes: Mapping[str, str] | None, parsed: dict[str, datetime] | None = None
) -> Iterable[ValidationError]:
    """Every timestamp (and the event_time attribute) is a real instant the warehouse can store. Each one that is
    goes into ``parsed`` (text -> instant), when given."""
    fields = list(_timestamp_fields(event))
    if attributes and "event_time" in attributes:
        fields.append(("attributes.event_time", attributes["event_time"]))
    for path, text in fields:
        if text is None:
            continue
        try:
            instant = parse_timestamp(text)
        except TimestampError as error:
            yield ValidationError(STAGE_SCHEMA, error.kind, str(error), path)
        else:
            if parsed is not None:
                parsed[text] = instant


def _payment_numbering_errors(payments: list[dict[str, Any]]) -> Iterable[ValidationError]:
    """payment_sequential is unique per order (the payments table's key). Gaps are real: Olist numbers payment
    attempts, and real orders have one payment numbered 2."""
    seen: set[int] = set()
    for index, payment in enumerate(payments):
        number = payment["payment_sequential"]
        if number in seen:
            yield ValidationError(
                STAGE_BUSINESS_RULE,
                "payment_numbering",
                f"payment_sequential {number} appears twice; each payment of an order needs its own number",
                f"$.payments[{index}].payment_sequential",
            )
            return
        seen.add(number)


def _numbering_errors(lines: list[dict[str, Any]], collection: str, key: str) -> Iterable[ValidationError]:
    numbers = [line[key] for line in lines]
    expected = list(range(1, len(lines) + 1))
    if sorted(numbers) != expected:
        bad_index = next((i for i, n in enumerate(numbers) if numbers.count(n) > 1 or not 1 <= n <= len(lines)), 0)
        yield ValidationError(
            STAGE_BUSINESS_RULE,
            f"{collection[:-1]}_numbering",
            f"{collection} must be numbered 1..{len(lines)} without gaps or repeats by {key}; got {numbers}",
            f"$.{collection}[{bad_index}].{key}",
        )


def _over_two_decimals(amount: float) -> bool:
    """More than 2 decimals in the shortest text of ``amount`` (what the warehouse's NUMERIC then holds)."""
    text = repr(amount)
    _whole, dot, fraction = text.partition(".")
    if dot and fraction.isdigit():  # the usual 12.34, whose exponent is minus its fraction's length
        return len(fraction) > 2
    return Decimal(text).as_tuple().exponent < -2  # 1e-05, 1.5e+16


def _money_errors(event: dict[str, Any]) -> Iterable[ValidationError]:
    for collection, fields in _MONEY_FIELDS.items():
        for index, line in enumerate(event[collection]):
            for name in fields:
                amount = line[name]
                if isinstance(amount, float) and _over_two_decimals(amount):
                    yield ValidationError(
                        STAGE_BUSINESS_RULE,
                        "money_precision",
                        f"{name} {amount!r} has more than 2 decimals; expected a BRL amount like 12.34",
                        f"$.{collection}[{index}].{name}",
                    )


def _status_warnings(order: dict[str, Any]) -> Iterable[ValidationError]:
    status = order["order_status"]
    required, forbidden = _STATUS_TIMESTAMPS.get(status, ((), ()))
    for name in required:
        if order[name] is None:
            yield ValidationError(
                STAGE_QUALITY,
                f"{status}_without_{_FLAG_NAMES[name]}",
                f"order_status {status!r} normally has {name}; got null (accepted, flagged)",
                f"$.order.{name}",
            )
    for name in forbidden:
        if order[name] is not None:
            yield ValidationError(
                STAGE_QUALITY,
                f"{status}_with_{_FLAG_NAMES[name]}",
                f"order_status {status!r} normally has no {name} yet; got {order[name]!r} (accepted, flagged)",
                f"$.order.{name}",
            )


def _payment_gap_warnings(payments: list[dict[str, Any]]) -> Iterable[ValidationError]:
    numbers = sorted(payment["payment_sequential"] for payment in payments)
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        yield ValidationError(
            STAGE_QUALITY,
            "payment_sequence_gap",
            f"payments are numbered {numbers}, not 1..{len(numbers)} (Olist numbers payment attempts; accepted)",
            "$.payments",
        )


def quality_warnings(event: dict[str, Any]) -> Iterable[ValidationError]:
    """Soft rules: what real sources do although it is inconsistent. Accepted, flagged, counted."""
    yield from _status_warnings(event["order"])
    yield from _payment_gap_warnings(event["payments"])


def business_rule_errors(event: dict[str, Any]) -> Iterable[ValidationError]:
    """Rules the JSON Schema cannot say. Assumes the event already passed its schema."""
    yield from _numbering_errors(event["items"], "items", "order_item_id")
    yield from _payment_numbering_errors(event["payments"])
    yield from _money_errors(event)
    order_customer, customer = event["order"]["customer_id"], event["customer"]["customer_id"]
    if order_customer != customer:
        yield ValidationError(
            STAGE_BUSINESS_RULE,
            "customer_mismatch",
            f"customer.customer_id {customer!r} differs from order.customer_id {order_customer!r}",
            "$.customer.customer_id",
        )


def _same_attribute(name: str, attribute: str, body_value: Any, parsed: Mapping[str, datetime]) -> bool:
    if name == "event_time":  # both parse: timestamp_errors ran first
        return _instant(attribute, parsed) == _instant(body_value, parsed)
    return attribute == str(body_value)


def _instant(text: str, parsed: Mapping[str, datetime]) -> datetime:
    instant = parsed.get(text)
    return parse_timestamp(text) if instant is None else instant


def attribute_errors(
    event: dict[str, Any], attributes: Mapping[str, str] | None, parsed: Mapping[str, datetime] | None = None
) -> Iterable[ValidationError]:
    """Attributes are optional, but those that repeat a body field must agree with it."""
    for name in ATTRIBUTE_FIELDS:
        if attributes and name in attributes and not _same_attribute(name, attributes[name], event[name], parsed or {}):
            yield ValidationError(
                STAGE_BUSINESS_RULE,
                "attribute_mismatch",
                f"attribute {name}={attributes[name]!r} differs from the body's {event[name]!r}",
                f"attributes.{name}",
            )


@cache
def default_validator(versions: tuple[int, ...] | None = None) -> EventValidator:
    """One compiled validator per process (and set of accepted versions)."""
    return EventValidator(versions)


def validate_payload(payload: bytes | str, attributes: Mapping[str, str] | None = None) -> ValidationResult:
    return default_validator().validate_payload(payload, attributes)
