"""The interface every warehouse implements, and what the sink DoFns need to know about failures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from beam_pipelines.messages import SnapshotRows


class RetryLaterError(RuntimeError):
    """A transient failure that outlasted its retries (e.g. another process held the DuckDB file).

    Where messages can be redelivered (the local read acks after commit), the batch is left un-acked and
    comes back; elsewhere the error propagates so the runner retries the bundle.
    """


@dataclass(frozen=True)
class UpsertOutcome:
    """What one flush did: snapshots that became current, and the ones that changed nothing."""

    applied: int
    stale: int
    duplicate: int


class Warehouse(Protocol):
    """A warehouse the pipeline upserts into. Implementations are picklable; clients are opened lazily."""

    def prepare(self) -> None:
        """Check (or, where allowed, create) the tables before the first write."""

    def upsert(self, snapshots: Sequence[SnapshotRows]) -> UpsertOutcome:
        """Apply snapshots (at most one per order) to orders, order_items and order_payments, so that each
        order ends equal to its highest-sequence snapshot. Raises RetryLaterError or any other exception."""

    def write_dead_letters(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows to order_events_dead_letter."""


def latest_per_order(snapshots: Sequence[SnapshotRows]) -> tuple[list[SnapshotRows], int]:
    """Keep each order's highest-sequence snapshot of the batch (first one wins a tie); count the rest."""
    latest: dict[str, SnapshotRows] = {}
    for snapshot in snapshots:
        kept = latest.get(snapshot.order_id)
        if kept is None or snapshot.sequence > kept.sequence:
            latest[snapshot.order_id] = snapshot
    return list(latest.values()), len(snapshots) - len(latest)
