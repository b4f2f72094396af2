"""``python -m bench.dbt_build [--orders 100000] [--runs 3] [--write BENCHMARKS.md]``

``python -m warehouse.dbt_runner build`` (snapshot of the raw file, dbt build with its tests on the local
target, publish) on a warehouse of ``--orders`` orders: the backfill of 2,000 generated orders (real Olist
products and sellers, a year of history so some are still open) and the reference loader, then those orders
copied under new order and customer ids up to the size (SQL inside DuckDB, so the set-up stays short).
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


def measure(orders: int, runs: int) -> tuple[list[tuple[float, float]], int, tuple | None]:
    times = []
    profiled = None
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as tmp:
        directory = Path(tmp)
        print(f"  building a warehouse of {orders:,} orders …", file=sys.stderr, flush=True)
        warehouse, total = build_warehouse(directory, orders)
        command = harness.python("-m", "warehouse.dbt_runner", "build", "--duckdb-path", str(warehouse))
        for index in range(runs):
            code, wall, _, _ = harness.run_timed(command, directory / f"dbt{index}.log", timeout=1800)
            if code != 0:
                raise RuntimeError(f"dbt build failed: {harness.log_tail(directory / f'dbt{index}.log')}")
            elapsed, nodes, count, threads = run_results()
            times.append((wall, elapsed))
            print(f"  dbt build: {wall:.1f} s (dbt's own {elapsed:.1f} s)", file=sys.stderr, flush=True)
        if statistics_median([w for w, _ in times]) > GOAL_SECONDS:
            profiled = (nodes, count, threads)
    return times, total, profiled


def statistics_median(values: list[float]) -> float:
    stats = harness.median_range(values)
    return stats[0] if stats else float("inf")


def section(runs: list[tuple[float, float]], total: int, profiled, argv: list[str]) -> harness.Section:
    times = [w for w, _ in runs]
    result = harness.Section(
        key="dbt_build",
        title="dbt build on the local warehouse",
        command=harness.shown_command("bench.dbt_build", argv),
        setup=(
            f"`python -m warehouse.dbt_runner build` (snapshot, dbt build with every test, publish) on {total:,} "
            f"orders: {BASE_ORDERS:,} backfilled generated orders copied under new ids; {len(times)} runs, wall "
            "time of the whole command. Cells: median (range)."
        ),
        tables=[
            harness.table(
                ("Orders", "dbt_runner build, whole command (s)", "dbt's own elapsed_time (s)"),
                [(f"{total:,}", harness.cell(times, "{:,.1f}"), harness.cell((e for _, e in runs), "{:,.1f}"))],
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
            f"Profile (dbt's `run_results.json` of the last run: {count} nodes{threads}; the rest of the "
            "command's time is the snapshot copy, dbt's start-up and parse, and the publish):",
            "",
            *harness.table(("Slowest nodes", "s"), ((f"`{n}`", f"{t:.2f}") for n, t in nodes[:10])),
        ]
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.dbt_build", description=__doc__.split("\n\n")[1])
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the warehouse (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE")
    args = parser.parse_args(argv)
    times, total, profiled = measure(args.orders, args.runs)
    harness.publish_section(section(times, total, profiled, argv), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
