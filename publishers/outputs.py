"""Where messages go: a JSONL file (one message body per line) or a Pub/Sub topic."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from pathlib import Path
from typing import IO

from publishers.stream import Message

ProgressCallback = Callable[[int], None]


class PublishError(RuntimeError):
    """Publishing failed in a way the user must act on (missing topic, unreachable emulator...)."""


class RateLimiter:
    """Paces a loop at ``rate`` per second (0 = unlimited), catching up after slow steps."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.next_at = clock()

    def wait(self) -> None:
        if not self.interval:
            return
        self.next_at += self.interval
        delay = self.next_at - self.clock()
        if delay > 0:
            time.sleep(delay)


def write_jsonl(messages: Iterable[Message], path: str | Path, on_progress: ProgressCallback) -> int:
    """Write each body on its own line (bytes as produced: a bad message stays bad)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as handle:
        for message in messages:
            handle.write(message.data.replace(b"\n", b" ") + b"\n")
            count += 1
            on_progress(count)
    return count


def topic_path_parts(topic: str) -> tuple[str, str]:
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "topics" or not parts[1] or not parts[3]:
        raise PublishError(f"--topic must look like projects/PROJECT/topics/TOPIC, got {topic!r}")
    return parts[1], parts[3]


def publish(
    messages: Iterable[Message],
    topic: str,
    rate: float,
    on_progress: ProgressCallback,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Publish with ordering keys (order_id) and attributes; waits until every message is acknowledged."""
    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1

    topic_path_parts(topic)
    client = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=500, max_latency=0.01),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
    )
    try:
        client.get_topic(request={"topic": topic}, timeout=30)
    except gexc.NotFound as error:
        raise PublishError(f"topic {topic} does not exist (locally: python -m orders_local.emulator start)") from error
    except gexc.GoogleAPICallError as error:
        host = os.environ.get("PUBSUB_EMULATOR_HOST", "Google Cloud")
        raise PublishError(f"cannot reach Pub/Sub at {host}: {error}") from error
    pending: list[futures.Future] = []
    limiter = RateLimiter(rate)
    published = 0
    for message in messages:
        if should_stop():
            break
        limiter.wait()
        pending.append(client.publish(topic, message.data, ordering_key=message.ordering_key, **message.attributes))
        published += 1
        on_progress(published)
        if len(pending) >= 5000:
            _settle(pending)
    _settle(pending)
    client.stop()
    return published


def _settle(pending: list[futures.Future]) -> None:
    failures = []
    for future in pending:
        try:
            future.result(timeout=120)
        except Exception as error:
            failures.append(error)
    pending.clear()
    if failures:
        raise PublishError(f"{len(failures)} messages were not published; first error: {failures[0]}")


class ProgressLine:
    """A single, rewritten progress line on a terminal (plain lines every few seconds otherwise)."""

    def __init__(self, total: int | None, stream: IO[str] = sys.stderr, every: float = 1.0) -> None:
        self.total = total
        self.stream = stream
        self.every = every if stream.isatty() else max(every, 5.0)
        self.started = time.monotonic()
        self.last = self.started

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        self._write(done, now)

    def _write(self, done: int, now: float) -> None:
        rate = done / max(now - self.started, 1e-9)
        of_total = f"/{self.total}" if self.total else ""
        end = "\r" if self.stream.isatty() else "\n"
        self.stream.write(f"  {done}{of_total} messages, {rate:,.0f}/s{end}")
        self.stream.flush()

    def finish(self, done: int) -> None:
        if self.stream.isatty():
            self.stream.write(" " * 60 + "\r")
            self.stream.flush()
