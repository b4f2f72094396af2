"""The message stream: orders interleaved as they progress, then duplicates, reordering and bad messages.

Everything is drawn from seeded generators, so the same settings give the same messages, byte for byte. The
stream is produced lazily, so it can be of any length (``--duration``).
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from faker import Faker

from publishers import schema_v2
from publishers.catalog import Catalog, generate_catalog
from publishers.faults import FAULT_KINDS, corrupt
from publishers.orders import Order, OrderFactory
from publishers.schema_v2 import Version2Details
from schemas import DEFAULT_PRODUCER_VERSION, EVENT_SCHEMA_FILES

#: Live publishing: chance that the next event starts a new order rather than advancing one in flight.
NEW_ORDER_SHARE = 0.3
#: Simulated time between two purchases when no history window spreads them (an Olist-like day has ~100).
ORDER_INTERVAL_SECONDS = 600.0


@dataclass(frozen=True)
class Message:
    """One Pub/Sub message (or JSONL line). ``fault`` names the injected defect, if any."""

    data: bytes
    attributes: dict[str, str]
    ordering_key: str
    order_id: str
    sequence: int
    fault: str | None = None
    duplicate: bool = False
    reordered: bool = False


@dataclass(frozen=True)
class StreamSettings:
    seed: int = 0
    orders: int | None = 1000  # None: unbounded (until the caller stops, e.g. --duration)
    start_time: datetime | None = None
    history_days: float = 0.0
    duplicate_ratio: float = 0.0
    reorder_ratio: float = 0.0
    invalid_ratio: float = 0.0
    schema_version: int = DEFAULT_PRODUCER_VERSION

    def __post_init__(self) -> None:
        if self.schema_version not in EVENT_SCHEMA_FILES:
            raise ValueError(f"schema_version must be one of {sorted(EVENT_SCHEMA_FILES)}, got {self.schema_version}")
        for name in ("duplicate_ratio", "reorder_ratio", "invalid_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.orders is not None and self.orders < 0:
            raise ValueError(f"orders must be >= 0, got {self.orders}")


@dataclass
class StreamStats:
    orders: int = 0
    events: int = 0
    duplicates: int = 0
    reordered: int = 0
    invalid: Counter = field(default_factory=Counter)

    @property
    def messages(self) -> int:
        return self.events + self.duplicates + sum(self.invalid.values())


def encode(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def attributes_of(event: dict) -> dict[str, str]:
    return {
        "event_id": str(event["event_id"]),
        "event_type": str(event["event_type"]),
        "schema_version": str(event["schema_version"]),
        "event_time": str(event["event_time"]),
    }


class MessageStream:
    """Iterate to get messages; ``stats`` counts what was produced so far."""

    def __init__(self, settings: StreamSettings, catalog: Catalog | None = None, clock=None) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)  # noqa: S311 (seeded test data: reproducibility is the point)
        self.fault_rng = random.Random(settings.seed + 1)  # faults don't shift the orders' draws  # noqa: S311 (seeded test data)
        faker = Faker("pt_BR")
        faker.seed_instance(settings.seed)
        self.catalog = catalog or generate_catalog(self.rng, faker)
        self.factory = OrderFactory(self.rng, faker, self.catalog)
        self.start_time = settings.start_time
        self.clock = clock  # a callable giving the real time (live publishing); None: simulated
        self.stats = StreamStats()
        self.version_2 = Version2Details(settings.seed) if settings.schema_version == schema_v2.VERSION else None

    def _events(self) -> Iterator[tuple[Order, dict]]:
        return self._live_events() if self.clock is not None else self._simulated_events()

    def _simulated_events(self) -> Iterator[tuple[Order, dict]]:
        """A discrete-event simulation: each change goes out when it happens (event_time = its business time),
        in time order. With ``history_days``, purchases spread over the days before ``start_time`` and changes
        due after it stay pending (those orders are still open "now"); without, orders arrive from
        ``start_time`` on and every lifecycle completes."""
        settings = self.settings
        history = timedelta(days=settings.history_days)
        end = self.start_time if history else None
        gap = history / settings.orders if history and settings.orders else timedelta(seconds=ORDER_INTERVAL_SECONDS)
        pending: list[tuple[datetime, int, Order]] = []
        tiebreak = itertools.count()
        first = self.start_time - history

        def purchase_time(index: int) -> datetime:  # one purchase somewhere in each gap: exactly --orders of them
            return first + gap * (index + self.rng.random())

        next_purchase = purchase_time(0)
        while True:
            can_create = settings.orders is None or self.stats.orders < settings.orders
            due = pending[0][0] if pending else None
            if can_create and (due is None or next_purchase <= due):
                at = next_purchase
                if end is not None and at > end:
                    return
                order = self.factory.create(at)
                event_type = "order_created"
                self.stats.orders += 1
                next_purchase = purchase_time(self.stats.orders)
            elif due is not None:
                at, _, order = heapq.heappop(pending)
                if end is not None and at > end:
                    return
                event_type = self.factory.advance(order)
            else:
                return
            if order.next_change_at is not None:
                heapq.heappush(pending, (order.next_change_at, next(tiebreak), order))
            self.stats.events += 1
            yield order, order.snapshot(self.factory.new_event_id(), event_type, at)

    def _live_events(self) -> Iterator[tuple[Order, dict]]:
        """Live publishing: orders interleave at random as the real clock runs; lifecycles are compressed so
        that no change is dated after the moment it is published."""
        in_flight: list[Order] = []
        history = timedelta(days=self.settings.history_days)
        while True:
            can_create = self.settings.orders is None or self.stats.orders < self.settings.orders
            if not in_flight and not can_create:
                return
            now = self.clock()
            if can_create and (not in_flight or self.rng.random() < NEW_ORDER_SHARE):
                order = self.factory.create(now - history * self.rng.random() if history else now)
                event_type = "order_created"
                self.stats.orders += 1
                in_flight.append(order)
            else:
                order = self.rng.choice(in_flight)
                event_type = self.factory.advance(order, now)
            if order.finished:
                in_flight.remove(order)
            self.stats.events += 1
            yield order, order.snapshot(self.factory.new_event_id(), event_type, now)

    def __iter__(self) -> Iterator[Message]:
        """Messages in publishing order. A reordered snapshot is held back until the next snapshot of its
        order has gone out; a duplicate goes out again a few messages later."""
        settings, rng = self.settings, self.fault_rng
        held_back: dict[str, Message] = {}
        delayed: list[tuple[int, Message]] = []  # (messages still to wait, duplicate)
        for order, event in self._events():
            if self.version_2 is not None:
                event = self.version_2.upgrade(order, event)
            message = Message(encode(event), attributes_of(event), order.order_id, order.order_id, event["sequence"])
            out: list[Message] = []
            if rng.random() < settings.invalid_ratio:
                kind = rng.choice(FAULT_KINDS)
                broken = dict(event, event_id=self.factory.new_event_id())
                self.stats.invalid[kind] += 1
                out.append(
                    Message(
                        corrupt(kind, broken, rng),
                        attributes_of(broken),
                        order.order_id,
                        order.order_id,
                        event["sequence"],
                        fault=kind,
                    )
                )
            if rng.random() < settings.duplicate_ratio:
                self.stats.duplicates += 1
                delayed.append((rng.randint(0, 20), _copy(message, duplicate=True)))
            if order.order_id in held_back:
                out += [message, held_back.pop(order.order_id)]
                self.stats.reordered += 1
            elif not order.finished and rng.random() < settings.reorder_ratio:
                held_back[order.order_id] = _copy(message, reordered=True)
            else:
                out.append(message)
            for due in [d for d in delayed if d[0] <= 0]:
                delayed.remove(due)
                out.append(due[1])
            delayed = [(wait - 1, duplicate) for wait, duplicate in delayed]
            yield from out
        yield from (duplicate for _, duplicate in delayed)
        yield from held_back.values()  # only when the stream was cut short: their order never changed again


def _copy(message: Message, **changes) -> Message:
    return Message(**{**message.__dict__, **changes})
