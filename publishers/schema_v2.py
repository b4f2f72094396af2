"""Schema version 2 events: version 1 plus the order's sales ``channel`` and the customer's ``order_review``.

The generated stream draws both from a random generator of their own, seeded by (seed, order_id): asking for
version 2 does not change a single draw of the version 1 stream, so the same flags give the same orders in
either version. A review is written when the order is delivered (as Olist sends its satisfaction survey), and
later snapshots of the order carry it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from faker import Faker

from publishers.orders import Order, rfc3339
from schemas.olist import SOURCE_TIMEZONE

VERSION = 2
CHANNELS = ("web", "app", "marketplace", "social", "phone")
CHANNEL_WEIGHTS = (46.0, 31.0, 18.0, 3.0, 2.0)
#: Olist's review scores 1..5 are about 11%, 3%, 8%, 19%, 59% of reviews.
SCORE_WEIGHTS = (11.5, 3.2, 8.2, 19.3, 57.8)
#: Share of reviews with a title, and with a comment (Olist: about 12% and 41%).
TITLE_SHARE = 0.12
COMMENT_SHARE = 0.41


def upgrade(event: dict[str, Any], channel: str | None, review: dict[str, Any] | None) -> dict[str, Any]:
    """The version 2 form of a version 1 ``event``: the same snapshot, plus ``channel`` (when known) and the
    review (when there is one)."""
    upgraded = {**event, "schema_version": VERSION, "order": dict(event["order"])}
    if channel is not None:
        upgraded["order"]["channel"] = channel
    if review is not None:
        upgraded["order_review"] = review
    return upgraded


class Version2Details:
    """The channel and review of each generated order, drawn once per order and kept while it is open."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.faker = Faker("pt_BR")  # its own: re-seeding it per review must not touch the stream's draws
        self._open: dict[str, tuple[str, dict[str, Any] | None]] = {}

    def _rng(self, order_id: str, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}/{order_id}/{purpose}")  # noqa: S311 (seeded test data)

    def upgrade(self, order: Order, event: dict[str, Any]) -> dict[str, Any]:
        channel, review = self._open.get(order.order_id) or (self._channel(order.order_id), None)
        if review is None and event["event_type"] == "order_delivered":
            review = self._review(order.order_id, order.order_delivered_customer_date or order.last_change)
        if order.finished:
            self._open.pop(order.order_id, None)
        else:
            self._open[order.order_id] = (channel, review)
        return upgrade(event, channel, review)

    def _channel(self, order_id: str) -> str:
        return self._rng(order_id, "channel").choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]

    def _review(self, order_id: str, delivered: datetime) -> dict[str, Any]:
        rng = self._rng(order_id, "review")
        # The survey goes out at local midnight after delivery; most customers answer within a few days.
        local = delivered.astimezone(SOURCE_TIMEZONE)
        sent = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        answered = sent + timedelta(hours=rng.lognormvariate(3.3, 1.0)) if rng.random() < 0.97 else None
        score = rng.choices(range(1, 6), weights=SCORE_WEIGHTS)[0]
        self.faker.seed_instance(rng.getrandbits(32))
        return {
            "review_id": f"{rng.getrandbits(128):032x}",
            "review_score": score,
            "review_comment_title": self.faker.sentence(nb_words=3).rstrip(".") if rng.random() < TITLE_SHARE else None,
            "review_comment_message": self.faker.paragraph(nb_sentences=2) if rng.random() < COMMENT_SHARE else None,
            "review_creation_date": rfc3339(sent),
            "review_answer_timestamp": rfc3339(answered) if answered else None,
        }
