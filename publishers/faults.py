"""Deliberately bad messages, for exercising the dead letter. Each kind breaks one rule in a known way."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

from schemas import LATEST_SCHEMA_VERSION

Event = dict[str, Any]


def _truncated_json(event: Event, rng: random.Random) -> bytes:
    text = json.dumps(event, separators=(",", ":"))
    return text[: rng.randint(10, len(text) - 10)].encode()


def _not_utf8(event: Event, rng: random.Random) -> bytes:
    return b"\xff\xfe" + json.dumps(event).encode("utf-16-le")


def _mutating(mutate: Callable[[Event, random.Random], None]) -> Callable[[Event, random.Random], bytes]:
    def corrupt(event: Event, rng: random.Random) -> bytes:
        broken = copy.deepcopy(event)
        mutate(broken, rng)
        return json.dumps(broken, separators=(",", ":")).encode()

    return corrupt


def _drop_status(event: Event, rng: random.Random) -> None:
    del event["order"]["order_status"]


def _sequence_as_string(event: Event, rng: random.Random) -> None:
    event["sequence"] = str(event["sequence"])


def _unknown_state(event: Event, rng: random.Random) -> None:
    event["customer"]["customer_state"] = "XX"


def _zip_as_number(event: Event, rng: random.Random) -> None:
    event["customer"]["customer_zip_code_prefix"] = int(event["customer"]["customer_zip_code_prefix"])


def _bad_event_time(event: Event, rng: random.Random) -> None:
    event["event_time"] = "21/11/2026 23:54"


def _unknown_field(event: Event, rng: random.Random) -> None:
    event["order"]["order_channel"] = "app"


def _ensure_payment(event: Event) -> None:
    """Orders without payments (unavailable ones) get one, so a payment fault has something to break."""
    event["payments"] = event["payments"] or [
        {"payment_sequential": 1, "payment_type": "boleto", "payment_installments": 1, "payment_value": 1.0}
    ]


def _negative_payment(event: Event, rng: random.Random) -> None:
    _ensure_payment(event)
    event["payments"][0]["payment_value"] = -abs(event["payments"][0]["payment_value"]) - 1


def _three_decimals(event: Event, rng: random.Random) -> None:
    _ensure_payment(event)
    event["payments"][0]["payment_value"] = 10.125


def _repeated_payment_number(event: Event, rng: random.Random) -> None:
    _ensure_payment(event)
    event["payments"].append({**event["payments"][-1]})


def _other_customer(event: Event, rng: random.Random) -> None:
    event["customer"]["customer_id"] = f"{event['customer']['customer_id']}-other"


def _future_schema_version(event: Event, rng: random.Random) -> None:
    event["schema_version"] = LATEST_SCHEMA_VERSION + 1


#: kind -> (corruption, expected error_stage, expected error_kind, expected error_path).
FAULTS: dict[str, tuple[Callable[[Event, random.Random], bytes], str, str, str]] = {
    "truncated_json": (_truncated_json, "parse", "invalid_json", "$"),
    "not_utf8": (_not_utf8, "parse", "invalid_encoding", "$"),
    "missing_field": (_mutating(_drop_status), "schema", "schema_violation", "$.order"),
    "wrong_type": (_mutating(_sequence_as_string), "schema", "schema_violation", "$.sequence"),
    "unknown_state": (_mutating(_unknown_state), "schema", "schema_violation", "$.customer.customer_state"),
    "zip_as_number": (
        _mutating(_zip_as_number),
        "schema",
        "schema_violation",
        "$.customer.customer_zip_code_prefix",
    ),
    "bad_timestamp": (_mutating(_bad_event_time), "schema", "schema_violation", "$.event_time"),
    "unknown_field": (_mutating(_unknown_field), "schema", "schema_violation", "$.order"),
    "negative_money": (
        _mutating(_negative_payment),
        "schema",
        "schema_violation",
        "$.payments[0].payment_value",
    ),
    "money_precision": (
        _mutating(_three_decimals),
        "business_rule",
        "money_precision",
        "$.payments[0].payment_value",
    ),
    "payment_repeat": (_mutating(_repeated_payment_number), "business_rule", "payment_numbering", "$.payments"),
    "customer_mismatch": (
        _mutating(_other_customer),
        "business_rule",
        "customer_mismatch",
        "$.customer.customer_id",
    ),
    "unsupported_version": (
        _mutating(_future_schema_version),
        "schema",
        "unsupported_schema_version",
        "$.schema_version",
    ),
}
FAULT_KINDS = tuple(FAULTS)


def corrupt(kind: str, event: Event, rng: random.Random) -> bytes:
    """The body of a bad message of ``kind`` made from a valid ``event``."""
    return FAULTS[kind][0](event, rng)
