"""The BigQuery sink, checked at the google-cloud-bigquery boundary: the SQL and parameters it sends, its retry
of transient errors, and its dead-lettering of permanent ones. Only the client is fake."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal

import pytest
from google.api_core import exceptions, retry
from google.cloud import bigquery
from sample_events import snapshot

from beam_pipelines.acks import SubscriptionAcker
from beam_pipelines.dead_letters import dead_letter
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.base import RetryLaterError
from beam_pipelines.sinks.bigquery import BigQueryWarehouse, create_missing_tables, is_transient
from beam_pipelines.sinks.fold import StoredVersion
from beam_pipelines.transforms.rows import snapshot_rows
from beam_pipelines.transforms.upsert import UpsertSnapshotsFn
from schemas import table_schema

FAST_RETRY = retry.Retry(predicate=is_transient, initial=0.001, maximum=0.002, timeout=5)
INJECTION = "x'); DROP TABLE orders; --"


class FakeJob:
    def __init__(self, rows):
        self.rows = rows

    def result(self):
        return self.rows


class FakeClient:
    """Records every query; raises the queued errors first, and refuses any batch holding ``poison`` text."""

    def __init__(self, errors=(), stored=(), poison: str | None = None):
        self.errors = list(errors)
        self.stored = list(stored)
        self.poison = poison
        self.queries = []
        self.inserted = []
        self.created = []

    def query(self, sql, job_config=None, location=None):
        self.queries.append((sql, job_config))
        if self.errors:
            raise self.errors.pop(0)
        if self.poison and self.poison in json.dumps(job_config.to_api_repr()):
            raise exceptions.BadRequest(f"Invalid value in a row: {self.poison}")
        return FakeJob(self.stored)

    def insert_rows_json(self, table, rows, row_ids=None):
        self.inserted.append((table, rows, row_ids))
        return []

    def create_table(self, table, exists_ok=False):
        if table.table_id == "orders":
            raise exceptions.Conflict("exists")
        self.created.append(table)


def _api_parameters(config) -> list[dict]:
    """The query parameters exactly as they go on the wire (the job's API representation)."""
    return config.to_api_repr()["query"]["queryParameters"]


def sent_parameters(config) -> dict[str, list[dict[str, str]]]:
    """name -> list of rows, each {column: value as sent}."""
    return {
        p["name"]: [
            {column: value["value"] for column, value in row["structValues"].items()}
            for row in p["parameterValue"].get("arrayValues", [])
        ]
        for p in _api_parameters(config)
    }


def parameter_types(config) -> dict[str, dict[str, str]]:
    return {
        p["name"]: {f["name"]: f["type"]["type"] for f in p["parameterType"]["arrayType"]["structTypes"]}
        for p in _api_parameters(config)
    }


def _rows(body: bytes):
    return snapshot_rows(OrderSnapshot(json.loads(body), ReceivedMessage(body)))


def _warehouse(client: FakeClient, retry_policy: retry.Retry = FAST_RETRY) -> BigQueryWarehouse:
    return BigQueryWarehouse("my-proj", "orders_rt", "US", client_factory=lambda: client, retry_policy=retry_policy)


#: A retry budget that a stream of transient errors outlasts.
SHORT_RETRY = retry.Retry(predicate=is_transient, initial=0.001, maximum=0.002, timeout=0.05)


def test_upsert_sends_one_parameterized_transaction_without_message_text():
    client = FakeClient(stored=[("o1", 2, "o1-2")])
    body = snapshot("o1", 3, "approved", items=2).replace(b'"sao paulo"', json.dumps(INJECTION).encode())
    stored = _warehouse(client).upsert([_rows(body)])
    assert stored == {"o1": StoredVersion(2, "o1-2")}  # what the order held before: the script's last result
    ((sql, config),) = client.queries
    assert INJECTION not in sql and "o1" not in sql and "sao paulo" not in sql
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    assert statements[0] == "BEGIN TRANSACTION" and statements[-2] == "COMMIT TRANSACTION"
    assert statements[1:4] == [
        "CREATE TEMP TABLE batch_orders AS SELECT * FROM UNNEST(@orders)",
        "CREATE TEMP TABLE batch_order_items AS SELECT * FROM UNNEST(@order_items)",
        "CREATE TEMP TABLE batch_order_payments AS SELECT * FROM UNNEST(@order_payments)",
    ]
    merges = [s for s in statements if s.startswith("MERGE")]
    assert [re.match(r"MERGE INTO (\S+)", s).group(1) for s in merges] == [
        "`my-proj.orders_rt.orders`",
        "`my-proj.orders_rt.order_items`",
        "`my-proj.orders_rt.order_payments`",
    ]
    for merge in merges:  # replaced only by a newer snapshot
        assert "WHEN MATCHED AND s._sequence > t._sequence THEN UPDATE SET" in merge
    for merge in merges[1:]:  # lines only of the snapshot the order row now holds: never a mix of two events
        assert "o._sequence = l._sequence AND o._event_id = l._event_id" in merge
    assert statements[-1] == "SELECT order_id, _sequence, _event_id FROM stored_versions"
    deletes = [s for s in statements if s.startswith("DELETE")]
    assert len(deletes) == 2 and all("t._sequence < (SELECT o._sequence" in d for d in deletes)

    parameters = sent_parameters(config)
    assert set(parameters) == {"orders", "order_items", "order_payments"}
    (order,) = parameters["orders"]
    assert order["customer_city"] == INJECTION
    assert order["_sequence"] == "3"
    assert parameter_types(config)["orders"]["_sequence"] == "INT64"
    items = parameters["order_items"]
    assert [i["order_item_id"] for i in items] == ["1", "2"]
    assert Decimal(items[0]["price"]) == Decimal("10.5")
    assert parameter_types(config)["order_items"]["price"] == "NUMERIC"


def test_empty_line_arrays_keep_their_struct_type():
    client = FakeClient()
    _warehouse(client).upsert([_rows(snapshot("o9", 2, "unavailable", items=0))])
    ((_, config),) = client.queries
    assert sent_parameters(config)["order_items"] == []
    assert list(parameter_types(config)["order_items"]) == list(table_schema("order_items").column_names)


def test_transient_errors_are_retried_then_succeed():
    client = FakeClient(
        errors=[
            exceptions.ServiceUnavailable("backend"),
            exceptions.BadRequest("Transaction is aborted due to concurrent update"),
        ]
    )
    assert _warehouse(client).upsert([_rows(snapshot("o1", 1))]) == {}
    assert len(client.queries) == 3


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
    assert (stage, kind) == ("sink", "warehouse_rejected") and "Invalid value in a row: POISON-CITY" in message
    landed = [order for _, config in client.queries for order in sent_parameters(config)["orders"]]
    successful = [o["order_id"] for o in landed if o["customer_city"] != "POISON-CITY"]
    # Bisection: 8 -> 4 + 4 -> 2 + 2 -> 1 + 1: every good order is sent in a batch that succeeded.
    assert sorted(set(successful)) == [f"o{n}" for n in range(8) if n != 5]
    assert len(client.queries) == 7


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


class RecordingAcker(SubscriptionAcker):
    def __init__(self):
        super().__init__("projects/p/subscriptions/s")
        self.acked = []

    def open(self):
        pass

    def ack(self, ack_ids):
        self.acked.extend(ack_ids)
        return len(self.acked)


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
    assert [f.name for f in items.schema] == list(table_schema("order_items").column_names)
    assert isinstance(items.schema[0], bigquery.SchemaField)


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
