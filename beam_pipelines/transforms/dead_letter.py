"""DeadLetterSink: failed messages to the warehouse's dead-letter table and, optionally, a Pub/Sub topic.

The payload is kept byte for byte with its attributes, next to the stage, kind, message and JSON path of the
error (rows built by beam_pipelines.dead_letters, which cannot fail on content). Records are batched like the
upsert sink and acked after they are stored. Each message is stored once: duplicates within a flush are
dropped here, and the warehouse skips a dead_letter_id it already holds (redelivery, a re-run backfill).
After the commit, each flush appends the rows it stored to pipeline_metrics, as ``dead_lettered`` by
``<error_stage>/<error_kind>`` (beam_pipelines.pipeline_metrics).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import apache_beam as beam

from beam_pipelines import metrics, pipeline_metrics
from beam_pipelines.dead_letters import clean_text, topic_attributes
from beam_pipelines.messages import DeadLetter
from beam_pipelines.sinks.base import RetryLaterError
from beam_pipelines.transforms.batching import BatchingSinkFn

LOGGER = logging.getLogger(__name__)
_ROW_REFUSED_KEEPS = (
    "timestamp",
    "message_id",
    "dead_letter_id",
    "error_stage",
    "error_kind",
    "error_path",
    "payload_size_bytes",
    "payload_sha256",
    "payload_truncated",
)


class DeadLetterTopic:
    """Publishes dead letters to a topic with the original attributes plus error_* attributes."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._client = None

    def open(self) -> None:
        if self._client is None:
            from google.cloud import pubsub_v1

            self._client = pubsub_v1.PublisherClient()

    def publish(self, records: Sequence[DeadLetter]) -> None:
        """Publish every record, or raise RetryLaterError (they are stored already; redelivery publishes again)."""
        self.open()
        try:
            futures = [
                self._client.publish(self.topic, record.row["payload_bytes"] or b"", **topic_attributes(record.row))
                for record in records
            ]
            for future in futures:
                future.result(timeout=120)
        except Exception as error:  # transient, or a deleted topic or missing permission: never a dead letter
            raise RetryLaterError(f"publishing to {self.topic} failed: {type(error).__name__}: {error}") from error


def minimal_row(row: dict, error: BaseException) -> dict:
    """What is kept of a dead-letter row the warehouse refused: ids, the error, and the payload's hash only."""
    kept = {name: row.get(name) for name in _ROW_REFUSED_KEEPS}
    kept["error_message"] = clean_text(
        f"{row.get('error_message')} [the dead-letter row itself was refused ({error}); payload kept as its "
        "SHA-256 only]",
        4096,
    )
    return kept


class DeadLetterWriteFn(BatchingSinkFn):
    def __init__(self, warehouse, topic: DeadLetterTopic | None = None, batch_size: int = 1000, acker=None):
        super().__init__(warehouse, batch_size, acker)
        self.topic = topic

    def element_bytes(self, element: DeadLetter) -> int:
        row = element.row
        return len(row.get("payload_bytes") or b"") + len((row.get("payload_string") or "").encode("utf-8", "replace"))

    def setup(self) -> None:
        super().setup()
        if self.topic is not None:
            self.topic.open()
        self.written = metrics.counter(metrics.DEAD_LETTERS_WRITTEN)

    def write(self, batch: Sequence[DeadLetter]):
        first_of_each: dict[str, DeadLetter] = {}
        for record in batch:  # a message redelivered within one flush is stored once (and both copies acked)
            first_of_each.setdefault(record.row["dead_letter_id"], record)
        unique = list(first_of_each.values())
        self._stored = unique
        self._store(unique)
        if self.topic is not None:
            self.topic.publish(unique)
        self.written.inc(len(unique))
        return [], [record.ack_id for record in batch]

    def metric_counts(self, batch: Sequence[DeadLetter], committed_at: datetime) -> Counter:
        # The rows stored: one per message of the flush. (A row refused and stored in its minimal form keeps its
        # stage and kind.)
        return pipeline_metrics.dead_letter_counts(record.row for record in self._stored)

    def _store(self, records: Sequence[DeadLetter]) -> None:
        try:
            self.warehouse.write_dead_letters([record.row for record in records])
        except RetryLaterError:
            raise
        except Exception as error:  # ContentRefusedError, or anything unforeseen: split to find the row
            if len(records) > 1:
                middle = len(records) // 2
                self._store(records[:middle])
                self._store(records[middle:])
                return
            LOGGER.error(
                "dead-letter row %s refused, storing its minimal form: %s", records[0].row["dead_letter_id"], error
            )
            try:
                self.warehouse.write_dead_letters([minimal_row(records[0].row, error)])
            except RetryLaterError:
                raise
            except Exception as again:
                raise RetryLaterError(f"even the minimal dead-letter row was refused: {again}") from again


class DeadLetterSink(beam.PTransform):
    """PCollection[DeadLetter] -> None: stored in order_events_dead_letter (+ the topic when given)."""

    def __init__(self, warehouse, topic: str | None = None, batch_size: int = 1000, acker=None) -> None:
        super().__init__()
        self.warehouse = warehouse
        self.topic = DeadLetterTopic(topic) if topic else None
        self.batch_size = batch_size
        self.acker = acker

    def expand(self, dead_letters):
        return dead_letters | "WriteDeadLetters" >> beam.ParDo(
            DeadLetterWriteFn(self.warehouse, self.topic, self.batch_size, self.acker)
        )
