"""Rows of the ``pipeline_metrics`` table: what each committed flush did, per UTC minute (pure functions).

Beam's counters (beam_pipelines.metrics) live in the runner: a local run prints them at its end and Dataflow
shows them in its console, but neither dbt nor a dashboard can read them. So each sink also appends, after a
flush commits, a few rows ``(minute, metric, kind, value, writer, written_at)`` to the warehouse:

- the upsert sink: ``valid`` (the snapshots it received: all of its input messages), one row per fold outcome
  (``applied``, ``superseded``, ``stale``, ``duplicate``, ``conflict``, ``refused``) and ``commit_latency_ms``,
  a histogram of publish-to-commit latency whose ``kind`` is the upper bound of the bucket in ms
  (LATENCY_BUCKETS_MS, then ``+Inf``; each message counted once, in the first bucket whose bound is >= its
  latency: not cumulative). Messages without a publish time (file input) have no latency;
- the dead-letter sinks: ``dead_lettered`` per ``<error_stage>/<error_kind>``, counting the rows stored (one per
  message of the flush: copies within a flush are stored once).

Only counts above zero become rows. ``minute`` is the start of the UTC minute of the commit, ``writer`` the sink
instance (host/pid/uuid), so rows of parallel sinks never collide: totals are sums over rows. The counts are at
least once, like the sinks: a message redelivered after its flush committed (a crash before the ack, a bundle
retried on Dataflow) is counted again.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from beam_pipelines.messages import ReceivedMessage

#: The warehouse table (schemas/bigquery/pipeline_metrics.json).
TABLE = "pipeline_metrics"

VALID = "valid"
APPLIED = "applied"
SUPERSEDED = "superseded"
STALE = "stale"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
REFUSED = "refused"
#: The upsert sink's outcomes, one per snapshot (sinks.fold, plus ``refused`` by the warehouse).
OUTCOMES = (APPLIED, SUPERSEDED, STALE, DUPLICATE, CONFLICT, REFUSED)
DEAD_LETTERED = "dead_lettered"
COMMIT_LATENCY_MS = "commit_latency_ms"

#: Upper bounds (ms, inclusive) of the commit latency buckets; above the last one: INFINITE_BUCKET.
LATENCY_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
INFINITE_BUCKET = "+Inf"
LATENCY_BUCKET_KINDS = (*(str(bound) for bound in LATENCY_BUCKETS_MS), INFINITE_BUCKET)

#: A count: (metric, kind) -> value.
Counts = Mapping[tuple[str, str | None], int]


def writer_id() -> str:
    """A name for one sink instance: ``<host>/<pid>/<random uuid>`` (call it once per DoFn instance)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex}"


def minute_of(instant: datetime) -> datetime:
    """The start of the UTC minute ``instant`` falls in (a naive datetime is read as UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(timezone.utc).replace(second=0, microsecond=0)


def latency_bucket(latency_ms: float) -> str:
    """The ``kind`` of a latency: the first bound >= it (a negative latency, clock skew, is in the first)."""
    for bound in LATENCY_BUCKETS_MS:
        if latency_ms <= bound:
            return str(bound)
    return INFINITE_BUCKET


def latency_counts(publish_times: Iterable[datetime | None], committed_at: datetime) -> Counter:
    """The commit latency histogram of messages published at ``publish_times`` (None: no publish time, skipped)."""
    counts: Counter = Counter()
    for published in publish_times:
        if published is None:
            continue
        latency_ms = (committed_at - published).total_seconds() * 1000
        if math.isfinite(latency_ms):
            counts[(COMMIT_LATENCY_MS, latency_bucket(latency_ms))] += 1
    return counts


def upsert_counts(outcomes: Iterable[str], messages: Iterable[ReceivedMessage], committed_at: datetime) -> Counter:
    """What one committed upsert flush did: the snapshots it received, their outcomes and commit latencies."""
    messages = list(messages)
    counts: Counter = Counter({(VALID, None): len(messages)})
    for outcome in outcomes:
        counts[(outcome, None)] += 1
    counts.update(latency_counts((m.publish_time for m in messages), committed_at))
    return counts


def dead_letter_counts(rows: Iterable[Mapping[str, Any]]) -> Counter:
    """The dead-letter rows one flush stored, by ``<error_stage>/<error_kind>``."""
    return Counter((DEAD_LETTERED, f"{row.get('error_stage')}/{row.get('error_kind')}") for row in rows)


def metric_rows(
    counts: Counts, committed_at: datetime, writer: str, written_at: datetime | None = None
) -> list[dict[str, Any]]:
    """Rows of the table for ``counts`` committed at ``committed_at``; counts of zero (or less) give no row."""
    minute = minute_of(committed_at)
    written_at = written_at or datetime.now(timezone.utc)
    return [
        {
            "minute": minute,
            "metric": metric,
            "kind": kind,
            "value": int(value),
            "writer": writer,
            "written_at": written_at,
        }
        for (metric, kind), value in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or ""))
        if value > 0
    ]


def latency_bound(kind: str) -> float:
    """A ``commit_latency_ms`` bucket's upper bound: "250" -> 250.0, "+Inf" -> inf."""
    return float(kind.strip())


def histogram_percentiles(
    buckets: Iterable[tuple[float, int]], percentiles: Iterable[int] = (50, 95, 99)
) -> dict[int, float]:
    """For each percentile, the upper bound of the bucket holding it (``buckets``: (upper bound, count), not
    cumulative, any order). Empty when nothing was measured."""
    ordered = sorted(buckets)
    total = sum(count for _, count in ordered)
    if total <= 0:
        return {}
    found = {}
    for percentile in percentiles:
        rank = max(1, math.ceil(percentile / 100 * total))
        seen = 0
        for bound, count in ordered:
            seen += count
            if seen >= rank:
                found[percentile] = bound
                break
    return found
