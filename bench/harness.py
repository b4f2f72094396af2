"""What every benchmark of issue 14 shares: statistics, goal lines, machine info, section layout, an own emulator,
child processes, profiles.

The pure parts (``percentile``, ``median_range``, ``cell``, ``goal_line``, ``render_section``, ``top_frames``…) are
unit-tested in tests/bench/test_harness.py; the rest drives real processes.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import platform
import pstats
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench.sections import replace_section

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO_ROOT / "BENCHMARKS.md"
#: Packages whose versions decide the figures.
KEY_PACKAGES = ("apache-beam", "duckdb", "pyarrow", "google-cloud-pubsub", "jsonschema-rs", "dbt-core", "dbt-duckdb")

# --- statistics -------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median_range(values: Iterable[float | None]) -> tuple[float, float, float] | None:
    """(median, min, max) of the values that are not None (None when there is none)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return statistics.median(present), min(present), max(present)


def cell(values: Iterable[float | None], fmt: str = "{:,.0f}") -> str:
    """``median (min to max)`` of runs, or ``n/a``."""
    stats = median_range(values)
    if stats is None:
        return "n/a"
    median, low, high = stats
    if low == high:
        return fmt.format(median)
    return f"{fmt.format(median)} ({fmt.format(low)} to {fmt.format(high)})"


@dataclass(frozen=True)
class Goal:
    """A goal of issue 14: ``value`` (median of runs) against ``target``; met when at or past it."""

    name: str
    value: float | None
    target: float
    unit: str = ""
    higher_is_better: bool = True
    fmt: str = "{:,.2f}"

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def ratio(self) -> float | None:
        """How far along the goal is: value/target (higher better) or target/value (lower better); >= 1 met."""
        if self.value is None or self.value == 0 or self.target == 0:
            return None
        return self.value / self.target if self.higher_is_better else self.target / self.value


def goal_line(goal: Goal) -> str:
    """``- **met** name: 0.62 (goal ≥ 0.50; 1.24x the goal)`` — one line per goal."""
    sign = "≥" if goal.higher_is_better else "≤"
    unit = f" {goal.unit}" if goal.unit else ""
    value = "n/a" if goal.value is None else goal.fmt.format(goal.value) + unit
    ratio = goal.ratio
    of_goal = "" if ratio is None else f"; {ratio:.2f}x of the goal"
    return (
        f"- **{'met' if goal.met else 'MISSED'}** {goal.name}: {value} "
        f"(goal {sign} {goal.fmt.format(goal.target)}{unit}{of_goal})"
    )


# --- the section --------------------------------------------------------------------------------------------------


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> str:
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        return kib / 2**20
    return None


def machine() -> str:
    memory = memory_gib()
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores · {'?' if memory is None else f'{memory:.0f}'} GiB memory · "
        f"{platform.python_implementation()} {platform.python_version()} · {package_versions()} · "
        f"load average {load:.1f} at the end"
    )


def shown_command(module: str, argv: Sequence[str]) -> str:
    """``python -m <module> <argv without --write FILE> --write BENCHMARKS.md``."""
    shown: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--write":
            skip = True
        elif not arg.startswith("--write="):
            shown.append(shlex.quote(arg))
    return " ".join(["python -m", module, *shown, "--write BENCHMARKS.md"])


@dataclass
class Section:
    """One benchmark's part of BENCHMARKS.md, between its own markers."""

    key: str
    title: str
    command: str
    setup: str
    tables: list[list[str]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)

    @property
    def begin(self) -> str:
        return f"<!-- bench:{self.key}:begin -->"

    @property
    def end(self) -> str:
        return f"<!-- bench:{self.key}:end -->"


def render_section(section: Section, machine_line: str, date: str) -> str:
    lines = [
        section.begin,
        f"## {section.title}",
        "",
        f"Command: `{section.command}` (or `make bench`) · {date} · {machine_line}",
        "",
        section.setup,
    ]
    for table in section.tables:
        lines += ["", *table]
    if section.goals:
        lines += ["", *(goal_line(g) for g in section.goals)]
    for note in section.notes:
        lines += ["", note]
    if section.profile:
        lines += ["", *section.profile]
    lines.append(section.end)
    return "\n".join(lines)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table; every column after the first right-aligned."""
    return [
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def publish_section(section: Section, write: str | None) -> str:
    text = render_section(section, machine(), f"{datetime.now(timezone.utc):%Y-%m-%d}")
    print(text)
    if write:
        replace_section(Path(write), text, section.begin, section.end)
    return text


# --- profiles -----------------------------------------------------------------------------------------------------


def py_spy() -> str | None:
    """py-spy from $PY_SPY, the venv of this interpreter, or PATH."""
    for candidate in (os.environ.get("PY_SPY"), str(Path(sys.executable).parent / "py-spy"), shutil.which("py-spy")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def short_frame(frame: str) -> str:
    """``process (beam_pipelines/sinks/duckdb.py:71)`` -> ``process (sinks/duckdb.py:71)``: the last two parts
    of the path (py-spy's raw frames are ``function (path:line)``)."""
    if "(" not in frame or not frame.endswith(")"):
        return frame
    name, where = frame[:-1].split(" (", 1) if " (" in frame else (frame, "")
    path, _, line = where.rpartition(":")
    if not path:
        path, line = where, ""
    parts = Path(path).parts[-2:]
    return f"{name} ({'/'.join(parts)}{':' + line if line else ''})"


#: Modules whose frames the inclusive column lists (the project's own code: where a fix would go).
PROJECT_MODULES = ("beam_pipelines/", "schemas/", "warehouse/", "bench/")


def top_frames(
    collapsed: Iterable[str], count: int = 12, within: str | None = None, project: Sequence[str] = PROJECT_MODULES
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's raw output (``frame;frame;leaf N`` per line): the ``count`` project frames (their path has
    one of ``project``) with the most samples on the stack (inclusive), and the ``count`` frames of any code
    with the most samples as the leaf (self), each as (frame, share of the samples counted), line numbers
    merged by function and file. ``within``: count only stacks with a frame containing it (e.g. the bundle
    loop, leaving start-up out)."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in collapsed:
        stack, _, samples = line.rstrip("\n").rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        raw_frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if within is not None and not any(within in f for f in raw_frames):
            continue
        n = int(samples)
        total += n
        for frame in {_without_line(short_frame(f)) for f in raw_frames if any(p in f for p in project)}:
            inclusive[frame] += n
        if raw_frames:
            own[_without_line(short_frame(raw_frames[-1]))] += n
    if not total:
        return [], []
    return (
        [(f, n / total) for f, n in inclusive.most_common(count)],
        [(f, n / total) for f, n in own.most_common(count)],
    )


def _without_line(frame: str) -> str:
    if frame.endswith(")") and ":" in frame:
        head, _, tail = frame[:-1].rpartition(":")
        if tail.isdigit():
            return head + ")"
    return frame


def render_profile(title: str, inclusive: list[tuple[str, float]], own: list[tuple[str, float]]) -> list[str]:
    rows = [
        (f"`{a[0]}`" if a else "", f"{a[1]:.0%}" if a else "", f"`{b[0]}`" if b else "", f"{b[1]:.0%}" if b else "")
        for a, b in zip(_padded(inclusive, len(own)), _padded(own, len(inclusive)), strict=True)
    ]
    return [f"{title}:", "", *table(("on the stack (inclusive)", "samples", "leaf (self)", "samples"), rows)]


def _padded(items: list, length: int) -> list:
    return items + [None] * (length - len(items))


def profile_command(command: list[str], out: Path, env: dict[str, str] | None = None, rate: int = 67) -> list[str]:
    """``command`` run under py-spy (raw collapsed stacks into ``out``, child processes too), or under cProfile
    when py-spy is missing (``out`` then holds pstats)."""
    spy = py_spy()
    if spy:
        return [spy, "record", "--format", "raw", "--rate", str(rate), "--subprocesses", "-o", str(out), "--", *command]
    if command[:1] == [sys.executable]:
        return [sys.executable, "-m", "cProfile", "-o", str(out), *command[1:]]
    return command


def read_profile(
    out: Path, count: int = 12, within: str | None = None
) -> tuple[str, list[tuple[str, float]], list[tuple[str, float]]]:
    """(tool, inclusive, self) of a profile written by profile_command."""
    if not out.exists():
        return "none", [], []
    if py_spy():
        return "py-spy", *top_frames(out.read_text(errors="replace").splitlines(), count, within)
    return "cProfile", *read_cprofile(out, count)


@contextlib.contextmanager
def in_process_profile(out: Path) -> Iterator[None]:
    """cProfile around a block of this process (the in-process benchmarks)."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(str(out))


def read_cprofile(out: Path, count: int = 12) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    stats = pstats.Stats(str(out))
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    rows = [(f"{k[2]} ({'/'.join(Path(k[0]).parts[-2:])})", v[3] / total, v[2] / total) for k, v in raw.items()]
    rows = [r for r in rows if "cProfile" not in r[0] and "in_process_profile" not in r[0]]
    inclusive = sorted(((f, c) for f, c, _ in rows), key=lambda x: -x[1])[:count]
    own = sorted(((f, s) for f, _, s in rows), key=lambda x: -x[1])[:count]
    return inclusive, own


# --- processes ----------------------------------------------------------------------------------------------------


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def run_main(main: Callable[[], int]) -> None:
    """Run a benchmark's ``main`` (its ``__main__``) so that SIGTERM and SIGHUP unwind it as Ctrl-C does: the
    ``finally`` blocks that started an emulator or a child process then stop it, by its PID, instead of leaving it
    running after the benchmark is gone."""

    def interrupt(signum: int, _frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    sys.exit(main())


def run_timed(command: list[str], log: Path, env: dict[str, str] | None = None, timeout: float = 3600) -> tuple:
    """Run ``command`` to its end in its own session: (exit code, wall seconds, peak RSS MiB, CPU seconds).
    Peak RSS is the process's own high-water mark, read from /proc every 20 ms while it runs (so a peak in its
    last 20 ms may be missed). Interrupted (Ctrl-C, or a signal through ``run_main``), it stops the command too."""
    started = time.perf_counter()
    with log.open("ab") as handle:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    peak = 0.0
    try:
        while True:
            peak = max(peak, peak_rss_mib(process.pid) or 0.0)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                break
            if time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
    except BaseException:
        from orders_local.emulator import terminate_session

        terminate_session(process.pid, timeout=10)  # the command's session: it and what it started
        process.wait()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    # Not wait4's ru_maxrss: Linux starts a child's at its parent's peak when it forks (and keeps the larger
    # across exec), so a bench process that held a large file would raise every child's figure to its own.
    return process.returncode, wall, peak or usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def peak_rss_mib(pid: int) -> float | None:
    """The peak resident set of process ``pid``'s own memory so far (VmHWM), or None when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def session_cpu_seconds(session: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of ``session`` (a process started with
    ``start_new_session``, as the emulator is, leads a session whose id is its PID: the launcher and its JVM)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        except OSError:  # gone meanwhile
            continue
        if int(fields[3]) == session:  # state, ppid, pgrp, session, …, utime (12th), stime (13th)
            total += int(fields[11]) + int(fields[12])
    return total / tick


def log_tail(log: Path, chars: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return log.read_text(errors="replace")[-chars:]
    return ""


# --- an emulator of our own ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def own_emulator(directory: Path) -> Iterator:
    """Google's emulator on a free loopback port, stopped by its PID at the end; PUBSUB_EMULATOR_HOST is set
    in this process meanwhile."""
    from orders_local import emulator

    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    running = emulator.start(directory)
    os.environ["PUBSUB_EMULATOR_HOST"] = running.host
    try:
        yield running
    finally:
        emulator.stop(running)
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous


def create_topic(running, topic: str, subscriptions: dict[str, bool]) -> None:
    """``topic`` and its subscriptions (name -> message ordering on)."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    try:
        publisher.create_topic(request={"name": running.topic(topic)}, timeout=30)
        for name, ordered in subscriptions.items():
            subscriber.create_subscription(
                request={
                    "name": running.subscription(name),
                    "topic": running.topic(topic),
                    "ack_deadline_seconds": 60,
                    "enable_message_ordering": ordered,
                },
                timeout=30,
            )
    finally:
        subscriber.close()


def publish_backlog(topic_path: str, messages: Sequence, ordering_keys: bool) -> float:
    """Publish ``messages`` (publishers.stream.Message) as fast as batching allows; returns seconds."""
    from google.cloud import pubsub_v1

    client = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1000, max_latency=0.05),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=ordering_keys),
    )
    started = time.perf_counter()
    pending = []
    for message in messages:
        key = message.ordering_key if ordering_keys else ""
        pending.append(client.publish(topic_path, message.data, ordering_key=key, **message.attributes))
        if len(pending) >= 5000:
            for future in pending:
                future.result(timeout=120)
            pending.clear()
    for future in pending:
        future.result(timeout=120)
    client.stop()
    return time.perf_counter() - started


def bare_pull_ack(subscription_path: str, expected: int, pull_size: int = 1000, timeout: float = 120) -> float:
    """The transport's own speed: pull(``pull_size``) + ack in a loop until ``expected`` messages of a backlog
    published beforehand; returns msgs/s."""
    from beam_pipelines.pubsub_client import subscriber_client

    client = subscriber_client()
    got = 0
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    try:
        while got < expected and time.monotonic() < deadline:
            response = client.pull(
                request={"subscription": subscription_path, "max_messages": pull_size, "return_immediately": True},
                timeout=30,
            )
            received = response.received_messages
            if not received:
                continue
            client.acknowledge(
                request={"subscription": subscription_path, "ack_ids": [m.ack_id for m in received]}, timeout=30
            )
            got += len(received)
        if got < expected:
            raise RuntimeError(f"bare pull got {got} of {expected} messages")
        return got / (time.perf_counter() - started)
    finally:
        client.close()
