"""``python -m bench.dashboard_while_writing [--runs 3] [--seconds 45] [--rate 200] [--write BENCHMARKS.md]``

What the live dashboard costs the streaming pipeline, measured on the real parts: Google's Pub/Sub emulator, the
streaming pipeline (``streaming_job.py``, FnApiRunner, DuckDB sink), the publisher CLI at a steady rate, and
either nothing or the dashboard reading the same DuckDB file. Each run, in fresh temporary directories, goes
through the variants in turn (without, with every 2 s, without, with every 1 s: so noise hits both), each with
its own emulator, pipeline and warehouse:

1. the pipeline starts, a warm-up publisher (20 events/s) keeps it busy until its first orders are visible and
   the dashboard (in the "with" variants) shows figures; then the measured publisher starts (``--rate`` events/s
   for ``--seconds``), the warm-up one stops; the window opens at the measured publisher's first progress line
   (5 s in) and closes at its last message (the newest ``_event_time``);
2. a poller process (present in every variant: it is a reader too) opens the warehouse read-only every 100 ms
   (one short connection, the bounded lock backoff of ``warehouse.connection.connect``) and notes when each order
   snapshot (``_event_id`` in ``orders``) is first seen: visible latency = first seen - ``_event_time`` (live
   publishing stamps the real clock). A snapshot superseded before a poll is never seen (``orders`` holds the
   newest), so the count is below the events published;
3. throughput = events the pipeline committed during the window (``valid`` + ``dead_lettered`` of
   ``pipeline_metrics``, by each flush's ``written_at``) per second; drain = from the last message published until
   the poller sees its snapshot (robust to the pipeline_metrics rows a sink drops after 2 s without the lock); the
   pipeline's final summary line says how many messages it got and how many metrics writes it dropped.

The dashboard is the real one: ``streamlit run orders_local/dashboard.py`` opened in headless Debian chromium
driven by Playwright (``--dashboard browser``, the default), or, lighter, a process that reads through the
dashboard's own ``WarehouseReader`` (same connection, same lock patience, ``read_dashboard``) every refresh
(``--dashboard reader``). Reported: medians and ranges over runs, and the median of the per-run ratios
with/without (ratios from one run: the machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench import harness
from bench.harness import percentile
from bench.sections import replace_section

MARK_BEGIN = "<!-- dashboard-while-writing:start -->"
MARK_END = "<!-- dashboard-while-writing:end -->"
REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_APP = REPO_ROOT / "orders_local" / "dashboard.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
POLL_SECONDS = 0.1
#: The poller waits for a lock like the dashboard does: 5 ms doubling to 50 ms, here for at most 1 s.
POLL_LOCK_TIMEOUT = 1.0
WARMUP_RATE = 20.0
IDLE_SECONDS = 5
DRAIN_TIMEOUT = 180.0
START_TIMEOUT = 120.0
WITHOUT = "without"
COMMITTED_METRICS = ("valid", "dead_lettered")
LATENCY_KEYS = ("p50", "p95", "p99")


# --- pure parts -------------------------------------------------------------------------------------------------


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99 (None when nothing was seen)."""
    summary: dict[str, float | int | None] = {"count": len(latencies_ms)}
    for key in LATENCY_KEYS:
        summary[key] = percentile(latencies_ms, float(key[1:])) if latencies_ms else None
    return summary


def visible_latencies(sightings: Iterable[tuple[str, float, float]], start_ms: float, end_ms: float) -> list[float]:
    """First-seen minus event time (ms) of each snapshot whose event time is in [start, end].

    ``sightings``: (event_id, event_time_ms, seen_ms) in the order the poller noted them; only the first of an
    event_id counts."""
    first: dict[str, float] = {}
    for event_id, event_ms, seen_ms in sightings:
        if event_id not in first and start_ms <= event_ms <= end_ms:
            first[event_id] = seen_ms - event_ms
    return list(first.values())


def committed_rate(commits: Iterable[tuple[float, int]], start_s: float, end_s: float) -> float:
    """Events per second committed in [start, end]; ``commits``: (written_at epoch s, events) per flush."""
    if end_s <= start_s:
        raise ValueError("empty window")
    return sum(n for at, n in commits if start_s <= at <= end_s) / (end_s - start_s)


def drain_seconds(commits: Iterable[tuple[float, int]], end_s: float) -> float:
    """From the end of publishing to the last commit (0 when nothing was committed after it)."""
    last = max((at for at, n in commits if n > 0), default=end_s)
    return max(0.0, last - end_s)


def published_count(log_text: str) -> int | None:
    """The publisher's final line: '<n> messages to <topic> in ...'."""
    found = None
    for line in log_text.splitlines():
        match = re.match(r"(\d+) messages to ", line.strip())
        if match:
            found = int(match.group(1))
    return found


def pipeline_counts(log_text: str) -> dict[str, int] | None:
    """From the pipeline's final summary line (beam_pipelines.metrics.summary): messages received, and the
    pipeline_metrics writes it dropped (they wait at most 2 s for the lock, then give up)."""
    found = None
    for line in log_text.splitlines():
        match = re.match(r"(\d+) messages: (\d+) valid, (\d+) dead-lettered at validation", line.strip())
        if match:
            dropped = re.search(r"(\d+) pipeline_metrics writes failed", line)
            found = {"received": int(match.group(1)), "metrics_dropped": int(dropped.group(1)) if dropped else 0}
    return found


def dashboard_read_ms(caption: str) -> tuple[str, float] | None:
    """('HH:MM:SS', ms) from the page's caption '... · read HH:MM:SS in N ms · ...' (None before the first read)."""
    match = re.search(r"read (\d\d:\d\d:\d\d) in (\d+) ms", caption)
    return (match.group(1), float(match.group(2))) if match else None


def variant_name(refresh: float) -> str:
    return f"with dashboard, {refresh:g} s"


def schedule(stress_refresh: float | None, refresh: float) -> list[tuple[str, float | None]]:
    """The variants of one run, alternating without / with: (name, refresh seconds or None)."""
    variants: list[tuple[str, float | None]] = [(WITHOUT, None), (variant_name(refresh), refresh)]
    if stress_refresh and stress_refresh != refresh:
        variants += [(WITHOUT, None), (variant_name(stress_refresh), stress_refresh)]
    return variants


@dataclass
class Measurement:
    """One variant of one run."""

    run: int
    variant: str
    refresh: float | None
    latency: dict[str, float | int | None]
    throughput: float  # events/s committed during the window
    offered: float  # events/s the measured publisher sent
    drain_s: float
    window_s: float
    published: int  # by the measured publisher (warm-up excluded)
    committed: int  # every event the pipeline committed (warm-up included)
    warmup_published: int
    polls: int
    poll_ms: float | None  # median per poll: any lock wait, open, query, close
    dashboard_reads: int = 0
    dashboard_read_ms: float | None = None  # median, as the dashboard measures its own reads
    dashboard_busy: int = 0
    pipeline_cpu_s: float | None = None
    dashboard_cpu_s: float | None = None
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    received: int | None = None  # messages the pipeline counted (its summary line)
    metrics_dropped: int = 0  # pipeline_metrics writes it gave up on (lock held by readers for > 2 s)
    notes: list[str] = field(default_factory=list)


def median_range(values: Sequence[float | None]) -> tuple[float, float, float] | None:
    """(median, min, max) of the values that are not None (None when there is none)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return statistics.median(present), min(present), max(present)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def paired(measurements: Sequence[Measurement]) -> list[tuple[Measurement, Measurement]]:
    """(with, the 'without' just before it in the same run) for every 'with' measurement."""
    pairs = []
    previous: dict[int, Measurement] = {}
    for m in measurements:
        if m.refresh is None:
            previous[m.run] = m
        elif m.run in previous:
            pairs.append((m, previous[m.run]))
    return pairs


METRICS = (
    ("visible p50 (ms)", lambda m: m.latency["p50"], "{:,.0f}"),
    ("visible p95 (ms)", lambda m: m.latency["p95"], "{:,.0f}"),
    ("visible p99 (ms)", lambda m: m.latency["p99"], "{:,.0f}"),
    ("snapshots seen", lambda m: m.latency["count"], "{:,.0f}"),
    ("offered events/s", lambda m: m.offered, "{:,.1f}"),
    ("committed events/s", lambda m: m.throughput, "{:,.1f}"),
    ("drain (s)", lambda m: m.drain_s, "{:,.1f}"),
    ("pipeline CPU (s)", lambda m: m.pipeline_cpu_s, "{:,.0f}"),
)
#: Not a column of the table: the interpretation and setup quote it.
DASHBOARD_CPU = ("dashboard CPU (s)", lambda m: m.dashboard_cpu_s, "{:,.0f}")
#: Drain is near 0 while the pipeline keeps up: a ratio of it would mean nothing (the table shows it as is).
RATIO_METRICS = ("visible p50 (ms)", "visible p99 (ms)", "committed events/s", "pipeline CPU (s)")


def _cell(stats: tuple[float, float, float] | None, fmt: str) -> str:
    if stats is None:
        return "n/a"
    median, low, high = stats
    if low == high:
        return fmt.format(median)
    return f"{fmt.format(median)} ({fmt.format(low)} to {fmt.format(high)})"


def variant_order(measurements: Sequence[Measurement]) -> list[str]:
    order: list[str] = []
    for m in measurements:
        if m.variant not in order:
            order.append(m.variant)
    return order


def render_table(measurements: Sequence[Measurement]) -> list[str]:
    """Medians (and ranges) over runs per variant, then the medians of the per-run ratios with/without."""
    variants = variant_order(measurements)
    lines = [
        "| Variant | " + " | ".join(name for name, _, _ in METRICS) + " | dashboard reads: count, ms each |",
        "|---|" + "---:|" * (len(METRICS) + 1),
    ]
    for variant in variants:
        chosen = [m for m in measurements if m.variant == variant]
        cells = [_cell(median_range([get(m) for m in chosen]), fmt) for _, get, fmt in METRICS]
        if chosen[0].refresh is None:
            reads = "none"
        else:
            count = median_range([m.dashboard_reads for m in chosen])
            read_ms = median_range([m.dashboard_read_ms for m in chosen])
            reads = f"{_fmt(count and count[0])}, {_cell(read_ms, '{:,.0f}')} ms"
        lines.append(f"| {variant} (n={len(chosen)}) | " + " | ".join(cells) + f" | {reads} |")
    pairs = paired(measurements)
    if pairs:
        getters = {name: get for name, get, _ in METRICS}
        lines += [
            "",
            "| Ratio with / without, same run (median of runs, range) | "
            + " | ".join(name.split(" (")[0] for name in RATIO_METRICS)
            + " |",
            "|---|" + "---:|" * len(RATIO_METRICS),
        ]
        for variant in variants:
            chosen = [(w, wo) for w, wo in pairs if w.variant == variant]
            if not chosen:
                continue
            cells = [
                _cell(median_range([_ratio(getters[name](w), getters[name](wo)) for w, wo in chosen]), "{:.2f}")
                for name in RATIO_METRICS
            ]
            lines.append(f"| {variant} (n={len(chosen)}) | " + " | ".join(cells) + " |")
    return lines


def ratio_of(measurements: Sequence[Measurement], variant: str, name: str) -> float | None:
    getters = {n: get for n, get, _ in (*METRICS, DASHBOARD_CPU)}
    stats = median_range(
        [_ratio(getters[name](w), getters[name](wo)) for w, wo in paired(measurements) if w.variant == variant]
    )
    return None if stats is None else stats[0]


def median_of(measurements: Sequence[Measurement], variant: str, name: str) -> float | None:
    getters = {n: get for n, get, _ in (*METRICS, DASHBOARD_CPU)}
    stats = median_range([getters[name](m) for m in measurements if m.variant == variant])
    return None if stats is None else stats[0]


def render_checks(measurements: Sequence[Measurement]) -> str:
    """Did the pipeline get every message, and did it drop pipeline_metrics rows (which the rate is made of)?"""
    sent = sum(m.published + m.warmup_published for m in measurements)
    received = sum(m.received or 0 for m in measurements)
    text = f"Checks: the pipelines counted {received:,} of the {sent:,} messages published (warm-ups included)"
    dropped = {v: sum(m.metrics_dropped for m in measurements if m.variant == v) for v in variant_order(measurements)}
    if any(dropped.values()):
        text += (
            "; `pipeline_metrics` writes dropped after waiting 2 s for the lock (their events are missing from the "
            "committed rate, not from the warehouse): "
            + "; ".join(f"{v}: {n}" for v, n in dropped.items())
            + " (sums over runs)"
        )
    else:
        text += "; no `pipeline_metrics` write was dropped"
    return text + "."


def render_section(
    measurements: Sequence[Measurement],
    *,
    command: str,
    date: str,
    machine: str,
    setup: str,
    interpretation: str,
) -> str:
    return "\n".join(
        [
            MARK_BEGIN,
            "## Dashboard while writing: visible latency and pipeline throughput with and without the dashboard",
            "",
            f"Command: `{command}` · {date} · {machine}",
            "",
            setup,
            "",
            *render_table(measurements),
            "",
            render_checks(measurements),
            "",
            interpretation,
            MARK_END,
        ]
    )


#: Flags left out of the command shown (where the output goes, not what was measured); all take a value.
UNSHOWN_FLAGS = ("--write", "--results", "--from-results", "--interpretation")


def shown_command(argv: Sequence[str]) -> str:
    """The command that produced a section: ``argv`` without the output flags, then ``--write BENCHMARKS.md``."""
    shown: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in UNSHOWN_FLAGS:
            skip = True
        elif not arg.startswith(tuple(f"{flag}=" for flag in UNSHOWN_FLAGS)):
            shown.append(shlex.quote(arg))
    return " ".join(["python -m bench.dashboard_while_writing", *shown, "--write BENCHMARKS.md"])


def write_section(path: Path, section: str) -> None:
    """Replace this script's section of ``path`` (between its markers), or append it at the end."""
    replace_section(path, section, MARK_BEGIN, MARK_END)


# --- helper processes (run by the benchmark as ``python -m bench.dashboard_while_writing --role ...``) --------

_STOP = False


def _stop_on_sigterm() -> None:
    def handler(*_):
        global _STOP
        _STOP = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def poll_role(warehouse: Path, out: Path) -> int:
    """Every 100 ms, as the dashboard reads (the pipeline's read service, else one short read-only connection): the
    snapshots not seen before, one JSON line per poll."""
    import duckdb

    from warehouse.connection import WarehouseLockedError
    from warehouse.read_service import reading

    _stop_on_sigterm()
    seen: set[str] = set()
    with out.open("w") as sink:
        next_poll = time.monotonic()
        while not _STOP:
            started = time.perf_counter()
            record: dict = {}
            try:
                with reading(  # as the dashboard reads: through the pipeline's read service when it runs
                    warehouse,
                    lock_timeout=POLL_LOCK_TIMEOUT,
                    initial_backoff=0.005,
                    max_backoff=0.05,
                ) as connection:
                    record["open_ms"] = (time.perf_counter() - started) * 1000  # any lock wait, then the open
                    seen_ms = time.time() * 1000  # the state this connection reads is the state as of now
                    rows = connection.execute(
                        "SELECT _event_id, epoch_ms(_event_time) FROM orders_rt.orders"
                    ).fetchall()
                record["seen_ms"] = seen_ms
                record["new"] = [[e, t] for e, t in rows if e not in seen]
                seen.update(e for e, _ in record["new"])
            except WarehouseLockedError:
                record["locked"] = True
            except (duckdb.Error, OSError) as error:  # the file or table not there yet
                record["error"] = str(error)[:200]
            record["poll_ms"] = (time.perf_counter() - started) * 1000
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            next_poll = max(next_poll + POLL_SECONDS, time.monotonic())
            time.sleep(max(0.0, next_poll - time.monotonic()))
    return 0


def reader_role(warehouse: Path, refresh: float, out: Path) -> int:
    """The dashboard's reads without the page: its WarehouseReader, every ``refresh`` seconds."""
    from orders_local.dashboard import MAX_LOCK_WAIT_SECONDS, WarehouseReader
    from warehouse.dbt_runner import default_analytics_path

    _stop_on_sigterm()
    reader = WarehouseReader(warehouse, default_analytics_path(warehouse), min(MAX_LOCK_WAIT_SECONDS, refresh / 2))
    with out.open("w") as sink:
        next_read = time.monotonic()
        while not _STOP:
            reading = reader.refresh(min_interval=0)
            ok = reading.problem is None and reading.data is not None
            sink.write(json.dumps({"ok": ok, "busy": reading.busy, "read_ms": reading.read_ms if ok else None}) + "\n")
            sink.flush()
            next_read = max(next_read + refresh, time.monotonic())
            time.sleep(max(0.0, next_read - time.monotonic()))
    return 0


def browse_role(url: str, out: Path) -> int:
    """Open the dashboard in headless chromium and keep it open; note each read the page reports."""
    from playwright.sync_api import sync_playwright

    _stop_on_sigterm()
    reads: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            caption = page.get_by_text("refreshed", exact=False).first
            with out.open("w") as sink:
                while not _STOP:
                    with contextlib.suppress(Exception):  # the fragment redraws: the element may be replaced
                        text = caption.inner_text(timeout=1000)
                        found = dashboard_read_ms(text)
                        if found and found[0] not in reads:
                            reads[found[0]] = found[1]
                            busy = page.get_by_text("Warehouse busy", exact=False).count() > 0
                            sink.write(json.dumps({"read_at": found[0], "read_ms": found[1], "busy": busy}) + "\n")
                            sink.flush()
                    page.wait_for_timeout(250)
        finally:
            browser.close()
    return 0


# --- the benchmark ------------------------------------------------------------------------------------------------


class Children:
    """Processes this benchmark started; stopped by PID (their own process groups), CPU time kept."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.cpu: dict[str, float] = {}

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.logs / f"{name}.log").read_text(errors="replace")
        return ""

    def wait(self, name: str, timeout: float) -> int | None:
        """Wait for ``name`` to exit (None on timeout); its CPU time (and its reaped children's) is kept."""
        process = self.processes[name]
        deadline = time.monotonic() + timeout
        while process.returncode is None:
            try:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            except ChildProcessError:
                process.poll()
                break
            if pid == process.pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                self.cpu[name] = usage.ru_utime + usage.ru_stime
                break
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
        return process.returncode

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        process = self.processes.get(name)
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # its own session: the process and what it started, nothing else
            if self.wait(name, timeout) is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                self.wait(name, 10)
        return process.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name, timeout=10)


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _wait_for(condition, timeout: float, what: str, alive=None, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: a process it needs exited")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not after {timeout:.0f} s")
        time.sleep(poll)


def _jsonl(path: Path) -> list[dict]:
    records = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                records.append(json.loads(line))
    return records


def _alive(children: Children, name: str) -> bool:
    """False only when ``name`` was started and has exited."""
    process = children.processes.get(name)
    return process is None or process.poll() is None


def _serves(url: str) -> bool:
    """Streamlit's health endpoint answers (it does once the app is served)."""
    import urllib.request

    with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
        return response.status == 200
    return False


def _orders_visible(poll_log: Path) -> bool:
    return any(r.get("new") for r in _jsonl(poll_log))


def _read_back(warehouse: Path) -> tuple[list[tuple[float, int]], float]:
    """(written_at epoch s, events) of each flush, from pipeline_metrics, and the newest ``_event_time`` (epoch s):
    the measured publisher's last message, the end of publishing (read once the pipeline has exited)."""
    import duckdb

    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as connection:
        rows = connection.execute(
            "SELECT epoch_ms(written_at) / 1000.0, sum(value) FROM orders_rt.pipeline_metrics "
            "WHERE metric IN ('valid', 'dead_lettered') GROUP BY written_at ORDER BY 1"
        ).fetchall()
        (last_event,) = connection.execute(
            "SELECT epoch_ms(max(_event_time)) / 1000.0 FROM orders_rt.orders"
        ).fetchone()
    return [(float(at), int(n)) for at, n in rows], float(last_event)


def run_variant(
    run: int, variant: str, refresh: float | None, args: argparse.Namespace, directory: Path
) -> Measurement:
    from orders_local import emulator

    directory.mkdir(parents=True)
    logs = directory / "logs"
    logs.mkdir()
    warehouse = directory / "warehouse.duckdb"
    poll_log = directory / "poll.jsonl"
    dash_log = directory / "dashboard.jsonl"
    children = Children(logs)
    load_before = os.getloadavg()[0]
    running = emulator.start(directory / "pubsub")
    try:
        emulator.create_resources(running)
        env = running.environment()
        topic = running.topic(emulator.DEFAULT_TOPIC)
        children.start(
            "pipeline",
            _python(
                "streaming_job.py", "--input_subscription", running.subscription(emulator.DEFAULT_SUBSCRIPTION),
                "--sink", "duckdb", "--duckdb_path", str(warehouse), "--max_idle_seconds", str(IDLE_SECONDS),
            ),
            env,
        )  # fmt: skip
        pipeline_alive = lambda: children.processes["pipeline"].poll() is None  # noqa: E731
        children.start(
            "warmup",
            _python("-m", "publishers", "--topic", topic, "--rate", f"{WARMUP_RATE:g}", "--duration", "600",
                    "--seed", str(10_000 + run)),
            env,
        )  # fmt: skip
        children.start("poller", _python("-m", "bench.dashboard_while_writing", "--role", "poll",
                                          "--warehouse", str(warehouse), "--out", str(poll_log)))  # fmt: skip
        _wait_for(lambda: _orders_visible(poll_log), START_TIMEOUT, "first orders visible", pipeline_alive)
        if refresh is not None and args.dashboard == "browser":
            port = emulator.free_port()
            children.start(
                "streamlit",
                _python(
                    "-m", "streamlit", "run", str(DASHBOARD_APP), "--server.address", "127.0.0.1",
                    "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
                    "--client.toolbarMode", "minimal", "--", "--duckdb-path", str(warehouse),
                    "--refresh-seconds", f"{refresh:g}",
                ),
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            _wait_for(lambda: _serves(url), START_TIMEOUT, "streamlit serving", lambda: _alive(children, "streamlit"))
            children.start("browser", _python("-m", "bench.dashboard_while_writing", "--role", "browse",
                                              "--url", url, "--out", str(dash_log)))  # fmt: skip
        elif refresh is not None:
            children.start("reader", _python("-m", "bench.dashboard_while_writing", "--role", "read",
                                             "--warehouse", str(warehouse), "--refresh", f"{refresh:g}",
                                             "--out", str(dash_log)))  # fmt: skip
        if refresh is not None:
            _wait_for(
                lambda: len(_jsonl(dash_log)) >= 2,
                START_TIMEOUT,
                "dashboard showing figures",
                lambda: pipeline_alive() and all(_alive(children, n) for n in ("streamlit", "browser", "reader")),
            )
        children.start(
            "publisher",
            _python("-m", "publishers", "--topic", topic, "--rate", f"{args.rate:g}", "--duration",
                    f"{args.seconds:g}", "--seed", str(run + 1)),
            env,
        )  # fmt: skip
        # Its first progress line (after 5 s of publishing): the warm-up stops, the window opens.
        _wait_for(lambda: "messages," in children.log("publisher"), START_TIMEOUT, "publisher started", pipeline_alive)
        window_start = time.time()
        children.stop("warmup")
        if children.wait("publisher", args.seconds + 60) is None:
            raise RuntimeError("the publisher did not finish")
        code = children.wait("pipeline", DRAIN_TIMEOUT)
        if code != 0:
            raise RuntimeError(f"the pipeline exited with {code}: {children.log('pipeline')[-2000:]}")
        for name in ("browser", "streamlit", "reader", "poller"):
            children.stop(name)
    finally:
        children.stop_all()
        emulator.stop(running)
    # The window closes at the last message published (its event time), not at the publisher's exit.
    commits, window_end = _read_back(warehouse)
    sightings = [(e, t, r["seen_ms"]) for r in _jsonl(poll_log) for e, t in r.get("new", [])]
    latencies = visible_latencies(sightings, window_start * 1000, window_end * 1000)
    window_sightings = [x for x in sightings if window_start * 1000 <= x[1] <= window_end * 1000]
    counts = pipeline_counts(children.log("pipeline")) or {}
    polls = _jsonl(poll_log)
    published = published_count(children.log("publisher")) or 0
    window = window_end - window_start
    dashboard = _jsonl(dash_log) if refresh is not None else []
    read_ms = [r["read_ms"] for r in dashboard if r.get("read_ms") is not None]
    dashboard_cpu = None
    if refresh is not None:
        dashboard_cpu = sum(children.cpu.get(name, 0.0) for name in ("browser", "streamlit", "reader"))
    measurement = Measurement(
        run=run,
        variant=variant,
        refresh=refresh,
        latency=latency_summary(latencies),
        throughput=committed_rate(commits, window_start, window_end),
        offered=published / args.seconds,
        # Drain: until the last snapshot published became visible (pipeline_metrics rows may have been dropped).
        drain_s=drain_seconds([(seen / 1000, 1) for _, t, seen in window_sightings], window_end),
        window_s=window,
        published=published,
        committed=sum(n for _, n in commits),
        warmup_published=published_count(children.log("warmup")) or 0,
        polls=len(polls),
        poll_ms=statistics.median(r["poll_ms"] for r in polls) if polls else None,
        dashboard_reads=len(read_ms),
        dashboard_read_ms=statistics.median(read_ms) if read_ms else None,
        dashboard_busy=sum(1 for r in dashboard if r.get("busy")),
        pipeline_cpu_s=children.cpu.get("pipeline"),
        dashboard_cpu_s=dashboard_cpu,
        load=(load_before, os.getloadavg()[0]),
        received=counts.get("received"),
        metrics_dropped=counts.get("metrics_dropped", 0),
    )
    sent = measurement.published + measurement.warmup_published
    if measurement.received is None or measurement.received < sent:
        measurement.notes.append(f"the pipeline counted {measurement.received} of {sent} messages published")
    if measurement.metrics_dropped:
        measurement.notes.append(f"{measurement.metrics_dropped} pipeline_metrics writes dropped")
    return measurement


def machine() -> str:
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f" · {kib / 2**20:.0f} GiB memory"
    return f"{os.cpu_count()} cores{memory} · {platform.python_implementation()} {platform.python_version()}"


def _fmt(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def interpretation(measurements: Sequence[Measurement], refresh: float) -> str:
    """3-4 sentences drawn from the figures: what the dashboard costs the pipeline, and why."""
    base = variant_name(refresh)

    def both(name: str) -> tuple[float | None, float | None]:
        return median_of(measurements, WITHOUT, name), median_of(measurements, base, name)

    (p50, w50), (p99, w99) = both("visible p50 (ms)"), both("visible p99 (ms)")
    (thr, wthr), (drain, wdrain) = both("committed events/s"), both("drain (s)")
    (seen, wseen), offered = both("snapshots seen"), median_of(measurements, WITHOUT, "offered events/s")
    rthr = ratio_of(measurements, base, "committed events/s")
    text = (
        f"With the dashboard open (refresh {refresh:g} s) a new snapshot became visible after {_fmt(w50)} ms at "
        f"the median and {_fmt(w99)} ms at p99, against {_fmt(p50)} and {_fmt(p99)} ms without "
        f"({_fmt(ratio_of(measurements, base, 'visible p50 (ms)'), '{:.1f}')}x and "
        f"{_fmt(ratio_of(measurements, base, 'visible p99 (ms)'), '{:.1f}')}x, per-run ratios). "
    )
    keeps_up = rthr is not None and rthr >= 0.9 and max(drain or 0, wdrain or 0) < 2
    text += (
        f"The pipeline {'still kept up with' if keeps_up else 'fell behind'} the {_fmt(offered, '{:,.0f}')} "
        f"events/s offered ({_fmt(wthr, '{:,.1f}')} against {_fmt(thr, '{:,.1f}')} events/s committed, ratio "
        f"{_fmt(rthr, '{:.2f}')}; the backlog left when publishing stopped drained in {_fmt(wdrain, '{:.1f}')} s "
        f"against {_fmt(drain, '{:.1f}')} s)"
        + (": at this rate the dashboard costs freshness more than throughput. " if keeps_up else ". ")
    )
    reads = median_range([m.dashboard_read_ms for m in measurements if m.variant == base])
    holds = median_range([m.poll_ms for m in measurements])
    cpu = median_range([m.dashboard_cpu_s for m in measurements if m.variant == base])
    text += (
        "Why: DuckDB lets one process hold the file read-write or any number hold it read-only, never both, so "
        f"each refresh's read-only unit (lock wait, open, every query of the page, close: {_fmt(reads and reads[0])} "
        f"ms median here, against {_fmt(holds and holds[0])} ms for a poll) keeps the pipeline's flush out for its "
        "whole length, and the readers' units overlap one another, leaving the writer fewer gaps; a flush that "
        "collides retries with backoff doubling from 5 to 500 ms, so its snapshots become visible later"
    )
    if seen and wseen and wseen < 0.98 * seen:
        text += f" and more of them are superseded before anyone sees them ({_fmt(wseen)} seen against {_fmt(seen)})"
    pipeline_cpu = median_of(measurements, WITHOUT, "pipeline CPU (s)")
    text += (
        f"; and on 2 shared cores the page itself is not free (Streamlit + chromium: {_fmt(cpu[0])} s of CPU per "
        f"variant, about as much as the pipeline's {_fmt(pipeline_cpu)} s). "
        if cpu and cpu[0]
        else ". "
    )
    stress = [m for m in measurements if m.refresh not in (None, refresh)]
    if stress:
        name = stress[0].variant
        text += (
            f"Refreshing every {stress[0].refresh:g} s: visible p50 "
            f"{_fmt(ratio_of(measurements, name, 'visible p50 (ms)'), '{:.1f}')}x and p99 "
            f"{_fmt(ratio_of(measurements, name, 'visible p99 (ms)'), '{:.1f}')}x, committed events/s "
            f"{_fmt(ratio_of(measurements, name, 'committed events/s'), '{:.2f}')}x of the run's own variant "
            "without."
        )
    return text.strip()


def run(args: argparse.Namespace) -> tuple[list[Measurement], float]:
    started = time.monotonic()
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
        for run_index in range(args.runs):
            for position, (variant, refresh) in enumerate(schedule(args.stress_refresh, args.refresh)):
                print(f"run {run_index + 1}/{args.runs}: {variant} …", file=sys.stderr, flush=True)
                directory = Path(tmp) / f"run{run_index + 1}-{position}"
                try:
                    m = run_variant(run_index, variant, refresh, args, directory)
                except Exception:
                    for log in sorted((directory / "logs").glob("*.log")):
                        print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
                    raise
                measurements.append(m)
                print(
                    f"  p50 {m.latency['p50'] or 0:,.0f} ms, p99 {m.latency['p99'] or 0:,.0f} ms "
                    f"({m.latency['count']} seen), committed {m.throughput:,.1f}/s of {m.offered:,.1f}/s offered, "
                    f"drain {m.drain_s:.1f} s, pipeline CPU {m.pipeline_cpu_s or 0:.0f} s, "
                    f"dashboard reads {m.dashboard_reads} ({m.dashboard_read_ms or 0:.0f} ms), "
                    f"dashboard CPU {m.dashboard_cpu_s or 0:.0f} s, load {m.load[0]:.1f}->{m.load[1]:.1f} "
                    f"{'; '.join(m.notes)}",
                    file=sys.stderr,
                    flush=True,
                )
    return measurements, time.monotonic() - started


def section_for(measurements: Sequence[Measurement], args: argparse.Namespace, elapsed: float, argv: list[str]) -> str:
    command = shown_command(argv)
    runs = max(m.run for m in measurements) + 1
    loads = [x for m in measurements for x in m.load]
    cpu = [
        f"{_fmt(median_of(measurements, v, 'dashboard CPU (s)'))} s ({v.rsplit(', ', 1)[-1]} refresh)"
        for v in variant_order(measurements)
        if v != WITHOUT
    ]
    polls = median_range([m.poll_ms for m in measurements])
    if args.dashboard == "browser":
        dashboard = (
            "the real page, `streamlit run orders_local/dashboard.py` opened in headless Debian chromium by "
            "Playwright: the most faithful reader (the page's own fragment refresh, reads and drawing), and light "
            f"enough for the 2 cores (Streamlit + chromium CPU per variant: {', '.join(cpu)})"
        )
    else:
        dashboard = "a process reading through the dashboard's own `WarehouseReader` every refresh, without the page"
    setup = (
        f"{runs} runs; each run goes through the variants in this order "
        f"({' → '.join(v for v, _ in schedule(args.stress_refresh, args.refresh))}), each on its own emulator, "
        f"pipeline (`--max_idle_seconds {IDLE_SECONDS}`) and warehouse. The measured publisher sends "
        f"{args.rate:g} events/s for {args.seconds:g} s after a warm-up at {WARMUP_RATE:g}/s; the window opens at "
        f"its first progress line (5 s in) and closes at its last message. Dashboard: {dashboard}. Visible "
        f"latency: a poller process, present in every variant, opens the file read-only every "
        f"{POLL_SECONDS * 1000:.0f} ms (median {_fmt(polls and polls[0])} ms per poll: lock wait, open, query, "
        "close) and notes when each snapshot (`_event_id` in `orders`) is first seen, minus its `_event_time` "
        "(the publisher's clock; same machine); snapshots superseded before a poll are never seen. Committed "
        "events/s: `valid` + `dead_lettered` of `pipeline_metrics`, by each flush's `written_at`, inside the "
        "window (it can exceed the offered rate: the window opens while the first 5 s are still being committed). "
        "Drain: from the last message published until its snapshot is seen. Pipeline CPU: user + system seconds "
        "of the pipeline process over the whole variant. Cells: median over runs (range). Load average (1 min) "
        f"around the variants: {min(loads):.1f} to {max(loads):.1f} (the machine is shared); "
        f"total {elapsed / 60:.1f} min."
    )
    return render_section(
        measurements,
        command=command,
        date=f"{datetime.now(timezone.utc):%Y-%m-%d}",
        machine=machine(),
        setup=setup,
        interpretation=args.interpretation or interpretation(measurements, args.refresh),
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench.dashboard_while_writing", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("--runs", type=int, default=3, help="runs; each alternates the variants (default 3)")
    parser.add_argument("--seconds", type=float, default=45, help="seconds the measured publisher runs (default 45)")
    parser.add_argument("--rate", type=float, default=200, help="events/s the measured publisher sends (default 200)")
    parser.add_argument("--refresh", type=float, default=2.0, help="dashboard refresh seconds (default 2)")
    parser.add_argument(
        "--stress-refresh", type=float, default=1.0, help="a second 'with' variant at this refresh (0: none)"
    )
    parser.add_argument(
        "--dashboard",
        choices=("browser", "reader"),
        default="browser",
        help="the Streamlit page in headless chromium (default), or its WarehouseReader alone in a process",
    )
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE (BENCHMARKS.md)")
    parser.add_argument("--results", metavar="FILE", help="also save every measurement as JSON")
    parser.add_argument("--from-results", metavar="FILE", help="render from saved measurements instead of running")
    parser.add_argument("--interpretation", help=argparse.SUPPRESS)
    parser.add_argument("--role", choices=("poll", "read", "browse"), help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "poll":
        return poll_role(args.warehouse, args.out)
    if args.role == "read":
        return reader_role(args.warehouse, args.refresh, args.out)
    if args.role == "browse":
        return browse_role(args.url, args.out)
    if args.from_results:
        saved = json.loads(Path(args.from_results).read_text())
        measurements = [Measurement(**{**m, "load": tuple(m["load"])}) for m in saved["measurements"]]
        elapsed, argv = saved["elapsed_s"], saved["argv"]
        write, interpretation_text = args.write, args.interpretation
        args = parser.parse_args(argv)  # the flags of the run that measured them
        args.write, args.interpretation = write, interpretation_text or args.interpretation
    else:
        measurements, elapsed = run(args)
        if args.results:
            Path(args.results).write_text(
                json.dumps(
                    {"argv": argv, "elapsed_s": elapsed, "measurements": [asdict(m) for m in measurements]}, indent=1
                )
            )
    section = section_for(measurements, args, elapsed, argv)
    print(section)
    if args.write:
        write_section(Path(args.write), section)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
