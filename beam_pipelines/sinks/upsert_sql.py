"""The upsert's SQL, generated from the table schemas: guarded MERGEs (:class:`UpsertSql`, BigQuery's compaction)
and a replace inside one transaction (:class:`ReplaceSql`, the DuckDB sink).

Only identifiers from schemas/ are written into the SQL; every value arrives through a staged batch
(``batch_<table>``: an Arrow table in DuckDB, ``UNNEST(@<table>)`` or a temp table in BigQuery).

:class:`UpsertSql`: each statement is guarded by ``_sequence`` so that, even without a transaction, a row is
replaced or deleted only by a newer snapshot of its order:

0. read what the batch's orders hold before anything changes (sequence and event_id, see sinks.fold);
1. ``orders``: update when the batch's sequence is higher, insert when the order is new;
2. lines (items, payments): upsert only the lines of snapshots that are now their order's current one (same
   ``_sequence`` *and* ``_event_id`` as the order row after step 1: a snapshot with an equal sequence but
   another event_id is a conflict and must not mix its lines in), then delete the lines of the batch's orders
   whose ``_sequence`` is older than their order's: a newer snapshot no longer has them.

:class:`ReplaceSql`: DuckDB has transactions and one writer, so its sink reads the stored versions, works out in
Python which winners replace what their order holds (sinks.fold.replacing), and stages only those: the replaced
orders' rows and lines are deleted and the staged rows inserted, with no MERGE. Each MERGE or DELETE scans its
target table (DuckDB has no index join); a batch of new orders, the usual case, runs inserts only.
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

    def __init__(self, qualified: Callable[[str], str], partition_filter: Callable[[str], str] | None = None) -> None:
        self.qualified = qualified
        #: A predicate on a target table alias that restricts every write to some partitions (BigQuery's
        #: compaction passes the purchase-date range of its orders, so each MERGE/DELETE prunes); None: all rows.
        self.partition_filter = partition_filter

    def _pruned(self, alias: str) -> str:
        return f" AND {self.partition_filter(alias)}" if self.partition_filter else ""

    def stored_versions(self) -> str:
        return stored_versions(self.qualified)

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
        current = (
            f"SELECT l.* FROM {staged(name)} AS l JOIN {self.qualified(ORDERS)} AS o "
            f"ON o.order_id = l.order_id AND o._sequence = l._sequence AND o._event_id = l._event_id{self._pruned('o')}"
        )
        return (
            f"MERGE INTO {self.qualified(name)} AS t USING ({current}) AS s ON {key}{self._pruned('t')} "
            f"WHEN MATCHED AND s._sequence > t._sequence THEN UPDATE SET {_assignments(table)} "
            f"WHEN NOT MATCHED THEN INSERT ({_columns(table)}) VALUES ({_columns(table, 's.')})"
        )

    def delete_obsolete_lines(self, name: str) -> str:
        return (
            f"DELETE FROM {self.qualified(name)} AS t "
            f"WHERE t.order_id IN (SELECT order_id FROM {staged(ORDERS)}){self._pruned('t')} "
            f"AND t._sequence < (SELECT o._sequence FROM {self.qualified(ORDERS)} AS o "
            f"WHERE o.order_id = t.order_id{self._pruned('o')})"
        )

    def statements(self) -> list[str]:
        """The writes of one flush, in order (run them in one transaction where the engine has one)."""
        writes = [self.merge_orders()]
        for name in LINE_TABLES:
            writes += [self.merge_lines(name), self.delete_obsolete_lines(name)]
        return writes


def stored_versions(qualified: Callable[[str], str]) -> str:
    """What the batch's orders hold before the write: (order_id, _sequence, _event_id)."""
    return (
        f"SELECT o.order_id, o._sequence, o._event_id FROM {qualified(ORDERS)} AS o "
        f"WHERE o.order_id IN (SELECT order_id FROM {staged(ORDERS)})"
    )


class ReplaceSql:
    """DuckDB's statements of one flush, run in one transaction after ``stored_versions``: delete what the
    replaced orders hold (their ids staged as ``REPLACED``), then insert the staged rows of the winners that
    replace or create their order (and nothing else: the caller stages only those)."""

    #: The staged ids of the orders whose stored snapshot the batch replaces.
    REPLACED = "batch_replaced_orders"

    def __init__(self, qualified: Callable[[str], str]) -> None:
        self.qualified = qualified

    def stored_versions(self) -> str:
        return stored_versions(self.qualified)

    def delete_replaced(self, name: str) -> str:
        return f"DELETE FROM {self.qualified(name)} WHERE order_id IN (SELECT order_id FROM {self.REPLACED})"

    def insert(self, name: str) -> str:
        columns = _columns(table_schema(name))
        return f"INSERT INTO {self.qualified(name)} ({columns}) SELECT {columns} FROM {staged(name)}"


def _columns(table: TableSchema, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in table.column_names)


def _assignments(table: TableSchema) -> str:
    return ", ".join(f"{c} = s.{c}" for c in table.column_names if c not in table.primary_key)
