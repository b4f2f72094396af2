"""``python -m bench.visible_latency [--rates 50 200] [--seconds 20] [--runs 3] [--write BENCHMARKS.md]``

Publish→visible latency as a dashboard sees it, on the local stack: an emulator of our own, the streaming
pipeline (``streaming_job.py``, DuckDB sink), and a reader process that opens the warehouse read-only every 100 ms
(``bench.dashboard_while_writing``'s poller: one short connection per poll, as a dashboard refresh) and notes when
each snapshot (``_event_id`` in ``orders``) is first seen. Latency = first seen - the event's ``_event_time``
(stamped by the live publisher when it publishes; same machine, same clock). Per run, one pipeline: a warm-up
publisher (20/s) until the first snapshot is visible, then the publisher CLI at each ``--rates`` in turn for
``--seconds``; each rate's window is from its publisher's start to its exit. Also reported: publish→commit
latency from the pipeline's own ``pipeline_metrics`` histogram (bucket upper bounds), so the gap between commit
and visibility shows. Lost: the pipeline's count of messages received against the publishers' counts, and the
``valid`` events committed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from bench import harness
from bench.dashboard_while_writing import Children, _jsonl, pipeline_counts, published_count, visible_latencies

GOAL_P99_MS = 250.0
GOAL_RATE = 200.0
WARMUP_RATE = 20.0
IDLE_SECONDS = 10  # longer than the pause between two publishers starting on a loaded machine
#: Snapshots published in the first second of a window are skipped (the publisher's client is connecting).
SETTLE_SECONDS = 1.0


def commit_latency(warehouse: Path) -> tuple[dict[int, float], int]:
    """p50/p99 of publish→commit (bucket upper bounds, ms) and the ``valid`` events committed."""
    from beam_pipelines.pipeline_metrics import histogram_percentiles, latency_bound
    from warehouse.connection import connect

    with connect(warehouse, read_only=True) as connection:
        buckets = connection.execute(
            "SELECT kind, sum(value) FROM orders_rt.pipeline_metrics WHERE metric = 'commit_latency_ms' GROUP BY kind"
        ).fetchall()
        (valid,) = connection.execute(
            "SELECT coalesce(sum(value), 0) FROM orders_rt.pipeline_metrics WHERE metric = 'valid'"
        ).fetchone()
    return histogram_percentiles([(latency_bound(k), int(v)) for k, v in buckets], (50, 99)), int(valid)


def one_run(index: int, rates: list[float], seconds: float, directory: Path, profile: Path | None = None) -> dict:
    directory.mkdir(parents=True)
    logs = directory / "logs"
    logs.mkdir()
    children = Children(logs)
    warehouse = directory / "warehouse.duckdb"
    poll_log = directory / "poll.jsonl"
    with harness.own_emulator(directory / "emulator") as running:
        harness.create_topic(running, "orders", {"orders-pipeline": False})
        env = running.environment()
        topic = running.topic("orders")
        try:
            pipeline = harness.python(
                "streaming_job.py",
                "--input_subscription",
                running.subscription("orders-pipeline"),
                "--duckdb_path",
                str(warehouse),
                "--max_idle_seconds",
                str(IDLE_SECONDS),
            )
            if profile is not None:
                pipeline = harness.profile_command(pipeline, profile)
            children.start("pipeline", pipeline, env)
            children.start(
                "poller",
                harness.python("-m", "bench.dashboard_while_writing", "--role", "poll", "--warehouse", str(warehouse),
                               "--out", str(poll_log)),
                env,
            )  # fmt: skip
            children.start(
                "warmup",
                harness.python("-m", "publishers", "--topic", topic, "--rate", str(WARMUP_RATE), "--duration", "600",
                               "--seed", str(1000 + index)),
                env,
            )  # fmt: skip
            _wait(lambda: any(r.get("new") for r in _jsonl(poll_log)), 120, "first snapshot visible", children)
            children.stop("warmup")
            windows = {}
            for position, rate in enumerate(rates):
                name = f"publisher{position}"
                started = time.time()
                children.start(
                    name,
                    harness.python("-m", "publishers", "--topic", topic, "--rate", f"{rate:g}", "--duration",
                                   f"{seconds:g}", "--seed", str(index * 10 + position)),
                    env,
                )  # fmt: skip
                if children.wait(name, seconds + 120) != 0:
                    raise RuntimeError(f"publisher at {rate}/s failed: {children.log(name)[-1000:]}")
                windows[rate] = (started + SETTLE_SECONDS, time.time())
            code = children.wait("pipeline", 300)
            if code != 0:
                raise RuntimeError(f"the pipeline exited with {code}: {children.log('pipeline')[-2000:]}")
            children.stop("poller")
        finally:
            children.stop_all()
    sightings = [(e, t, r["seen_ms"]) for r in _jsonl(poll_log) for e, t in r.get("new", [])]
    polls = [r["poll_ms"] for r in _jsonl(poll_log) if "poll_ms" in r]
    published = sum(
        published_count(children.log(n)) or 0 for n in ["warmup", *(f"publisher{i}" for i in range(len(rates)))]
    )
    counts = pipeline_counts(children.log("pipeline")) or {}
    commit, valid = commit_latency(warehouse)
    by_rate = {}
    for rate, (start, end) in windows.items():
        latencies = visible_latencies(sightings, start * 1000, end * 1000)
        by_rate[rate] = {
            "p50": harness.percentile(latencies, 50) if latencies else None,
            "p99": harness.percentile(latencies, 99) if latencies else None,
            "seen": len(latencies),
        }
    return {
        "rates": by_rate,
        "published": published,
        "received": counts.get("received"),
        "valid": valid,
        "commit_p50": commit.get(50),
        "commit_p99": commit.get(99),
        "poll_ms": harness.percentile(polls, 50) if polls else None,
        "locked_polls": sum(1 for r in _jsonl(poll_log) if r.get("locked")),
        "pipeline_summary": _summary_line(children.log("pipeline")),
    }


def _summary_line(log: str) -> str:
    lines = [line for line in log.splitlines() if re.match(r"\d+ messages: ", line.strip())]
    return lines[-1].strip() if lines else ""


def _wait(condition, timeout: float, what: str, children: Children) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if children.processes["pipeline"].poll() is not None:
            raise RuntimeError(f"{what}: the pipeline exited: {children.log('pipeline')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.2)


def measure(rates: list[float], seconds: float, runs: int) -> tuple[list[dict], dict | None]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        for index in range(runs):
            print(f"  run {index + 1}/{runs} …", file=sys.stderr, flush=True)
            results.append(one_run(index, rates, seconds, Path(tmp) / f"run{index}"))
            r = results[-1]
            print(
                "  "
                + "; ".join(
                    f"{rate:g}/s p50 {v['p50'] or 0:,.0f} p99 {v['p99'] or 0:,.0f} ms" for rate, v in r["rates"].items()
                )
                + f"; received {r['received']} of {r['published']}",
                file=sys.stderr,
                flush=True,
            )
        p99 = harness.median_range(r["rates"].get(GOAL_RATE, {}).get("p99") for r in results)
        profiled = None
        if p99 is None or p99[0] > GOAL_P99_MS:
            out = Path(tmp) / "latency.profile"
            print("  profiling one more run …", file=sys.stderr, flush=True)
            one_run(runs, [GOAL_RATE], seconds, Path(tmp) / "profiled", profile=out)
            tool, inclusive, own = harness.read_profile(out, within="process_bundle")
            profiled = {"tool": tool, "inclusive": inclusive, "own": own}
    return results, profiled


def section(results: list[dict], profiled: dict | None, rates: list[float], seconds: float, argv: list[str]):
    rows = []
    for rate in rates:
        chosen = [r["rates"][rate] for r in results]
        rows.append(
            (
                f"{rate:g} events/s",
                harness.cell(c["p50"] for c in chosen),
                harness.cell(c["p99"] for c in chosen),
                harness.cell(c["seen"] for c in chosen),
            )
        )
    lost = [(r["published"] - (r["received"] or 0)) for r in results]
    p99 = harness.median_range(r["rates"].get(GOAL_RATE, {}).get("p99") for r in results)
    result = harness.Section(
        key="visible_latency",
        title="Publish→visible latency with a 100 ms read-only poller",
        command=harness.shown_command("bench.visible_latency", argv),
        setup=(
            f"{len(results)} runs, each with its own emulator, pipeline and DuckDB file; in each, the publisher CLI at "
            f"{', '.join(f'{r:g}' for r in rates)} events/s for {seconds:g} s each after a warm-up at "
            f"{WARMUP_RATE:g}/s; a read-only poller every 100 ms notes when each snapshot is first seen (snapshots "
            "superseded before a poll are never seen). Cells: median (range) over runs."
        ),
        tables=[
            harness.table(("Rate", "visible p50 (ms)", "visible p99 (ms)", "snapshots seen"), rows),
            harness.table(
                (
                    "All rates of a run",
                    "publish→commit p50 (ms, bucket bound)",
                    "p99",
                    "poll (ms, median)",
                    "polls that found the file locked",
                ),
                [
                    (
                        "pipeline_metrics",
                        harness.cell(r["commit_p50"] for r in results),
                        harness.cell(r["commit_p99"] for r in results),
                        harness.cell((r["poll_ms"] for r in results), "{:,.1f}"),
                        harness.cell(r["locked_polls"] for r in results),
                    )
                ],
            ),
        ],
        goals=[
            harness.Goal(f"visible p99 at {GOAL_RATE:g} events/s", p99 and p99[0], GOAL_P99_MS, "ms", False, "{:,.0f}"),
            harness.Goal("messages lost (published - received), worst run", float(max(lost)), 0, "", False, "{:,.0f}"),
        ],
        notes=[
            "Checks per run (published, received by the pipeline, `valid` committed): "
            + "; ".join(f"{r['published']:,}, {r['received'] or 0:,}, {r['valid']:,}" for r in results)
            + ". Pipeline summary of the last run: `"
            + results[-1]["pipeline_summary"]
            + "`."
        ],
    )
    if profiled:
        result.profile = harness.render_profile(
            f"Profile of one more run at {GOAL_RATE:g}/s ({profiled['tool']}, the pipeline's bundles, idle waits "
            "left out; inclusive: the project's frames)",
            profiled["inclusive"],
            profiled["own"],
        )
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.visible_latency", description=__doc__.split("\n\n")[1])
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0], help="events/s, in turn")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per rate (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE")
    args = parser.parse_args(argv)
    results, profiled = measure(args.rates, args.seconds, args.runs)
    harness.publish_section(section(results, profiled, args.rates, args.seconds, argv), args.write)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
