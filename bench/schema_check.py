"""``python -m bench.schema_check [--orders 2000] [--runs 5] [--write BENCHMARKS.md]``

The validator's fast path, alternated in one run on the same generated events: the schema check alone and the
whole ``EventValidator.validate_payload`` (parse, schema, timestamps, business rules), with jsonschema-rs (what
the pipeline uses) against jsonschema (the full reporter, which only runs for invalid messages) and, when it is
importable, fastjsonschema (the fast path before jsonschema-rs). Microseconds per event; medians (ranges) of runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone

from bench import harness
from publishers.stream import MessageStream, StreamSettings
from schemas import event_schema
from schemas.validation import EventValidator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _microseconds(action: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) / count * 1e6


def _fastjsonschema_validator() -> EventValidator | None:
    """An EventValidator whose fast path is fastjsonschema, as before (None when it is not installed)."""
    if importlib.util.find_spec("fastjsonschema") is None:
        return None
    import fastjsonschema

    compiled = {v: fastjsonschema.compile(event_schema(v), use_formats=True) for v in (1, 2)}

    def fast_valid(version: int, event: dict) -> bool:
        try:
            compiled[version](event)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    validator = EventValidator()
    validator._fast_valid = fast_valid  # the one method the fast path goes through
    return validator


def measure(orders: int, runs: int) -> dict[str, list[float]]:
    bodies = [m.data for m in MessageStream(StreamSettings(seed=7, orders=orders, start_time=START))]
    events = [json.loads(body) for body in bodies]
    current = EventValidator()
    full = current._full[1]
    older = _fastjsonschema_validator()
    steps: dict[str, Callable[[], object]] = {
        "schema check: jsonschema-rs": lambda: [current._fast_valid(1, e) for e in events],
        "schema check: jsonschema (the full reporter)": lambda: [full.is_valid(e) for e in events],
        "validate_payload with jsonschema-rs": lambda: [current.validate_payload(b) for b in bodies],
    }
    if older is not None:
        steps["schema check: fastjsonschema"] = lambda: [older._fast_valid(1, e) for e in events]
        steps["validate_payload with fastjsonschema"] = lambda: [older.validate_payload(b) for b in bodies]
    results: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(runs):  # alternate, so that load on the machine falls on every variant alike
        for name, action in steps.items():
            results[name].append(_microseconds(action, len(bodies)))
    return results


def section(results: dict[str, list[float]], orders: int, runs: int, argv: list[str]) -> harness.Section:
    rows = [[name, harness.cell(values, "{:,.1f}")] for name, values in results.items()]
    notes = []
    if "validate_payload with fastjsonschema" in results:
        ratio = harness.median_range(
            [old / new for old, new in zip(results["validate_payload with fastjsonschema"],
                                          results["validate_payload with jsonschema-rs"], strict=True)]
        )  # fmt: skip
        notes.append(f"validate_payload is {ratio[0]:.2f}x as fast with jsonschema-rs as with fastjsonschema.")
    else:
        notes.append("fastjsonschema is not installed here: only the current fast path and the reporter are shown.")
    return harness.Section(
        key="schema_check",
        title="The validator's fast path: jsonschema-rs against fastjsonschema and jsonschema",
        command=harness.shown_command("bench.schema_check", argv),
        setup=f"{orders:,} generated orders' events, each variant in turn, {runs} runs; µs per event, median (range).",
        tables=[harness.table(["Step", "µs per event"], rows)],
        notes=notes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.schema_check", description=__doc__.split("\n\n")[1])
    parser.add_argument("--orders", type=int, default=2000, help="generated orders (≈5 events each)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each variant, alternated")
    parser.add_argument("--write", metavar="FILE", help="replace this benchmark's section in FILE")
    args = parser.parse_args(argv)
    results = measure(args.orders, args.runs)
    harness.publish_section(
        section(results, args.orders, args.runs, sys.argv[1:] if argv is None else argv), args.write
    )
    return 0


if __name__ == "__main__":
    harness.run_main(main)
