"""Transforms for ``python -m beam_pipelines.replay --transform``, as an operator would write them (used by the
replay tests: ``--transform tests/replay_fixes.py:repair_order`` or ``replay_fixes:repair_order``).

Each takes the parsed body (a dict for JSON, bytes otherwise) and the original attributes, and returns the body
and attributes to publish, or None to skip the message.
"""

from __future__ import annotations

from typing import Any


def repair_order(body: Any, attributes: dict[str, str]) -> tuple[Any, dict[str, str]] | None:
    """Two producer bugs: customer.customer_id not the order's customer (customer_mismatch), and a zip prefix sent
    as a number, losing its leading zero (schema_violation). Anything not JSON is skipped."""
    if not isinstance(body, dict):
        return None
    customer = body["customer"]
    customer["customer_id"] = body["order"]["customer_id"]
    if isinstance(customer["customer_zip_code_prefix"], int):
        customer["customer_zip_code_prefix"] = f"{customer['customer_zip_code_prefix']:05d}"
    return body, attributes


def fail_on_order(body: Any, attributes: dict[str, str]) -> tuple[Any, dict[str, str]] | None:
    """Raises for order ``o-broken`` (a bug in the operator's function), skips ``o-skip``, passes the rest."""
    order_id = body["order"]["order_id"]
    if order_id == "o-broken":
        raise KeyError("no such field: order.channel")
    if order_id == "o-skip":
        return None
    return body, attributes
