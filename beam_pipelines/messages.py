"""The elements that flow through the pipeline, and the one shape every dead-letter record has."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: Tag of the dead-letter output of every transform that can fail a message.
DEAD_LETTER = "dead_letter"

STAGE_SINK = "sink"


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as read: body bytes and attributes, plus the ack id when the local read acks after commit."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None
    ack_id: str | None = None


@dataclass(frozen=True)
class OrderSnapshot:
    """A valid order event (a full snapshot of one order) and the message it came in."""

    event: dict[str, Any]
    message: ReceivedMessage

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


@dataclass(frozen=True)
class DeadLetter:
    """A row of order_events_dead_letter, and the ack id of the message it stands for."""

    row: dict[str, Any]
    ack_id: str | None = None


def dead_letter(
    message: ReceivedMessage,
    stage: str,
    kind: str,
    error_message: str,
    error_path: str | None = None,
    stacktrace: str | None = None,
) -> DeadLetter:
    """The dead-letter record for ``message``: payload kept byte for byte, plus what was wrong and where."""
    try:
        payload_string: str | None = message.data.decode("utf-8")
    except UnicodeDecodeError:
        payload_string = None
    event_id = message.attributes.get("event_id")
    schema_version = message.attributes.get("schema_version")
    if payload_string is not None and (event_id is None or schema_version is None):
        try:
            body = json.loads(payload_string)
        except ValueError:
            body = None
        if isinstance(body, dict):
            event_id = event_id or _text(body.get("event_id"))
            schema_version = schema_version or _text(body.get("schema_version"))
    row = {
        "timestamp": datetime.now(timezone.utc),
        "payload_string": payload_string,
        "payload_bytes": message.data,
        "attributes": json.dumps(message.attributes, sort_keys=True),
        "message_id": message.message_id,
        "event_id": event_id,
        "schema_version": schema_version,
        "error_stage": stage,
        "error_kind": kind,
        "error_message": error_message,
        "error_path": error_path,
        "stacktrace": stacktrace,
    }
    return DeadLetter(row, message.ack_id)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
