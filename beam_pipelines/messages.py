"""The elements that flow through the pipeline, and the output tag every failing step sends dead letters to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

#: Tag of the dead-letter output of every transform that can fail a message (the table is
#: schemas.DEAD_LETTER_TABLE).
DEAD_LETTER = "dead_letter"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def numbered_bodies(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, body) of each non-empty line of a JSONL file read as bytes: how the backfill reads
    ``--input_files`` and the verify command reads the publisher's files. A line ends at ``\n`` (a ``\r`` before
    it is dropped too); blank lines are skipped, and still numbered."""
    for number, line in enumerate(lines, start=1):
        body = line.removesuffix(b"\n").removesuffix(b"\r") if line.endswith(b"\n") else line
        if body:
            yield number, body


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as read: body bytes and attributes, plus the ack id when the local read acks after commit.

    ``origin`` names where a file-input message came from (``<path>:<line>``). ``publish_time`` is when Pub/Sub
    accepted the message (a timezone-aware UTC datetime; None for file input): the start of the commit latency
    in pipeline_metrics."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None
    ack_id: str | None = None
    origin: str | None = None
    publish_time: datetime | None = None

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


def utc_instant(value: Any) -> datetime | None:
    """``value`` as a plain timezone-aware UTC datetime, or None when it is none or not a time.

    Takes what the Pub/Sub clients hand out as a publish time: a datetime (google-api-core's
    DatetimeWithNanoseconds from proto-plus; a naive one is read as UTC), a Beam Timestamp, or a protobuf
    Timestamp. An unset protobuf Timestamp (the epoch) is None. Never raises: a message's publish time only
    feeds a metric."""
    try:
        if value is None:
            return None
        if hasattr(value, "to_utc_datetime"):  # apache_beam.utils.timestamp.Timestamp
            value = value.to_utc_datetime(has_tz=True)
        elif hasattr(value, "ToDatetime"):  # google.protobuf.timestamp_pb2.Timestamp
            if not (value.seconds or value.nanos):
                return None
            # a third of ToDatetime(tzinfo=...)'s cost, and plain already: the local read calls this per message
            return _EPOCH + timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        # a plain datetime: subclasses (DatetimeWithNanoseconds) need not pickle or compare like one
        return datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
            tzinfo=timezone.utc,
        )  # fmt: skip
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class OrderSnapshot:
    """A valid order event (a full snapshot of one order) and the message it came in."""

    event: dict[str, Any]
    message: ReceivedMessage
    quality_flags: tuple[str, ...] = ()
    #: The event's timestamps as validation parsed them (text -> instant), so ToRows does not parse them again.
    timestamps: dict[str, datetime] = field(default_factory=dict)

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
