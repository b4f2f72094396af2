"""The order pipeline's graph: read -> validate -> rows -> upsert, every failing step to a dead-letter sink.

``build_pipeline`` reads like the data path in DESIGN.md; flag parsing, checks and running live in
beam_pipelines.launcher.
"""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions

from beam_pipelines.acks import SubscriptionAcker
from beam_pipelines.messages import DEAD_LETTER
from beam_pipelines.options import OrderPipelineOptions
from beam_pipelines.sinks.base import Warehouse
from beam_pipelines.transforms.dead_letter import DeadLetterSink
from beam_pipelines.transforms.parse import VALID, ParseAndValidate
from beam_pipelines.transforms.read import ReadOrderEvents
from beam_pipelines.transforms.rows import ROWS, ToRows
from beam_pipelines.transforms.upsert import UpsertOrderSnapshots


@dataclass(frozen=True)
class PipelineOutputs:
    """What build_pipeline returns, so tests can assert on every branch."""

    messages: beam.PCollection
    snapshots: beam.PCollection
    rows: beam.PCollection
    invalid: beam.PCollection  # DeadLetter records from ParseAndValidate
    rows_failures: beam.PCollection  # DeadLetter records of snapshots ToRows could not convert
    sink_failures: beam.PCollection  # DeadLetter records of conflicts and snapshots the warehouse refused


def runs_on_dataflow(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner
    return bool(runner) and "dataflow" in str(runner).lower()


def make_warehouse(options: PipelineOptions) -> Warehouse:
    order_options = options.view_as(OrderPipelineOptions)
    if order_options.sink == "bigquery":
        from beam_pipelines.sinks.bigquery import BigQueryWarehouse

        project = order_options.bq_project or options.view_as(GoogleCloudOptions).project
        return BigQueryWarehouse(
            project,
            order_options.bq_dataset,
            order_options.bq_location,
            create_tables=order_options.create_tables,
        )
    from beam_pipelines.sinks.duckdb import DuckDBWarehouse

    return DuckDBWarehouse(
        order_options.duckdb_path,
        order_options.duckdb_schema,
        order_options.duckdb_lock_timeout,
        hold_seconds=order_options.duckdb_hold_seconds,
        threads=order_options.duckdb_threads,
    )


def build_pipeline(
    pipeline: beam.Pipeline, options: PipelineOptions, warehouse: Warehouse | None = None
) -> PipelineOutputs:
    """Add the whole flow to ``pipeline``. ``warehouse`` overrides the one the options name (tests)."""
    order_options = options.view_as(OrderPipelineOptions)
    on_dataflow = runs_on_dataflow(options)
    warehouse = warehouse or make_warehouse(options)
    # The local read leaves messages un-acked; the sinks ack them after their commit.
    local_read = bool(order_options.input_subscription) and not on_dataflow
    acker = SubscriptionAcker(order_options.input_subscription) if local_read else None

    messages = pipeline | "ReadOrderEvents" >> ReadOrderEvents(
        subscription=order_options.input_subscription,
        file_pattern=order_options.input_files,
        on_dataflow=on_dataflow,
        timestamp_attribute=order_options.timestamp_attribute,
        max_idle_seconds=order_options.max_idle_seconds,
    )
    versions = tuple(order_options.schema_versions) if order_options.schema_versions else None
    parsed = messages | "ParseAndValidate" >> ParseAndValidate(versions)
    rows = parsed[VALID] | "ToRows" >> ToRows()
    sink_failures = rows[ROWS] | "UpsertOrderSnapshots" >> UpsertOrderSnapshots(
        warehouse, order_options.batch_size, acker
    )
    # One dead-letter sink per source, not one behind a Flatten: a Flatten breaks fusion on FnApiRunner, and a
    # dead letter acked only in a later stage holds back its ordering key's next messages meanwhile.
    for label, failed in (
        ("DeadLetterSink", parsed[DEAD_LETTER]),
        ("RowsDeadLetterSink", rows[DEAD_LETTER]),
        ("SinkFailureDeadLetterSink", sink_failures),
    ):
        failed | label >> DeadLetterSink(warehouse, order_options.dead_letter_topic, order_options.batch_size, acker)
    return PipelineOutputs(messages, parsed[VALID], rows[ROWS], parsed[DEAD_LETTER], rows[DEAD_LETTER], sink_failures)
