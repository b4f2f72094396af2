"""The elements that flow through the pipeline, and the output tag every failing step sends dead letters to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

#: Tag of the dead-letter output of every transform that can fail a message (the table is
#: schemas.DEAD_LETTER_TABLE).
DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as read: body bytes and attributes, plus the ack id when the local read acks after commit.

    ``origin`` names where a file-input message came from (``<path>:<line>``)."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None
    ack_id: str | None = None
    origin: str | None = None

    @property
    def dead_letter_id(self) -> str:
        """Stable identity of this message across redeliveries and re-runs: it is dead-lettered once.

        A Pub/Sub message is its message id plus a short hash of its body: redeliveries keep both, while a
        message id reused by a restarted emulator (its ids start again at 1) names another body."""
        digest = hashlib.sha256(self.data).hexdigest()
        if self.message_id:
            return f"pubsub:{self.message_id}:{digest[:16]}"
        if self.origin:
            return f"file:{self.origin}"
        return f"sha256:{digest}"


@dataclass(frozen=True)
class OrderSnapshot:
    """A valid order event (a full snapshot of one order) and the message it came in."""

    event: dict[str, Any]
    message: ReceivedMessage
    quality_flags: tuple[str, ...] = ()

    @property
    def order_id(self) -> str:
        return self.event["order"]["order_id"]

    @property
    def sequence(self) -> int:
        return self.event["sequence"]


@dataclass(frozen=True)
class SnapshotRows:
    """One snapshot as warehouse rows: its order row, item rows and payment rows."""

    order_id: str
    sequence: int
    order: dict[str, Any]
    items: tuple[dict[str, Any], ...]
    payments: tuple[dict[str, Any], ...]
    message: ReceivedMessage

    @property
    def event_id(self) -> str:
        return self.order["_event_id"]


@dataclass(frozen=True)
class DeadLetter:
    """A row of order_events_dead_letter, and the ack id of the message it stands for."""

    row: dict[str, Any]
    ack_id: str | None = None
