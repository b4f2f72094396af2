"""Validation of order events, shared by the publisher, the pipeline and the tests.

Fast path: one ``json.loads`` and a fastjsonschema validator compiled once per schema version. Only when that
fails does jsonschema build the full report (every error with its JSON path), so bad messages pay for the
detail and good ones don't. Business rules the schema cannot say run after the schema passes. Nothing here
raises on bad input: every outcome is a :class:`ValidationResult`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import fastjsonschema
import jsonschema

from schemas import EVENT_SCHEMA_FILES, event_schema
from schemas.timestamps import parse_timestamp

# error_stage values (one column of the dead-letter table).
STAGE_PARSE = "parse"
STAGE_SCHEMA = "schema"
STAGE_BUSINESS_RULE = "business_rule"

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

    def describe(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class ValidationResult:
    """The parsed event when valid, else every error found (the first is the headline)."""

    event: dict[str, Any] | None
    errors: tuple[ValidationError, ...] = field(default_factory=tuple)

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


def parse_payload(payload: bytes | str) -> tuple[Any, ValidationError | None]:
    """Decode and parse a message body; NaN/Infinity and invalid UTF-8 are errors, not values."""
    if isinstance(payload, bytes | bytearray):
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as error:
            return None, ValidationError(
                STAGE_PARSE, "invalid_encoding", f"body is not UTF-8 ({error.reason} at byte {error.start})"
            )
    else:
        text = payload
    if not text.strip():
        return None, ValidationError(STAGE_PARSE, "empty_body", "body is empty; expected a JSON object")
    try:
        return json.loads(text, parse_constant=_reject_constant), None
    except json.JSONDecodeError as error:
        return None, ValidationError(
            STAGE_PARSE,
            "invalid_json",
            f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        )
    except ValueError as error:
        return None, ValidationError(STAGE_PARSE, "invalid_json", f"body is not valid JSON: {error}")


class EventValidator:
    """Validates parsed events against the JSON Schema of their ``schema_version`` plus business rules."""

    def __init__(self) -> None:
        self._fast = {
            version: fastjsonschema.compile(event_schema(version), use_formats=True) for version in EVENT_SCHEMA_FILES
        }
        self._full = {
            version: jsonschema.Draft202012Validator(
                event_schema(version), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
            )
            for version in EVENT_SCHEMA_FILES
        }

    def validate_payload(self, payload: bytes | str, attributes: Mapping[str, str] | None = None) -> ValidationResult:
        """Parse a message body and validate it (and its attributes, when given)."""
        event, parse_error = parse_payload(payload)
        if parse_error is not None:
            return ValidationResult(None, (parse_error,))
        return self.validate(event, attributes)

    def validate(self, event: Any, attributes: Mapping[str, str] | None = None) -> ValidationResult:
        if not isinstance(event, dict):
            kind = type(event).__name__
            error = ValidationError(STAGE_SCHEMA, "not_an_object", f"expected a JSON object, got {kind}")
            return ValidationResult(None, (error,))
        version = event.get("schema_version")
        if type(version) is not int or version not in self._fast:
            known = ", ".join(str(v) for v in sorted(self._fast))
            error = ValidationError(
                STAGE_SCHEMA,
                "unsupported_schema_version",
                f"schema_version {version!r} is not supported; expected one of: {known}",
                "$.schema_version",
            )
            return ValidationResult(None, (error,))
        try:
            self._fast[version](event)
        except fastjsonschema.JsonSchemaValueException as fast_error:
            return ValidationResult(None, self._schema_report(version, event, fast_error))
        errors = tuple(business_rule_errors(event)) + tuple(attribute_errors(event, attributes))
        return ValidationResult(None if errors else event, errors)

    def _schema_report(
        self, version: int, event: dict[str, Any], fast_error: fastjsonschema.JsonSchemaValueException
    ) -> tuple[ValidationError, ...]:
        found = sorted(self._full[version].iter_errors(event), key=lambda e: (list(map(str, e.path)), e.message))
        if not found:  # the two libraries disagree: report what the fast one said rather than nothing
            path = "$" + fast_error.name.removeprefix("data")
            return (ValidationError(STAGE_SCHEMA, "schema_violation", fast_error.message, path),)
        return tuple(
            ValidationError(STAGE_SCHEMA, "schema_violation", error.message, error.json_path) for error in found
        )


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


def _money_errors(event: dict[str, Any]) -> Iterable[ValidationError]:
    for collection, fields in _MONEY_FIELDS.items():
        for index, line in enumerate(event[collection]):
            for name in fields:
                amount = line[name]
                if isinstance(amount, float) and Decimal(repr(amount)).as_tuple().exponent < -2:
                    yield ValidationError(
                        STAGE_BUSINESS_RULE,
                        "money_precision",
                        f"{name} {amount!r} has more than 2 decimals; expected a BRL amount like 12.34",
                        f"$.{collection}[{index}].{name}",
                    )


def _status_errors(order: dict[str, Any]) -> Iterable[ValidationError]:
    status = order["order_status"]
    required, forbidden = _STATUS_TIMESTAMPS.get(status, ((), ()))
    for name in required:
        if order[name] is None:
            yield ValidationError(
                STAGE_BUSINESS_RULE,
                "status_timestamps",
                f"order_status {status!r} requires {name}; got null",
                f"$.order.{name}",
            )
    for name in forbidden:
        if order[name] is not None:
            yield ValidationError(
                STAGE_BUSINESS_RULE,
                "status_timestamps",
                f"order_status {status!r} cannot have {name} set yet; got {order[name]!r}, expected null",
                f"$.order.{name}",
            )


def business_rule_errors(event: dict[str, Any]) -> Iterable[ValidationError]:
    """Rules the JSON Schema cannot say. Assumes the event already passed its schema."""
    yield from _numbering_errors(event["items"], "items", "order_item_id")
    yield from _numbering_errors(event["payments"], "payments", "payment_sequential")
    yield from _money_errors(event)
    yield from _status_errors(event["order"])
    order_customer, customer = event["order"]["customer_id"], event["customer"]["customer_id"]
    if order_customer != customer:
        yield ValidationError(
            STAGE_BUSINESS_RULE,
            "customer_mismatch",
            f"customer.customer_id {customer!r} differs from order.customer_id {order_customer!r}",
            "$.customer.customer_id",
        )


def _same_attribute(name: str, attribute: str, body_value: Any) -> bool:
    if name == "event_time":
        try:
            return parse_timestamp(attribute) == parse_timestamp(body_value)
        except (TypeError, ValueError):
            return False
    return attribute == str(body_value)


def attribute_errors(event: dict[str, Any], attributes: Mapping[str, str] | None) -> Iterable[ValidationError]:
    """Attributes are optional, but those that repeat a body field must agree with it."""
    for name in ATTRIBUTE_FIELDS:
        if attributes and name in attributes and not _same_attribute(name, attributes[name], event[name]):
            yield ValidationError(
                STAGE_BUSINESS_RULE,
                "attribute_mismatch",
                f"attribute {name}={attributes[name]!r} differs from the body's {event[name]!r}",
                f"attributes.{name}",
            )


@cache
def default_validator() -> EventValidator:
    """One compiled validator per process."""
    return EventValidator()


def validate_payload(payload: bytes | str, attributes: Mapping[str, str] | None = None) -> ValidationResult:
    return default_validator().validate_payload(payload, attributes)
