"""``python -m bench.upsert_flush [--orders 20000] [--batch-size 5000] [--runs 3] [--write BENCHMARKS.md]``

The DuckDB sink's flush, measured through the sink's own code (``DuckDBWarehouse``): the final snapshots of
``--orders`` generated orders are upserted in flushes of the default batch size into a fresh file, followed, as
the pipeline's sink does after every flush, by its ``pipeline_metrics`` rows, on the same connection when the
warehouse has sessions (and a dead-letter write of a few rows, which the sink does only when a flush has some).
Rows/s counts orders + items + payments rows over the upserts and the metrics writes. Each step's time comes from
wrapping the connection the sink opens (connect, each statement, close) and its conversion of rows to Arrow
(``arrow_batch``) without changing what they run. References alternate with the sink's way in every run: the
file opened per flush, a connection per write, and rows converted by ``pa.Table.from_pylist``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from beam_pipelines.options import DEFAULT_BATCH_SIZE, DEFAULT_DUCKDB_THREADS
from bench import harness
from schemas.settings import DEFAULT_IDLE_RELEASE

GOAL_ROWS_PER_SECOND = 50_000
ARROW_STEP = "rows to Arrow (arrow_batch)"
#: After the load, live flushes as the streaming pipeline makes them at ~200 events/s: this many flushes of
#: LIVE_SIZE newer snapshots of stored orders (updates, each with one line fewer where it has two or more).
LIVE_FLUSHES = 40
LIVE_SIZE = 30


class TimedConnection:
    """A DuckDB connection that adds each statement's time to ``steps`` under a short label."""

    def __init__(self, connection, steps: dict[str, float]) -> None:
        self._connection = connection
        self._steps = steps

    def execute(self, sql: str, *args):
        started = time.perf_counter()
        result = self._connection.execute(sql, *args)
        self._steps[statement_label(sql)] += time.perf_counter() - started
        return _TimedResult(result, self._steps, statement_label(sql))

    def __getattr__(self, name):
        attribute = getattr(self._connection, name)
        if not callable(attribute):
            return attribute

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._steps[name] += time.perf_counter() - started

        return timed


class _TimedResult:
    def __init__(self, result, steps, label) -> None:
        self._result, self._steps, self._label = result, steps, label

    def __getattr__(self, name):
        attribute = getattr(self._result, name)
        if not callable(attribute):
            return attribute

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._steps[self._label] += time.perf_counter() - started

        return timed


def statement_label(sql: str) -> str:
    """``MERGE INTO "orders_rt"."order_items" …`` -> ``MERGE order_items``; ``SET TimeZone…`` -> ``SET``; several
    statements in one call -> their labels joined by `` + ``."""
    parts = [part for part in sql.split(";") if part.strip()]
    if len(parts) > 1:
        return " + ".join(statement_label(part) for part in parts)
    words = sql.split()
    if not words:
        return "?"
    verb = words[0].upper()
    if verb in ("MERGE", "INSERT", "DELETE") and len(words) > 2:
        return f"{verb} {words[2].split('.')[-1].strip(chr(34))}"
    if verb == "SELECT" and "_sequence, o._event_id" in sql:
        return "SELECT stored versions"
    return verb


@contextlib.contextmanager
def timed_connections(steps: dict[str, float]):
    """Wrap ``warehouse.connection.connect`` as the sink module uses it: open and close timed too; and the
    sink's conversion of rows to Arrow tables (``arrow_batch``)."""
    import duckdb

    from beam_pipelines.sinks import duckdb as sink_module

    original = sink_module.connect
    original_connect = duckdb.connect
    original_arrow_batch = sink_module.arrow_batch

    def timed_arrow_batch(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_arrow_batch(*args, **kwargs)
        finally:
            steps[ARROW_STEP] += time.perf_counter() - started

    def timed_duckdb_connect(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_connect(*args, **kwargs)
        finally:
            steps["open (duckdb.connect)"] += time.perf_counter() - started

    @contextlib.contextmanager
    def timed(*args, **kwargs):
        with original(*args, **kwargs) as connection:
            yield TimedConnection(connection, steps)
            # what remains happens in connect's finally: close (which checkpoints the WAL)
            steps["_exit"] = time.perf_counter()
        steps["close (+ checkpoint)"] += time.perf_counter() - steps.pop("_exit")

    sink_module.connect = timed
    sink_module.arrow_batch = timed_arrow_batch
    duckdb.connect = timed_duckdb_connect
    try:
        yield
    finally:
        sink_module.connect = original
        sink_module.arrow_batch = original_arrow_batch
        duckdb.connect = original_connect


def from_pylist(table: str, rows) -> object:
    """The sink's conversion of rows to Arrow before issue 14's third session: ``pa.Table.from_pylist``."""
    import pyarrow as pa

    from schemas import table_schema
    from schemas.types import arrow_schema

    return pa.Table.from_pylist(list(rows), schema=arrow_schema(table_schema(table)))


@contextlib.contextmanager
def converting_with(conversion):
    """Let the sink convert its rows to Arrow with ``conversion`` (None: its own) for the duration."""
    from beam_pipelines.sinks import duckdb as sink_module

    original = sink_module.arrow_batch
    sink_module.arrow_batch = conversion or original
    try:
        yield
    finally:
        sink_module.arrow_batch = original


def final_snapshots(orders: int):
    from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
    from beam_pipelines.sinks.fold import batch_winners
    from beam_pipelines.transforms.rows import snapshot_rows
    from bench.streaming_drain import START
    from publishers.stream import MessageStream, StreamSettings
    from schemas.validation import EventValidator

    validator = EventValidator()
    rows = []
    for message in MessageStream(StreamSettings(seed=99, orders=orders, start_time=START)):
        result = validator.validate_payload(message.data)
        rows.append(snapshot_rows(OrderSnapshot(result.event, ReceivedMessage(message.data))))
    return batch_winners(rows)


def newer_snapshots(snapshots, count: int) -> list:
    """``count`` snapshots that replace stored ones: sequence + 1, a new event_id, the last line dropped when the
    order has more than one (so the flush deletes lines as well as rows); orders spread over the whole load."""
    import dataclasses

    step = max(1, len(snapshots) // count)
    newer = []
    for snapshot in snapshots[::step][:count]:
        sequence, event_id = snapshot.sequence + 1, f"{snapshot.event_id}-live"
        stamp = {"_sequence": sequence, "_event_id": event_id}
        items = snapshot.items[:-1] if len(snapshot.items) > 1 else snapshot.items
        newer.append(
            dataclasses.replace(
                snapshot,
                sequence=sequence,
                order={**snapshot.order, **stamp},
                items=tuple({**row, **stamp} for row in items),
                payments=tuple({**row, **stamp} for row in snapshot.payments),
            )
        )
    return newer


def metric_rows(batch) -> list[dict]:
    from beam_pipelines import pipeline_metrics

    now = datetime.now(timezone.utc)
    counts = pipeline_metrics.upsert_counts(["applied"] * len(batch), (s.message for s in batch), now)
    return pipeline_metrics.metric_rows(counts, now, pipeline_metrics.writer_id())


def dead_letter_rows(count: int) -> list[dict]:
    from beam_pipelines.dead_letters import dead_letter
    from beam_pipelines.messages import ReceivedMessage

    stamp = time.time_ns()
    return [
        dead_letter(ReceivedMessage(b"not json %d" % i, message_id=f"m{stamp}-{i}"), "parse", "not_json", "bad").row
        for i in range(count)
    ]


def one_run(
    snapshots,
    batch_size: int,
    directory: Path,
    sessions: bool = True,
    hold_seconds: float = DEFAULT_IDLE_RELEASE,
    conversion=None,
    live: bool = False,
) -> dict:
    """Flush after flush as the sink does: each in a warehouse session when it has one, the upsert then its
    pipeline_metrics rows; then, apart, a dead-letter write. The pipeline's sink holds its file between flushes
    (``hold_seconds``, its ``--duckdb_hold_seconds`` default); 0 opens and closes it per flush. ``conversion``
    replaces the sink's ``arrow_batch`` (a reference). ``live``: then LIVE_FLUSHES flushes of LIVE_SIZE updates."""
    from beam_pipelines.sinks.duckdb import DuckDBWarehouse
    from warehouse.connection import release_all

    warehouse = DuckDBWarehouse(
        str(directory / "upsert.duckdb"), hold_seconds=hold_seconds, threads=DEFAULT_DUCKDB_THREADS
    )
    warehouse.prepare()
    try:
        with converting_with(conversion):
            result = _flushes(warehouse, snapshots, batch_size, sessions)
            if live:
                updates = newer_snapshots(snapshots, LIVE_FLUSHES * LIVE_SIZE)
                result["live"] = _flushes(warehouse, updates, LIVE_SIZE, sessions)
            return result
    finally:
        release_all()


def _flushes(warehouse, snapshots, batch_size: int, sessions: bool) -> dict:
    session = getattr(warehouse, "session", contextlib.nullcontext) if sessions else contextlib.nullcontext
    rows = sum(1 + len(s.items) + len(s.payments) for s in snapshots)
    flushes = []
    flush_seconds = 0.0
    upsert_seconds = 0.0
    for start in range(0, len(snapshots), batch_size):
        batch = snapshots[start : start + batch_size]
        steps: dict[str, float] = defaultdict(float)
        with timed_connections(steps):
            started = time.perf_counter()
            with session():
                warehouse.upsert(batch)
                upsert_seconds += time.perf_counter() - started
                warehouse.write_metrics(metric_rows(batch))
            flush_seconds += time.perf_counter() - started
            flush_steps = dict(steps)
            steps.clear()
            with session():
                warehouse.write_dead_letters(dead_letter_rows(3))
            dead_steps = dict(steps)
        flushes.append({"flush": flush_steps, "dead_letters": dead_steps})
    return {
        "rows": rows,
        "rows_per_s": rows / flush_seconds,
        "upsert_only_rows_per_s": rows / upsert_seconds,
        "flush_ms": flush_seconds / len(flushes) * 1000,
        "flushes": flushes,
    }


def step_medians(results: list[dict], part: str) -> dict[str, list[float]]:
    """Per step: the median ms over the flushes of each run."""
    per_run: dict[str, list[float]] = defaultdict(list)
    for result in results:
        names = {name for f in result["flushes"] for name in f[part]}
        for name in names:
            per_run[name].append(statistics.median(f[part].get(name, 0.0) for f in result["flushes"]) * 1000)
    return per_run


def measure(orders: int, batch_size: int, runs: int) -> tuple[list[dict], int, dict | None]:
    print(f"  folding final snapshots of {orders:,} orders …", file=sys.stderr, flush=True)
    snapshots = final_snapshots(orders)
    results = []
    profiled = None
    with tempfile.TemporaryDirectory(prefix="bench-upsert-") as tmp:
        for index in range(runs):
            directory = Path(tmp) / f"run{index}"
            directory.mkdir()
            # Alternating with the sink's ways before issue 14, as references: the file opened and closed per
            # flush (no hold), a connection per write (no session either), and rows converted to Arrow by
            # pa.Table.from_pylist.
            for name in ("apart", "unheld", "from_pylist"):
                (directory / name).mkdir()
            apart = one_run(snapshots, batch_size, directory / "apart", sessions=False, hold_seconds=0)
            unheld = one_run(snapshots, batch_size, directory / "unheld", hold_seconds=0)
            pylist = one_run(snapshots, batch_size, directory / "from_pylist", conversion=from_pylist)
            results.append(one_run(snapshots, batch_size, directory, live=True))
            results[-1]["apart"] = apart
            results[-1]["unheld"] = unheld
            results[-1]["from_pylist"] = pylist
            print(
                f"  {results[-1]['rows_per_s']:,.0f} rows/s, {arrow_ms(results[-1]):,.1f} ms to Arrow per flush "
                f"(from_pylist: {pylist['rows_per_s']:,.0f}, {arrow_ms(pylist):,.1f} ms; file opened per flush: "
                f"{unheld['rows_per_s']:,.0f}; a connection per write: {apart['rows_per_s']:,.0f}); live flushes of "
                f"{LIVE_SIZE} updates: {live_ms(results[-1]):,.1f} ms",
                file=sys.stderr,
                flush=True,
            )
        rate = harness.median_range(r["rows_per_s"] for r in results)
        if rate is None or rate[0] < GOAL_ROWS_PER_SECOND:
            directory = Path(tmp) / "profiled"
            directory.mkdir()
            out = directory / "upsert.pstats"
            with harness.in_process_profile(out):
                one_run(snapshots[: batch_size * 10], batch_size, directory)
            profiled = harness.read_cprofile(out)
    return results, len(snapshots), profiled


def live_ms(result: dict) -> float:
    """The median over a run's live flushes of one flush's time (upsert + pipeline_metrics)."""
    return statistics.median(sum(f["flush"].values()) for f in result["live"]["flushes"]) * 1000


def arrow_ms(result: dict) -> float:
    """The median over a run's flushes of the time spent converting rows to Arrow (upsert and metrics)."""
    return statistics.median(f["flush"].get(ARROW_STEP, 0.0) for f in result["flushes"]) * 1000


ORDER = (
    ARROW_STEP, "open (duckdb.connect)", "SET", "register", "BEGIN", "SELECT stored versions", "DELETE orders",
    "DELETE order_items", "DELETE order_payments", "INSERT orders", "INSERT order_items", "INSERT order_payments",
    "COMMIT", "INSERT pipeline_metrics", "INSERT order_events_dead_letter", "close (+ checkpoint)",
)  # fmt: skip


def step_rank(name: str) -> int:
    """Where a step goes in the table: by ORDER, a call of several statements by its first one, others last."""
    first = name.split(" + ")[0]
    return ORDER.index(first) if first in ORDER else len(ORDER)


def section(results: list[dict], snapshots: int, batch_size: int, profiled, argv: list[str]) -> harness.Section:
    rows = []
    live = [r["live"] for r in results]
    for runs, part, title in (
        (results, "flush", "flush (upsert + pipeline_metrics)"),
        (live, "flush", f"live flush of {LIVE_SIZE} updates"),
        (results, "dead_letters", "dead letters, apart"),
    ):
        medians = step_medians(runs, part)
        names = sorted(medians, key=step_rank)
        for name in names:
            rows.append((f"{title}: {name}", harness.cell(medians[name], "{:,.1f}")))
        total = [statistics.median(sum(f[part].values()) for f in r["flushes"]) * 1000 for r in runs]
        rows.append((f"**{title}: total**", harness.cell(total, "{:,.1f}")))
    rows.append(
        (
            f"reference, rows to Arrow by `pa.Table.from_pylist`: {ARROW_STEP}",
            harness.cell((arrow_ms(r["from_pylist"]) for r in results), "{:,.1f}"),
        )
    )
    rate = harness.median_range(r["rows_per_s"] for r in results)
    result = harness.Section(
        key="upsert_flush",
        title="DuckDB upsert rows/s at the default batch size, and what a flush costs",
        command=harness.shown_command("bench.upsert_flush", argv),
        setup=(
            f"Final snapshots of {snapshots:,} generated orders ({results[0]['rows']:,} rows over orders, items and "
            f"payments) upserted in flushes of {batch_size:,} (the default `--batch_size`) into a fresh file, each "
            f"followed by the flush's `pipeline_metrics` write as the sink does; then {LIVE_FLUSHES} live flushes of "
            f"{LIVE_SIZE} newer snapshots of stored orders each (updates, one line fewer where an order has two or "
            f"more), as the streaming pipeline makes them at ~200 events/s; {len(results)} runs. Rows/s counts the "
            "upserts and the metrics writes. Cells: median (range) over runs."
        ),
        tables=[
            harness.table(
                ("Per flush", "rows/s", "ms per flush"),
                [
                    (
                        "upsert + pipeline_metrics (what the sink does)",
                        harness.cell(r["rows_per_s"] for r in results),
                        harness.cell((r["flush_ms"] for r in results), "{:,.1f}"),
                    ),
                    ("upsert alone (up to its commit)", harness.cell(r["upsert_only_rows_per_s"] for r in results), ""),
                    (
                        f"live: flushes of {LIVE_SIZE} updates of stored orders, after the load",
                        harness.cell(r["rows_per_s"] for r in live),
                        harness.cell((live_ms(r) for r in results), "{:,.1f}"),
                    ),
                    (
                        "reference: the file opened and closed per flush (`--duckdb_hold_seconds 0`)",
                        harness.cell(r["unheld"]["rows_per_s"] for r in results),
                        harness.cell((r["unheld"]["flush_ms"] for r in results), "{:,.1f}"),
                    ),
                    (
                        "reference: a connection per write (upsert, then metrics apart)",
                        harness.cell(r["apart"]["rows_per_s"] for r in results),
                        harness.cell((r["apart"]["flush_ms"] for r in results), "{:,.1f}"),
                    ),
                    (
                        "reference: rows to Arrow by `pa.Table.from_pylist` (before issue 14's third session)",
                        harness.cell(r["from_pylist"]["rows_per_s"] for r in results),
                        harness.cell((r["from_pylist"]["flush_ms"] for r in results), "{:,.1f}"),
                    ),
                ],
            ),
            harness.table(("Step of a flush (median over flushes of a run)", "ms"), rows),
        ],
        goals=[
            harness.Goal(
                f"upsert rows/s at batch size {batch_size:,}",
                rate and rate[0],
                GOAL_ROWS_PER_SECOND,
                "rows/s",
                fmt="{:,.0f}",
            )
        ],
        notes=[
            "Dead letters are written only by a flush that has some (3 rows here, timed apart from rows/s); `open` "
            "is `duckdb.connect` on the file, `close` includes DuckDB's checkpoint of the WAL into the file when it is "
            "the last connection. The sink opens one session per flush, as here, and holds the file between flushes "
            "(warehouse.connection.hold): a session's open then joins the held database instance and its close "
            "checkpoints nothing; the hold's own open is counted in the first flush."
        ],
    )
    if profiled:
        result.profile = harness.render_profile(
            "Profile of 10 more flushes (cProfile, in process; inclusive: cumulative share)", *profiled
        )
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.upsert_flush", description=__doc__.split("\n\n")[1])
    parser.add_argument("--orders", type=int, default=20_000, help="generated orders (default 20000)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"snapshots per flush (default {DEFAULT_BATCH_SIZE}, the pipeline's --batch_size default)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE")
    args = parser.parse_args(argv)
    results, snapshots, profiled = measure(args.orders, args.batch_size, args.runs)
    harness.publish_section(section(results, snapshots, args.batch_size, profiled, argv), args.write)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
