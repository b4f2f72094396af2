"""The publisher against Google's real Pub/Sub emulator: attributes, ordering keys, per-order order."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import pytest
from pubsub_helpers import create_pubsub_names, pull_and_ack

pytestmark = pytest.mark.e2e


def test_published_events_arrive_with_attributes_keys_and_order(pubsub):
    # Per-order order holds on an ordered subscription (the pipeline's own is unordered: it does not need it).
    pubsub_names = create_pubsub_names(pubsub, message_ordering=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "publishers",
            "--topic",
            pubsub_names["topic"],
            "--orders",
            "200",
            "--seed",
            "8",
            "--rate",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=pubsub.environment(),
    )
    assert result.returncode == 0, result.stderr
    published = int(result.stderr.strip().splitlines()[-1].split()[0])
    assert published >= 1000
    messages = pull_and_ack(pubsub_names["subscription"], published)
    assert len(messages) == published
    sequences = defaultdict(list)
    for message in messages:
        event = json.loads(message.data)
        assert dict(message.attributes) == {
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "schema_version": str(event["schema_version"]),
            "event_time": event["event_time"],
        }
        assert message.ordering_key == event["order"]["order_id"]
        sequences[message.ordering_key].append(event["sequence"])
    assert len(sequences) == 200
    for order_id, seen in sequences.items():
        assert seen == sorted(seen) == list(range(1, len(seen) + 1)), order_id
    assert len({m.attributes["event_id"] for m in messages}) == published
