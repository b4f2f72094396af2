"""``python -m bench.dbt_build [--orders 100000] [--runs 3] [--reference-runs N] [--write BENCHMARKS.md]``

``python -m warehouse.dbt_runner build`` (snapshot of the raw file, dbt build with its data tests on the local
target, publish: the production build, which leaves dbt's unit tests to CI) on a warehouse of ``--orders``
orders: the backfill of 2,000 generated orders (real Olist products and sellers, a year of history so some are
still open) and the reference loader, then those orders copied under new order and customer ids up to the size
(SQL inside DuckDB, so the set-up stays short). A reference row times ``build --unit-tests`` (every unit test
too), run after each production build.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import harness
from bench.backfill import olist_dir

GOAL_SECONDS = 15.0
BASE_ORDERS = 2000


def build_warehouse(directory: Path, orders: int) -> Path:
    from warehouse.connection import connect

    warehouse = directory / "warehouse.duckdb"
    events = directory / "events.jsonl"
    catalog = directory / "catalog"
    olist = olist_dir()
    steps = [
        harness.python("-m", "publishers", "--orders", str(BASE_ORDERS), "--seed", "15", "--history-days", "365",
                       "--start-time", "2026-11-01T00:00:00Z", "--output", str(events), "--catalog-out", str(catalog),
                       *(["--olist-dir", str(olist)] if olist else [])),
        harness.python("streaming_job.py", "--input_files", str(events), "--duckdb_path", str(warehouse)),
        harness.python("-m", "warehouse.reference", "--olist-dir", str(catalog), "--duckdb-path", str(warehouse)),
    ]  # fmt: skip
    for step in steps:
        code, _, _, _ = harness.run_timed(step, directory / "setup.log")
        if code != 0:
            raise RuntimeError(f"set-up step failed: {' '.join(step)}: {harness.log_tail(directory / 'setup.log')}")
    with connect(warehouse) as connection:
        (base,) = connection.execute("SELECT count(*) FROM orders_rt.orders").fetchone()
        copies = max(0, -(-orders // base) - 1)
        for table, renames in (
            ("orders", "order_id || '-' || c AS order_id, customer_id || '-' || c AS customer_id"),
            ("order_items", "order_id || '-' || c AS order_id"),
            ("order_payments", "order_id || '-' || c AS order_id"),
        ):
            connection.execute(
                f"INSERT INTO orders_rt.{table} SELECT * EXCLUDE (c) REPLACE ({renames}) "
                f"FROM orders_rt.{table}, range(1, {copies + 1}) AS r(c) WHERE NOT contains(order_id, '-')"
            )
        (total,) = connection.execute("SELECT count(*) FROM orders_rt.orders").fetchone()
    return warehouse, total


RUN_RESULTS = harness.REPO_ROOT / "dbt" / "target" / "run_results.json"


def run_results() -> tuple[float, list[tuple[str, float]], int, str]:
    """dbt's own elapsed seconds, its nodes by execution time, their count, and " on N threads" when it says."""
    import json

    results = json.loads(RUN_RESULTS.read_text())
    nodes = sorted(((r["unique_id"], r["execution_time"]) for r in results["results"]), key=lambda x: -x[1])
    threads = results.get("args", {}).get("threads")
    return results["elapsed_time"], nodes, len(nodes), f" on {threads} threads" if threads else ""


#: The production build (what the demo and `make dbt-build` run), then the reference with every unit test.
PRODUCTION = "production (no unit tests)"
WITH_UNIT_TESTS = "with unit tests (--unit-tests)"
VARIANTS = {PRODUCTION: (), WITH_UNIT_TESTS: ("--unit-tests",)}

#: One run: wall seconds of the whole command, its CPU seconds (children included), dbt's own elapsed_time
#: and the nodes dbt ran.
Run = tuple[float, float, float, int]


def measure(orders: int, runs: int, reference_runs: int) -> tuple[dict[str, list[Run]], int, tuple | None]:
    times: dict[str, list[Run]] = {name: [] for name in VARIANTS}
    profiled = None
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as tmp:
        directory = Path(tmp)
        print(f"  building a warehouse of {orders:,} orders …", file=sys.stderr, flush=True)
        warehouse, total = build_warehouse(directory, orders)
        # Runs alternate, so that a noisy neighbour slows both variants alike.
        schedule = [PRODUCTION] * runs
        for index in range(min(reference_runs, runs)):
            schedule.insert(2 * index + 1, WITH_UNIT_TESTS)
        schedule += [WITH_UNIT_TESTS] * max(0, reference_runs - runs)
        for index, name in enumerate(schedule):
            command = harness.python(
                "-m", "warehouse.dbt_runner", "build", "--duckdb-path", str(warehouse), *VARIANTS[name]
            )
            log = directory / f"dbt{index}.log"
            code, wall, _, cpu = harness.run_timed(command, log, timeout=1800)
            if code != 0:
                raise RuntimeError(f"dbt build failed: {harness.log_tail(log)}")
            elapsed, nodes, count, threads = run_results()
            times[name].append((wall, cpu, elapsed, count))
            print(
                f"  dbt build, {name}: {wall:.1f} s, CPU {cpu:.1f} s (dbt's own {elapsed:.1f} s, {count} nodes)",
                file=sys.stderr,
                flush=True,
            )
            if name == PRODUCTION:
                last_production = (nodes, count, threads)
        if statistics_median([w for w, *_ in times[PRODUCTION]]) > GOAL_SECONDS:
            profiled = last_production
    return times, total, profiled


def statistics_median(values: list[float]) -> float:
    stats = harness.median_range(values)
    return stats[0] if stats else float("inf")


def section(runs: dict[str, list[Run]], total: int, profiled, argv: list[str]) -> harness.Section:
    times = [w for w, *_ in runs[PRODUCTION]]
    result = harness.Section(
        key="dbt_build",
        title="dbt build on the local warehouse",
        command=harness.shown_command("bench.dbt_build", argv),
        setup=(
            f"`python -m warehouse.dbt_runner build` (snapshot, dbt build with every data test, publish; dbt's "
            f"unit tests are left to CI) on {total:,} orders: {BASE_ORDERS:,} backfilled generated orders copied "
            f"under new ids; {len(times)} runs, wall and CPU time of the whole command (CPU: its processes' user "
            "and system time, steadier than wall time on a shared machine). Reference: the same build with "
            "`--unit-tests`, runs alternating with the production ones. Cells: median (range)."
        ),
        tables=[
            harness.table(
                ("Build", "Orders", "Nodes", "Whole command (s)", "CPU (s)", "dbt's own elapsed_time (s)"),
                [
                    (
                        name,
                        f"{total:,}",
                        harness.cell(n for *_, n in variant),
                        harness.cell((w for w, *_ in variant), "{:,.1f}"),
                        harness.cell((c for _, c, *_ in variant), "{:,.1f}"),
                        harness.cell((e for _, _, e, _ in variant), "{:,.1f}"),
                    )
                    for name, variant in runs.items()
                    if variant
                ],
            )
        ],
        goals=[
            harness.Goal(
                f"dbt build on {total:,} orders", statistics_median(times), GOAL_SECONDS, "s", False, "{:,.1f}"
            )
        ],
    )
    if profiled:
        nodes, count, threads = profiled
        result.profile = [
            f"Profile (dbt's `run_results.json` of the last production run: {count} nodes{threads}; the rest of the "
            "command's time is the snapshot copy, dbt's start-up and parse, and the publish):",
            "",
            *harness.table(("Slowest nodes", "s"), ((f"`{n}`", f"{t:.2f}") for n, t in nodes[:10])),
        ]
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.dbt_build", description=__doc__.split("\n\n")[1])
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the warehouse (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the production build (default 3)")
    parser.add_argument(
        "--reference-runs",
        type=int,
        help="runs of the reference build with every unit test (default: as many as --runs; 0 for none)",
    )
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE")
    args = parser.parse_args(argv)
    reference_runs = args.runs if args.reference_runs is None else args.reference_runs
    times, total, profiled = measure(args.orders, args.runs, reference_runs)
    harness.publish_section(section(times, total, profiled, argv), args.write)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
