"""The pipeline_metrics rows: how they are built (buckets, minutes, no zero rows), that the sinks write them
after a committed flush (the real DuckDB sink, a fake BigQuery client), and that a failing metrics write never
fails, defers or un-acks a flush."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.utils.timestamp import Timestamp
from google.api_core import exceptions, retry
from pubsub_helpers import RecordingAcker
from sample_events import snapshot

from beam_pipelines import pipeline_metrics as pm
from beam_pipelines.dead_letters import dead_letter
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage, utc_instant
from beam_pipelines.sinks.bigquery import BigQueryWarehouse, is_transient
from beam_pipelines.sinks.duckdb import DuckDBWarehouse
from beam_pipelines.transforms.dead_letter import DeadLetterWriteFn
from beam_pipelines.transforms.read import FromPubsubMessage
from beam_pipelines.transforms.rows import snapshot_rows
from beam_pipelines.transforms.upsert import UpsertSnapshotsFn
from schemas import table_schema

NOW = datetime(2026, 3, 1, 12, 34, 56, 789000, tzinfo=timezone.utc)


# -- row building -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latency_ms", "bucket"),
    [
        (-5, "10"),  # a publish clock ahead of ours: the first bucket, never dropped
        (0, "10"),
        (10, "10"),  # bounds are inclusive
        (10.001, "25"),
        (99.9, "100"),
        (2500, "2500"),
        (60000, "60000"),
        (60000.5, "+Inf"),
        (3_600_000, "+Inf"),
    ],
)
def test_a_latency_goes_to_the_first_bucket_whose_bound_is_at_least_it(latency_ms, bucket):
    assert pm.latency_bucket(latency_ms) == bucket


def test_the_buckets_are_the_contracts():
    assert pm.LATENCY_BUCKET_KINDS == (
        "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "30000", "60000", "+Inf",
    )  # fmt: skip


def test_the_histogram_counts_each_message_once_and_skips_those_without_a_publish_time():
    published = [NOW - timedelta(milliseconds=ms) for ms in (3, 10, 11, 400, 400, 70_000)] + [None]
    counts = pm.latency_counts(published, NOW)
    assert counts == Counter(
        {
            (pm.COMMIT_LATENCY_MS, "10"): 2,
            (pm.COMMIT_LATENCY_MS, "25"): 1,
            (pm.COMMIT_LATENCY_MS, "500"): 2,
            (pm.COMMIT_LATENCY_MS, "+Inf"): 1,
        }
    )  # not cumulative: the counts add up to the messages with a publish time
    assert sum(counts.values()) == 6


def test_minute_is_the_start_of_the_utc_minute():
    sao_paulo = timezone(timedelta(hours=-3))
    assert pm.minute_of(datetime(2026, 3, 1, 9, 34, 59, 999999, tzinfo=sao_paulo)) == datetime(
        2026, 3, 1, 12, 34, tzinfo=timezone.utc
    )
    assert pm.minute_of(datetime(2026, 3, 1, 12, 0)) == datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_rows_are_written_only_for_counts_above_zero():
    counts = Counter({(pm.VALID, None): 3, (pm.APPLIED, None): 3, (pm.STALE, None): 0, (pm.DUPLICATE, None): -1})
    rows = pm.metric_rows(counts, NOW, "host/1/abc", written_at=NOW)
    assert rows == [
        {"minute": datetime(2026, 3, 1, 12, 34, tzinfo=timezone.utc), "metric": metric, "kind": None, "value": 3,
         "writer": "host/1/abc", "written_at": NOW}
        for metric in (pm.APPLIED, pm.VALID)
    ]  # fmt: skip
    assert pm.metric_rows(Counter(), NOW, "w") == []
    assert set(rows[0]) == set(table_schema(pm.TABLE).column_names)


def test_upsert_counts_are_the_messages_received_their_outcomes_and_latencies():
    messages = [
        ReceivedMessage(b"a", publish_time=NOW - timedelta(milliseconds=20)),
        ReceivedMessage(b"b", publish_time=NOW - timedelta(seconds=2)),
        ReceivedMessage(b"c"),  # file input: no latency
    ]
    counts = pm.upsert_counts([pm.APPLIED, pm.STALE, pm.APPLIED], messages, NOW)
    assert counts == Counter(
        {
            (pm.VALID, None): 3,
            (pm.APPLIED, None): 2,
            (pm.STALE, None): 1,
            (pm.COMMIT_LATENCY_MS, "25"): 1,
            (pm.COMMIT_LATENCY_MS, "2500"): 1,
        }
    )


def test_dead_letter_counts_are_by_stage_and_kind():
    rows = [{"error_stage": "parse", "error_kind": "invalid_json"}] * 2 + [
        {"error_stage": "sink", "error_kind": "sequence_conflict"}
    ]
    assert pm.dead_letter_counts(rows) == Counter(
        {(pm.DEAD_LETTERED, "parse/invalid_json"): 2, (pm.DEAD_LETTERED, "sink/sequence_conflict"): 1}
    )


def test_each_writer_id_names_its_host_process_and_instance():
    first, second = pm.writer_id(), pm.writer_id()
    assert first != second and first.rsplit("/", 1)[0] == second.rsplit("/", 1)[0]


# -- publish time -----------------------------------------------------------------------------------------------


def test_the_dataflow_read_takes_the_messages_publish_time():
    published = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
    message = PubsubMessage(b"{}", {"event_id": "e"}, message_id="7", publish_time=published)
    (received,) = FromPubsubMessage(timestamp_is_publish_time=True).process(message, Timestamp(1))
    assert (
        received.publish_time == published and received.message_id == "7" and received.attributes == {"event_id": "e"}
    )
    # Without one, the element timestamp is the publish time only when no timestamp attribute replaced it.
    bare = PubsubMessage(b"{}", {})
    (fallback,) = FromPubsubMessage(timestamp_is_publish_time=True).process(bare, Timestamp.of(published))
    assert fallback.publish_time == published
    (none,) = FromPubsubMessage(timestamp_is_publish_time=False).process(bare, Timestamp.of(published))
    assert none.publish_time is None


def test_publish_times_become_plain_utc_datetimes():
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds

    nanos = DatetimeWithNanoseconds(2026, 3, 1, 12, 0, 0, nanosecond=123456789, tzinfo=timezone.utc)
    assert type(utc_instant(nanos)) is datetime
    assert utc_instant(nanos) == datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert utc_instant(None) is None and utc_instant("not a time") is None


# -- the sinks ----------------------------------------------------------------------------------------------------


class FailingMetricsWarehouse(DuckDBWarehouse):
    """The real DuckDB warehouse, except that every pipeline_metrics write raises."""

    def __init__(self, path: str, error: BaseException):
        super().__init__(path)
        self.error = error
        self.metric_writes = 0

    def write_metrics(self, rows):
        self.metric_writes += 1
        raise self.error


def _message(body: bytes, ack_id: str, published: datetime | None = None) -> ReceivedMessage:
    return ReceivedMessage(body, message_id=ack_id, ack_id=ack_id, publish_time=published)


def _rows(message: ReceivedMessage):
    return snapshot_rows(OrderSnapshot(json.loads(message.data), message))


def _run(fn, elements) -> list:
    fn.setup()
    fn.start_bundle()
    out = []
    for element in elements:
        out += list(fn.process(element))
    out += [value.value for value in fn.finish_bundle()]
    fn.teardown()  # waits for the acks sent in the background
    return out


def _conflicting(order_id: str, sequence: int) -> bytes:
    event = json.loads(snapshot(order_id, sequence))
    event["event_id"] = f"{order_id}-{sequence}-other"
    return json.dumps(event).encode()


def _metrics(path: Path) -> list[tuple]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(
            "SELECT minute, metric, kind, value, writer, written_at FROM orders_rt.pipeline_metrics"
        ).fetchall()
    finally:
        connection.close()


def _sums(rows: list[tuple]) -> Counter:
    sums: Counter = Counter()
    for _, metric, kind, value, _, _ in rows:
        sums[(metric, kind)] += value
    return sums


@pytest.mark.parametrize(
    "error",
    [RuntimeError("metrics table gone"), duckdb.IOException("Could not set lock on file"), KeyError("minute")],
)
def test_a_failing_metrics_write_never_fails_defers_or_unacks_a_flush(tmp_path, caplog, error):
    warehouse = FailingMetricsWarehouse(str(tmp_path / "w.duckdb"), error)
    acker = RecordingAcker()
    messages = [_message(snapshot("o1", 1), "a1", NOW), _message(snapshot("o2", 1), "a2", NOW)]
    with caplog.at_level(logging.WARNING):
        rejected = _run(UpsertSnapshotsFn(warehouse, batch_size=10, acker=acker), [_rows(m) for m in messages])
    assert rejected == [] and acker.acked == ["a1", "a2"]  # committed and acked as if nothing happened
    assert warehouse.metric_writes == 1 and "pipeline_metrics not written" in caplog.text
    # The dead-letter sink too.
    record = dead_letter(_message(b"{", "a3"), "parse", "invalid_json", "not JSON", "$")
    assert _run(DeadLetterWriteFn(warehouse, batch_size=10, acker=acker), [record]) == []
    assert acker.acked[-1] == "a3" and warehouse.metric_writes == 2


def test_the_duckdb_sink_writes_metrics_that_sum_to_the_flushs_outcomes(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(str(path))
    published = NOW.replace(year=2020)  # long ago: every latency lands in +Inf
    first = [_message(snapshot("o1", 2), "m1"), _message(snapshot("o2", 1), "m2")]
    _run(UpsertSnapshotsFn(warehouse, batch_size=100), [_rows(m) for m in first])
    recent = datetime.now(timezone.utc)
    second = [
        _message(snapshot("o1", 1), "m3", published),  # stale
        _message(snapshot("o2", 1), "m4", recent),  # duplicate
        _message(snapshot("o3", 1), "m5", recent),  # superseded by the next one within the flush
        _message(snapshot("o3", 2), "m6", recent),  # applied
        _message(_conflicting("o1", 2), "m7", recent),  # conflict: dead-lettered
    ]
    fn = UpsertSnapshotsFn(warehouse, batch_size=100)
    dead = _run(fn, [_rows(m) for m in second])
    assert [d.row["error_kind"] for d in dead] == ["sequence_conflict"]
    rows = _metrics(path)
    sums = _sums(rows)
    assert sums[(pm.VALID, None)] == len(first) + len(second)  # every message the sink received
    outcomes = {metric: value for (metric, _), value in sums.items() if metric in pm.OUTCOMES}
    assert outcomes == {pm.APPLIED: 2 + 1, pm.SUPERSEDED: 1, pm.STALE: 1, pm.DUPLICATE: 1, pm.CONFLICT: 1}
    assert sum(outcomes.values()) == sums[(pm.VALID, None)]
    latencies = {kind: value for (metric, kind), value in sums.items() if metric == pm.COMMIT_LATENCY_MS}
    # The first flush had no publish times (no latency); of the second, one was published in 2020.
    assert sum(latencies.values()) == len(second) and latencies.pop(pm.INFINITE_BUCKET) == 1
    assert set(latencies) <= set(pm.LATENCY_BUCKET_KINDS[:-1])
    # Two flushes, two writers (one per DoFn instance), one commit minute each, every value above zero.
    assert len({row[4] for row in rows}) == 2 and all(row[3] > 0 for row in rows)
    assert all(row[0] == row[0].replace(second=0, microsecond=0) and row[5] >= row[0] for row in rows)

    # The dead-letter sink counts the rows it stored, after its in-flush dedupe, by stage/kind.
    bad = _message(b"{", "m8")
    records = [dead_letter(bad, "parse", "invalid_json", "not JSON", "$")] * 2 + dead
    _run(DeadLetterWriteFn(warehouse, batch_size=100), records)
    sums = _sums(_metrics(path))
    assert sums[(pm.DEAD_LETTERED, "parse/invalid_json")] == 1
    assert sums[(pm.DEAD_LETTERED, "sink/sequence_conflict")] == 1


class FakeInsertClient:
    def __init__(self, errors=()):
        self.errors = list(errors)
        self.calls = []

    def insert_rows_json(self, table, rows, row_ids=None, **options):
        self.calls.append((table, rows, row_ids, options))
        if self.errors:
            raise self.errors.pop(0)
        return []


def test_the_bigquery_warehouse_streams_metrics_with_a_short_retry_and_a_row_id_each():
    client = FakeInsertClient()
    warehouse = BigQueryWarehouse("p", "d", client_factory=lambda: client)
    rows = pm.metric_rows(Counter({(pm.VALID, None): 2, (pm.COMMIT_LATENCY_MS, "+Inf"): 2}), NOW, "w", NOW)
    warehouse.write_metrics(rows)
    ((table, sent, row_ids, options),) = client.calls
    assert table == "p.d.pipeline_metrics" and options == {"timeout": pytest.approx(10.0)}
    assert sent[0] == {
        "minute": "2026-03-01T12:34:00+00:00", "metric": "commit_latency_ms", "kind": "+Inf", "value": 2,
        "writer": "w", "written_at": NOW.isoformat(),
    }  # fmt: skip
    assert len(set(row_ids)) == 2  # rows of one writer and minute never dedupe one another
    # Transient errors are retried briefly, with the same insertIds; past the short budget the error is raised
    # (and the sink drops the rows), long before the flush's own retry budget.
    flaky = FakeInsertClient(errors=[exceptions.ServiceUnavailable("x")])
    fast = retry.Retry(predicate=is_transient, initial=0.001, maximum=0.002, timeout=0.05)
    BigQueryWarehouse("p", "d", client_factory=lambda: flaky, metrics_retry_policy=fast).write_metrics(rows)
    assert len(flaky.calls) == 2 and flaky.calls[0][2] == flaky.calls[1][2]
    down = FakeInsertClient(errors=[exceptions.ServiceUnavailable("x")] * 1000)
    with pytest.raises(Exception, match="transiently"):
        BigQueryWarehouse("p", "d", client_factory=lambda: down, metrics_retry_policy=fast).write_metrics(rows)
