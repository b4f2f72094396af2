"""DeadLetterSink: failed messages to the warehouse's dead-letter table and, optionally, a Pub/Sub topic.

The payload is kept byte for byte with its attributes, next to the stage, kind, message and JSON path of
the error. Records are batched inside the DoFn like the upsert sink, and acked after they are stored.
"""

from __future__ import annotations

import json
import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.acks import SubscriptionAcker
from beam_pipelines.messages import DeadLetter
from beam_pipelines.sinks.base import RetryLaterError, Warehouse

LOGGER = logging.getLogger(__name__)
#: Pub/Sub limits an attribute value to 1024 bytes.
MAX_ATTRIBUTE_BYTES = 1024


def _attribute(text: str | None) -> str:
    encoded = (text or "").encode("utf-8")[:MAX_ATTRIBUTE_BYTES]
    return encoded.decode("utf-8", errors="ignore")


class DeadLetterTopic:
    """Publishes dead letters to a topic with the original attributes plus error_* attributes."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._client = None

    def __getstate__(self) -> dict:
        return {"topic": self.topic, "_client": None}

    def publish(self, records: list[DeadLetter]) -> None:
        from google.cloud import pubsub_v1

        if self._client is None:
            self._client = pubsub_v1.PublisherClient()
        futures = []
        for record in records:
            row = record.row
            attributes = {
                **_original_attributes(row["attributes"]),
                "error_stage": _attribute(row["error_stage"]),
                "error_kind": _attribute(row["error_kind"]),
                "error_message": _attribute(row["error_message"]),
                "error_path": _attribute(row["error_path"]),
            }
            futures.append(self._client.publish(self.topic, row["payload_bytes"] or b"", **attributes))
        for future in futures:
            future.result(timeout=120)


def _original_attributes(attributes_json: str) -> dict[str, str]:
    return {key: _attribute(value) for key, value in json.loads(attributes_json or "{}").items()}


class DeadLetterWriteFn(beam.DoFn):
    def __init__(
        self,
        warehouse: Warehouse,
        topic: DeadLetterTopic | None = None,
        batch_size: int = 1000,
        acker: SubscriptionAcker | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.topic = topic
        self.batch_size = batch_size
        self.acker = acker
        self.written = Metrics.counter("DeadLetterSink", "dead_letters_written")
        self.deferred = Metrics.counter("DeadLetterSink", "deferred_for_redelivery")

    def setup(self) -> None:
        self.warehouse.prepare()

    def start_bundle(self) -> None:
        self.buffer: list[DeadLetter] = []

    def process(self, record: DeadLetter):
        self.buffer.append(record)
        if len(self.buffer) >= self.batch_size:
            self._flush()

    def finish_bundle(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        try:
            self.warehouse.write_dead_letters([record.row for record in batch])
        except RetryLaterError as error:
            if self.acker is None:
                raise
            LOGGER.warning("warehouse busy, %d dead letters left for redelivery: %s", len(batch), error)
            self.deferred.inc(len(batch))
            return
        if self.topic is not None:
            self.topic.publish(batch)
        self.written.inc(len(batch))
        if self.acker is not None:
            self.acker.ack(record.ack_id for record in batch)


class DeadLetterSink(beam.PTransform):
    """PCollection[DeadLetter] -> None: stored in order_events_dead_letter (+ the topic when given)."""

    def __init__(
        self,
        warehouse: Warehouse,
        topic: str | None = None,
        batch_size: int = 1000,
        acker: SubscriptionAcker | None = None,
    ) -> None:
        super().__init__()
        self.warehouse = warehouse
        self.topic = DeadLetterTopic(topic) if topic else None
        self.batch_size = batch_size
        self.acker = acker

    def expand(self, dead_letters):
        return dead_letters | "WriteDeadLetters" >> beam.ParDo(
            DeadLetterWriteFn(self.warehouse, self.topic, self.batch_size, self.acker)
        )
