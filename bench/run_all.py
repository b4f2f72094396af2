"""``python -m bench.run_all [--quick] [--write BENCHMARKS.md]``: every benchmark of issue 14, one after another.

Each benchmark rewrites its own section of BENCHMARKS.md (between its markers; other sections stay). ``--quick``
(``make bench-quick``, about 5 minutes on 2 cores) runs smaller workloads: a 20,000-event backlog (the drain rate
is taken between flushes, and a flush holds up to 5,000 snapshots), 5 s per rate, 1,000 orders for the backfill
ratio, backfill scaling at 10k and 30k events once each, one dbt build (still on 100k orders).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import backfill, dbt_build, harness, schema_check, streaming_drain, upsert_flush, visible_latency

FULL = {
    streaming_drain: ["--events", "30000", "--runs", "3", "--ordered"],
    visible_latency: ["--rates", "50", "200", "--seconds", "20", "--runs", "3"],
    backfill: ["--orders", "7000", "--runs", "3", "--scales", "10000", "100000", "1000000"],
    upsert_flush: ["--orders", "20000", "--runs", "3"],
    schema_check: ["--orders", "2000", "--runs", "5"],
    dbt_build: ["--orders", "100000", "--runs", "3"],
}
QUICK = {
    streaming_drain: ["--events", "20000", "--runs", "3"],
    visible_latency: ["--rates", "50", "200", "--seconds", "5", "--runs", "3"],
    backfill: ["--orders", "1000", "--runs", "3", "--scales", "10000", "30000", "--scale-runs", "1"],
    upsert_flush: ["--orders", "5000", "--runs", "3"],
    schema_check: ["--orders", "500", "--runs", "3"],
    dbt_build: ["--orders", "100000", "--runs", "1"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads, under 5 minutes")
    parser.add_argument("--write", metavar="FILE", help="rewrite each benchmark's section in FILE")
    parser.add_argument("--only", nargs="*", help="run only these benchmarks (module names)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    started = time.monotonic()
    for module, module_args in plan.items():
        name = module.__name__.rsplit(".", 1)[-1]
        if args.only and name not in args.only:
            continue
        print(f"== {name} {' '.join(module_args)}", file=sys.stderr, flush=True)
        step = time.monotonic()
        module.main([*module_args, *(["--write", args.write] if args.write else [])])
        print(f"== {name}: {time.monotonic() - step:.0f} s", file=sys.stderr, flush=True)
    print(f"== all: {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    harness.run_main(main)
