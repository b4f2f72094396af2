"""UpsertOrderSnapshots: apply snapshots to orders, order_items and order_payments in micro-batches.

Batching lives inside the DoFn (buffer in ``process``, flush by size and in ``finish_bundle``): on the local
FnApiRunner, GroupByKey/GroupIntoBatches/windows would fire only when the pipeline ends. A flush keeps each
order's newest snapshot of the batch, applies the batch to the three tables together (one transaction), then
acks the batch's messages when the read is the local one. A batch that fails permanently is dead-lettered
message by message with the error; a transient failure that outlasts its retries leaves the messages
un-acked for redelivery (local read) or fails the bundle for the runner to retry.
"""

from __future__ import annotations

import logging
import traceback

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from beam_pipelines.acks import SubscriptionAcker
from beam_pipelines.messages import DEAD_LETTER, STAGE_SINK, SnapshotRows, dead_letter
from beam_pipelines.sinks.base import RetryLaterError, Warehouse, latest_per_order

LOGGER = logging.getLogger(__name__)
APPLIED = "applied"


class UpsertSnapshotsFn(beam.DoFn):
    def __init__(self, warehouse: Warehouse, batch_size: int = 1000, acker: SubscriptionAcker | None = None):
        self.warehouse = warehouse
        self.batch_size = batch_size
        self.acker = acker
        self.applied = Metrics.counter("UpsertOrderSnapshots", "snapshots_applied")
        self.stale = Metrics.counter("UpsertOrderSnapshots", "stale_snapshots")
        self.duplicate = Metrics.counter("UpsertOrderSnapshots", "duplicate_snapshots")
        self.superseded = Metrics.counter("UpsertOrderSnapshots", "superseded_in_batch")
        self.flushes = Metrics.counter("UpsertOrderSnapshots", "flushes")
        self.deferred = Metrics.counter("UpsertOrderSnapshots", "deferred_for_redelivery")
        self.failed = Metrics.counter("UpsertOrderSnapshots", "dead_lettered")

    def setup(self) -> None:
        self.warehouse.prepare()

    def start_bundle(self) -> None:
        self.buffer: list[SnapshotRows] = []

    def process(self, snapshot: SnapshotRows):
        self.buffer.append(snapshot)
        if len(self.buffer) >= self.batch_size:
            yield from (pvalue.TaggedOutput(DEAD_LETTER, record) for record in self._flush())

    def finish_bundle(self):
        for record in self._flush():
            yield pvalue.TaggedOutput(DEAD_LETTER, WindowedValue(record, Timestamp.now(), [GlobalWindow()]))

    def _flush(self) -> list:
        if not self.buffer:
            return []
        batch, self.buffer = self.buffer, []
        latest, superseded = latest_per_order(batch)
        try:
            outcome = self.warehouse.upsert(latest)
        except RetryLaterError as error:
            if self.acker is None:
                raise
            LOGGER.warning("warehouse busy, %d messages left for redelivery: %s", len(batch), error)
            self.deferred.inc(len(batch))
            return []
        except Exception as error:  # a permanent sink error dead-letters the batch, never drops it
            LOGGER.error("upsert of %d snapshots failed, dead-lettering them: %s", len(batch), error)
            self.failed.inc(len(batch))
            stack = traceback.format_exc()
            kind = type(error).__name__
            return [
                dead_letter(s.message, STAGE_SINK, kind, f"warehouse write failed: {error}", None, stack) for s in batch
            ]
        self.flushes.inc()
        self.applied.inc(outcome.applied)
        self.stale.inc(outcome.stale)
        self.duplicate.inc(outcome.duplicate)
        self.superseded.inc(superseded)
        if self.acker is not None:
            self.acker.ack(s.message.ack_id for s in batch)
        return []


class UpsertOrderSnapshots(beam.PTransform):
    """PCollection[SnapshotRows] -> {dead_letter: PCollection[DeadLetter]} (batches the warehouse refused)."""

    def __init__(self, warehouse: Warehouse, batch_size: int = 1000, acker: SubscriptionAcker | None = None):
        super().__init__()
        self.warehouse = warehouse
        self.batch_size = batch_size
        self.acker = acker

    def expand(self, rows):
        return rows | "MergeOrdersItemsPayments" >> beam.ParDo(
            UpsertSnapshotsFn(self.warehouse, self.batch_size, self.acker)
        ).with_outputs(DEAD_LETTER, main=APPLIED)
