"""``python -m bench.streaming_drain [--events 18000] [--runs 3] [--ordered] [--write BENCHMARKS.md]``

Streaming backlog drain against the transport's own speed, in one run on one emulator of our own: a backlog of
``--events`` generated events is published to a topic with two subscriptions; a bare loop pulls 1,000 and acks
on one (the transport's limit), the streaming pipeline (``streaming_job.py``: local pull read, full validation,
three-table upsert into a fresh DuckDB file, ack after commit) drains the other. With ``--ordered`` the same
backlog, published with ordering keys (order_id), also goes to a subscription with message ordering on. The
variants alternate from run to run. Pipeline rate: the events its flushes committed, by ``pipeline_metrics``
(``valid`` per flush's ``written_at``), after the first flush until the last (start-up excluded).

A third subscription measures the ceiling that Beam's local runner and the read leave for the project's own
work: the same read (``ReadFromSubscriptionLocally``) on the same runner, then as many steps as the pipeline has
(validate, rows, sink) doing nothing but pass the message on, and a sink that acks each batch as the real one
does after its commit, writing nothing (``--role runner``, rate from its flushes in the same way).

A fourth measure, with no transport and no runner, is the ceiling of one process: the pipeline's own steps
(``ParseAndValidateFn``, ``ToRowsFn``, ``UpsertSnapshotsFn`` on the warehouse the options build) called in a plain
loop on the same backlog, in bundles of the read's size (``--role work``, rate from its ``pipeline_metrics`` as
for the pipeline). The pipeline cannot drain faster than its steps' own work.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench import harness

GOAL_RATIO = 0.5
IDLE_SECONDS = 3
#: Frames of the runner's bundle loop: profiles count only the stacks in it (start-up left out).
BUNDLE_FRAME = "process_bundle"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def backlog(events: int, seed: int = 14) -> list:
    from publishers.stream import MessageStream, StreamSettings

    messages = []
    for message in MessageStream(StreamSettings(seed=seed, orders=None, start_time=START)):
        messages.append(message)
        if len(messages) >= events:
            return messages
    return messages


def flush_rate(commits: list[tuple[float, int]]) -> float | None:
    """Events/s from the end of the first flush to the end of the last: ``commits`` (written_at s, events)."""
    commits = sorted(commits)
    if len(commits) < 2 or commits[-1][0] <= commits[0][0]:
        return None
    return sum(n for _, n in commits[1:]) / (commits[-1][0] - commits[0][0])


def commits_of(warehouse: Path) -> list[tuple[float, int]]:
    from warehouse.connection import connect

    with connect(warehouse, read_only=True) as connection:
        return connection.execute(
            "SELECT epoch_ms(written_at) / 1000.0, sum(value) FROM orders_rt.pipeline_metrics "
            "WHERE metric IN ('valid', 'dead_lettered') GROUP BY writer, written_at"
        ).fetchall()


def pipeline_command(subscription: str, warehouse: Path) -> list[str]:
    return harness.python(
        "streaming_job.py",
        "--input_subscription",
        subscription,
        "--duckdb_path",
        str(warehouse),
        "--max_idle_seconds",
        str(IDLE_SECONDS),
    )


def run_step(name: str, command: list[str], directory: Path, env=None, timeout: float = 3600) -> tuple[float, float]:
    """Run one measured process to its end, logging to ``<name>.log``: (wall s, CPU s); raises if it fails."""
    log = directory / f"{name}.log"
    code, wall, _rss, cpu = harness.run_timed(command, log, env=env, timeout=timeout)
    if code != 0:
        raise RuntimeError(f"{name}: exited with {code}: {harness.log_tail(log)}")
    return wall, cpu


def drained(commits: list[tuple[float, int]], wall: float, cpu: float) -> dict:
    """A drain's figures from its flushes' (time, events)."""
    return {"rate": flush_rate(commits), "committed": sum(n for _, n in commits), "wall": wall, "cpu": cpu}


def drain(running, subscription: str, directory: Path, name: str, profile: Path | None = None) -> dict:
    warehouse = directory / f"{name}.duckdb"
    command = pipeline_command(running.subscription(subscription), warehouse)
    if profile is not None:
        command = harness.profile_command(command, profile)
    wall, cpu = run_step(name, command, directory, env=running.environment(), timeout=900)
    return drained(commits_of(warehouse), wall, cpu)


def runner_role(subscription: str, out: Path) -> int:
    """The read and Beam's local runner alone: pass-through steps, a sink that acks each batch and writes nothing
    but a line to ``out`` per flush (its time and message count: the DoFn is a pickled copy, so a file, not a
    list, carries them back)."""
    import time

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from beam_pipelines.acks import SubscriptionAcker
    from beam_pipelines.local_runner import patch_fn_runner_monitoring_leak
    from beam_pipelines.options import DEFAULT_BATCH_SIZE
    from beam_pipelines.transforms.batching import BatchingSinkFn
    from beam_pipelines.transforms.local_pubsub import ReadFromSubscriptionLocally

    class NoWarehouse:
        def prepare(self) -> None:
            pass

        def write_metrics(self, rows) -> None:
            pass

    class AckOnlySinkFn(BatchingSinkFn):
        def write(self, batch):
            with out.open("a") as flushes:
                flushes.write(f"{time.time()} {len(batch)}\n")
            return [], [message.ack_id for message in batch]

    out.write_text("")
    patch_fn_runner_monitoring_leak()
    options = PipelineOptions(["--runner", "FnApiRunner", "--streaming"])
    with beam.Pipeline(options=options) as pipeline:
        _ = (
            pipeline
            | ReadFromSubscriptionLocally(subscription, max_idle_seconds=IDLE_SECONDS)
            | "Validate" >> beam.Map(lambda message: message)
            | "Rows" >> beam.Map(lambda message: message)
            | "Sink" >> beam.ParDo(AckOnlySinkFn(NoWarehouse(), DEFAULT_BATCH_SIZE, SubscriptionAcker(subscription)))
        )
    return 0


def work_role(events: int, warehouse: Path, bundle: int | None = None) -> int:
    """The pipeline's steps alone on the backlog: each message through validation, rows and the sink's buffer,
    a bundle ending (and flushing) every ``bundle`` messages (default: as many as the local read's bundles hold)."""
    from apache_beam import pvalue
    from apache_beam.options.pipeline_options import PipelineOptions

    from beam_pipelines.messages import ReceivedMessage
    from beam_pipelines.options import DEFAULT_BATCH_SIZE
    from beam_pipelines.pipeline import make_warehouse
    from beam_pipelines.transforms.local_pubsub import MAX_MESSAGES_PER_BUNDLE
    from beam_pipelines.transforms.parse import ParseAndValidateFn
    from beam_pipelines.transforms.rows import ToRowsFn
    from beam_pipelines.transforms.upsert import UpsertSnapshotsFn

    messages = [
        ReceivedMessage(m.data, dict(m.attributes), message_id=str(number))
        for number, m in enumerate(backlog(events), start=1)
    ]
    warehouse_of_options = make_warehouse(PipelineOptions(["--duckdb_path", str(warehouse)]))
    validate, rows, sink = ParseAndValidateFn(), ToRowsFn(), UpsertSnapshotsFn(warehouse_of_options, DEFAULT_BATCH_SIZE)
    for step in (validate, rows, sink):
        step.setup()
    bundle = bundle or MAX_MESSAGES_PER_BUNDLE
    failed = 0

    def main_outputs(step, element):
        nonlocal failed
        for output in step.process(element):
            if isinstance(output, pvalue.TaggedOutput):  # a dead letter: none is expected from this backlog
                failed += 1
            else:
                yield output

    for start in range(0, len(messages), bundle):
        sink.start_bundle()
        for message in messages[start : start + bundle]:
            for snapshot in main_outputs(validate, message):
                for row in main_outputs(rows, snapshot):
                    failed += len(list(sink.process(row)))
        failed += len(list(sink.finish_bundle()))
    sink.teardown()
    if failed:
        print(f"work: {failed} of {len(messages):,} messages failed a step", file=sys.stderr)
    return 1 if failed else 0


def work_only(events: int, directory: Path) -> dict:
    warehouse = directory / "work.duckdb"
    command = harness.python("-m", "bench.streaming_drain", "--role", "work", "--events", str(events))
    wall, cpu = run_step("work", [*command, "--out", str(warehouse)], directory)
    return drained(commits_of(warehouse), wall, cpu)


def runner_only(running, subscription: str, directory: Path) -> dict:
    out = directory / "runner-flushes.txt"
    command = harness.python("-m", "bench.streaming_drain", "--role", "runner", "--subscription", subscription)
    wall, cpu = run_step("runner", [*command, "--out", str(out)], directory, env=running.environment())
    flushes = [(float(at), int(n)) for at, n in (line.split() for line in out.read_text().splitlines())]
    return drained(flushes, wall, cpu)


def one_run(index: int, messages: list, ordered: bool, directory: Path, profile: Path | None = None) -> dict:
    directory.mkdir(parents=True)
    with harness.own_emulator(directory / "emulator") as running:
        subscriptions = {"orders-bare": False, "orders-pipeline": False, "orders-runner": False}
        harness.create_topic(running, "orders", subscriptions)
        harness.publish_backlog(running.topic("orders"), messages, ordering_keys=False)
        result: dict = {}
        steps = ["bare", "pipeline", "runner", "work"]
        if index % 2:
            steps.reverse()
        for step in steps if profile is None else ["pipeline"]:
            print(f"  run {index + 1}: {step} …", file=sys.stderr, flush=True)
            if step == "bare":
                before = harness.session_cpu_seconds(running.pid)
                result["bare"] = harness.bare_pull_ack(running.subscription("orders-bare"), len(messages))
                result["emulator_cpu_us"] = 1e6 * (harness.session_cpu_seconds(running.pid) - before) / len(messages)
            elif step == "runner":
                result["runner"] = runner_only(running, running.subscription("orders-runner"), directory)
            elif step == "work":
                result["work"] = work_only(len(messages), directory)
            else:
                result["pipeline"] = drain(running, "orders-pipeline", directory, "unordered", profile)
        if ordered:
            harness.create_topic(running, "orders-keyed", {"orders-ordered": True})
            harness.publish_backlog(running.topic("orders-keyed"), messages, ordering_keys=True)
            print(f"  run {index + 1}: ordered pipeline …", file=sys.stderr, flush=True)
            result["ordered"] = drain(running, "orders-ordered", directory, "ordered")
    return result


def measure(events: int, runs: int, ordered: bool) -> tuple[list[dict], dict | None]:
    messages = backlog(events)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
        for index in range(runs):
            results.append(one_run(index, messages, ordered, Path(tmp) / f"run{index}"))
            r = results[-1]
            print(
                f"  bare {r['bare']:,.0f}/s, pipeline {r['pipeline']['rate'] or 0:,.0f}/s, runner and read alone "
                f"{r['runner']['rate'] or 0:,.0f}/s, the steps alone {r['work']['rate'] or 0:,.0f}/s"
                + (f", ordered {r['ordered']['rate'] or 0:,.0f}/s" if "ordered" in r else ""),
                file=sys.stderr,
                flush=True,
            )
        ratio = harness.median_range(_ratios(results))
        profiled = None
        if ratio is None or ratio[0] < GOAL_RATIO:
            out = Path(tmp) / "drain.profile"
            print("  profiling one more drain …", file=sys.stderr, flush=True)
            one_run(runs, messages, False, Path(tmp) / "profiled", profile=out)
            tool, inclusive, own = harness.read_profile(out, within=BUNDLE_FRAME)
            profiled = {"tool": tool, "inclusive": inclusive, "own": own}
    return results, profiled


def cpu_budget_us(bare_rate: float, emulator_cpu_us: float, cores: int, ratio: float = GOAL_RATIO) -> float:
    """CPU µs per event the machine's ``cores`` leave for the pipeline at ``ratio`` of the bare loop's rate, once
    the emulator has had its own CPU per message (measured while the bare loop drained it)."""
    return cores * 1e6 / (ratio * bare_rate) - emulator_cpu_us


def _ratios(results: list[dict], variant: str = "pipeline") -> list[float | None]:
    return [r[variant]["rate"] / r["bare"] if r[variant]["rate"] else None for r in results]


def section(results: list[dict], profiled: dict | None, events: int, argv: list[str]) -> harness.Section:
    ratios = _ratios(results)
    rows = [
        ("bare pull(1000) + ack loop", harness.cell(r["bare"] for r in results), "1.00"),
        (
            "pipeline, unordered subscription",
            harness.cell(r["pipeline"]["rate"] for r in results),
            harness.cell(ratios, "{:.2f}"),
        ),
        (
            "reference: the read and Beam's local runner alone (pass-through steps, acks, no validation, no writes)",
            harness.cell(r["runner"]["rate"] for r in results),
            harness.cell(_ratios(results, "runner"), "{:.2f}"),
        ),
        (
            "ceiling of one process: the pipeline's steps alone in a plain loop (validation, rows, DuckDB sink; no "
            "transport, no runner)",
            harness.cell(r["work"]["rate"] for r in results),
            harness.cell(_ratios(results, "work"), "{:.2f}"),
        ),
    ]
    if all("ordered" in r for r in results):
        rows.append(
            (
                "pipeline, ordered subscription (ordering keys)",
                harness.cell(r["ordered"]["rate"] for r in results),
                harness.cell(
                    (r["ordered"]["rate"] / r["bare"] if r["ordered"]["rate"] else None for r in results), "{:.2f}"
                ),
            )
        )
    variants = ("pipeline", "runner", "work", "ordered")
    committed = {r[variant]["committed"] for r in results for variant in variants if variant in r}
    median_ratio = harness.median_range(ratios)
    of_work = [
        r["pipeline"]["rate"] / r["work"]["rate"] if r["pipeline"]["rate"] and r["work"]["rate"] else None
        for r in results
    ]
    cores = os.cpu_count() or 1
    budget = [cpu_budget_us(r["bare"], r["emulator_cpu_us"], cores) for r in results]
    steps_us = [1e6 / r["work"]["rate"] if r["work"]["rate"] else None for r in results]
    result = harness.Section(
        key="streaming_drain",
        title="Streaming backlog drain vs the transport (bare pull + ack)",
        command=harness.shown_command("bench.streaming_drain", argv),
        setup=(
            f"{len(results)} runs, each on an emulator of its own: a backlog of {events:,} generated events, drained "
            "by a bare pull(1000)+ack loop and by the streaming pipeline (full validation, three-table upsert, ack "
            "after commit) in alternating order; pipeline rate from `pipeline_metrics` after its first flush. The "
            "reference drains a third subscription with the same read and runner, pass-through steps and a sink that "
            "acks each batch and writes nothing: the ceiling Beam's local runner leaves for the project's work. "
            "The ceiling of one process runs the pipeline's own steps on the same backlog in a plain loop, in "
            "bundles of the read's size, with no emulator or runner involved. "
            "Cells: median (range) over runs; ratios per run."
        ),
        tables=[harness.table(("Drain", "msgs/s", "vs bare loop, same run"), rows)],
        goals=[
            harness.Goal("pipeline drain / bare pull+ack", median_ratio and median_ratio[0], GOAL_RATIO, fmt="{:.2f}")
        ],
        notes=[
            f"The pipeline drained at {harness.cell(of_work, '{:.2f}x')} of its steps' own rate, same run (median, "
            "range): what the read, the transport and Beam's runner take on top of the project's work.",
            f"CPU at the goal: the emulator used {harness.cell((r['emulator_cpu_us'] for r in results), '{:.0f}')} µs "
            f"of CPU per message while the bare loop drained it; at {GOAL_RATIO} of the bare loop's rate, the "
            f"{cores} cores leave {harness.cell(budget, '{:.0f}')} µs per event for all of the pipeline's work (read, "
            f"acks, runner and steps, in any number of processes), against {harness.cell(steps_us, '{:.0f}')} µs for "
            "its steps alone (median, range).",
            f"Events committed (or acked, by the reference) per pipeline run (all must equal {events:,}): "
            + ", ".join(f"{c:,}" for c in sorted(committed))
            + ".",
        ],
    )
    if profiled:
        result.profile = harness.render_profile(
            f"Profile of one more unordered drain ({profiled['tool']}, the pipeline process's bundles, idle "
            "waits left out; inclusive: the project's frames)",
            profiled["inclusive"],
            profiled["own"],
        )
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.streaming_drain", description=__doc__.split("\n\n")[1])
    parser.add_argument("--events", type=int, default=18_000, help="backlog size (default 18000)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--ordered", action="store_true", help="also drain an ordered subscription")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE")
    parser.add_argument("--role", choices=("runner", "work"), help=argparse.SUPPRESS)
    parser.add_argument("--subscription", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "runner":
        return runner_role(args.subscription, args.out)
    if args.role == "work":
        return work_role(args.events, args.out)
    results, profiled = measure(args.events, args.runs, args.ordered)
    harness.publish_section(section(results, profiled, args.events, argv), args.write)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
