"""The one shape of every warehouse sink: buffer, flush, ack after commit, or leave for redelivery.

Batching lives inside the DoFn (buffer in ``process``, flush by size and in ``finish_bundle``): on the local
FnApiRunner, GroupByKey/GroupIntoBatches/windows between the read and the sink would fire only when the
pipeline ends. A flush that commits acks its messages when the read is the local one (the ack is sent in the
background, see beam_pipelines.acks); a flush that fails transiently (RetryLaterError) leaves them un-acked for
redelivery, or, without a local read (Dataflow, file input), fails the bundle so the runner retries it. The
sink's only output is what a flush rejects: dead letters, for a DeadLetterSink to store.

After a flush commits (and, with the local read, after asking for its ack), the sink appends what the flush did to the
pipeline_metrics table (``metric_counts``, rows built by beam_pipelines.pipeline_metrics). That write is best
effort: it never fails or delays the flush's ack; an error is logged and counted as ``metrics_write_failed``.

A warehouse with a ``session()`` (DuckDB) gets one per flush: the flush's write and its metrics rows share one
connection instead of one open and close (and checkpoint) each. The session ends with the flush, so other
processes (dbt's snapshot, the dashboard) get the file between flushes as before.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from beam_pipelines import metrics, pipeline_metrics
from beam_pipelines.acks import SubscriptionAcker
from beam_pipelines.messages import DeadLetter
from beam_pipelines.sinks.base import RetryLaterError, Warehouse

LOGGER = logging.getLogger(__name__)
#: A batch is also flushed once its messages' bodies add up to this much, whatever --batch_size says: a body may
#: be up to 1 MiB, so a count alone would not bound a sink's memory.
MAX_BATCH_BYTES = 64 << 20


class BatchingSinkFn(beam.DoFn):
    """Subclasses implement ``write(batch) -> (dead letters to emit, ack ids to ack)``, and ``metric_counts``
    for the pipeline_metrics rows of a committed flush."""

    def __init__(self, warehouse: Warehouse, batch_size: int = 1000, acker: SubscriptionAcker | None = None):
        self.warehouse = warehouse
        self.batch_size = batch_size
        self.acker = acker
        self.deferred = metrics.counter(metrics.DEFERRED)

    def setup(self) -> None:
        # Tables are checked (or created) at the first flush, not here: a warehouse that is busy or away at
        # start-up must delay writes, not fail the worker.
        self._prepared = False
        if self.acker is not None:
            self.acker.open()
        self.writer = pipeline_metrics.writer_id()  # per DoFn instance: rows of parallel sinks never collide
        self.metrics_write_failed = metrics.counter(metrics.METRICS_WRITE_FAILED)

    def teardown(self) -> None:
        if self.acker is not None:
            self.acker.close()  # the acks of committed flushes go out before the worker ends

    def start_bundle(self) -> None:
        self._buffer: list[Any] = []
        self._buffered_bytes = 0

    def process(self, element):
        self._buffer.append(element)
        self._buffered_bytes += self.element_bytes(element)
        if len(self._buffer) >= self.batch_size or self._buffered_bytes >= MAX_BATCH_BYTES:
            yield from self._flush()

    def element_bytes(self, element: Any) -> int:
        """Roughly what ``element`` holds in memory (its message body), for MAX_BATCH_BYTES."""
        return 0

    def finish_bundle(self):
        for record in self._flush():
            yield WindowedValue(record, Timestamp.now(), [GlobalWindow()])

    def write(self, batch: Sequence[Any]) -> tuple[list[DeadLetter], Iterable[str | None]]:
        raise NotImplementedError

    def metric_counts(self, batch: Sequence[Any], committed_at: datetime) -> Counter:
        """What the last ``write(batch)``, committed at ``committed_at``, did (pipeline_metrics counts)."""
        return Counter()

    def _flush(self) -> list[DeadLetter]:
        batch, self._buffer, self._buffered_bytes = self._buffer, [], 0
        if not batch:
            return []
        session = contextlib.ExitStack()
        if hasattr(self.warehouse, "session"):
            session.enter_context(self.warehouse.session())
        try:
            return self._flush_in(batch)
        finally:
            try:
                session.close()
            except Exception as error:  # after the commit and the ack: the batch is done whatever happens here
                LOGGER.warning(
                    "%s: closing the warehouse session failed: %s: %s", type(self).__name__, type(error).__name__, error
                )

    def _flush_in(self, batch: list[Any]) -> list[DeadLetter]:
        try:
            if not self._prepared:
                self.warehouse.prepare()
                self._prepared = True
            rejected, done = self.write(batch)
        except RetryLaterError as error:
            if self.acker is None:
                raise  # the runner retries the bundle: nothing is lost, nothing dead-lettered
            LOGGER.warning("%s: %d messages left for redelivery: %s", type(self).__name__, len(batch), error)
            self.deferred.inc(len(batch))
            return []
        committed_at = datetime.now(timezone.utc)
        if self.acker is not None:
            self.acker.ack_later(done)
        self._write_metrics(batch, committed_at)
        return rejected

    def _write_metrics(self, batch: Sequence[Any], committed_at: datetime) -> None:
        """Append the flush's pipeline_metrics rows; never raises (the flush is committed and acked already)."""
        try:
            rows = pipeline_metrics.metric_rows(self.metric_counts(batch, committed_at), committed_at, self.writer)
            if rows:
                self.warehouse.write_metrics(rows)
        except Exception as error:  # a metric is never worth a failed bundle or a redelivery
            self.metrics_write_failed.inc()
            LOGGER.warning("%s: pipeline_metrics not written: %s: %s", type(self).__name__, type(error).__name__, error)
