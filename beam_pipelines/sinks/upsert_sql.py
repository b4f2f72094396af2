"""The upsert, as SQL that DuckDB and BigQuery both run, generated from the table schemas.

Only identifiers from schemas/ are written into the SQL; every value arrives through a staged batch
(``batch_<table>``: an Arrow table in DuckDB, ``UNNEST(@<table>)`` in BigQuery). Each statement is guarded by
``_sequence`` so that, even without a transaction, a row is replaced or deleted only by a newer snapshot of
its order:

0. read what the batch's orders hold before anything changes (sequence and event_id, see sinks.fold);
1. ``orders``: update when the batch's sequence is higher, insert when the order is new;
2. lines (items, payments): upsert only the lines of snapshots that are now their order's current one (same
   ``_sequence`` *and* ``_event_id`` as the order row after step 1: a snapshot with an equal sequence but
   another event_id is a conflict and must not mix its lines in), then delete the lines of the batch's orders
   whose ``_sequence`` is older than their order's: a newer snapshot no longer has them.
"""

from __future__ import annotations

from collections.abc import Callable

from schemas import ORDER_ITEMS, ORDER_PAYMENTS, ORDERS, TableSchema, table_schema

LINE_TABLES = (ORDER_ITEMS, ORDER_PAYMENTS)


def staged(table: str) -> str:
    """Name of the staged batch of ``table``'s rows."""
    return f"batch_{table}"


class UpsertSql:
    """The statements of one flush, for a dialect given by how it quotes a table name."""

    def __init__(
        self,
        qualified: Callable[[str], str],
        partition_filter: Callable[[str], str] | None = None,
        versions: str | None = None,
    ) -> None:
        self.qualified = qualified
        #: A predicate on a target table alias that restricts every write to some partitions (BigQuery's
        #: compaction passes the purchase-date range of its orders, so each MERGE/DELETE prunes); None: all rows.
        self.partition_filter = partition_filter
        #: Where the line statements read each batch order's version after ``merge_orders`` (order_id,
        #: _sequence, _event_id): the orders table, or a relation the caller stages with exactly those rows
        #: (DuckDB: sinks.fold.current_versions, so that no line statement scans the whole orders table).
        self.versions = versions

    def _pruned(self, alias: str) -> str:
        return f" AND {self.partition_filter(alias)}" if self.partition_filter else ""

    def _versions(self) -> tuple[str, str]:
        """(the relation of the orders' versions, its partition predicate on alias ``o``)."""
        if self.versions:
            return self.versions, ""
        return self.qualified(ORDERS), self._pruned("o")

    def stored_versions(self) -> str:
        """What the batch's orders hold before the write: (order_id, _sequence, _event_id)."""
        return (
            f"SELECT o.order_id, o._sequence, o._event_id FROM {self.qualified(ORDERS)} AS o "
            f"WHERE o.order_id IN (SELECT order_id FROM {staged(ORDERS)})"
        )

    def merge_orders(self) -> str:
        table = table_schema(ORDERS)
        return (
            f"MERGE INTO {self.qualified(ORDERS)} AS t USING {staged(ORDERS)} AS s "
            f"ON t.order_id = s.order_id{self._pruned('t')} "
            f"WHEN MATCHED AND s._sequence > t._sequence THEN UPDATE SET {_assignments(table)} "
            f"WHEN NOT MATCHED THEN INSERT ({_columns(table)}) VALUES ({_columns(table, 's.')})"
        )

    def merge_lines(self, name: str) -> str:
        table = table_schema(name)
        key = " AND ".join(f"t.{k} = s.{k}" for k in table.primary_key)
        versions, pruned = self._versions()
        current = (
            f"SELECT l.* FROM {staged(name)} AS l JOIN {versions} AS o "
            f"ON o.order_id = l.order_id AND o._sequence = l._sequence AND o._event_id = l._event_id{pruned}"
        )
        return (
            f"MERGE INTO {self.qualified(name)} AS t USING ({current}) AS s ON {key}{self._pruned('t')} "
            f"WHEN MATCHED AND s._sequence > t._sequence THEN UPDATE SET {_assignments(table)} "
            f"WHEN NOT MATCHED THEN INSERT ({_columns(table)}) VALUES ({_columns(table, 's.')})"
        )

    def delete_obsolete_lines(self, name: str) -> str:
        versions, pruned = self._versions()
        return (
            f"DELETE FROM {self.qualified(name)} AS t "
            f"WHERE t.order_id IN (SELECT order_id FROM {staged(ORDERS)}){self._pruned('t')} "
            f"AND t._sequence < (SELECT o._sequence FROM {versions} AS o "
            f"WHERE o.order_id = t.order_id{pruned})"
        )

    def statements(self) -> list[str]:
        """The writes of one flush, in order (run them in one transaction where the engine has one)."""
        writes = [self.merge_orders()]
        for name in LINE_TABLES:
            writes += [self.merge_lines(name), self.delete_obsolete_lines(name)]
        return writes


def _columns(table: TableSchema, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in table.column_names)


def _assignments(table: TableSchema) -> str:
    return ", ".join(f"{c} = s.{c}" for c in table.column_names if c not in table.primary_key)
