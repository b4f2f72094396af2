"""``python -m publishers``: generate Olist-style order events to a Pub/Sub topic or a JSONL file."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import datetime, timezone

from orders_local.cli import OneLineErrorParser
from publishers import schema_v2
from publishers.catalog import CatalogError, load_olist_catalog, write_catalog
from publishers.outputs import ProgressLine, PublishError, publish, topic_path_parts, write_jsonl
from publishers.stream import MessageStream, StreamSettings
from schemas import DEFAULT_PRODUCER_VERSION, EVENT_SCHEMA_FILES

#: Simulation start for file output without --start-time, so file output is a pure function of the flags.
DEFAULT_FILE_START = datetime(2026, 1, 1, tzinfo=timezone.utc)

EPILOG = """examples:
  # 2,000 orders to a file, with 10% duplicates, 20% reordered and 5% invalid messages
  python -m publishers --orders 2000 --seed 7 --duplicate-ratio 0.1 --reorder-ratio 0.2 \\
      --invalid-ratio 0.05 --output data/events.jsonl

  # the real Olist orders (Kaggle CSVs) as their lifecycles, to a file for a backfill
  python -m publishers --replay-olist ~/kaggle/olist --output data/olist_events.jsonl

  # ... or streamed to the emulator, a day of Olist time per second
  python -m publishers --replay-olist ~/kaggle/olist --topic projects/local-project/topics/orders --speedup 86400

  # a live stream to the local emulator for 60 seconds at 200 events/s, real Olist products and sellers
  export PUBSUB_EMULATOR_HOST=localhost:8085
  python -m publishers --topic projects/local-project/topics/orders --duration 60 --rate 200 \\
      --olist-dir ../shared/data/olist
"""


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


def _non_negative(kind: type) -> callable:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} >= 0, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} >= 0, got {text}")
        return value

    return parse


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 timestamp, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _topic(text: str) -> str:
    try:
        topic_path_parts(text)
    except PublishError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m publishers",
        description="Generate realistic Olist-style order events (full snapshots, sequence 1, 2, 3 ... per "
        "order) and publish them to a Pub/Sub topic or write them to a JSONL file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--topic",
        type=_topic,
        help="publish to projects/P/topics/T (PUBSUB_EMULATOR_HOST selects the local emulator)",
    )
    target.add_argument("--output", metavar="FILE.jsonl", help="write one message body per line to this file")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument(
        "--orders",
        type=_non_negative(int),
        help="number of orders to generate (default 1000, each gives about 5 events)",
    )
    amount.add_argument(
        "--duration",
        type=_non_negative(float),
        metavar="SECONDS",
        help="publish for this many seconds instead of a fixed number of orders",
    )
    parser.add_argument(
        "--rate",
        type=_non_negative(float),
        default=None,
        metavar="EVENTS_PER_S",
        help="messages per second; 0 = unlimited (default: 200 for --topic, unlimited for --output)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same flags give the same output")
    parser.add_argument(
        "--start-time",
        type=_timestamp,
        metavar="ISO8601",
        help="start of the simulated timeline, or its end with --history-days (default: now for --topic, "
        "2026-01-01T00:00:00Z for --output); with it, --topic publishes the simulated timeline too",
    )
    parser.add_argument(
        "--history-days",
        type=_non_negative(float),
        default=0.0,
        help="spread purchases over this many days before --start-time; changes due later stay pending, so "
        "some orders are still open (default 0: every lifecycle completes)",
    )
    parser.add_argument(
        "--duplicate-ratio", type=_ratio, default=0.0, help="chance that a message is sent twice (default 0)"
    )
    parser.add_argument(
        "--reorder-ratio",
        type=_ratio,
        default=0.0,
        help="chance that a snapshot is delivered after its order's next one (default 0)",
    )
    parser.add_argument(
        "--invalid-ratio",
        type=_ratio,
        default=0.0,
        help="chance that a deliberately bad message follows an event (default 0)",
    )
    parser.add_argument(
        "--olist-dir",
        metavar="DIR",
        help="use real products and sellers from the Olist CSVs in DIR (default: a generated catalog)",
    )
    parser.add_argument(
        "--replay-olist",
        metavar="DIR",
        help="instead of generating orders, replay the real Olist orders from the Kaggle CSVs in DIR (orders, "
        "order items, payments, customers) as their lifecycles, in event-time order; --orders N takes the first N "
        "by purchase time",
    )
    parser.add_argument(
        "--speedup",
        type=_non_negative(float),
        default=None,
        metavar="X",
        help="with --replay-olist and --topic: publish at X times the orders' real pace (86400 = a day per "
        "second); default: --rate messages per second",
    )
    parser.add_argument(
        "--schema-version",
        type=int,
        choices=sorted(EVENT_SCHEMA_FILES),
        default=DEFAULT_PRODUCER_VERSION,
        help=f"schema_version of the events (default {DEFAULT_PRODUCER_VERSION}); version 2 adds the order's sales "
        "channel and, once delivered, the customer's review (with --replay-olist: from "
        "olist_order_reviews_dataset.csv in DIR when present). Deploy the pipeline that accepts a version "
        "before producers send it (schemas/README.md)",
    )
    parser.add_argument(
        "--catalog-out",
        metavar="DIR",
        help="also write the catalog used as Olist-format CSVs to DIR, for the warehouse's reference loader",
    )
    return parser


def _replay(args, parser: argparse.ArgumentParser) -> int:
    """--replay-olist: the real orders' lifecycles to the topic (paced) or the file."""
    from publishers.olist_replay import ReplayError, load_orders, load_reviews, replay_messages

    if args.duration is not None or args.duplicate_ratio or args.reorder_ratio or args.invalid_ratio:
        parser.error("--replay-olist sends the real orders as they are: no --duration or *-ratio flags")
    try:
        orders = load_orders(args.replay_olist, args.orders)
    except (ReplayError, OSError) as error:
        parser.error(str(error))
    # Built one at a time as they go out: the full Kaggle set is about half a million events.
    if args.schema_version == schema_v2.VERSION:
        reviewed = load_reviews(args.replay_olist, orders)
        print(f"schema version 2: {reviewed:,} of {len(orders):,} orders have a review", file=sys.stderr)
    timed = replay_messages(orders, args.schema_version)
    messages = (message for _, message in timed)
    progress = ProgressLine(total=sum(len(order.steps()) for order in orders))
    started = time.monotonic()

    def send() -> int:
        if args.topic is None:
            return write_jsonl(messages, args.output, progress)
        if args.speedup:
            return publish(
                _paced_by_event_time(timed, args.speedup), args.topic, 0.0, progress, should_stop=STOP_REQUESTED.is_set
            )
        rate = 200.0 if args.rate is None else args.rate
        return publish(messages, args.topic, rate, progress, should_stop=STOP_REQUESTED.is_set)

    count, exit_code = _delivered(send)
    if count is None:
        return exit_code
    progress.finish(count)
    elapsed = time.monotonic() - started
    print(
        f"{count} messages to {args.topic or args.output} in {elapsed:.1f}s: {len(orders)} real Olist orders "
        f"replayed from {args.replay_olist}",
        file=sys.stderr,
    )
    return 0


#: Set by SIGTERM: publishing stops after the message in flight, waits for what is pending, and reports the
#: count (the demo stops a live publisher this way; Ctrl-C still interrupts at once).
STOP_REQUESTED = threading.Event()


def _stop_on_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: STOP_REQUESTED.set())


def _delivered(send) -> tuple[int | None, int]:
    """Run ``send``: (messages sent, 0), or (None, exit code) when publishing failed or was interrupted."""
    try:
        return send(), 0
    except PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return None, 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return None, 130


def _paced_by_event_time(timed, speedup: float):
    """Messages released at their event times, compressed ``speedup`` times."""
    first_event, started = None, time.monotonic()
    for moment, message in timed:
        first_event = first_event or moment
        due = started + (moment - first_event).total_seconds() / speedup
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _stop_on_sigterm()
    if args.replay_olist:
        return _replay(args, parser)
    if args.speedup is not None:
        parser.error("--speedup goes with --replay-olist")
    try:
        catalog = load_olist_catalog(args.olist_dir) if args.olist_dir else None
    except CatalogError as error:
        parser.error(str(error))
    live = args.topic is not None
    start = args.start_time or (datetime.now(timezone.utc) if live else DEFAULT_FILE_START)
    orders = None if args.duration is not None else (1000 if args.orders is None else args.orders)
    settings = StreamSettings(
        seed=args.seed,
        orders=orders,
        start_time=start,
        history_days=args.history_days,
        duplicate_ratio=args.duplicate_ratio,
        reorder_ratio=args.reorder_ratio,
        invalid_ratio=args.invalid_ratio,
        schema_version=args.schema_version,
    )
    # Live publishing stamps event_time with the real clock, so end-to-end latency can be measured.
    stream = MessageStream(
        settings,
        catalog,
        clock=(lambda: datetime.now(timezone.utc)) if live and not args.start_time else None,
    )
    if args.catalog_out:
        write_catalog(stream.catalog, args.catalog_out)
    progress = ProgressLine(total=None)
    started = time.monotonic()
    deadline = started + args.duration if args.duration is not None else None

    def send() -> int:
        if live:
            rate = 200.0 if args.rate is None else args.rate
            return publish(
                stream,
                args.topic,
                rate,
                progress,
                should_stop=lambda: STOP_REQUESTED.is_set() or (deadline is not None and time.monotonic() >= deadline),
            )
        if deadline is not None:
            parser.error("--duration needs --topic; use --orders with --output")
        return write_jsonl(stream, args.output, progress)

    count, exit_code = _delivered(send)
    if count is None:
        return exit_code
    progress.finish(count)
    elapsed = time.monotonic() - started
    stats = stream.stats
    invalid = ", ".join(f"{kind} {n}" for kind, n in sorted(stats.invalid.items())) or "none"
    print(
        f"{count} messages to {args.topic or args.output} in {elapsed:.1f}s "
        f"({count / max(elapsed, 1e-9):,.0f}/s): "
        f"{stats.orders} orders, {stats.events} events, {stats.duplicates} duplicates, "
        f"{stats.reordered} reordered, {sum(stats.invalid.values())} invalid ({invalid}); "
        f"catalog: {stream.catalog.source}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
