"""ToRows: an order snapshot -> its orders, order_items and order_payments rows with lineage columns."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import apache_beam as beam
from apache_beam import pvalue

from beam_pipelines import metrics
from beam_pipelines.dead_letters import STAGE_ROWS, internal_error
from beam_pipelines.messages import DEAD_LETTER, OrderSnapshot, SnapshotRows
from schemas import ORDER_TIMESTAMPS
from schemas.timestamps import parse_timestamp

ROWS = "rows"


def _money(amount: float | int) -> Decimal:
    # The contract allows at most 2 decimals; repr is the shortest text that round-trips, so this is exact.
    return Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)


class _Instants:
    """Timestamps of one snapshot: those validation parsed are looked up, any other is parsed here."""

    def __init__(self, parsed: dict[str, datetime]) -> None:
        self.parsed = parsed

    def __call__(self, text: str) -> datetime:
        instant = self.parsed.get(text)
        return parse_timestamp(text) if instant is None else instant

    def optional(self, text: str | None) -> datetime | None:
        return None if text is None else self(text)


def _version_2_columns(event: dict, instants: _Instants) -> dict:
    """The orders columns schema version 2 added: null for a version 1 event, or when the event leaves them out."""
    review = event.get("order_review") or {}
    return {
        "channel": event["order"].get("channel"),
        "review_id": review.get("review_id"),
        "review_score": review.get("review_score"),
        "review_comment_title": review.get("review_comment_title"),
        "review_comment_message": review.get("review_comment_message"),
        "review_creation_date": instants.optional(review.get("review_creation_date")),
        "review_answer_timestamp": instants.optional(review.get("review_answer_timestamp")),
        "_schema_version": event["schema_version"],
    }


def snapshot_rows(snapshot: OrderSnapshot, ingested_at: datetime | None = None) -> SnapshotRows:
    """The rows one snapshot stands for. Pure: tests call it directly."""
    event = snapshot.event
    instants = _Instants(snapshot.timestamps)
    order_id = event["order"]["order_id"]
    lineage = {
        "_sequence": event["sequence"],
        "_event_id": event["event_id"],
        "_event_time": instants(event["event_time"]),
        "_ingested_at": ingested_at or datetime.now(timezone.utc),
    }
    order = dict(event["order"])
    for name in ORDER_TIMESTAMPS:
        order[name] = instants.optional(order[name])
    customer = event["customer"]
    order_row = {
        **order,
        "customer_unique_id": customer["customer_unique_id"],
        "customer_zip_code_prefix": customer["customer_zip_code_prefix"],
        "customer_city": customer["customer_city"],
        "customer_state": customer["customer_state"],
        "_event_type": event["event_type"],
        "_quality_flags": ",".join(snapshot.quality_flags) or None,
        **lineage,
        **_version_2_columns(event, instants),
    }
    items = tuple(
        {
            "order_id": order_id,
            "order_item_id": item["order_item_id"],
            "product_id": item["product_id"],
            "seller_id": item["seller_id"],
            "shipping_limit_date": instants(item["shipping_limit_date"]),
            "price": _money(item["price"]),
            "freight_value": _money(item["freight_value"]),
            "order_purchase_timestamp": order["order_purchase_timestamp"],
            **lineage,
        }
        for item in event["items"]
    )
    payments = tuple(
        {
            "order_id": order_id,
            "payment_sequential": payment["payment_sequential"],
            "payment_type": payment["payment_type"],
            "payment_installments": payment["payment_installments"],
            "payment_value": _money(payment["payment_value"]),
            "order_purchase_timestamp": order["order_purchase_timestamp"],
            **lineage,
        }
        for payment in event["payments"]
    )
    return SnapshotRows(order_id, event["sequence"], order_row, items, payments, snapshot.message)


class ToRowsFn(beam.DoFn):
    def setup(self) -> None:
        self.failed = metrics.counter(metrics.ROWS_FAILED)

    def process(self, snapshot: OrderSnapshot):
        try:
            rows = snapshot_rows(snapshot)
        except Exception as error:  # validation should make this impossible; if not, one dead letter, no crash
            self.failed.inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, internal_error(snapshot.message, STAGE_ROWS, error))
            return
        yield rows


class ToRows(beam.PTransform):
    """PCollection[OrderSnapshot] -> {rows: PCollection[SnapshotRows], dead_letter: PCollection[DeadLetter]}."""

    def expand(self, snapshots):
        return snapshots | "SnapshotRows" >> beam.ParDo(ToRowsFn()).with_outputs(DEAD_LETTER, main=ROWS)
