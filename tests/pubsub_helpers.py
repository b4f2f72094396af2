"""Pub/Sub in tests: fresh resources on the emulator, and reading a subscription back."""

from __future__ import annotations

import itertools
import time

from google.api_core import exceptions
from google.cloud import pubsub_v1

from beam_pipelines.acks import SubscriptionAcker
from orders_local import emulator as pubsub_emulator

_names = itertools.count()


def create_pubsub_names(
    emulator: pubsub_emulator.Emulator, ack_deadline_seconds: int = 60, message_ordering: bool = False
) -> dict[str, str]:
    """A fresh topic, subscription and dead-letter topic (+ its subscription) on the emulator, as full paths."""
    n = next(_names)
    names = {
        "topic": f"orders-{n}",
        "subscription": f"orders-pipeline-{n}",
        "dead_letter_topic": f"orders-dead-letter-{n}",
        "dead_letter_subscription": f"orders-dead-letter-sub-{n}",
    }
    pubsub_emulator.create_resources(
        emulator, **names, ack_deadline_seconds=ack_deadline_seconds, message_ordering=message_ordering
    )
    return {
        key: emulator.subscription(name) if key.endswith("subscription") else emulator.topic(name)
        for key, name in names.items()
    }


def pull_and_ack(
    subscription: str, expected: int | None = None, timeout: float = 120.0, max_messages: int = 1000
) -> list:
    """Pull (and ack) until ``expected`` messages arrived or ``timeout`` passed; with no ``expected``, until the
    subscription answers an immediate pull with nothing (drained). ``max_messages=1`` for bodies of a MiB or
    more: a response holding several would exceed the emulator's 4 MiB message limit and fail the pull."""
    subscriber = pubsub_v1.SubscriberClient()
    received = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and (expected is None or len(received) < expected):
            try:
                response = subscriber.pull(
                    request={
                        "subscription": subscription,
                        "max_messages": max_messages,
                        "return_immediately": expected is None,
                    },
                    timeout=max(1.0, min(30.0, deadline - time.monotonic())),
                )
            except exceptions.DeadlineExceeded:
                continue
            if not response.received_messages:
                if expected is None:
                    break
                continue
            subscriber.acknowledge(
                request={"subscription": subscription, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
            received.extend(m.message for m in response.received_messages)
    finally:
        subscriber.close()
    return received


class RecordingAcker(SubscriptionAcker):
    """The local read's acker, recording the ack ids a sink acks instead of sending them."""

    def __init__(self):
        super().__init__("projects/p/subscriptions/s")
        self.acked = []

    def open(self):
        pass

    def ack(self, ack_ids):
        self.acked.extend(ack_ids)
        return len(self.acked)
