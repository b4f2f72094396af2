"""The composite transforms in TestPipeline runs: main and dead-letter outputs asserted together."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from oracle import expected_tables, fold_latest, warehouse_tables
from sample_events import ORDER, snapshot

from beam_pipelines.messages import DEAD_LETTER, ReceivedMessage
from beam_pipelines.sinks.duckdb import DuckDBWarehouse
from beam_pipelines.transforms.parse import VALID, ParseAndValidate
from beam_pipelines.transforms.rows import ROWS, ToRows
from beam_pipelines.transforms.upsert import UpsertOrderSnapshots


def _streaming() -> PipelineOptions:
    return PipelineOptions(["--streaming"])


def test_parse_and_validate_splits_valid_and_dead_letter_in_one_run():
    good = snapshot("o1", 1)
    bad_json = b'{"event_id": '
    bad_state = json.dumps({**json.loads(good), "customer": {**ORDER["customer"], "customer_state": "XX"}}).encode()
    bad_numbering = snapshot("o2", 1).replace(b'"order_item_id": 2', b'"order_item_id": 5')
    with TestPipeline(options=_streaming()) as p:
        messages = (
            p
            | TestStream()
            .add_elements(
                [
                    ReceivedMessage(good),
                    ReceivedMessage(bad_json, {"event_id": "x"}),
                    ReceivedMessage(bad_state),
                    ReceivedMessage(bad_numbering),
                ]
            )
            .advance_watermark_to_infinity()
        )
        outputs = messages | ParseAndValidate()
        assert_that(outputs[VALID] | beam.Map(lambda s: (s.order_id, s.sequence)), equal_to([("o1", 1)]), label="valid")
        assert_that(
            outputs[DEAD_LETTER]
            | beam.Map(
                lambda d: (
                    d.row["payload_bytes"],
                    d.row["error_stage"],
                    d.row["error_kind"],
                    d.row["error_path"],
                    d.row["event_id"],
                )
            ),
            equal_to(
                [
                    (bad_json, "parse", "invalid_json", "$", "x"),
                    (bad_state, "schema", "schema_violation", "$.customer.customer_state", "o1-1"),
                    (bad_numbering, "business_rule", "item_numbering", "$.items[1].order_item_id", "o2-1"),
                ]
            ),
            label="dead_letter",
        )


@pytest.mark.parametrize("arrival", ["in_order", "reversed", "with_duplicates_and_replay"])
def test_newest_snapshot_wins_whatever_the_arrival_order(tmp_path, arrival):
    history = [
        snapshot("o1", 1, items=3),
        snapshot("o1", 2, "approved", items=3),
        snapshot("o1", 3, "approved", items=1),  # two lines dropped: must be deleted
        snapshot("o2", 1, items=2),
        snapshot("o3", 1, items=1),
        snapshot("o3", 2, "unavailable", items=0),
    ]
    arrivals = {
        "in_order": history,
        "reversed": list(reversed(history)),
        "with_duplicates_and_replay": history[2:] + history + history[:3],
    }[arrival]
    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(str(path))
    with TestPipeline(options=_streaming()) as p:
        stream = TestStream()
        for body in arrivals:  # one element per bundle: each snapshot meets the warehouse state of the last
            stream = stream.add_elements([ReceivedMessage(body)])
        messages = p | stream.advance_watermark_to_infinity()
        parsed = messages | ParseAndValidate()
        sink_failures = (parsed[VALID] | ToRows())[ROWS] | UpsertOrderSnapshots(warehouse, batch_size=2)
        assert_that(parsed[DEAD_LETTER], equal_to([]), label="no_invalid")
        assert_that(sink_failures, equal_to([]), label="no_sink_failures")
    assert warehouse_tables(path) == expected_tables(fold_latest(history))
    assert len(warehouse_tables(path)["order_items"]) == 3  # o1: 1 line, o2: 2 lines, o3: none


class _RefusingWarehouse(DuckDBWarehouse):
    def upsert(self, snapshots):
        raise ValueError("NUMERIC value out of range")


def test_a_batch_the_warehouse_refuses_is_dead_lettered_with_the_error(tmp_path):
    bodies = [snapshot("o1", 1), snapshot("o2", 1)]
    with TestPipeline(options=_streaming()) as p:
        messages = p | TestStream().add_elements([ReceivedMessage(b) for b in bodies]).advance_watermark_to_infinity()
        rows = (messages | ParseAndValidate())[VALID] | ToRows()
        sink_failures = rows[ROWS] | UpsertOrderSnapshots(_RefusingWarehouse(str(tmp_path / "w")))
        assert_that(
            sink_failures
            | beam.Map(
                lambda d: (
                    d.row["payload_bytes"],
                    d.row["error_stage"],
                    d.row["error_kind"],
                    "out of range" in d.row["error_message"],
                    "Traceback" in d.row["stacktrace"],
                )
            ),
            equal_to([(b, "sink", "warehouse_rejected", True, True) for b in bodies]),
        )


def test_every_kind_of_bad_message_reaches_the_dead_letter_with_stage_kind_and_path():
    import random

    from publishers.faults import FAULTS, corrupt

    rng = random.Random(5)
    valid = json.loads(snapshot("o1", 2, "approved"))
    bodies = {kind: corrupt(kind, valid, rng) for kind in FAULTS}
    with TestPipeline(options=_streaming()) as p:
        messages = (
            p
            | TestStream()
            .add_elements([ReceivedMessage(b) for b in [*bodies.values(), snapshot("o1", 2, "approved")]])
            .advance_watermark_to_infinity()
        )
        outputs = messages | ParseAndValidate()
        assert_that(outputs[VALID] | beam.Map(lambda s: s.order_id), equal_to(["o1"]), label="valid")
        assert_that(
            outputs[DEAD_LETTER]
            | beam.Map(
                lambda d: (
                    d.row["payload_bytes"],
                    d.row["error_stage"],
                    d.row["error_kind"],
                    d.row["error_path"].startswith(FAULTS[_kind_of(bodies, d.row["payload_bytes"])][3]),
                    bool(d.row["error_message"]),
                )
            ),
            equal_to([(body, FAULTS[kind][1], FAULTS[kind][2], True, True) for kind, body in bodies.items()]),
            label="dead_letter",
        )


def _kind_of(bodies: dict[str, bytes], payload: bytes) -> str:
    return next(kind for kind, body in bodies.items() if body == payload)


def test_quality_flags_reach_the_order_row(tmp_path):
    from beam_pipelines.messages import OrderSnapshot
    from beam_pipelines.transforms.rows import snapshot_rows
    from schemas.validation import validate_payload

    body = snapshot("o1", 2, "delivered")  # no delivery date: kept, flagged
    result = validate_payload(body)
    rows = snapshot_rows(OrderSnapshot(result.event, ReceivedMessage(body), result.quality_flags))
    assert rows.order["_quality_flags"] == "delivered_without_delivery_date"
    path = tmp_path / "w.duckdb"
    warehouse = DuckDBWarehouse(str(path))
    warehouse.prepare()
    warehouse.upsert([rows])
    import duckdb

    with duckdb.connect(str(path), read_only=True) as connection:
        stored = connection.execute("SELECT order_status, _quality_flags FROM orders_rt.orders").fetchall()
    assert stored == [("delivered", "delivered_without_delivery_date")]


def test_rows_reuse_the_instants_validation_parsed_and_equal_rows_parsed_from_scratch():
    from datetime import datetime, timezone

    from beam_pipelines.messages import OrderSnapshot
    from beam_pipelines.transforms.rows import snapshot_rows
    from publishers.stream import MessageStream, StreamSettings
    from schemas import ORDER_TIMESTAMPS
    from schemas.validation import EventValidator

    settings = StreamSettings(seed=4, orders=40, start_time=datetime(2026, 3, 1, tzinfo=timezone.utc), schema_version=2)
    at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    validator = EventValidator()
    for message in MessageStream(settings):
        result = validator.validate_payload(message.data, message.attributes)
        assert result.ok, result.error_message()
        texts = {result.event["event_time"], *(i["shipping_limit_date"] for i in result.event["items"])}
        texts |= {result.event["order"][name] for name in ORDER_TIMESTAMPS} - {None}
        assert texts <= set(result.timestamps)  # every timestamp was parsed once, and kept
        received = ReceivedMessage(message.data)
        reused = snapshot_rows(OrderSnapshot(result.event, received, result.quality_flags, result.timestamps), at)
        fresh = snapshot_rows(OrderSnapshot(result.event, received, result.quality_flags), at)
        assert reused == fresh
