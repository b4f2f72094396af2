"""Acknowledging Pub/Sub messages after the warehouse commit (the local read pulls without acking)."""

from __future__ import annotations

from collections.abc import Iterable

ACK_CHUNK = 1000  # ack ids per request


class SubscriptionAcker:
    """Acks ack ids on one subscription. Picklable: the client is created on first use, per worker."""

    def __init__(self, subscription: str) -> None:
        self.subscription = subscription
        self._client = None

    def __getstate__(self) -> dict:
        return {"subscription": self.subscription, "_client": None}

    def ack(self, ack_ids: Iterable[str | None]) -> int:
        ids = [ack_id for ack_id in ack_ids if ack_id]
        if not ids:
            return 0
        if self._client is None:
            from google.cloud import pubsub_v1

            self._client = pubsub_v1.SubscriberClient()
        for start in range(0, len(ids), ACK_CHUNK):
            self._client.acknowledge(
                request={"subscription": self.subscription, "ack_ids": ids[start : start + ACK_CHUNK]},
                timeout=60,
            )
        return len(ids)
