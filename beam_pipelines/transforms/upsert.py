"""UpsertOrderSnapshots: apply snapshots to orders, order_items and order_payments in micro-batches.

A flush sends each order's newest snapshot of the batch to the warehouse, then folds the whole batch against
what the orders held before (sinks.fold): applied, superseded, stale and duplicate snapshots are counted and
acked; a snapshot whose sequence equals the stored one but whose event_id differs is dead-lettered as
``sequence_conflict``. When the warehouse refuses a batch for its content, the batch is split in halves until
only the offending snapshots remain: every good one lands, and each bad one is dead-lettered with its own error.

DuckDB applies the batch in one guarded transaction and returns what the orders held, so the fold covers
earlier batches too. BigQuery appends the batch to its changelog and reads nothing back: the fold then covers
the batch alone (``applied`` counts appended snapshots), and the views and the scheduled compaction settle the
rest, dead-lettering conflicts across batches (sinks/compaction_sql.py).

After the commit, each flush appends to pipeline_metrics the snapshots it received (``valid``), their outcomes
and their publish-to-commit latencies (beam_pipelines.pipeline_metrics).
"""

from __future__ import annotations

import itertools
import traceback
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import apache_beam as beam

from beam_pipelines import metrics, pipeline_metrics
from beam_pipelines.dead_letters import STAGE_SINK, dead_letter
from beam_pipelines.messages import DeadLetter, SnapshotRows
from beam_pipelines.sinks import fold
from beam_pipelines.sinks.base import RetryLaterError
from beam_pipelines.transforms.batching import BatchingSinkFn

REFUSED = "refused"
SEQUENCE_CONFLICT = fold.SEQUENCE_CONFLICT
WAREHOUSE_REJECTED = "warehouse_rejected"
_COUNTERS = {
    fold.APPLIED: metrics.APPLIED,
    fold.SUPERSEDED: metrics.SUPERSEDED,
    fold.STALE: metrics.STALE,
    fold.DUPLICATE: metrics.DUPLICATE,
    fold.CONFLICT: metrics.CONFLICT,
    REFUSED: metrics.REFUSED,
}
#: The pipeline_metrics name of each outcome.
_METRICS = {
    fold.APPLIED: pipeline_metrics.APPLIED,
    fold.SUPERSEDED: pipeline_metrics.SUPERSEDED,
    fold.STALE: pipeline_metrics.STALE,
    fold.DUPLICATE: pipeline_metrics.DUPLICATE,
    fold.CONFLICT: pipeline_metrics.CONFLICT,
    REFUSED: pipeline_metrics.REFUSED,
}


class UpsertSnapshotsFn(BatchingSinkFn):
    def element_bytes(self, element: SnapshotRows) -> int:
        return len(element.message.data or b"")

    def setup(self) -> None:
        super().setup()
        self.outcomes = {outcome: metrics.counter(name) for outcome, name in _COUNTERS.items()}
        self.flushes = metrics.counter(metrics.FLUSHES)
        self.splits = metrics.counter(metrics.BATCH_SPLITS)

    def write(self, batch: Sequence[SnapshotRows]):
        rejected: list[DeadLetter] = []
        done: list[str | None] = []
        self._outcomes: list[str] = []
        for snapshot, outcome, error in self._apply(batch):
            self.outcomes[outcome].inc()
            self._outcomes.append(_METRICS[outcome])
            if outcome == fold.CONFLICT:
                rejected.append(_conflict(snapshot))
            elif outcome == REFUSED:
                rejected.append(_refused(snapshot, error))
            else:
                done.append(snapshot.message.ack_id)
        self.flushes.inc()
        return rejected, done

    def metric_counts(self, batch: Sequence[SnapshotRows], committed_at: datetime) -> Counter:
        return pipeline_metrics.upsert_counts(self._outcomes, (s.message for s in batch), committed_at)

    def _apply(self, batch: Sequence[SnapshotRows]) -> list[tuple[SnapshotRows, str, BaseException | None]]:
        try:
            stored = self.warehouse.upsert(fold.batch_winners(batch))
        except RetryLaterError:
            raise
        except Exception as error:  # ContentRefusedError, or anything unforeseen: split to find who causes it
            if len(batch) == 1:
                return [(batch[0], REFUSED, error)]
            self.splits.inc()
            middle = len(batch) // 2  # halves in arrival order: the fold stays the one-at-a-time fold
            return self._apply(batch[:middle]) + self._apply(batch[middle:])
        return list(zip(batch, fold.classify(batch, stored), itertools.repeat(None), strict=False))


def _conflict(snapshot: SnapshotRows) -> DeadLetter:
    return dead_letter(
        snapshot.message,
        STAGE_SINK,
        SEQUENCE_CONFLICT,
        f"order {snapshot.order_id} already has a snapshot with sequence {snapshot.sequence} from another event; "
        f"this event {snapshot.event_id} repeats the sequence with different content (a producer bug: each "
        "change needs a higher sequence). The stored snapshot is kept whole.",
        "$.sequence",
    )


def _refused(snapshot: SnapshotRows, error: BaseException | None) -> DeadLetter:
    cause = error.__cause__ if error is not None and error.__cause__ is not None else error
    return dead_letter(
        snapshot.message,
        STAGE_SINK,
        WAREHOUSE_REJECTED,
        f"the warehouse refused this snapshot of order {snapshot.order_id}: {error}",
        None,
        "".join(traceback.format_exception(cause)) if cause is not None else None,
    )


class UpsertOrderSnapshots(beam.PTransform):
    """PCollection[SnapshotRows] -> PCollection[DeadLetter] (conflicts and snapshots the warehouse refused)."""

    def __init__(self, warehouse, batch_size: int = 1000, acker=None):
        super().__init__()
        self.warehouse = warehouse
        self.batch_size = batch_size
        self.acker = acker

    def expand(self, rows):
        return rows | "WriteSnapshots" >> beam.ParDo(UpsertSnapshotsFn(self.warehouse, self.batch_size, self.acker))
