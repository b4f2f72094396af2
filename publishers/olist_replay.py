"""Replay the real Olist orders (Kaggle CSVs) as snapshot events, through the same contract as generated ones.

Each order becomes its lifecycle: ``created`` at its purchase time, then ``approved``, ``shipped`` and
``delivered`` at the timestamps it has, then its real final status when that is another one (canceled,
unavailable, invoiced, processing ...). Every snapshot carries the order's real ids, items and payments; the
last one equals the CSV row. All events of all orders come out in event-time order, with ``sequence`` 1..n
per order in lifecycle order (a source whose timestamps disagree with its lifecycle still gets the newest
state last). Event ids are derived from (order_id, sequence), so a replay sent twice is a redelivery, not a
conflict.

Olist's timestamps are São Paulo wall-clock times: they are converted with the offset in force on each date
(Brazil had daylight saving time until 2019). A local time in a DST gap (e.g. 2017-10-15 00:30, which did not
exist) or fold takes the offset in force before the change (PEP 495, fold=0).
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from publishers import schema_v2
from publishers.orders import rfc3339
from publishers.stream import Message, attributes_of, encode
from schemas import DEFAULT_PRODUCER_VERSION, ORDER_TIMESTAMPS
from schemas.olist import (
    CUSTOMERS_FILE,
    ORDER_ITEMS_FILE,
    ORDER_PAYMENTS_FILE,
    ORDER_REVIEWS_FILE,
    ORDERS_FILE,
    SOURCE_TIMEZONE,
    zip_prefix,
)

#: Namespace of the replay's deterministic event ids.
EVENT_ID_NAMESPACE = uuid.UUID("5d1c3e0a-8f1b-4d8e-9a55-0c1f6f0e7a11")
#: Lifecycle steps: the status, and the timestamp that reaches it.
_STEPS = (
    ("approved", "order_approved_at"),
    ("shipped", "order_delivered_carrier_date"),
    ("delivered", "order_delivered_customer_date"),
)
_STEP_FIELDS = tuple(name for _, name in _STEPS)


class ReplayError(ValueError):
    """An Olist file is missing or lacks a column the replay needs."""


def local_to_utc(text: str | None) -> datetime | None:
    """An Olist timestamp ("2017-10-02 10:56:33", São Paulo wall clock) as an aware UTC datetime."""
    text = (text or "").strip()
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=SOURCE_TIMEZONE).astimezone(timezone.utc)


@dataclass
class OlistOrder:
    """One order of the Kaggle files, with its customer, items and payments."""

    row: dict[str, str]
    customer: dict[str, str]
    items: list[dict[str, str]] = field(default_factory=list)
    payments: list[dict[str, str]] = field(default_factory=list)
    #: Its newest review (schema version 2), from the reviews file when there is one.
    review: dict[str, str] | None = None

    @property
    def order_id(self) -> str:
        return self.row["order_id"]

    def steps(self) -> list[tuple[str, datetime, dict[str, datetime | None]]]:
        """(status, event time, lifecycle timestamps reached) of each snapshot, sequence 1..n."""
        times = self._times()
        purchase = times["order_purchase_timestamp"]
        steps: list[tuple[str, datetime, dict[str, datetime | None]]] = [
            ("created", purchase, {name: None for name in _STEP_FIELDS})
        ]
        reached: dict[str, datetime | None] = {name: None for name in _STEP_FIELDS}
        for status, name in _STEPS:
            if times[name] is not None:
                reached = {**reached, name: times[name]}
                steps.append((status, times[name], dict(reached)))
        final = self.row["order_status"].strip()
        complete = {name: times[name] for name in _STEP_FIELDS}
        if final != steps[-1][0] or complete != steps[-1][2]:
            latest = max((moment for moment in complete.values() if moment is not None), default=purchase)
            steps.append((final, latest, complete))
        return steps

    def event(self, sequence: int) -> dict:
        """The snapshot with this ``sequence`` (1-based)."""
        status, moment, stamps = self.steps()[sequence - 1]
        return self._event(sequence, status, moment, stamps, self._times())

    def _times(self) -> dict[str, datetime | None]:
        return {name: local_to_utc(self.row.get(name)) for name in ORDER_TIMESTAMPS}

    def _event(
        self,
        sequence: int,
        status: str,
        moment: datetime,
        stamps: dict[str, datetime | None],
        times: dict[str, datetime | None],
    ) -> dict:
        def text(value: datetime | None) -> str | None:
            return None if value is None else rfc3339(value)

        return {
            "event_id": str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{self.order_id}/{sequence}")),
            "event_type": f"order_{status}",
            "event_time": rfc3339(moment, milliseconds=True),
            "sequence": sequence,
            "schema_version": DEFAULT_PRODUCER_VERSION,
            "order": {
                "order_id": self.order_id,
                "customer_id": self.row["customer_id"],
                "order_status": status,
                "order_purchase_timestamp": text(times["order_purchase_timestamp"]),
                **{name: text(stamps[name]) for name in _STEP_FIELDS},
                "order_estimated_delivery_date": text(times["order_estimated_delivery_date"]),
            },
            "customer": {
                "customer_id": self.customer["customer_id"],
                "customer_unique_id": self.customer["customer_unique_id"],
                "customer_zip_code_prefix": zip_prefix(self.customer["customer_zip_code_prefix"]),
                "customer_city": self.customer["customer_city"],
                "customer_state": self.customer["customer_state"],
            },
            "items": [
                {
                    "order_item_id": int(item["order_item_id"]),
                    "product_id": item["product_id"],
                    "seller_id": item["seller_id"],
                    "shipping_limit_date": text(local_to_utc(item["shipping_limit_date"])),
                    "price": float(item["price"]),
                    "freight_value": float(item["freight_value"]),
                }
                for item in sorted(self.items, key=lambda item: int(item["order_item_id"]))
            ],
            "payments": [
                {
                    "payment_sequential": int(payment["payment_sequential"]),
                    "payment_type": payment["payment_type"],
                    "payment_installments": int(payment["payment_installments"]),
                    "payment_value": float(payment["payment_value"]),
                }
                for payment in sorted(self.payments, key=lambda payment: int(payment["payment_sequential"]))
            ],
        }


def _rows(path: Path, needed: tuple[str, ...]) -> Iterator[dict[str, str]]:
    if not path.is_file():
        raise ReplayError(f"{path} not found (the Kaggle file {path.name} is needed for a replay)")
    with path.open(newline="", encoding="utf-8-sig") as handle:  # the files may start with a BOM
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or ()]
        missing = [name for name in needed if name not in header]
        if missing:
            raise ReplayError(f"{path}: missing column(s) {', '.join(missing)}")
        reader.fieldnames = header
        yield from reader


def load_orders(directory: str | Path, limit: int | None = None) -> list[OlistOrder]:
    """The orders of the Kaggle files in ``directory`` (the first ``limit`` by purchase time)."""
    directory = Path(directory)
    customers = {
        row["customer_id"]: row
        for row in _rows(
            directory / CUSTOMERS_FILE,
            ("customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"),
        )
    }
    orders: dict[str, OlistOrder] = {}
    for row in _rows(directory / ORDERS_FILE, ("order_id", "customer_id", "order_status", *ORDER_TIMESTAMPS)):
        customer = customers.get(row["customer_id"])
        if customer is None:
            raise ReplayError(f"{ORDERS_FILE}: order {row['order_id']} names customer {row['customer_id']}, "
                              f"which {CUSTOMERS_FILE} lacks")  # fmt: skip
        orders[row["order_id"]] = OlistOrder(row, customer)
    for name, file_name, columns in (
        ("items", ORDER_ITEMS_FILE, ("order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date",
                                     "price", "freight_value")),
        ("payments", ORDER_PAYMENTS_FILE, ("order_id", "payment_sequential", "payment_type", "payment_installments",
                                           "payment_value")),
    ):  # fmt: skip
        for row in _rows(directory / file_name, columns):
            if row["order_id"] in orders:
                getattr(orders[row["order_id"]], name).append(row)
    chosen = sorted(orders.values(), key=lambda order: (order.row["order_purchase_timestamp"], order.order_id))
    return chosen if limit is None else chosen[:limit]


def load_reviews(directory: str | Path, orders: list[OlistOrder]) -> int:
    """Give each order its newest review from the Kaggle reviews file in ``directory`` (for schema version 2).
    Returns how many orders got one; 0 when the file is absent (the events then have no order_review)."""
    path = Path(directory) / ORDER_REVIEWS_FILE
    if not path.is_file():
        return 0
    by_id = {order.order_id: order for order in orders}
    columns = ("review_id", "order_id", "review_score", "review_comment_title", "review_comment_message",
               "review_creation_date", "review_answer_timestamp")  # fmt: skip
    for row in _rows(path, columns):
        order = by_id.get(row["order_id"])
        # Some orders have several reviews (and some reviews several orders): keep the newest answer.
        if order is not None and (order.review is None or _review_key(row) > _review_key(order.review)):
            order.review = row
    return sum(order.review is not None for order in orders)


def _review_key(row: dict[str, str]) -> tuple[str, str, str]:
    return (row["review_answer_timestamp"] or "", row["review_creation_date"] or "", row["review_id"])


def review_of(row: dict[str, str]) -> dict:
    """A reviews-file row as the event's ``order_review`` (empty texts are null; times to UTC)."""

    def text(name: str) -> str | None:
        return row[name] if row[name] and row[name].strip() else None

    def moment(name: str) -> str | None:
        value = local_to_utc(row[name])
        return None if value is None else rfc3339(value)

    score = row["review_score"].strip()
    return {
        "review_id": row["review_id"].strip(),
        # Left as text when it is not a whole number: the contract, not the replay, decides what is wrong.
        "review_score": int(score) if score.isdigit() else score,
        "review_comment_title": text("review_comment_title"),
        "review_comment_message": text("review_comment_message"),
        "review_creation_date": moment("review_creation_date"),
        "review_answer_timestamp": moment("review_answer_timestamp"),
    }


def replay_events(
    orders: list[OlistOrder], schema_version: int = DEFAULT_PRODUCER_VERSION
) -> Iterator[tuple[datetime, dict]]:
    """(event time, event) of every order's lifecycle, in event-time order. Only the schedule is held in memory;
    each event is built when its turn comes (the full Kaggle set has about 99,000 orders). In schema version 2,
    an order's last snapshot carries its review (Olist has no sales channel: it is left out)."""
    schedule = sorted(
        (moment, order.order_id, sequence, index, len(steps))
        for index, order in enumerate(orders)
        for steps in (order.steps(),)
        for sequence, (_, moment, _) in enumerate(steps, start=1)
    )
    for moment, _, sequence, index, last in schedule:
        event = orders[index].event(sequence)
        if schema_version == schema_v2.VERSION:
            review = orders[index].review if sequence == last else None
            event = schema_v2.upgrade(event, None, None if review is None else review_of(review))
        yield moment, event


def replay_messages(
    orders: list[OlistOrder], schema_version: int = DEFAULT_PRODUCER_VERSION
) -> Iterator[tuple[datetime, Message]]:
    """(event time, message) to publish or write, in event-time order."""
    for moment, event in replay_events(orders, schema_version):
        order_id = event["order"]["order_id"]
        yield moment, Message(encode(event), attributes_of(event), order_id, order_id, event["sequence"])
