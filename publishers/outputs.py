"""Where messages go: a JSONL file (one message body per line) or a Pub/Sub topic, optionally teed to a JSONL file."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
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


def jsonl_line(body: bytes) -> bytes:
    """A message body as one JSONL line: the bytes as produced (a bad message stays bad), except that a newline
    inside the body becomes a space, since it would end the line."""
    return body.replace(b"\n", b" ") + b"\n"


def read_back_differs(body: bytes) -> bool:
    """Whether a reader of ``jsonl_line(body)`` gets other bytes than ``body`` (and so another SHA-256): a newline
    replaced, a trailing CR stripped, or an empty body skipped as a blank line (streaming_job.py's file read and
    the verify command both read lines that way). The bodies this publisher generates never do."""
    return not body or b"\n" in body or body.endswith(b"\r")


def write_jsonl(messages: Iterable[Message], path: str | Path, on_progress: ProgressCallback) -> int:
    """Write each body on its own line (see jsonl_line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as handle:
        for message in messages:
            handle.write(jsonl_line(message.data))
            count += 1
            on_progress(count)
    return count


class JsonlTee:
    """``--tee``: the bodies a topic acknowledged, one per line in publishing order, as ``--output`` writes them,
    so that ``python -m beam_pipelines.verify`` can reconcile a real run (or a backfill can replay it).

    A body is recorded once Pub/Sub has acknowledged it, so the file never names a message that was not
    published. ``altered`` counts bodies whose line reads back as other bytes (see read_back_differs): their
    SHA-256 no longer matches the dead-letter table's ``payload_sha256`` and verify can match them by event_id
    only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("wb")
        self.lines = 0
        self.altered = 0

    def record(self, body: bytes) -> None:
        self.handle.write(jsonl_line(body))
        self.lines += 1
        self.altered += read_back_differs(body)

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


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
    tee: JsonlTee | None = None,
) -> int:
    """Publish with ordering keys (order_id) and attributes; waits until every message is acknowledged. With
    ``tee``, each acknowledged body is recorded there, in publishing order."""
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
    pending: deque[tuple[futures.Future, bytes]] = deque()
    limiter = RateLimiter(rate)
    published = 0
    try:
        for message in messages:
            if should_stop():
                break
            limiter.wait()
            future = client.publish(topic, message.data, ordering_key=message.ordering_key, **message.attributes)
            pending.append((future, message.data))
            published += 1
            on_progress(published)
            if len(pending) >= 5000:
                _settle(pending, tee)
        _settle(pending, tee)
    finally:
        if tee is not None:
            # Interrupted (Ctrl-C) or failed: keep what Pub/Sub had already acknowledged, without waiting.
            for future, body in pending:
                if future.done() and not future.cancelled() and future.exception() is None:
                    tee.record(body)
            tee.flush()
    client.stop()
    return published


def _settle(pending: deque[tuple[futures.Future, bytes]], tee: JsonlTee | None) -> None:
    """Wait for every pending publish, oldest first, recording each acknowledged body in ``tee``."""
    failures = []
    while pending:
        future, body = pending[0]
        try:
            future.result(timeout=120)
        except Exception as error:
            failures.append(error)
        else:
            if tee is not None:
                tee.record(body)
        pending.popleft()
    if tee is not None:
        tee.flush()
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
