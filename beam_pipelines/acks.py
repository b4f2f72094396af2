"""Acknowledging Pub/Sub messages after the warehouse commit (the local read pulls without acking).

An ack that fails (the emulator restarting, a deadline on a busy machine) is retried with backoff and then
given up with a warning: the messages are redelivered later, and redelivery is harmless — the upsert is
idempotent and a dead letter is stored once per message id. A failing ack never stops the pipeline.

The sinks ack with ``ack_later``: after their commit, in a thread of their own, so the next bundle is read and
validated while the ack is under way (a drain spent ~4% of its time waiting on acks). ``close`` waits for
the acks sent so far; an ack lost to a crash before it is sent is only a redelivery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from beam_pipelines import metrics
from beam_pipelines.pubsub_client import pubsub_retry, subscriber_client

LOGGER = logging.getLogger(__name__)
ACK_CHUNK = 1000  # ack ids per request

ACK_RETRY = pubsub_retry(timeout=10.0)


class SubscriptionAcker:
    """Acks ack ids on one subscription. The client is created by ``open()``, in the DoFn's ``setup``."""

    def __init__(self, subscription: str) -> None:
        self.subscription = subscription
        self._client = None
        self._sender: ThreadPoolExecutor | None = None
        # Acks fail in the sender thread: the counter keeps them for a bundle's thread to report (see metrics).
        self.errors = metrics.counter(metrics.ACK_ERRORS)

    def open(self) -> None:
        if self._client is None:
            self._client = subscriber_client()

    def ack_later(self, ack_ids: Iterable[str | None]) -> None:
        """``ack`` in the background (one sender thread, so acks go out in the order they were asked for)."""
        ids = [ack_id for ack_id in ack_ids if ack_id]
        if ids:
            if self._sender is None:
                self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pubsub-ack")
            self._sender.submit(self.ack, ids)

    def close(self) -> None:
        """Waits until every ``ack_later`` so far is sent (or given up)."""
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.shutdown(wait=True)

    def ack(self, ack_ids: Iterable[str | None]) -> int:
        """Ack what can be acked; returns how many were. Never raises."""
        ids = [ack_id for ack_id in ack_ids if ack_id]
        if not ids:
            return 0
        self.open()
        acked = 0
        for start in range(0, len(ids), ACK_CHUNK):
            chunk = ids[start : start + ACK_CHUNK]
            try:
                self._client.acknowledge(
                    request={"subscription": self.subscription, "ack_ids": chunk}, retry=ACK_RETRY, timeout=60
                )
                acked += len(chunk)
            except Exception as error:  # redelivery is harmless; stopping the pipeline is not
                self.errors.inc(len(chunk))
                LOGGER.warning(
                    "could not ack %d messages on %s (they will be redelivered): %s",
                    len(chunk),
                    self.subscription,
                    error,
                )
        return acked
