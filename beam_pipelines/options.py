"""Command-line options of the order pipeline (next to Beam's own standard options)."""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    SetupOptions,
    StandardOptions,
    WorkerOptions,
)

from schemas import EVENT_SCHEMA_FILES
from schemas.settings import (
    DEFAULT_DATASET,
    DEFAULT_IDLE_RELEASE,
    DEFAULT_LOCK_TIMEOUT,
    DUCKDB_PATH_ENV,
    default_duckdb_path,
    default_raw_schema,
)

#: The local runner: FnApiRunner runs the splittable pull read in streaming mode, offline (plain DirectRunner
#: first tries to download Prism, and its streaming mode cannot run splittable DoFns).
LOCAL_RUNNER = "FnApiRunner"


#: Snapshots per warehouse write at most. Live traffic flushes at every bundle end long before this; a backlog or a
#: backfill fills it, and a DuckDB flush has a fixed cost (open, close and checkpoint: ~150 ms on a loaded 2-core
#: machine) that 5,000 snapshots amortize to 2.2x the rows/s of 1,000 (BENCHMARKS.md, DuckDB upsert).
DEFAULT_BATCH_SIZE = 5000
#: DuckDB threads of the local sink (see --duckdb_threads).
DEFAULT_DUCKDB_THREADS = 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected an integer > 0, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _version_list(text: str) -> list[int]:
    try:
        versions = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,2, got {text!r}") from None
    if not versions:
        raise argparse.ArgumentTypeError("expected at least one schema version")
    return versions


class OrderPipelineOptions(PipelineOptions):
    """Where events come from, which warehouse they go to, and how failures are handled."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("order pipeline")
        group.add_argument(
            "--input_subscription",
            help="streaming: read from projects/P/subscriptions/S (PUBSUB_EMULATOR_HOST selects the emulator)",
        )
        group.add_argument(
            "--input_files", help="batch backfill: read one event per line from files matching this glob"
        )
        group.add_argument(
            "--sink",
            choices=("duckdb", "bigquery"),
            default="duckdb",
            help="warehouse to upsert into (default duckdb)",
        )
        group.add_argument(
            "--duckdb_path",
            default=str(default_duckdb_path()),
            help=f"DuckDB file (default ${DUCKDB_PATH_ENV} or data/warehouse.duckdb)",
        )
        group.add_argument(
            "--duckdb_schema",
            default=default_raw_schema(),
            help=f"DuckDB schema of the tables (default $ORDERS_RT_SCHEMA or {DEFAULT_DATASET})",
        )
        group.add_argument(
            "--duckdb_lock_timeout",
            type=_non_negative_float,
            default=DEFAULT_LOCK_TIMEOUT,
            help="seconds a flush waits while another process holds the DuckDB file before leaving its messages "
            f"for redelivery (default {DEFAULT_LOCK_TIMEOUT:.0f})",
        )
        group.add_argument(
            "--duckdb_hold_seconds",
            type=_non_negative_float,
            default=DEFAULT_IDLE_RELEASE,
            help="keep the DuckDB file open between flushes (a flush then skips ~20-35 ms of open and ~30-55 ms of "
            "checkpoint), letting it go as soon as another process waits for it, or after this many seconds "
            f"without a flush; 0 opens and closes it per flush (default {DEFAULT_IDLE_RELEASE:g})",
        )
        group.add_argument(
            "--duckdb_threads",
            type=_non_negative_int,
            default=DEFAULT_DUCKDB_THREADS,
            help="DuckDB worker threads of the sink's writes; 0 lets DuckDB use one per core. On a laptop the cores "
            "are busy with the emulator and the pipeline itself, and one thread made small flushes ~2x faster "
            f"(BENCHMARKS.md) (default {DEFAULT_DUCKDB_THREADS})",
        )
        group.add_argument(
            "--no_duckdb_read_service",
            action="store_true",
            help="do not serve SELECTs on the DuckDB file to local readers (the dashboard) over loopback while "
            "streaming from a subscription (warehouse/read_service.py); they then open the file themselves",
        )
        group.add_argument("--bq_project", help="BigQuery project of the warehouse dataset (default: --project)")
        group.add_argument(
            "--bq_dataset",
            default=DEFAULT_DATASET,
            help=f"BigQuery dataset of the tables (default {DEFAULT_DATASET})",
        )
        group.add_argument("--bq_location", default=None, help="BigQuery location for query jobs (e.g. US)")
        group.add_argument(
            "--create_tables",
            action="store_true",
            help="create missing BigQuery tables from schemas/bigquery before starting, and add the nullable "
            "columns a newer schemas/ has to existing ones (DuckDB tables and columns are always created when "
            "missing)",
        )
        group.add_argument("--dead_letter_topic", help="also publish dead-lettered messages to projects/P/topics/T")
        group.add_argument(
            "--max_idle_seconds",
            type=_non_negative_float,
            default=None,
            help="local streaming only: drain and stop after this many seconds without a message",
        )
        group.add_argument(
            "--batch_size",
            type=_positive_int,
            default=DEFAULT_BATCH_SIZE,
            help="snapshots per warehouse write at most (a batch is also written at every bundle end, and once its "
            f"bodies reach 64 MiB; default {DEFAULT_BATCH_SIZE})",
        )
        group.add_argument(
            "--schema_versions",
            type=_version_list,
            default=None,
            help="comma-separated event schema versions to accept (default: all there are, "
            f"{', '.join(str(v) for v in sorted(EVENT_SCHEMA_FILES))}); events of any other version are dead-lettered "
            "as unsupported_schema_version. How a version is rolled out and retired: schemas/README.md",
        )
        group.add_argument(
            "--timestamp_attribute",
            default="",
            help="Dataflow only: Pub/Sub attribute to use as element time (default: publish time). Dataflow's "
            "native read parses it before the pipeline sees the message, so a value it cannot parse stalls the "
            "read forever; only set it when every producer is trusted",
        )

    def validate_inputs(self) -> list[str]:
        """Problems with this combination of flags, as messages for the user (empty when fine)."""
        problems = []
        if bool(self.input_subscription) == bool(self.input_files):
            problems.append("give exactly one of --input_subscription or --input_files")
        if self.input_subscription and not _looks_like(self.input_subscription, "subscriptions"):
            problems.append(f"--input_subscription must be projects/P/subscriptions/S, got {self.input_subscription!r}")
        if self.dead_letter_topic and not _looks_like(self.dead_letter_topic, "topics"):
            problems.append(f"--dead_letter_topic must be projects/P/topics/T, got {self.dead_letter_topic!r}")
        unknown = sorted(set(self.schema_versions or ()) - set(EVENT_SCHEMA_FILES))
        if unknown:
            known = ", ".join(str(v) for v in sorted(EVENT_SCHEMA_FILES))
            problems.append(f"--schema_versions names unknown versions {unknown}; schemas/ has {known}")
        if self.sink == "bigquery" and not (self.bq_project or self.view_as(GoogleCloudOptions).project):
            problems.append("--sink bigquery needs --bq_project (or --project)")
        return problems


def _looks_like(path: str, collection: str) -> bool:
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == "projects" and parts[2] == collection and all(parts)


#: Beam's option groups shown by ``streaming_job.py --help``; every other Beam option passes through too.
HELP_OPTION_CLASSES = (OrderPipelineOptions, StandardOptions, GoogleCloudOptions, SetupOptions, WorkerOptions)
