"""Small hand-made order events for unit tests."""

from __future__ import annotations

import copy
import json

ORDER = {
    "event_id": "e-1",
    "event_type": "order_created",
    "event_time": "2026-11-21T10:00:00.000Z",
    "sequence": 1,
    "schema_version": 1,
    "order": {
        "order_id": "o1",
        "customer_id": "c1",
        "order_status": "created",
        "order_purchase_timestamp": "2026-11-21T10:00:00Z",
        "order_approved_at": None,
        "order_delivered_carrier_date": None,
        "order_delivered_customer_date": None,
        "order_estimated_delivery_date": "2026-12-01T00:00:00Z",
    },
    "customer": {
        "customer_id": "c1",
        "customer_unique_id": "u1",
        "customer_zip_code_prefix": "01310",
        "customer_city": "sao paulo",
        "customer_state": "SP",
    },
    "items": [
        {
            "order_item_id": 1,
            "product_id": "p1",
            "seller_id": "s1",
            "shipping_limit_date": "2026-11-23T10:00:00Z",
            "price": 10.5,
            "freight_value": 2.25,
        },
        {
            "order_item_id": 2,
            "product_id": "p1",
            "seller_id": "s1",
            "shipping_limit_date": "2026-11-23T10:00:00Z",
            "price": 10.5,
            "freight_value": 2.25,
        },
    ],
    "payments": [{"payment_sequential": 1, "payment_type": "boleto", "payment_installments": 1, "payment_value": 25.5}],
}


def snapshot(order_id: str, sequence: int, status: str = "created", items: int = 2, **order) -> bytes:
    """ORDER as order ``order_id`` at ``sequence``, with ``items`` lines (payments follow the total)."""
    event = copy.deepcopy(ORDER)
    event["event_id"] = f"{order_id}-{sequence}"
    event["sequence"] = sequence
    event["order"]["order_id"] = order_id
    event["order"]["order_status"] = status
    if status != "created":
        event["order"]["order_approved_at"] = "2026-11-21T11:00:00Z"
    event["order"].update(order)
    event["items"] = event["items"][:1] * items
    for number, item in enumerate(event["items"], start=1):
        event["items"][number - 1] = dict(item, order_item_id=number)
    event["payments"][0]["payment_value"] = round(12.75 * items, 2)
    if items == 0:
        event["payments"] = []
    return json.dumps(event).encode()
