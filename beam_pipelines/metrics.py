"""Every counter the pipeline keeps, named once, and the one-line summary a local run prints from them.

On Dataflow the same counters show in the job's metrics (namespace ``orders``); locally the launcher sums
them across steps.
"""

from __future__ import annotations

import threading
from collections import Counter

from apache_beam.metrics import Metrics
from apache_beam.metrics.execution import MetricsEnvironment

NAMESPACE = "orders"

# Reading
MESSAGES_PULLED = "messages_pulled"
PULL_ERRORS = "pull_errors"
ACK_ERRORS = "ack_errors"
# Validation (plus one ``invalid_<kind>`` counter per error kind)
VALID = "valid"
INVALID = "invalid"
#: Valid snapshots with data-quality warnings (plus one ``quality_<flag>`` counter per flag).
FLAGGED = "flagged_snapshots"
QUALITY_PREFIX = "quality_"
ROWS_FAILED = "rows_failed"
# Upsert outcomes, one per snapshot (see sinks.fold)
APPLIED = "snapshots_applied"
SUPERSEDED = "superseded_in_batch"
STALE = "stale_snapshots"
DUPLICATE = "duplicate_snapshots"
CONFLICT = "sequence_conflicts"
REFUSED = "refused_by_warehouse"
FLUSHES = "flushes"
BATCH_SPLITS = "batch_splits"
# Both sinks
DEFERRED = "deferred_for_redelivery"
DEAD_LETTERS_WRITTEN = "dead_letters_written"
#: Writes of the pipeline_metrics table that failed (logged and dropped: they never fail or delay a flush).
METRICS_WRITE_FAILED = "metrics_write_failed"


def counter(name: str) -> ThreadSafeCounter:
    """The counter ``name`` (one of the constants above, or ``invalid_<kind>``), usable from any thread."""
    return ThreadSafeCounter(name)


#: Counts made outside a bundle's thread, by counter name, until ``report_pending`` adds them to Beam's counters.
_pending: Counter[str] = Counter()
_pending_lock = threading.Lock()


class ThreadSafeCounter:
    """Beam's counter ``name`` in NAMESPACE, for code that also runs in threads of ours (the ack sender, the
    pull prefetcher).

    Beam counts only in a bundle's thread: elsewhere it has no metrics container, and an increment is silently
    dropped. Such increments wait here, process-wide, until a bundle's thread calls ``report_pending`` (the
    local read does in each bundle).
    """

    __slots__ = ("_beam", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._beam = Metrics.counter(NAMESPACE, name)

    def inc(self, n: int = 1) -> None:
        if MetricsEnvironment.current_container() is not None:
            self._beam.inc(n)
            return
        with _pending_lock:
            _pending[self.name] += n


def report_pending() -> None:
    """Add the counts made outside bundles so far to Beam's counters (call it from a bundle's thread)."""
    if not _pending:
        return
    with _pending_lock:
        counts = list(_pending.items())
        _pending.clear()
    for name, count in counts:
        Metrics.counter(NAMESPACE, name).inc(count)


def take_pending() -> dict[str, int]:
    """The counts waiting for ``report_pending``, which no longer wait (for tests: none leaks into the next)."""
    with _pending_lock:
        counts = dict(_pending)
        _pending.clear()
    return counts


def summary(totals: dict[str, int]) -> str:
    """One line for the end of a local run, from counter totals summed by name."""

    def total(name: str) -> int:
        return int(totals.get(name, 0) or 0)

    read = total(VALID) + total(INVALID)
    optional = [
        (total(FLAGGED), "valid with data-quality flags"),
        (total(CONFLICT), "sequence conflicts"),
        (total(ROWS_FAILED), "failed to convert to rows"),
        (total(REFUSED), "refused by the warehouse"),
        (total(DEFERRED), "left for redelivery"),
        (total(PULL_ERRORS), "pull errors retried"),
        (total(ACK_ERRORS), "ack errors (redelivered, absorbed)"),
        (total(METRICS_WRITE_FAILED), "pipeline_metrics writes failed (dropped)"),
    ]
    return (
        f"{read} messages: {total(VALID)} valid, {total(INVALID)} dead-lettered at validation; "
        f"{total(APPLIED)} snapshots applied, {total(STALE)} stale, {total(DUPLICATE)} duplicate, "
        f"{total(SUPERSEDED)} superseded within a batch; {total(DEAD_LETTERS_WRITTEN)} dead letters written"
        + "".join(f"; {count} {label}" for count, label in optional if count)
    )


def totals_of(result) -> dict[str, int] | None:
    """Committed counter totals of a finished run, summed by name across steps (None when unavailable)."""
    try:
        results = result.metrics().query()["counters"]
    except Exception:  # some runners return no metrics; the summary is best effort
        return None
    totals: dict[str, int] = {}
    for counter_result in results:
        name = counter_result.key.metric.name
        totals[name] = totals.get(name, 0) + int(counter_result.committed or 0)
    return totals
