"""``python -m bench.pipeline_throughput [--write BENCHMARKS.md]``

Measures, in one run on the same events (ratios are what to compare: these machines are shared and noisy):
1. parse + validate + ToRows, per event, in a plain loop and through Beam's local runner, against the
   plain-loop limit (json.loads + the jsonschema-rs validator alone);
2. DuckDB upsert rows/s for the final snapshots of many orders, by batch size (one connection per flush, as
   the sink does), against executemany row-by-row upserts on a small sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam
import duckdb
import jsonschema_rs
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.sinks.duckdb import DuckDBWarehouse
from beam_pipelines.sinks.fold import batch_winners
from beam_pipelines.transforms.parse import VALID, ParseAndValidate
from beam_pipelines.transforms.rows import ROWS, ToRows, snapshot_rows
from bench import harness
from bench.sections import replace_section
from publishers.stream import MessageStream, StreamSettings
from schemas import event_schema
from schemas.validation import EventValidator
from warehouse.connection import connect

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
MARK_BEGIN = "<!-- bench:pipeline_throughput:begin -->"
MARK_END = "<!-- bench:pipeline_throughput:end -->"


def best_of(repeats: int, work: Callable[[], int]) -> float:
    """Items per second of the best of ``repeats`` runs (the least disturbed by other load)."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        items = work()
        rates.append(items / (time.perf_counter() - started))
    return max(rates)


def events(orders: int) -> list[bytes]:
    return [m.data for m in MessageStream(StreamSettings(seed=99, orders=orders, start_time=START))]


def plain_limit(bodies: list[bytes]) -> int:
    validator = jsonschema_rs.validator_for(event_schema(1), validate_formats=True)
    for body in bodies:
        validator.is_valid(json.loads(body))
    return len(bodies)


def project_loop(bodies: list[bytes]) -> int:
    validator = EventValidator()
    for body in bodies:
        message = ReceivedMessage(body)
        result = validator.validate_payload(body)  # then ToRows on its parsed instants, as ParseAndValidate does
        snapshot_rows(OrderSnapshot(result.event, message, result.quality_flags, result.timestamps))
    return len(bodies)


def beam_local(path: Path, count: int) -> int:
    options = PipelineOptions(["--runner", "FnApiRunner"])
    with beam.Pipeline(options=options) as pipeline:
        messages = (
            pipeline | beam.io.ReadFromText(str(path), coder=beam.coders.BytesCoder()) | beam.Map(ReceivedMessage)
        )
        _ = ((messages | ParseAndValidate())[VALID] | ToRows())[ROWS] | beam.combiners.Count.Globally()
    return count


def upsert_rows_per_second(snapshots, batch_size: int, directory: Path) -> tuple[float, int]:
    path = directory / f"upsert-{batch_size}.duckdb"
    warehouse = DuckDBWarehouse(str(path))
    warehouse.prepare()
    rows = sum(1 + len(s.items) + len(s.payments) for s in snapshots)
    started = time.perf_counter()
    for start in range(0, len(snapshots), batch_size):
        warehouse.upsert(snapshots[start : start + batch_size])
    return rows / (time.perf_counter() - started), rows


def executemany_rows_per_second(snapshots, directory: Path) -> float:
    """Row-by-row INSERT ... ON CONFLICT via executemany: the design the sink avoids."""
    path = directory / "executemany.duckdb"
    DuckDBWarehouse(str(path)).prepare()
    rows = [s.order for s in snapshots]
    columns = list(rows[0])
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "order_id")
    sql = (
        f"INSERT INTO orders_rt.orders ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT (order_id) DO UPDATE SET {updates} WHERE excluded._sequence > orders._sequence"
    )
    started = time.perf_counter()
    with connect(path) as connection:
        connection.executemany(sql, [[row[c] for c in columns] for row in rows])
    return len(rows) / (time.perf_counter() - started)


def run(orders: int, upsert_orders: int, repeats: int) -> str:
    print(f"generating events for {orders:,} orders …", file=sys.stderr)
    bodies = events(orders)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        jsonl = directory / "events.jsonl"
        jsonl.write_bytes(b"\n".join(bodies) + b"\n")
        print(f"validating {len(bodies):,} events …", file=sys.stderr)
        limit = best_of(repeats, lambda: plain_limit(bodies))
        loop = best_of(repeats, lambda: project_loop(bodies))
        local = best_of(repeats, lambda: beam_local(jsonl, len(bodies)))

        print(f"folding final snapshots of {upsert_orders:,} orders …", file=sys.stderr)
        validator = EventValidator()
        upsert_bodies = bodies if upsert_orders <= orders else events(upsert_orders)
        all_rows = [
            snapshot_rows(OrderSnapshot(validator.validate_payload(b).event, ReceivedMessage(b))) for b in upsert_bodies
        ]
        latest = batch_winners(all_rows)[:upsert_orders]
        by_batch = {}
        for batch_size in (100, 1000, 5000):
            print(f"upserting in batches of {batch_size} …", file=sys.stderr)
            by_batch[batch_size] = upsert_rows_per_second(latest, batch_size, directory)
        sample = latest[:2000]
        many = executemany_rows_per_second(sample, directory)
    command = "python -m bench.pipeline_throughput " + " ".join(
        shlex.quote(a) for a in sys.argv[1:] if a != "--write" and not a.endswith(".md")
    )
    lines = [
        MARK_BEGIN,
        "## Pipeline throughput (parse + validate + ToRows) and DuckDB upsert",
        "",
        f"Command: `{command.strip()} --write BENCHMARKS.md` (not part of `make bench`) · "
        f"{datetime.now(timezone.utc):%Y-%m-%d} · {platform.python_implementation()} {platform.python_version()} · "
        f"{os.cpu_count()} cores · apache-beam {beam.__version__} · duckdb {duckdb.__version__} · "
        f"best of {repeats} runs each",
        "",
        f"{len(bodies):,} events of {orders:,} generated orders (valid, full snapshots, seed 99).",
        "",
        "| Path | events/s | vs plain-loop limit |",
        "|---|---:|---:|",
        f"| Plain-loop limit: `json.loads` + jsonschema-rs | {limit:,.0f} | 1.00 |",
        f"| Project code in a plain loop: parse + schema + business rules + ToRows | {loop:,.0f} "
        f"| {loop / limit:.2f} |",
        f"| Beam FnApiRunner batch: ReadFromText → ParseAndValidate → ToRows | {local:,.0f} | {local / limit:.2f} |",
        "",
        f"DuckDB upsert of the final snapshots of {len(latest):,} orders "
        f"({by_batch[1000][1]:,} rows over orders, items and payments), one connection and one transaction per "
        "flush, through the sink's own DuckDBWarehouse.upsert:",
        "",
        "| Write | rows/s | vs executemany |",
        "|---|---:|---:|",
        *(
            f"| Arrow batch MERGE, {size:,} snapshots per flush | {rate:,.0f} | {rate / many:,.0f}x |"
            for size, (rate, _) in by_batch.items()
        ),
        f"| `executemany` INSERT … ON CONFLICT, orders only, {len(sample):,} rows | {many:,.0f} | 1x |",
        "",
        f"Median of the three batch sizes: {statistics.median(r for r, _ in by_batch.values()):,.0f} rows/s.",
        MARK_END,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace this script's section of ``path`` (between its markers), or append it at the end."""
    replace_section(path, section, MARK_BEGIN, MARK_END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_throughput", description=__doc__.split("\n\n")[1])
    parser.add_argument("--orders", type=int, default=20_000, help="orders whose events are validated (≈5 each)")
    parser.add_argument("--upsert-orders", type=int, default=100_000, help="orders upserted into DuckDB")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE (BENCHMARKS.md)")
    args = parser.parse_args(argv)
    section = run(args.orders, args.upsert_orders, args.repeats)
    print(section)
    if args.write:
        write_section(Path(args.write), section)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
