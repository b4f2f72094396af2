"""``python -m orders_local.demo``: the whole flow live on a laptop, offline, on real parts.

1. start Google's Pub/Sub emulator on a free loopback port (topic, unordered subscription, dead-letter topic);
2. start the streaming pipeline (FnApiRunner, DuckDB sink), the publisher at a steady rate (generated orders
   with duplicates, reordering and a few bad messages, or the real Olist sample with ``--source olist``), the
   live dashboard (Streamlit), and ``dbt build`` every ``--dbt-every`` seconds (never two at once);
3. after ``--minutes`` (0: until Ctrl-C) stop the publisher, let the pipeline drain and exit by itself, run
   dbt once more, stop every process it started (by PID) and print a summary: events published, what the
   pipeline did with them, what the warehouse holds, dead letters by reason, and publish->commit latency.

Ctrl-C at any moment takes the same way out. The children run in their own sessions, so the terminal's
Ctrl-C reaches only this process, which stops them in order: the publisher first, then the pipeline once it
has drained (bounded), dbt (it builds into a private file and publishes it by rename, so a stopped build
leaves the last analytics file whole), the dashboard, the emulator. The warehouse is only ever written in
DuckDB transactions.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from orders_local import emulator
from orders_local.cli import OneLineErrorParser
from orders_local.demo_summary import live_counts, read_summary
from warehouse.dbt_runner import default_analytics_path

REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_APP = REPO_ROOT / "orders_local" / "dashboard.py"
#: How long the pipeline may take to drain after the publisher stops (it exits after --idle quiet seconds).
DRAIN_TIMEOUT = 120.0
PROGRESS_EVERY = 5.0


def _step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


@dataclass
class Children:
    """The processes this demo started, by name: stopped by PID, in reverse order of importance."""

    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        handle = log.open("ab")
        process = subprocess.Popen(  # noqa: S603 (the project's own commands as argv lists, no shell)
            args, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        self.processes[name] = process
        print(f"started {name} (pid {process.pid}), log: {log}", flush=True)
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        process = self.processes.get(name)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        print(f"stopped {name} (pid {process.pid}, exit {process.returncode})", flush=True)
        return process.returncode


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _published_count(log: Path) -> int | None:
    """The publisher's final line: '<n> messages to <topic> in ...'."""
    found = None
    with contextlib.suppress(OSError):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"(?:\r)?(\d+) messages to ", line.strip())
            if match:
                found = int(match.group(1))
    return found


def _wait_for(condition, timeout: float, poll: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()


def build_parser() -> OneLineErrorParser:
    parser = OneLineErrorParser(prog="python -m orders_local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where everything lives (default data)")
    parser.add_argument(
        "--minutes",
        type=float,
        default=float(os.environ.get("DEMO_MINUTES", 2)),
        help="how long to publish; 0 = until Ctrl-C (default: $DEMO_MINUTES or 2)",
    )
    parser.add_argument("--rate", type=float, default=20.0, help="events published per second (default 20)")
    parser.add_argument(
        "--source",
        choices=("generated", "olist"),
        default=os.environ.get("DEMO_SOURCE", "generated"),
        help="generated orders, or the real Olist orders of --olist-dir (default: $DEMO_SOURCE or generated)",
    )
    parser.add_argument("--olist-dir", type=Path, default=os.environ.get("OLIST_DIR"), help="Olist CSVs (olist)")
    parser.add_argument("--dbt-every", type=float, default=30.0, help="seconds between dbt builds (default 30)")
    parser.add_argument("--no-dashboard", action="store_true", help="do not start the Streamlit dashboard")
    parser.add_argument("--dashboard-port", type=int, default=0, help="dashboard port (default: a free one)")
    parser.add_argument("--idle", type=float, default=10, help="the pipeline exits after this many idle seconds")
    parser.add_argument("--seed", type=int, default=1, help="publisher seed (default 1)")
    return parser


def publisher_args(args, topic: str, catalog: Path) -> list[str]:
    common = ["--topic", topic, "--rate", str(args.rate), "--seed", str(args.seed)]
    if args.source == "olist":
        # The sample's orders in purchase order, as many as the run can publish (about 5 events each).
        orders = 100_000 if args.minutes == 0 else max(1, int(args.rate * args.minutes * 60 / 5) + 1)
        return ["-m", "publishers", "--replay-olist", str(args.olist_dir), "--orders", str(orders), *common]
    duration = 10 * 365 * 86400 if args.minutes == 0 else args.minutes * 60
    return [
        "-m", "publishers", "--duration", str(duration), "--history-days", "30", "--duplicate-ratio", "0.05",
        "--reorder-ratio", "0.1", "--invalid-ratio", "0.02", "--catalog-out", str(catalog), *common,
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.source == "olist" and not args.olist_dir:
        parser.error("--source olist needs --olist-dir DIR (or OLIST_DIR) with the Kaggle CSVs")
    data = args.data_dir.resolve()
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    warehouse = data / "warehouse.duckdb"
    analytics = default_analytics_path(warehouse)
    catalog = data / "catalog"
    children = Children()
    interrupted = False

    signalled: list[int] = []

    def on_signal(signum, _frame):
        signalled.append(signum)  # kept: a library may turn the KeyboardInterrupt into an error of its own
        raise KeyboardInterrupt

    # Installed, not inherited: a demo started as a background job of a script inherits SIGINT ignored, and Python
    # then leaves Ctrl-C ignored (the fresh-clone CI run of the Ctrl-C test hung on that).
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)  # `kill PID` takes the same way out as Ctrl-C

    _step("starting the Pub/Sub emulator")
    try:
        running = emulator.start(data / "pubsub-emulator")
    except emulator.EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"started the Pub/Sub emulator (pid {running.pid}) on {running.host}", flush=True)
    builds = 0
    try:
        emulator.save_state(running)
        emulator.create_resources(running)
        env = running.environment()

        _step(f"starting the streaming pipeline -> {warehouse}")
        pipeline = children.start(
            "pipeline",
            _python(
                "streaming_job.py",
                "--input_subscription", running.subscription(emulator.DEFAULT_SUBSCRIPTION),
                "--dead_letter_topic", running.topic(emulator.DEFAULT_DEAD_LETTER_TOPIC),
                "--sink", "duckdb", "--duckdb_path", str(warehouse), "--max_idle_seconds", str(args.idle),
            ),
            logs / "pipeline.log",
            env,
        )  # fmt: skip

        length = "until Ctrl-C" if args.minutes == 0 else f"for {args.minutes:g} min"
        _step(f"publishing {args.source} orders at {args.rate:g} events/s {length}")
        publisher_log = logs / "publisher.log"
        publisher_log.unlink(missing_ok=True)
        publisher = children.start(
            "publisher", _python(*publisher_args(args, running.topic(emulator.DEFAULT_TOPIC), catalog)),
            publisher_log, env,
        )  # fmt: skip

        reference = args.olist_dir if args.source == "olist" else catalog
        # The publisher writes its catalog before its first message: once it reports progress, the files are whole.
        if args.source == "generated" and not _wait_for(
            lambda: publisher.poll() is not None or "messages" in publisher_log.read_text(errors="replace"), 60
        ):
            raise RuntimeError(f"the publisher has not started publishing after 60 s; see {publisher_log}")
        _step(f"loading reference data from {reference}")
        subprocess.run(  # noqa: S603 (the reference loader as an argv list, no shell)
            _python("-m", "warehouse.reference", "--olist-dir", str(reference), "--duckdb-path", str(warehouse)),
            cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip

        if not args.no_dashboard:
            port = args.dashboard_port or emulator.free_port()
            children.start(
                "dashboard",
                _python(
                    "-m", "streamlit", "run", str(DASHBOARD_APP), "--server.address", "127.0.0.1",
                    "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
                    "--client.toolbarMode", "minimal",
                    "--", "--duckdb-path", str(warehouse), "--analytics-path", str(analytics),
                ),
                logs / "dashboard.log",
            )  # fmt: skip
            print(f"\n    dashboard: http://127.0.0.1:{port}\n", flush=True)

        _step(f"running; dbt build every {args.dbt_every:g}s (Ctrl-C to stop)")
        next_build = time.monotonic() + args.dbt_every
        next_progress = time.monotonic()
        while publisher.poll() is None:
            if signalled:  # a Ctrl-C that DuckDB swallowed (it raises its own interrupt error, which reads as busy)
                raise KeyboardInterrupt
            if pipeline.poll() is not None:
                raise RuntimeError(f"the pipeline exited with {pipeline.returncode}; see {logs / 'pipeline.log'}")
            now = time.monotonic()
            if now >= next_build:
                builds += _dbt_build(children, warehouse, logs)
                next_build = time.monotonic() + args.dbt_every
            if now >= next_progress:
                _progress(warehouse)
                next_progress = now + PROGRESS_EVERY
            time.sleep(0.2)
        print()
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping in order (publisher, pipeline after draining, dbt, dashboard, emulator)")
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        interrupted = True
    try:
        return _finish(args, children, running, warehouse, analytics, logs, builds, interrupted)
    except KeyboardInterrupt:
        print("interrupted again: stopping everything now", file=sys.stderr)
        for name in reversed(list(children.processes)):
            children.stop(name, signal.SIGKILL, timeout=5)
        emulator.stop(running)
        return 130


def _finish(args, children, running, warehouse, analytics, logs, builds, interrupted) -> int:
    _step("stopping the publisher, then letting the pipeline drain")
    children.stop("publisher")
    pipeline = children.processes.get("pipeline")
    if pipeline is not None:
        started = time.monotonic()
        try:
            pipeline.wait(timeout=DRAIN_TIMEOUT)
            print(f"the pipeline drained and exited by itself after {time.monotonic() - started:.1f}s")
        except subprocess.TimeoutExpired:
            print(f"the pipeline did not drain within {DRAIN_TIMEOUT:.0f}s: stopping it", file=sys.stderr)
        children.stop("pipeline", signal.SIGINT)
    failed = pipeline is None or pipeline.returncode != 0
    if not interrupted and not failed:
        _step("a last dbt build on the drained warehouse")
        builds += _dbt_build(children, warehouse, logs)
    children.stop("dbt")
    children.stop("dashboard")
    emulator.stop(running)
    (Path(running.data_dir) / emulator.STATE_FILE).unlink(missing_ok=True)
    print(f"stopped the Pub/Sub emulator (pid {running.pid})")
    _step("summary")
    published = _published_count(logs / "publisher.log")
    if warehouse.exists():
        print(read_summary(warehouse, analytics, published, builds).render())
    if failed:
        print(f"error: the pipeline exited with {pipeline and pipeline.returncode}; see {logs}", file=sys.stderr)
        return 1
    return 130 if interrupted else 0


def _dbt_build(children: Children, warehouse: Path, logs: Path) -> int:
    """One dbt build (on a snapshot of the warehouse; the analytics file is replaced when it succeeds)."""
    started = time.monotonic()
    process = children.start(
        "dbt", _python("-m", "warehouse.dbt_runner", "build", "--duckdb-path", str(warehouse)), logs / "dbt.log"
    )
    code = process.wait()
    children.processes.pop("dbt", None)
    status = "ok" if code == 0 else f"FAILED (exit {code}, see {logs / 'dbt.log'})"
    print(f"dbt build {status} in {time.monotonic() - started:.0f}s", flush=True)
    return 1 if code == 0 else 0


def _progress(warehouse: Path) -> None:
    counts = live_counts(warehouse)
    if counts is not None:
        print(
            f"  {time.strftime('%H:%M:%S')} orders {counts['orders']:,}  items {counts['items']:,}  "
            f"dead letters {counts['dead_letters']:,}",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
