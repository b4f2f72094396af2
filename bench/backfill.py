"""``python -m bench.backfill [--orders 7000] [--runs 3] [--scales 10000 100000 1000000] [--write BENCHMARKS.md]``

Batch backfill, two measurements:

1. against Beam's batch runner: ``streaming_job.py --input_files`` (read, parse, validate, ToRows, three-table
   upsert into a fresh DuckDB file, dead letters) and the same read + ParseAndValidate + ToRows alone on Beam's
   batch runner (FnApiRunner) ending in a count, on the same events (generated with the real Olist
   products/sellers), alternating, each in a process of its own timed from pipeline construction to its end
   (interpreter start-up and imports left out);
2. scaling: the backfill at each of ``--scales`` events (copies of the generated orders under new ids), as a user
   runs it: wall time of the process and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench import harness

GOAL_RATIO = 0.7
OLIST_DIR = harness.REPO_ROOT.parent / "shared" / "data" / "olist"
SHARED_OLIST = Path("/work/shared/data/olist")


def olist_dir() -> Path | None:
    for candidate in (OLIST_DIR, SHARED_OLIST):
        if (candidate / "olist_products_dataset.csv").is_file():
            return candidate
    return None


def write_events(path: Path, orders: int, seed: int = 33) -> int:
    """Generated events of ``orders`` orders into ``path`` (JSONL); returns the count."""
    from bench.streaming_drain import START
    from publishers.outputs import write_jsonl
    from publishers.stream import MessageStream, StreamSettings

    catalog = None
    if olist_dir():
        from publishers.catalog import load_olist_catalog

        catalog = load_olist_catalog(olist_dir())
    stream = MessageStream(StreamSettings(seed=seed, orders=orders, start_time=START), catalog)
    return write_jsonl(stream, path, lambda _: None)


def scaled_copy(source: Path, target: Path, events: int) -> int:
    """``events`` lines: the source's events again and again, each copy under new order, customer and event ids."""
    lines = source.read_bytes().splitlines()
    written = 0
    with target.open("wb") as out:
        copy = 0
        while written < events:
            for line in lines:
                if written >= events:
                    break
                if copy:
                    event = json.loads(line)
                    suffix = f"-{copy}"
                    event["event_id"] = event["event_id"][: 36 - len(suffix)] + suffix
                    event["order"]["order_id"] = event["order"]["order_id"][: 32 - len(suffix)] + suffix
                    event["order"]["customer_id"] = event["order"]["customer_id"][: 32 - len(suffix)] + suffix
                    event["customer"]["customer_id"] = event["order"]["customer_id"]
                    line = json.dumps(event, separators=(",", ":")).encode()
                out.write(line + b"\n")
                written += 1
            copy += 1
    return written


def beam_only_role(events: Path) -> dict:
    """Read + ParseAndValidate + ToRows on Beam's batch FnApiRunner, ending in a count (no sink)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from beam_pipelines.transforms.parse import VALID, ParseAndValidate
    from beam_pipelines.transforms.read import ReadOrderEvents
    from beam_pipelines.transforms.rows import ROWS, ToRows

    started = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
        messages = pipeline | ReadOrderEvents(file_pattern=str(events))
        _ = ((messages | ParseAndValidate())[VALID] | ToRows())[ROWS] | beam.combiners.Count.Globally()
    return {"seconds": time.perf_counter() - started}


def backfill_role(events: Path, warehouse: Path) -> dict:
    """The backfill as streaming_job.py runs it (launcher.run), timed from the same point."""
    from beam_pipelines.launcher import run

    started = time.perf_counter()
    run(["--input_files", str(events), "--duckdb_path", str(warehouse)])
    return {"seconds": time.perf_counter() - started}


def timed_role(role: str, events: Path, directory: Path, name: str, profile: Path | None = None) -> float:
    out = directory / f"{name}.json"
    command = harness.python(
        "-m", "bench.backfill", "--role", role, "--events", str(events), "--warehouse",
        str(directory / f"{name}.duckdb"), "--out", str(out),
    )  # fmt: skip
    if profile is not None:
        command = harness.profile_command(command, profile)
    code, _, _, _ = harness.run_timed(command, directory / f"{name}.log", timeout=1800)
    if code != 0:
        raise RuntimeError(f"{role} exited with {code}: {harness.log_tail(directory / f'{name}.log')}")
    return json.loads(out.read_text())["seconds"]


def measure(orders: int, runs: int, scales: list[int], scale_runs: int) -> dict:
    results: dict = {"pairs": [], "scales": {}, "profile": None}
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        directory = Path(tmp)
        events = directory / "events.jsonl"
        count = write_events(events, orders)
        results["events"] = count
        for index in range(runs):
            pair = {}
            order = ["backfill", "beam"] if index % 2 == 0 else ["beam", "backfill"]
            for role in order:
                seconds = timed_role(role, events, directory, f"{role}{index}")
                pair[role] = count / seconds
            results["pairs"].append(pair)
            print(f"  backfill {pair['backfill']:,.0f}/s, beam alone {pair['beam']:,.0f}/s", file=sys.stderr)
        ratio = harness.median_range(p["backfill"] / p["beam"] for p in results["pairs"])
        if ratio is None or ratio[0] < GOAL_RATIO:
            out = directory / "backfill.profile"
            print("  profiling one more backfill …", file=sys.stderr, flush=True)
            timed_role("backfill", events, directory, "profiled", profile=out)
            results["profile"] = harness.read_profile(out, within="process_bundle")
        for scale in scales:
            source = directory / f"scale{scale}.jsonl"
            scaled_copy(events, source, scale)
            for index in range(scale_runs):
                log = directory / f"scale{scale}-{index}.log"
                warehouse = directory / f"scale{scale}-{index}.duckdb"
                command = harness.python(
                    "streaming_job.py", "--input_files", str(source), "--duckdb_path", str(warehouse)
                )
                code, wall, rss, cpu = harness.run_timed(command, log, timeout=3600)
                if code != 0:
                    raise RuntimeError(f"backfill of {scale} exited with {code}: {harness.log_tail(log)}")
                results["scales"].setdefault(scale, []).append({"wall": wall, "rss": rss, "cpu": cpu})
                warehouse.unlink(missing_ok=True)
                print(f"  {scale:,} events: {wall:.1f} s, peak RSS {rss:,.0f} MiB", file=sys.stderr, flush=True)
            source.unlink()
    return results


def section(results: dict, argv: list[str]) -> harness.Section:
    pairs = results["pairs"]
    ratios = [p["backfill"] / p["beam"] for p in pairs]
    ratio = harness.median_range(ratios)
    tables = [
        harness.table(
            ("Batch run on the same events", "events/s", "vs Beam alone, same run"),
            [
                (
                    "Beam FnApiRunner: read + ParseAndValidate + ToRows, count",
                    harness.cell(p["beam"] for p in pairs),
                    "1.00",
                ),
                (
                    "`streaming_job.py --input_files` (+ upsert, dead letters)",
                    harness.cell(p["backfill"] for p in pairs),
                    harness.cell(ratios, "{:.2f}"),
                ),
            ],
        )
    ]
    notes = []
    goals = [harness.Goal("backfill / Beam batch parse+validate+ToRows", ratio and ratio[0], GOAL_RATIO, fmt="{:.2f}")]
    scales = results["scales"]
    if scales:
        ordered_scales = sorted(scales)
        # Start-up dominates the smallest size: with three sizes or more, linearity is judged against the middle one.
        smallest = ordered_scales[-2] if len(ordered_scales) >= 3 else ordered_scales[0]
        per_event = {s: harness.median_range(r["wall"] / s for r in runs)[0] for s, runs in scales.items()}
        tables.append(
            harness.table(
                ("Events", "wall (s)", "events/s", f"time/event vs {smallest:,}", "peak RSS (MiB)", "CPU (s)"),
                [
                    (
                        f"{s:,}",
                        harness.cell((r["wall"] for r in runs), "{:,.1f}"),
                        harness.cell(s / r["wall"] for r in runs),
                        f"{per_event[s] / per_event[smallest]:.2f}",
                        harness.cell(r["rss"] for r in runs),
                        harness.cell((r["cpu"] for r in runs), "{:,.1f}"),
                    )
                    for s, runs in sorted(scales.items())
                ],
            )
        )
        largest = max(scales)
        rss = {s: harness.median_range(r["rss"] for r in runs)[0] for s, runs in scales.items()}
        goals.append(
            harness.Goal(
                f"time per event at {largest:,} vs {smallest:,} events (linear: ≤ 1.25)",
                per_event[largest] / per_event[smallest],
                1.25,
                "",
                False,
                "{:.2f}",
            )
        )
        goals.append(
            harness.Goal(
                f"peak RSS at {largest:,} vs {smallest:,} events (flat: ≤ 1.25)",
                rss[largest] / rss[smallest],
                1.25,
                "",
                False,
                "{:.2f}",
            )
        )
        notes.append(
            "Scaling: the generated events copied under new order, customer and event ids up to each size; wall time "
            "and peak RSS of the whole `streaming_job.py --input_files` process (start-up included, which is why "
            "the smallest size is slower per event)."
        )
    result = harness.Section(
        key="backfill",
        title="Batch backfill vs Beam's batch runner, and backfill scaling",
        command=harness.shown_command("bench.backfill", argv),
        setup=(
            f"{results['events']:,} generated events (real Olist products and sellers), {len(pairs)} runs alternating "
            "the two pipelines, each in its own process timed from pipeline construction to its end. Cells: median "
            "(range) over runs."
        ),
        tables=tables,
        goals=goals,
        notes=notes,
    )
    if results["profile"]:
        tool, inclusive, own = results["profile"]
        result.profile = harness.render_profile(
            f"Profile of one more backfill ({tool}, bundles only; inclusive: the project's frames)", inclusive, own
        )
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.split("\n\n")[1])
    parser.add_argument("--orders", type=int, default=7000, help="generated orders (≈5 events each; default 7000)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--scales", type=int, nargs="*", default=[10_000, 100_000, 1_000_000], help="event counts")
    parser.add_argument("--scale-runs", type=int, default=3, help="runs per scale (default 3)")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE")
    parser.add_argument("--role", choices=("beam", "backfill"), help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        timing = beam_only_role(args.events) if args.role == "beam" else backfill_role(args.events, args.warehouse)
        args.out.write_text(json.dumps(timing))
        return 0
    results = measure(args.orders, args.runs, args.scales, args.scale_runs)
    harness.publish_section(section(results, argv), args.write)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
