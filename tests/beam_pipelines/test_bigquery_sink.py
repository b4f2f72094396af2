"""The BigQuery sink, checked at the google-cloud-bigquery boundary: the rows it streams into the changelog, its
retry of transient errors, and its dead-lettering of permanent ones. Only the client is fake (what the streamed
rows do in the views and the compaction: tests/beam_pipelines/test_compaction.py and test_bigquery_concurrency.py;
the SQL itself: tests/sql, by ZetaSQL)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
from google.api_core import exceptions, retry
from google.cloud import bigquery
from pubsub_helpers import RecordingAcker
from sample_events import snapshot

from beam_pipelines.dead_letters import dead_letter
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.base import RetryLaterError
from beam_pipelines.sinks.bigquery import (
    BigQueryWarehouse,
    add_missing_columns,
    create_missing_tables,
    create_views,
    is_transient,
)
from beam_pipelines.transforms.rows import snapshot_rows
from beam_pipelines.transforms.upsert import UpsertSnapshotsFn
from schemas import CHANGELOG_TABLE, CURRENT_VIEWS, table_schema

FAST_RETRY = retry.Retry(predicate=is_transient, initial=0.001, maximum=0.002, timeout=5)
INJECTION = "x'); DROP TABLE orders; --"
CHANGELOG = f"my-proj.orders_rt.{CHANGELOG_TABLE}"


class FakeJob:
    def result(self):
        return []


class FakeClient:
    """Records every call; raises the queued errors first, and refuses (as insertAll does, per row) any request
    holding ``poison`` text."""

    def __init__(self, errors=(), poison: str | None = None):
        self.errors = list(errors)
        self.poison = poison
        self.queries = []
        self.inserted = []
        self.attempts = 0
        self.created = []
        self.existing = {}  # table name -> bigquery.Table, what get_table finds
        self.updated = []

    def query(self, sql, job_config=None, location=None):
        self.queries.append(sql)
        return FakeJob()

    def insert_rows_json(self, table, rows, row_ids=None):
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        if self.poison and self.poison in json.dumps(rows):
            return [{"index": 0, "errors": [{"reason": "invalid", "message": f"Invalid value: {self.poison}"}]}]
        self.inserted.append((table, rows, row_ids))
        return []

    def create_table(self, table, exists_ok=False):
        if table.table_id == "orders":
            raise exceptions.Conflict("exists")
        self.created.append(table)

    def get_table(self, table_id):
        name = table_id.rsplit(".", 1)[-1]
        if name not in self.existing:
            raise exceptions.NotFound(table_id)
        return self.existing[name]

    def update_table(self, table, fields):
        self.updated.append((table.table_id, list(fields), [field.name for field in table.schema]))
        return table


def _rows(body: bytes, message_id: str = "m-1"):
    return snapshot_rows(OrderSnapshot(json.loads(body), ReceivedMessage(body, message_id=message_id)))


def _warehouse(client: FakeClient, retry_policy: retry.Retry = FAST_RETRY) -> BigQueryWarehouse:
    return BigQueryWarehouse("my-proj", "orders_rt", "US", client_factory=lambda: client, retry_policy=retry_policy)


#: A retry budget that a stream of transient errors outlasts.
SHORT_RETRY = retry.Retry(predicate=is_transient, initial=0.001, maximum=0.002, timeout=0.05)


def test_upsert_streams_one_changelog_row_per_snapshot_and_sends_no_sql():
    client = FakeClient()
    body = snapshot("o1", 3, "approved", items=2).replace(b'"sao paulo"', json.dumps(INJECTION).encode())
    # Nothing is read back: cross-batch stale/duplicate/conflict are settled by the views and the compaction.
    assert _warehouse(client).upsert([_rows(body), _rows(snapshot("o2", 1, items=0), "m-2")]) == {}
    assert client.queries == []  # no DML, no SQL at all: nothing to contend on, nothing built from message text
    ((table, rows, row_ids),) = client.inserted
    assert table == CHANGELOG
    first, second = rows
    assert first["customer_city"] == INJECTION  # message text travels as a value
    assert first["_sequence"] == 3 and first["order_status"] == "approved"
    assert [i["order_item_id"] for i in first["items"]] == [1, 2]
    assert Decimal(first["items"][0]["price"]) == Decimal("10.5") and isinstance(first["items"][0]["price"], str)
    assert first["items"][0]["order_purchase_timestamp"] == first["order_purchase_timestamp"]
    assert first["_dead_letter_id"].startswith("pubsub:m-1:")
    assert second["items"] == [] and isinstance(second["payments"], list)  # an empty ARRAY, never NULL
    # Columns exactly the changelog's: a typo here would be refused by BigQuery row by row.
    assert set(first) == set(table_schema(CHANGELOG_TABLE).column_names)
    # insertId: the same snapshot again (a redelivery) carries the same id, another snapshot another one.
    again = FakeClient()
    _warehouse(again).upsert([_rows(body, "m-9")])
    assert again.inserted[0][2][0] == row_ids[0] and row_ids[0] != row_ids[1]


def test_transient_errors_are_retried_then_succeed():
    client = FakeClient(
        errors=[exceptions.ServiceUnavailable("backend"), exceptions.TooManyRequests("rateLimitExceeded")]
    )
    assert _warehouse(client).upsert([_rows(snapshot("o1", 1))]) == {}
    assert client.attempts == 3 and len(client.inserted) == 1


def _flush(fn: UpsertSnapshotsFn, bodies: list[bytes]) -> list:
    fn.setup()
    fn.start_bundle()
    for body in bodies:
        assert list(fn.process(_rows(body))) == []
    return [out.value for out in fn.finish_bundle()]


def test_a_refused_batch_is_split_until_only_the_offending_snapshot_is_dead_lettered():
    client = FakeClient(poison="POISON-CITY")
    bodies = [snapshot(f"o{n}", 1) for n in range(8)]
    bodies[5] = bodies[5].replace(b'"sao paulo"', b'"POISON-CITY"')
    records = _flush(UpsertSnapshotsFn(_warehouse(client), batch_size=100), bodies)
    assert [r.row["payload_bytes"] for r in records] == [bodies[5]]
    ((stage, kind, message),) = {(r.row["error_stage"], r.row["error_kind"], r.row["error_message"]) for r in records}
    assert (stage, kind) == ("sink", "warehouse_rejected") and "Invalid value: POISON-CITY" in message
    landed = [row["order_id"] for _, rows, _ in client.inserted for row in rows]
    # Bisection: 8 -> 4 + 4 -> 2 + 2 -> 1 + 1: every good order is sent in a request that succeeded, once.
    assert sorted(landed) == [f"o{n}" for n in range(8) if n != 5]
    assert client.attempts == 7


def test_transient_errors_that_outlast_the_retry_are_never_dead_lettered():
    outlasting = [exceptions.ServiceUnavailable("backend")] * 1000
    # Dataflow (no local acker): the bundle fails, so the runner retries it; nothing is dead-lettered.
    with pytest.raises(RetryLaterError, match="transiently"):
        warehouse = _warehouse(FakeClient(errors=outlasting), SHORT_RETRY)
        _flush(UpsertSnapshotsFn(warehouse, batch_size=10), [snapshot("o1", 1)])
    # A permission problem is the operator's, not the message's: also left for redelivery.
    with pytest.raises(RetryLaterError, match="Forbidden"):
        forbidden = FakeClient(errors=[exceptions.Forbidden("Access Denied: Table orders")])
        _flush(UpsertSnapshotsFn(_warehouse(forbidden), batch_size=10), [snapshot("o1", 1)])


def test_with_the_local_read_a_transient_failure_leaves_the_messages_unacked():
    acker = RecordingAcker()
    warehouse = _warehouse(FakeClient(errors=[exceptions.ServiceUnavailable("x")] * 1000), SHORT_RETRY)
    fn = UpsertSnapshotsFn(warehouse, 10, acker)
    fn.setup()
    fn.start_bundle()
    message = ReceivedMessage(snapshot("o1", 1), ack_id="ack-1")
    list(fn.process(snapshot_rows(OrderSnapshot(json.loads(message.data), message))))
    assert list(fn.finish_bundle()) == [] and acker.acked == []  # neither dead-lettered nor acked: redelivered


def test_dead_letters_go_to_the_dead_letter_table_as_json_rows():
    client = FakeClient()
    record = dead_letter(
        ReceivedMessage(b"\xff", {"event_id": "e1"}, message_id="m-7"), "parse", "invalid_encoding", "not UTF-8", "$"
    )
    _warehouse(client).write_dead_letters([record.row])
    ((table, rows, row_ids),) = client.inserted
    assert row_ids == ["pubsub:m-7:" + hashlib.sha256(b"\xff").hexdigest()[:16]]
    assert table == "my-proj.orders_rt.order_events_dead_letter"
    assert rows[0]["payload_bytes"] == "/w==" and rows[0]["payload_string"] is None
    assert rows[0]["attributes"] == {"event_id": "e1"} and rows[0]["error_kind"] == "invalid_encoding"


def test_create_tables_uses_the_schema_files_with_partitioning_and_clustering():
    client = FakeClient()
    create_missing_tables(client, "my-proj", "orders_rt")
    by_name = {t.table_id: t for t in client.created}
    assert "orders" not in by_name  # already existed: left alone
    dead_letter = by_name["order_events_dead_letter"]
    assert dead_letter.time_partitioning.field == "timestamp"
    items = by_name["order_items"]
    assert items.clustering_fields == ["order_id"]
    assert items.time_partitioning.field == "order_purchase_timestamp"  # writes prune to their orders' dates
    assert [f.name for f in items.schema] == list(table_schema("order_items").column_names)
    assert isinstance(items.schema[0], bigquery.SchemaField)
    changelog = by_name[CHANGELOG_TABLE]
    assert changelog.time_partitioning.field == "_ingested_at"
    assert changelog.time_partitioning.expiration_ms == 7 * 86_400_000
    nested = {f.name: f for f in changelog.schema}["items"]
    assert nested.mode == "REPEATED" and [f.name for f in nested.fields] == list(items_columns())


def _existing(name: str, columns) -> bigquery.Table:
    table = bigquery.Table(f"my-proj.orders_rt.{name}")
    table.schema = [bigquery.SchemaField(column.name, column.type, column.mode) for column in columns]
    return table


def test_create_tables_adds_the_nullable_columns_a_newer_schema_has_to_an_existing_table_at_its_end():
    orders = table_schema("orders")
    version_1 = [column for column in orders.columns if "schema version 2" not in column.description]
    assert len(version_1) < len(orders.columns)
    client = FakeClient()
    client.existing = {
        "orders": _existing("orders", version_1),
        "order_items": _existing("order_items", table_schema("order_items").columns),
    }
    BigQueryWarehouse("my-proj", "orders_rt", create_tables=True, client_factory=lambda: client).prepare()
    ((table_id, fields, names),) = client.updated  # order_items has every column: left alone
    assert table_id == "orders" and fields == ["schema"]
    assert names == [c.name for c in version_1] + [c.name for c in orders.columns if c not in version_1]


def test_a_required_column_missing_from_an_existing_table_is_an_error_not_an_update():
    orders = table_schema("orders")
    client = FakeClient()
    client.existing = {"orders": _existing("orders", [c for c in orders.columns if c.name != "_event_id"])}
    with pytest.raises(RuntimeError, match=r"lacks REQUIRED column\(s\) \['_event_id'\]"):
        add_missing_columns(client, "my-proj", "orders_rt")
    assert client.updated == []


def items_columns():
    return table_schema("order_items").column_names


def test_create_views_replaces_the_three_current_state_views():
    client = FakeClient()
    assert create_views(client, "my-proj", "orders_rt") == list(CURRENT_VIEWS.values())
    for sql, view in zip(client.queries, CURRENT_VIEWS.values(), strict=True):
        assert sql.startswith(f"CREATE OR REPLACE VIEW `my-proj.orders_rt.{view}` AS ")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (exceptions.TooManyRequests("quota"), True),
        (exceptions.InternalServerError("oops"), True),
        (exceptions.BadRequest("Could not serialize access to table due to concurrent update"), True),
        (exceptions.BadRequest("Syntax error"), False),
        (exceptions.NotFound("Table not found"), False),
    ],
)
def test_transient_classification(error, transient):
    assert is_transient(error) is transient


def test_a_batch_is_also_written_once_its_bodies_reach_the_byte_cap(monkeypatch):
    from beam_pipelines.transforms import batching

    client = FakeClient()
    bodies = [snapshot(f"o{n}", 1) for n in range(7)]
    monkeypatch.setattr(batching, "MAX_BATCH_BYTES", 3 * len(bodies[0]))  # three bodies fill a batch
    fn = UpsertSnapshotsFn(_warehouse(client), batch_size=1000)
    fn.setup()
    fn.start_bundle()
    for body in bodies:
        assert list(fn.process(_rows(body))) == []
    assert [len(rows) for _, rows, _ in client.inserted] == [3, 3]  # written in process, before the bundle ends
    assert list(fn.finish_bundle()) == [] and [len(rows) for _, rows, _ in client.inserted] == [3, 3, 1]
