"""The warehouse the dbt tests build on, and one `dbt build` of it for the whole session.

`warehouse_path` is the ONE place that decides where the raw data comes from: only the project's public
commands, run as subprocesses from the repository root, as a user would run them:

1. `python -m publishers ... --output events.jsonl --catalog-out catalog` (history over 400 days up to a
   start time of now, duplicates, reordering and invalid messages);
2. the hand-made edge orders of fixture_data.EDGE_ORDERS as contract-valid events in edge.jsonl, and the
   products and sellers they name appended to the publisher's catalog CSVs;
3. `python -m publishers --replay-olist olist_dst --output olist_dst.jsonl`: fixture_data.OLIST_DST_ORDERS, Olist
   orders of real shape written in Sao Paulo wall-clock time around Brazil's daylight-saving changes;
4. `python streaming_job.py --input_files '*.jsonl' --sink duckdb` (the pipeline's batch backfill);
5. `python -m warehouse.reference --olist-dir catalog` (reference data).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fixture_data import DbtBuild, append_edge_catalog, run_dbt, write_edge_events, write_olist_dst_files

from schemas.validation import validate_payload

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_command(*args: str, log: Path) -> subprocess.CompletedProcess:
    """Run `python ARGS` from the repository root; fail the session's setup with its output if it fails."""
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600
    )
    log.write_text(f"$ python {' '.join(args)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
    if result.returncode != 0:
        pytest.fail(f"`python {' '.join(args)}` exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="session")
def start_time() -> datetime:
    """The publisher's simulated clock start: a minute ago, to the minute, so that the last-24-hours views
    have purchases while every event time stays in the past (the clock advances ~10 ms per event)."""
    return (datetime.now(timezone.utc) - timedelta(minutes=1)).replace(second=0, microsecond=0)


@pytest.fixture(scope="session")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory, start_time: datetime) -> Path:
    """A raw DuckDB warehouse as the publisher, the pipeline's backfill and the reference loader leave it."""
    directory = tmp_path_factory.mktemp("warehouse")
    path = directory / "warehouse.duckdb"
    catalog = directory / "catalog"
    run_command(
        "-m",
        "publishers",
        "--orders",
        "600",
        "--seed",
        "5",
        "--history-days",
        "400",
        "--start-time",
        start_time.isoformat(),
        "--duplicate-ratio",
        "0.05",
        "--reorder-ratio",
        "0.1",
        "--invalid-ratio",
        "0.02",
        "--output",
        str(directory / "events.jsonl"),
        "--catalog-out",
        str(catalog),
        log=directory / "publisher.log",
    )
    append_edge_catalog(catalog)
    for line in write_edge_events(directory / "edge.jsonl", start_time):
        result = validate_payload(line)
        assert result.ok, f"edge event breaks the contract: {result.error_message()}\n{line}"
    run_command(
        "-m",
        "publishers",
        "--replay-olist",
        str(write_olist_dst_files(directory / "olist_dst")),
        "--output",
        str(directory / "olist_dst.jsonl"),
        log=directory / "replay.log",
    )
    run_command(
        "streaming_job.py",
        "--input_files",
        str(directory / "*.jsonl"),
        "--sink",
        "duckdb",
        "--duckdb_path",
        str(path),
        log=directory / "pipeline.log",
    )
    run_command(
        "-m",
        "warehouse.reference",
        "--olist-dir",
        str(catalog),
        "--duckdb-path",
        str(path),
        log=directory / "reference.log",
    )
    return path


@pytest.fixture(scope="session")
def event_files(warehouse_path: Path) -> list[Path]:
    """The JSONL files the pipeline backfilled the warehouse from (publisher's and edge orders')."""
    return sorted(warehouse_path.parent.glob("*.jsonl"))


@pytest.fixture(scope="session")
def dbt_build(warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtBuild]:
    """`dbt build --target local` once per session, on a copy of the warehouse, with every unit test (the
    runner's `--unit-tests`: production builds leave them out, so this is where `make test` runs them)."""
    directory = tmp_path_factory.mktemp("dbt-build")
    raw_copy = directory / "warehouse.duckdb"
    raw_copy.write_bytes(warehouse_path.read_bytes())
    analytics = directory / "warehouse_analytics.duckdb"
    exit_code = run_dbt("build", raw_path=raw_copy, analytics_path=analytics, artifacts=directory, unit_tests=True)
    yield DbtBuild(exit_code, raw_copy, analytics, directory / "target")
