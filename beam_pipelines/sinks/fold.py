"""What a batch of snapshots does to the warehouse: the same fold the tests' oracle runs, one batch at a time.

Messages arrive in any order, duplicated and replayed. Taken one by one in arrival order against what the
warehouse holds, each snapshot is exactly one of:

- ``applied``: newer than the order's current snapshot: it becomes current (and is written, unless a newer
  one in the same batch supersedes it: then it is ``superseded``);
- ``stale``: older than the current snapshot: it changes nothing;
- ``duplicate``: the current snapshot again (same sequence, same event_id): a redelivery; it changes nothing;
- ``conflict``: same sequence as the current snapshot but a different event_id (a producer bug): the current
  one stays whole and this one is dead-lettered as ``sequence_conflict``.

Only each order's batch winner (highest sequence, first arrival among equals) is sent to the warehouse, which
writes only the winners newer than what it holds (:func:`replacing` on DuckDB, inside its transaction; guards on
``_sequence`` and ``_event_id`` in BigQuery's compaction); the warehouse returns the versions it held before
the write, and :func:`classify` folds the batch against them. Both give the same final state as folding the
messages one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from beam_pipelines.messages import SnapshotRows

APPLIED = "applied"
SUPERSEDED = "superseded"
STALE = "stale"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
#: The dead-letter kind of a conflict (DESIGN.md: "Equal sequence with a different event_id").
SEQUENCE_CONFLICT = "sequence_conflict"


class StoredVersion(NamedTuple):
    """The snapshot an order holds in the warehouse: its sequence and event_id."""

    sequence: int
    event_id: str


def replacing(winners: Sequence[SnapshotRows], stored: Mapping[str, StoredVersion]) -> list[SnapshotRows]:
    """The winners that become their order's current snapshot: the order is new, or the winner's sequence is
    higher than the stored one (an equal sequence is a duplicate or a conflict, a lower one is stale: the stored
    snapshot stays whole)."""
    return [s for s in winners if (held := stored.get(s.order_id)) is None or s.sequence > held.sequence]


def batch_winners(snapshots: Sequence[SnapshotRows]) -> list[SnapshotRows]:
    """Each order's highest-sequence snapshot of the batch; the first to arrive wins a tie."""
    winners: dict[str, SnapshotRows] = {}
    for snapshot in snapshots:
        kept = winners.get(snapshot.order_id)
        if kept is None or snapshot.sequence > kept.sequence:
            winners[snapshot.order_id] = snapshot
    return list(winners.values())


def classify(snapshots: Sequence[SnapshotRows], stored: Mapping[str, StoredVersion]) -> list[str]:
    """The outcome of each snapshot (aligned with ``snapshots``), folding them in arrival order onto ``stored``."""
    current: dict[str, StoredVersion] = dict(stored)
    current_index: dict[str, int] = {}
    outcomes: list[str] = []
    for index, snapshot in enumerate(snapshots):
        held = current.get(snapshot.order_id)
        if held is None or snapshot.sequence > held.sequence:
            previous = current_index.get(snapshot.order_id)
            if previous is not None:
                outcomes[previous] = SUPERSEDED
            current[snapshot.order_id] = StoredVersion(snapshot.sequence, snapshot.event_id)
            current_index[snapshot.order_id] = index
            outcomes.append(APPLIED)
        elif snapshot.sequence < held.sequence:
            outcomes.append(STALE)
        elif snapshot.event_id == held.event_id:
            outcomes.append(DUPLICATE)
        else:
            outcomes.append(CONFLICT)
    return outcomes
