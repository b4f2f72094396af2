"""BigQuery's write path after the pipeline: exact current-state views over the changelog, and its compaction.

The streaming job only appends accepted snapshots to ``order_snapshots`` (no DML, so Dataflow's parallel
bundles never contend). Two things built here keep DESIGN.md's upsert semantics on top of it, generated for
BigQuery and for DuckDB from the same code (DuckDB runs them in the tests, against the fold oracle):

- **views** ``orders_current``, ``order_items_current``, ``order_payments_current``: the compacted table, minus
  the orders that the changelog's *tail* (rows not yet compacted) holds a newer snapshot of, plus those tail
  snapshots. Exact at every instant; a reader's filter on ``order_purchase_timestamp`` still prunes the compacted
  table (the tail is small);
- **compaction**, one script run by one writer (a scheduled query every ``interval``): read the tail, find the
  sequence conflicts among it (dead-lettered, as the pipeline does within a batch), and apply each order's newest
  snapshot with the same guarded MERGE/DELETE statements the DuckDB sink runs (sinks.upsert_sql), restricted to
  the purchase-date partitions the tail's orders live in. One transaction; a run that fails or overlaps another
  leaves nothing half-done, and the next run reads the same rows again (every step is idempotent).

Order of snapshots: highest ``_sequence`` wins; among equal sequences the one stored first stays whole (the
compacted row, else the earliest ``_ingested_at``); the others are ``sequence_conflict`` dead letters, one per
conflicting event (its redeliveries and re-publications are not dead-lettered again).

The tail is ``_ingested_at >= (last compacted_until - overlap)``. The compaction only takes rows older than
``settle`` seconds, so that a row whose streaming insert is still in flight when the run starts is picked up by
the next one; the overlap re-reads the rows of the previous window so that a row visible later than ``settle``
is still folded. Re-reading is harmless: an applied snapshot read again is a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from beam_pipelines.dead_letters import STAGE_SINK
from beam_pipelines.sinks.fold import SEQUENCE_CONFLICT
from beam_pipelines.sinks.upsert_sql import LINE_TABLES, UpsertSql, staged
from schemas import (
    CHANGELOG_TABLE,
    COMPACTION_RUNS_TABLE,
    CURRENT_VIEWS,
    DEAD_LETTER_TABLE,
    ORDERS,
    table_schema,
)
from schemas.changelog import DEAD_LETTER_ID, LINE_COLUMNS

PARTITION_COLUMN = "order_purchase_timestamp"
#: Changelog column holding each line table's rows.
NESTED = {table: column for column, table in LINE_COLUMNS.items()}
DEFAULT_SETTLE_SECONDS = 300
DEFAULT_OVERLAP_SECONDS = 3600
#: How far back the views read the changelog at most, so that BigQuery prunes its hourly partitions (a bound
#: on a subquery does not prune). The views are exact while the last compaction is younger than this minus the
#: overlap (5 h by default, against a 60 min schedule); ``compaction_runs`` shows the lag to alert on.
DEFAULT_VIEW_WINDOW_SECONDS = 6 * 3600
EPOCH = "TIMESTAMP '1970-01-01 00:00:00+00'"
#: Order in which equal-sequence snapshots are stored (the first stays whole).
STORED_ORDER = "_sequence DESC, _ingested_at, _event_id"


@dataclass(frozen=True)
class Dialect:
    """What differs between BigQuery and DuckDB in the statements below."""

    name: str
    qualified: Callable[[str], str]
    #: ``DECLARE``/``SET VARIABLE`` a script variable, and how to read it.
    declare: Callable[[str, str, str], str]
    assign: Callable[[str, str], str]
    variable: Callable[[str], str]
    #: ``timestamp - seconds``.
    minus_seconds: Callable[[str, int], str]
    #: ``UNNEST(array) AS alias`` where ``alias.column`` then reads a field of each element.
    unnest: Callable[[str, str], str]
    #: A whole row (a FROM alias) as JSON text.
    row_json: Callable[[str], str]
    #: The instant the compaction runs at.
    now: str
    commit: str
    #: How a temp table is created: BigQuery's script starts afresh each run (and its transactions list plain
    #: CREATE TEMP TABLE); a DuckDB connection may compact again.
    create_temp: str = "CREATE TEMP TABLE"


def bigquery_dialect(project: str, dataset: str) -> Dialect:
    return Dialect(
        name="bigquery",
        qualified=lambda name: f"`{project}.{dataset}.{name}`",
        declare=lambda name, type_, value: f"DECLARE {name} {type_} DEFAULT ({value})",
        assign=lambda name, value: f"SET {name} = ({value})",
        variable=lambda name: name,
        minus_seconds=lambda ts, seconds: f"TIMESTAMP_SUB({ts}, INTERVAL {int(seconds)} SECOND)",
        unnest=lambda array, alias: f"UNNEST({array}) AS {alias}",
        row_json=lambda alias: f"TO_JSON_STRING({alias})",
        now="CURRENT_TIMESTAMP()",
        commit="COMMIT TRANSACTION",
    )


def duckdb_dialect(schema: str) -> Dialect:
    from warehouse.duckdb_schema import quote

    return Dialect(
        name="duckdb",
        qualified=lambda name: f"{quote(schema)}.{quote(name)}",
        declare=lambda name, type_, value: f"SET VARIABLE {name} = CAST(({value}) AS {type_})",
        assign=lambda name, value: f"SET VARIABLE {name} = ({value})",
        variable=lambda name: f"getvariable('{name}')",
        minus_seconds=lambda ts, seconds: f"({ts} - to_seconds({int(seconds)}))",
        unnest=lambda array, alias: f"UNNEST({array}) AS _unnested({alias})",
        row_json=lambda alias: f"CAST(to_json({alias}) AS VARCHAR)",
        # The caller sets it (tests choose the instant; see compaction.compact_duckdb and set_duckdb_now).
        now="CAST(getvariable('compaction_now') AS TIMESTAMPTZ)",
        commit="COMMIT",
        create_temp="CREATE OR REPLACE TEMP TABLE",
    )


def _columns(table: str, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in table_schema(table).column_names)


class CompactionSql:
    """The views and the compaction script of one dialect."""

    def __init__(
        self,
        dialect: Dialect,
        settle_seconds: int = DEFAULT_SETTLE_SECONDS,
        overlap_seconds: int = DEFAULT_OVERLAP_SECONDS,
        view_window_seconds: int = DEFAULT_VIEW_WINDOW_SECONDS,
    ) -> None:
        self.d = dialect
        self.settle_seconds = settle_seconds
        self.overlap_seconds = overlap_seconds
        self.view_window_seconds = view_window_seconds
        self.upsert = UpsertSql(dialect.qualified, partition_filter=self._partition_filter)

    # -- shared pieces -------------------------------------------------------------------------------------------
    def tail_start(self) -> str:
        """Where the changelog's tail begins: the last compaction's end minus the overlap (all of it before any)."""
        last = f"(SELECT MAX(compacted_until) FROM {self.d.qualified(COMPACTION_RUNS_TABLE)})"
        return f"COALESCE({self.d.minus_seconds(last, self.overlap_seconds)}, {EPOCH})"

    def _partition_filter(self, alias: str) -> str:
        lo, hi = self.d.variable("partition_lo"), self.d.variable("partition_hi")
        # NULL: line rows written before the column existed (they sit in BigQuery's __NULL__ partition).
        return f"({alias}.{PARTITION_COLUMN} BETWEEN {lo} AND {hi} OR {alias}.{PARTITION_COLUMN} IS NULL)"

    def _tail_winners(self) -> str:
        """Each order's first-stored newest snapshot among the changelog rows not yet compacted (plus the overlap),
        within the view window (a constant bound: it prunes)."""
        window = self.d.minus_seconds(self.d.now, self.view_window_seconds)
        return (
            f"SELECT * FROM {self.d.qualified(CHANGELOG_TABLE)} "
            f"WHERE _ingested_at >= {window} AND _ingested_at >= {self.tail_start()} "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY {STORED_ORDER}) = 1"
        )

    def _line_columns(self, table: str, alias: str) -> str:
        return ", ".join(f"{alias}.{c} AS {c}" for c in table_schema(table).column_names)

    # -- views ---------------------------------------------------------------------------------------------------
    def view_query(self, table: str) -> str:
        """The SELECT of ``<table>_current``."""
        q = self.d.qualified
        tail = f"WITH tail AS ({self._tail_winners()}) "
        if table == ORDERS:
            return (
                tail + f"SELECT {_columns(ORDERS, 'o.')} FROM {q(ORDERS)} AS o WHERE NOT EXISTS "
                "(SELECT 1 FROM tail AS w WHERE w.order_id = o.order_id AND w._sequence > o._sequence) "
                f"UNION ALL SELECT {_columns(ORDERS, 'w.')} FROM tail AS w WHERE NOT EXISTS "
                f"(SELECT 1 FROM {q(ORDERS)} AS o WHERE o.order_id = w.order_id AND o._sequence >= w._sequence)"
            )
        return (
            # Compacted lines all carry their order's stored _sequence: they stay unless the tail holds a newer one.
            tail + f"SELECT {_columns(table, 'l.')} FROM {q(table)} AS l WHERE NOT EXISTS "
            "(SELECT 1 FROM tail AS w WHERE w.order_id = l.order_id AND w._sequence > l._sequence) "
            f"UNION ALL SELECT {self._line_columns(table, 'l')} FROM tail AS w "
            f"CROSS JOIN {self.d.unnest('w.' + NESTED[table], 'l')} WHERE NOT EXISTS "
            f"(SELECT 1 FROM {q(ORDERS)} AS o WHERE o.order_id = w.order_id AND o._sequence >= w._sequence)"
        )

    def views(self) -> dict[str, str]:
        """``CREATE OR REPLACE VIEW`` of each current-state view, by view name."""
        return {
            view: f"CREATE OR REPLACE VIEW {self.d.qualified(view)} AS {self.view_query(table)}"
            for table, view in CURRENT_VIEWS.items()
        }

    # -- compaction ----------------------------------------------------------------------------------------------
    def statements(self) -> list[str]:
        """The compaction, one statement per item (a BigQuery script once joined with ``;``)."""
        d, q, v = self.d, self.d.qualified, self.d.variable
        since, until = v("compaction_since"), v("compaction_until")
        tail_rows = (
            f"SELECT * FROM {q(CHANGELOG_TABLE)} WHERE _ingested_at >= {since} AND _ingested_at < {until} "
            # A snapshot appended twice (a redelivery, a retried insert) counts once: its first row.
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY order_id, _event_id, _sequence ORDER BY _ingested_at) = 1"
        )
        history = (
            "SELECT order_id, _sequence, _event_id, 0 AS _src, CAST(NULL AS TIMESTAMP) AS _ingested_at "
            "FROM compaction_stored UNION ALL "
            "SELECT order_id, _sequence, _event_id, 1 AS _src, _ingested_at FROM compaction_tail"
        )
        order = "ORDER BY _src, _ingested_at, _event_id"
        # The one-at-a-time fold (sinks.fold) in SQL: a snapshot is a conflict when the highest sequence stored
        # before it equals its own and that sequence's first-stored event is another one.
        folded = (
            "SELECT order_id, _sequence, _event_id, _src, "
            f"MAX(_sequence) OVER (PARTITION BY order_id {order} "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS held_sequence, "
            f"FIRST_VALUE(_event_id) OVER (PARTITION BY order_id, _sequence {order} "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_event_id "
            f"FROM ({history}) AS h"
        )
        conflicts = (
            "SELECT t.* FROM compaction_tail AS t JOIN "
            f"({folded}) AS f ON f._src = 1 AND f.order_id = t.order_id AND f._event_id = t._event_id "
            "AND f._sequence = t._sequence WHERE f._sequence = f.held_sequence AND f._event_id <> f.first_event_id"
        )
        bounds = (
            f"SELECT {PARTITION_COLUMN} AS ts FROM {staged(ORDERS)} "
            f"UNION ALL SELECT {PARTITION_COLUMN} FROM compaction_stored"
        )
        dead_letter_columns = (
            "timestamp, payload_string, event_id, dead_letter_id, error_stage, error_kind, error_message, error_path"
        )
        message = (
            "CONCAT('order ', c.order_id, ' already has a snapshot with sequence ', CAST(c._sequence AS STRING), "
            "' from another event; this event ', c._event_id, ' repeats the sequence with different content (a "
            "producer bug: each change needs a higher sequence). The stored snapshot is kept whole. Found by the "
            "changelog compaction; payload_string is the snapshot as appended.')"
        )
        changed = (
            f"SELECT COUNT(*) FROM {staged(ORDERS)} AS b LEFT JOIN compaction_stored AS s ON s.order_id = b.order_id "
            "WHERE s.order_id IS NULL OR b._sequence > s._sequence"
        )
        return [
            d.declare("compaction_since", "TIMESTAMP", self.tail_start()),
            d.declare("compaction_until", "TIMESTAMP", d.minus_seconds(d.now, self.settle_seconds)),
            d.declare("partition_lo", "TIMESTAMP", "NULL"),
            d.declare("partition_hi", "TIMESTAMP", "NULL"),
            d.declare("orders_changed", "INT64", "0"),
            "BEGIN TRANSACTION",
            f"{d.create_temp} compaction_tail AS {tail_rows}",
            f"{d.create_temp} compaction_stored AS "
            f"SELECT order_id, _sequence, _event_id, {PARTITION_COLUMN} FROM {q(ORDERS)} "
            "WHERE order_id IN (SELECT order_id FROM compaction_tail)",
            f"{d.create_temp} compaction_conflicts AS {conflicts}",
            f"{d.create_temp} {staged(ORDERS)} AS SELECT * FROM compaction_tail "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY {STORED_ORDER}) = 1",
            *(
                f"{d.create_temp} {staged(table)} AS SELECT {self._line_columns(table, 'l')} "
                f"FROM {staged(ORDERS)} AS w CROSS JOIN {d.unnest('w.' + NESTED[table], 'l')}"
                for table in LINE_TABLES
            ),
            # The partitions the writes may touch: those of the new snapshots and of what the orders hold now
            # (a constant range, so that BigQuery prunes; correct even if a purchase instant were ever changed).
            d.assign("partition_lo", f"SELECT MIN(ts) FROM ({bounds}) AS b"),
            d.assign("partition_hi", f"SELECT MAX(ts) FROM ({bounds}) AS b"),
            d.assign("orders_changed", changed),
            *self.upsert.statements(),
            f"INSERT INTO {q(DEAD_LETTER_TABLE)} ({dead_letter_columns}) "
            f"SELECT CURRENT_TIMESTAMP, {d.row_json('c')}, c._event_id, c.{DEAD_LETTER_ID}, '{STAGE_SINK}', "
            f"'{SEQUENCE_CONFLICT}', {message}, '$.sequence' FROM compaction_conflicts AS c WHERE NOT EXISTS "
            f"(SELECT 1 FROM {q(DEAD_LETTER_TABLE)} AS x WHERE x.dead_letter_id = c.{DEAD_LETTER_ID}) "
            # Two equality-correlated anti-joins (BigQuery de-correlates those; an OR between them it may not).
            f"AND NOT EXISTS (SELECT 1 FROM {q(DEAD_LETTER_TABLE)} AS x "
            f"WHERE x.event_id = c._event_id AND x.error_kind = '{SEQUENCE_CONFLICT}')",
            f"INSERT INTO {q(COMPACTION_RUNS_TABLE)} "
            "(run_at, compacted_from, compacted_until, snapshots_read, orders_changed, conflicts) "
            f"SELECT CURRENT_TIMESTAMP, {since}, {until}, (SELECT COUNT(*) FROM compaction_tail), "
            f"{v('orders_changed')}, (SELECT COUNT(*) FROM compaction_conflicts)",
            d.commit,
        ]

    def script(self) -> str:
        return ";\n".join(self.statements()) + ";\n"
