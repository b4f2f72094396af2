"""``python -m orders_local.demo``: run the whole flow locally, offline, on real parts.

1. start Google's Pub/Sub emulator on a free loopback port (topic, ordered subscription, dead-letter topic);
2. start the streaming pipeline (FnApiRunner, DuckDB sink) that stops after ``--idle`` seconds without input;
3. publish Olist-style orders with some duplicates, reordering and deliberately bad messages;
4. wait for the pipeline to drain and exit, then load the catalog as reference data and run ``dbt build``;
5. print what landed where, and stop the emulator (by its PID; the pipeline has exited by itself).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from orders_local import emulator
from orders_local.cli import OneLineErrorParser

REPO_ROOT = Path(__file__).resolve().parents[1]


def _step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, check=True)


def summary(warehouse: Path, analytics: Path) -> str:
    """What a data engineer checks first: current orders by status, lines, money, dead letters, a KPI."""
    lines = []
    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as raw:
        by_status = raw.execute(
            "SELECT order_status, count(*) FROM orders_rt.orders GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        items, revenue = raw.execute(
            "SELECT count(*), sum(price + freight_value) FROM orders_rt.order_items"
        ).fetchone()
        payments = raw.execute("SELECT count(*) FROM orders_rt.order_payments").fetchone()[0]
        dead = raw.execute(
            "SELECT error_kind, count(*) FROM orders_rt.order_events_dead_letter GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    lines.append(f"orders: {sum(n for _, n in by_status)} ({', '.join(f'{s} {n}' for s, n in by_status)})")
    lines.append(f"order items: {items}, payments: {payments}, items + freight: R$ {revenue or 0:,.2f}")
    lines.append(f"dead letters: {sum(n for _, n in dead)} ({', '.join(f'{k} {n}' for k, n in dead) or 'none'})")
    if analytics.exists():
        with contextlib.closing(duckdb.connect(str(analytics), read_only=True)) as marts:
            tables = marts.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_name LIKE 'fct_%' OR table_name LIKE 'dim_%' OR table_name LIKE 'kpi_%' "
                "OR table_name LIKE 'rt_%' ORDER BY 1"
            ).fetchall()
        names = ", ".join(t for (t,) in tables[:6])
        lines.append(f"dims, facts, KPIs and rt_* views in {analytics}: {len(tables)} ({names}, …)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrorParser(prog="python -m orders_local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where everything lives (default data)")
    parser.add_argument("--orders", type=int, default=300, help="orders to publish (default 300)")
    parser.add_argument("--rate", type=float, default=500, help="messages per second (default 500)")
    parser.add_argument("--idle", type=float, default=10, help="pipeline stops after this many idle seconds")
    parser.add_argument("--seed", type=int, default=1, help="publisher seed (default 1)")
    args = parser.parse_args(argv)
    data = args.data_dir.resolve()
    warehouse = data / "warehouse.duckdb"
    catalog = data / "catalog"

    _step("starting the Pub/Sub emulator")
    try:
        running = emulator.start(data / "pubsub-emulator")
    except emulator.EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    pipeline = None
    try:
        emulator.save_state(running)
        emulator.create_resources(running)
        env = running.environment()
        print(f"PUBSUB_EMULATOR_HOST={running.host} (pid {running.pid})")

        _step(f"starting the streaming pipeline -> {warehouse}")
        pipeline = subprocess.Popen(
            [sys.executable, "streaming_job.py",
             "--input_subscription", running.subscription(emulator.DEFAULT_SUBSCRIPTION),
             "--dead_letter_topic", running.topic(emulator.DEFAULT_DEAD_LETTER_TOPIC),
             "--sink", "duckdb", "--duckdb_path", str(warehouse), "--max_idle_seconds", str(args.idle)],
            cwd=REPO_ROOT, env=env,
        )  # fmt: skip

        _step(f"publishing {args.orders} orders at {args.rate:.0f} messages/s (5% duplicates, 10% reordered, 2% bad)")
        _run(
            ["-m", "publishers", "--topic", running.topic(emulator.DEFAULT_TOPIC), "--orders", str(args.orders),
             "--rate", str(args.rate), "--seed", str(args.seed), "--history-days", "180", "--duplicate-ratio", "0.05",
             "--reorder-ratio", "0.1", "--invalid-ratio", "0.02", "--catalog-out", str(catalog)],
            env=env,
        )  # fmt: skip

        _step(f"waiting for the pipeline to drain (it stops after {args.idle:.0f}s without messages)")
        started = time.monotonic()
        if pipeline.wait() != 0:
            print(f"error: the pipeline exited with {pipeline.returncode}", file=sys.stderr)
            return 1
        print(f"pipeline finished {time.monotonic() - started:.1f}s after the last publish")

        _step("loading the catalog as reference data, then dbt build")
        _run(["-m", "warehouse.reference", "--olist-dir", str(catalog), "--duckdb-path", str(warehouse)])
        _run(["-m", "warehouse.dbt_runner", "build", "--duckdb-path", str(warehouse)])

        _step("summary")
        print(summary(warehouse, warehouse.with_name(f"{warehouse.stem}_analytics.duckdb")))
        return 0
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(map(str, error.cmd[1:]))} exited with {error.returncode}", file=sys.stderr)
        return 1
    finally:
        if pipeline is not None and pipeline.poll() is None:
            pipeline.terminate()  # only on failure: it normally exits by itself when idle
            pipeline.wait(timeout=30)
        emulator.stop(running)
        (Path(running.data_dir) / emulator.STATE_FILE).unlink(missing_ok=True)
        print(f"stopped the Pub/Sub emulator (pid {running.pid})")


if __name__ == "__main__":
    sys.exit(main())
