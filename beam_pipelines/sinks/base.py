"""The interface every warehouse implements, and how the sink DoFns tell failures apart.

Three kinds of failure, three answers (DESIGN.md, "Failure rules"):
- transient (a lock, a 5xx, an aborted transaction, a network fault) that outlasts its retries:
  :class:`RetryLaterError` — the messages are not acked (local read) or the bundle fails (Dataflow), so they
  come back; never dead-lettered;
- the content of a batch refused (a value the engine cannot take): :class:`ContentRefusedError` — the batch is
  split until only the offending snapshots remain, and those are dead-lettered, each with its own error;
- anything the warehouse raises that is neither is treated as content only after splitting shows it follows
  one snapshot; infrastructure errors (permissions, a missing table) are RetryLaterError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from beam_pipelines.messages import SnapshotRows
from beam_pipelines.sinks.fold import StoredVersion


class RetryLaterError(RuntimeError):
    """A transient or infrastructure failure that outlasted its retries: leave the messages for redelivery."""


class ContentRefusedError(RuntimeError):
    """The warehouse refused a batch because of what it holds (the cause is chained)."""


class Warehouse(Protocol):
    """A warehouse the pipeline upserts into. Implementations are picklable; clients are opened lazily."""

    def prepare(self) -> None:
        """Check (or, where allowed, create) the tables before the first write."""

    def upsert(self, snapshots: Sequence[SnapshotRows]) -> Mapping[str, StoredVersion]:
        """Apply snapshots (at most one per order) to orders, order_items and order_payments, each only where it
        is newer than what the order holds; return what the batch's orders held before (one transaction).
        Raises RetryLaterError or ContentRefusedError."""

    def write_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to order_events_dead_letter, skipping any whose dead_letter_id is already stored.
        Raises RetryLaterError or ContentRefusedError."""

    def write_metrics(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to pipeline_metrics (beam_pipelines.pipeline_metrics builds them), quickly: a short wait
        at most, no long retries. The caller logs and drops any error, so this may raise anything."""
