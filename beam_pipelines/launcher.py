"""The command line of streaming_job.py: parse and check flags, fail fast on inputs that cannot work, build the
graph (beam_pipelines.pipeline), run it, and summarize a local run."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from beam_pipelines import metrics
from beam_pipelines.local_runner import patch_fn_runner_monitoring_leak
from beam_pipelines.options import HELP_OPTION_CLASSES, LOCAL_RUNNER, OrderPipelineOptions
from beam_pipelines.pipeline import build_pipeline, make_warehouse, runs_on_dataflow
from beam_pipelines.pubsub_client import pubsub_retry

#: How long the preflight keeps retrying a Pub/Sub endpoint that answers with transient errors.
PREFLIGHT_PATIENCE_SECONDS = 60.0


class UsageError(ValueError):
    """Flags that cannot work together; the message says what to change."""


def help_text() -> str:
    parser = argparse.ArgumentParser(
        prog="python streaming_job.py",
        description="Validate Olist-style order events, dead-letter what fails with its reason, and upsert "
        "orders, items and payments so that each order equals its newest snapshot.",
        epilog="Any other Apache Beam pipeline option passes through. Examples:\n"
        "  PUBSUB_EMULATOR_HOST=127.0.0.1:8085 python streaming_job.py \\\n"
        "      --input_subscription projects/local-project/subscriptions/orders-pipeline \\\n"
        "      --sink duckdb --duckdb_path data/warehouse.duckdb --max_idle_seconds 10\n"
        "  python streaming_job.py --input_files 'data/events/*.jsonl' --sink duckdb\n"
        "  python streaming_job.py --runner DataflowRunner --project P --region us-central1 \\\n"
        "      --temp_location gs://B/tmp --setup_file ./setup.py \\\n"
        "      --input_subscription projects/P/subscriptions/orders-pipeline --sink bigquery --bq_project P\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option_class in HELP_OPTION_CLASSES:
        option_class._add_argparse_args(parser)
    return parser.format_help()


def _unknown_flags(options: PipelineOptions, argv: list[str]) -> list[str]:
    parsers = []
    options.get_all_options(add_extra_args_fn=parsers.append)
    _, unknown = parsers[0].parse_known_args(argv)
    known = [flag for action in parsers[0]._actions for flag in action.option_strings]
    problems = []
    for arg in unknown:
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            close = difflib.get_close_matches(name, known, n=1)
            problems.append(f"unknown flag {name}" + (f" (did you mean {close[0]}?)" if close else ""))
    return problems


def pipeline_options(argv: list[str]) -> PipelineOptions:
    """Parse flags, choose the local runner when none is given, and reject impossible combinations."""
    options = PipelineOptions(argv)
    problems = _unknown_flags(options, argv)
    order_options = options.view_as(OrderPipelineOptions)
    problems += order_options.validate_inputs()
    standard = options.view_as(StandardOptions)
    if order_options.input_subscription:
        standard.streaming = True
    if standard.runner is None:
        standard.runner = LOCAL_RUNNER
    if runs_on_dataflow(options):
        if order_options.sink == "duckdb":
            problems.append("--sink duckdb is local only; use --sink bigquery on Dataflow")
        if order_options.max_idle_seconds is not None:
            problems.append("--max_idle_seconds is local only (drain a Dataflow job with `gcloud dataflow jobs drain`)")
    if problems:
        raise UsageError("; ".join(problems))
    return options


def preflight(options: PipelineOptions) -> None:
    """Fail fast, in one line, on inputs that cannot work: no matching file, a subscription that is missing
    or unreachable (checked for the local read; Dataflow checks its own at launch)."""
    order_options = options.view_as(OrderPipelineOptions)
    if order_options.input_files:
        from apache_beam.io.filesystems import FileSystems

        try:
            matched = sum(len(match.metadata_list) for match in FileSystems.match([order_options.input_files]))
        except Exception as error:  # an unreadable pattern or location: say which
            raise UsageError(f"cannot list --input_files {order_options.input_files!r}: {error}") from error
        if not matched:
            raise UsageError(f"no file matches --input_files {order_options.input_files!r}")
    if not runs_on_dataflow(options):
        if order_options.input_subscription:
            _check_pubsub("subscription", order_options.input_subscription)
        if order_options.dead_letter_topic:
            _check_pubsub("topic", order_options.dead_letter_topic)


def _check_pubsub(kind: str, path: str, patience: float = PREFLIGHT_PATIENCE_SECONDS) -> None:
    """The subscription (or dead-letter topic) exists and answers; transient errors are retried meanwhile."""
    import google.auth.exceptions
    from google.api_core import exceptions
    from google.cloud import pubsub_v1

    where = os.environ.get("PUBSUB_EMULATOR_HOST") or "Google Cloud Pub/Sub (PUBSUB_EMULATOR_HOST is not set)"
    try:
        client = pubsub_v1.SubscriberClient() if kind == "subscription" else pubsub_v1.PublisherClient()
    except google.auth.exceptions.DefaultCredentialsError as error:
        raise UsageError(f"no credentials for {where}: set PUBSUB_EMULATOR_HOST to use the emulator") from error
    lookup = client.get_subscription if kind == "subscription" else client.get_topic
    try:
        lookup(
            request={kind: path},
            retry=pubsub_retry(timeout=patience, initial=0.2, maximum=5.0),
            timeout=10,
        )
    except exceptions.NotFound as error:
        raise UsageError(
            f"{kind} {path} does not exist at {where} (locally: python -m orders_local.emulator start)"
        ) from error
    except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
        raise UsageError(f"cannot reach {where} after {patience:.0f}s of retries: {error}") from error
    finally:
        if kind == "subscription":
            client.close()


def summary(result) -> str:
    """One line of counters from a finished local run."""
    totals = metrics.totals_of(result)
    return "done" if totals is None else metrics.summary(totals)


def run(argv: list[str] | None = None):
    """Parse ``argv``, build the pipeline and run it; returns the finished (or running) PipelineResult."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = pipeline_options(argv)
    preflight(options)
    if not runs_on_dataflow(options):  # FnApiRunner, directly or behind DirectRunner
        patch_fn_runner_monitoring_leak()
        if options.view_as(OrderPipelineOptions).sink == "duckdb":
            from beam_pipelines.sinks.base import RetryLaterError

            try:
                make_warehouse(options).prepare()  # create the file and tables before the first bundle
            except RetryLaterError as error:
                raise UsageError(f"cannot prepare the DuckDB warehouse: {error}") from error
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, options)
    with contextlib.ExitStack() as local:
        if not runs_on_dataflow(options):
            from warehouse.connection import release_all

            local.callback(release_all)  # the sink's hold on the DuckDB file (checkpointed as it closes)
            local.enter_context(_read_service(options))
        result = pipeline.run()
        result.wait_until_finish()
    return result


def _read_service(options: PipelineOptions) -> contextlib.AbstractContextManager:
    """Serve the dashboard's reads of the DuckDB file from this process while streaming from a subscription."""
    order_options = options.view_as(OrderPipelineOptions)
    if order_options.sink != "duckdb" or not order_options.input_subscription or order_options.no_duckdb_read_service:
        return contextlib.nullcontext()
    from warehouse.read_service import ReadService

    return ReadService(order_options.duckdb_path)
