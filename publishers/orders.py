"""Olist-style orders and their lifecycle: each change yields the order's full snapshot as an event."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from faker import Faker

from publishers.catalog import Catalog, Product, Seller
from publishers.geography import STATE_WEIGHTS, STATES
from publishers.identifiers import random_hex_id, random_uuid
from publishers.text import olist_city
from schemas import DEFAULT_PRODUCER_VERSION
from schemas.olist import SOURCE_TIMEZONE

CENT = Decimal("0.01")
PAYMENT_TYPES = ("credit_card", "boleto", "debit_card", "voucher")
PAYMENT_TYPE_WEIGHTS = (74.0, 19.5, 1.5, 5.0)


def money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def rfc3339(moment: datetime, milliseconds: bool = False) -> str:
    moment = moment.astimezone(timezone.utc)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Customer:
    customer_id: str
    customer_unique_id: str
    customer_zip_code_prefix: str
    customer_city: str
    customer_state: str


@dataclass(frozen=True)
class OrderItem:
    order_item_id: int
    product_id: str
    seller_id: str
    shipping_limit_date: datetime
    price: Decimal
    freight_value: Decimal


@dataclass(frozen=True)
class Payment:
    payment_sequential: int
    payment_type: str
    payment_installments: int
    payment_value: Decimal


@dataclass
class Order:
    """An order and the changes still ahead of it (``plan``, next first)."""

    order_id: str
    customer: Customer
    order_status: str
    order_purchase_timestamp: datetime
    order_estimated_delivery_date: datetime
    items: list[OrderItem]
    payments: list[Payment]
    plan: list[str]
    order_approved_at: datetime | None = None
    order_delivered_carrier_date: datetime | None = None
    order_delivered_customer_date: datetime | None = None
    sequence: int = 0
    last_change: datetime = field(init=False)
    next_change_at: datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.last_change = self.order_purchase_timestamp

    @property
    def finished(self) -> bool:
        return not self.plan

    def snapshot(self, event_id: str, event_type: str, event_time: datetime) -> dict:
        """The event for the order as it is now (a full snapshot, never a delta)."""

        def optional(moment: datetime | None) -> str | None:
            return rfc3339(moment) if moment else None

        return {
            "event_id": event_id,
            "event_type": event_type,
            "event_time": rfc3339(event_time, milliseconds=True),
            "sequence": self.sequence,
            "schema_version": DEFAULT_PRODUCER_VERSION,
            "order": {
                "order_id": self.order_id,
                "customer_id": self.customer.customer_id,
                "order_status": self.order_status,
                "order_purchase_timestamp": rfc3339(self.order_purchase_timestamp),
                "order_approved_at": optional(self.order_approved_at),
                "order_delivered_carrier_date": optional(self.order_delivered_carrier_date),
                "order_delivered_customer_date": optional(self.order_delivered_customer_date),
                "order_estimated_delivery_date": rfc3339(self.order_estimated_delivery_date),
            },
            "customer": {
                "customer_id": self.customer.customer_id,
                "customer_unique_id": self.customer.customer_unique_id,
                "customer_zip_code_prefix": self.customer.customer_zip_code_prefix,
                "customer_city": self.customer.customer_city,
                "customer_state": self.customer.customer_state,
            },
            "items": [
                {
                    "order_item_id": item.order_item_id,
                    "product_id": item.product_id,
                    "seller_id": item.seller_id,
                    "shipping_limit_date": rfc3339(item.shipping_limit_date),
                    "price": float(item.price),
                    "freight_value": float(item.freight_value),
                }
                for item in self.items
            ],
            "payments": [
                {
                    "payment_sequential": payment.payment_sequential,
                    "payment_type": payment.payment_type,
                    "payment_installments": payment.payment_installments,
                    "payment_value": float(payment.payment_value),
                }
                for payment in self.payments
            ],
        }


class OrderFactory:
    """Creates orders and advances them through created → approved → invoiced → (processing) → shipped →
    delivered, with some canceled or unavailable, and some lines dropped at invoicing."""

    def __init__(self, rng: random.Random, faker: Faker, catalog: Catalog) -> None:
        self.rng = rng
        self.faker = faker
        self.catalog = catalog
        self._people: list[Customer] = []

    def _customer(self) -> Customer:
        rng = self.rng
        if self._people and rng.random() < 0.12:  # a returning person: new per-order customer_id
            person = rng.choice(self._people)
            return replace(person, customer_id=random_hex_id(rng))
        state = rng.choices(STATES, weights=STATE_WEIGHTS)[0]
        city = rng.choice(state.cities) if rng.random() < 0.85 else olist_city(self.faker.city())
        customer = Customer(
            customer_id=random_hex_id(rng),
            customer_unique_id=random_hex_id(rng),
            customer_zip_code_prefix=f"{rng.randint(*state.zip_range):05d}",
            customer_city=city,
            customer_state=state.code,
        )
        self._people.append(customer)
        return customer

    def _item(self, number: int, product: Product, seller: Seller, purchase: datetime) -> OrderItem:
        rng = self.rng
        weight_kg = (product.product_weight_g or 500) / 1000
        price = money(min(max(rng.lognormvariate(4.3, 0.9), 3.5), 6700))
        freight = money(min(7.5 + weight_kg * rng.uniform(0.8, 2.2) + rng.uniform(0, 12), 400))
        return OrderItem(
            number,
            product.product_id,
            seller.seller_id,
            purchase + timedelta(days=rng.uniform(2, 7)),
            price,
            freight,
        )

    def _items(self, purchase: datetime) -> list[OrderItem]:
        rng = self.rng
        count = rng.choices((1, 2, 3, 4, 6), weights=(86, 9, 3, 1.5, 0.5))[0]
        product = rng.choice(self.catalog.products)
        seller = rng.choice(self.catalog.sellers)
        items = []
        for number in range(1, count + 1):
            if number > 1 and rng.random() < 0.4:  # a new product; else the same product again, as in Olist
                product, seller = rng.choice(self.catalog.products), rng.choice(self.catalog.sellers)
            items.append(self._item(number, product, seller, purchase))
        return items

    def payments_for(self, items: list[OrderItem]) -> list[Payment]:
        """Payments that add up to the items' price + freight, split like Olist's."""
        rng = self.rng
        total = sum((item.price + item.freight_value for item in items), Decimal(0))
        if total == 0:
            return []
        if rng.random() < 0.08 and total > 10:  # a voucher covers part, a card the rest
            voucher = money(total * Decimal(str(rng.uniform(0.05, 0.6))))
            return [
                Payment(1, "voucher", 1, voucher),
                Payment(2, "credit_card", rng.randint(1, 6), total - voucher),
            ]
        payment_type = rng.choices(PAYMENT_TYPES, weights=PAYMENT_TYPE_WEIGHTS)[0]
        installments = rng.choices(range(1, 11), weights=(50, 12, 10, 8, 6, 4, 3, 3, 2, 2))[0]
        return [Payment(1, payment_type, installments if payment_type == "credit_card" else 1, total)]

    def _plan(self) -> list[str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            return ["order_approved", "order_canceled"] if rng.random() < 0.6 else ["order_canceled"]
        if roll < 0.04:
            return ["order_approved", "order_unavailable"]
        plan = ["order_approved", "order_invoiced"]
        if rng.random() < 0.3:
            plan.append("order_processing")
        plan.append("order_shipped")
        if rng.random() < 0.95:  # the rest are still in transit when the stream ends
            plan.append("order_delivered")
        return plan

    def create(self, purchase: datetime) -> Order:
        rng = self.rng
        items = self._items(purchase)
        # Olist promises a São Paulo calendar day: local midnight, as the real data has it.
        promised = (purchase + timedelta(days=rng.randint(8, 35))).astimezone(SOURCE_TIMEZONE)
        estimated = promised.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
        order = Order(
            order_id=random_hex_id(rng),
            customer=self._customer(),
            order_status="created",
            order_purchase_timestamp=purchase.replace(microsecond=0),
            order_estimated_delivery_date=estimated,
            items=items,
            payments=self.payments_for(items),
            plan=self._plan(),
        )
        order.sequence = 1
        self._schedule(order)
        return order

    def _schedule(self, order: Order) -> None:
        """Draw when the order's next planned change happens (None when it has no change left)."""
        if not order.plan:
            order.next_change_at = None
            return
        rng = self.rng
        step = order.plan[0]
        if step == "order_delivered":
            delay = timedelta(days=rng.lognormvariate(1.9, 0.6))
        else:
            hours = {
                "order_approved": (0.1, 2),
                "order_invoiced": (1, 24),
                "order_processing": (1, 12),
                "order_shipped": (12, 96),
                "order_canceled": (1, 48),
                "order_unavailable": (1, 48),
            }[step]
            delay = timedelta(hours=rng.uniform(*hours))
        order.next_change_at = (order.last_change + delay).replace(microsecond=0)

    def advance(self, order: Order, now: datetime | None = None) -> str:
        """Apply the order's next planned change at its scheduled time, or at ``now`` when that comes first (a
        live stream compresses lifecycles: a change cannot happen after the event that reports it).
        Returns its event_type."""
        rng = self.rng
        event_type = order.plan.pop(0)
        at = order.next_change_at
        if now is not None:
            at = max(min(at, now.replace(microsecond=0)), order.last_change)
        order.order_status = event_type.removeprefix("order_")
        if event_type == "order_approved":
            order.order_approved_at = at
        elif event_type == "order_invoiced" and len(order.items) > 1 and rng.random() < 0.05:
            order.items = order.items[:-1]  # a line out of stock: the next snapshot no longer has it
            order.payments = self.payments_for(order.items)
        elif event_type == "order_shipped":
            order.order_delivered_carrier_date = at
        elif event_type == "order_delivered":
            order.order_delivered_customer_date = at
        elif event_type == "order_unavailable":
            order.items, order.payments = [], []
        order.last_change = at
        order.sequence += 1
        self._schedule(order)
        return event_type

    def new_event_id(self) -> str:
        return random_uuid(self.rng)
