"""A local Pub/Sub read that acks only after the warehouse commit.

Beam's stock DirectRunner read acks on pull (a crash loses what was pulled but not written) and pulls 10
messages per bundle. This read is a splittable DoFn: each call claims one position, pulls what is waiting
(up to a cap), emits it with its ack id, and defers the rest of its infinite restriction. Everything after
it (parse, rows, sink) is fused into the same bundle, and the sinks ack at their commit, so a crash at any
point leaves un-acked messages that Pub/Sub redelivers and the idempotent upsert absorbs.

Pulling runs ahead in a thread of its own (``_Prefetcher``): while a bundle is parsed, written and acked, the
next pull is already under way, up to one bundle's worth of messages (and at most ``PREFETCH_BYTES`` of bodies)
held un-acked. Those are leased for the subscription's ack deadline (60 s locally), far longer than a bundle.

With ``max_idle_seconds`` the read claims the end of its restriction after that long without a message, so
the pipeline drains and ``run()`` returns (FnApiRunner has no cancel()).

A pull that fails (a deadline on a busy machine, the emulator restarting, the subscription briefly gone) is
logged, counted and tried again after a growing pause; it never ends the job. Time without a message counts
as idle either way, so a local job with ``max_idle_seconds`` still stops if the emulator never comes back.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
import uuid
import warnings

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Timestamp
from google.api_core import exceptions

from beam_pipelines import metrics
from beam_pipelines.messages import ReceivedMessage, utc_instant
from beam_pipelines.pubsub_client import pubsub_retry, subscriber_client

LOGGER = logging.getLogger(__name__)
warnings.filterwarnings("ignore", message="The return_immediately flag is deprecated", category=DeprecationWarning)

#: The emulator returns at most 100 messages per pull whatever max_messages says; we loop up to this cap.
MAX_MESSAGES_PER_BUNDLE = 5000
PULL_SIZE = 1000
#: The prefetch thread stops pulling while this much body data waits for the pipeline (bodies may be 1 MiB each).
PREFETCH_BYTES = 64 << 20
#: Pause between empty pulls, so an idle pipeline does not spin a core; also how long a bundle waits for
#: messages before it returns empty.
IDLE_PAUSE_SECONDS = 0.02
#: After a failed pull, wait this long, doubling per consecutive failure up to the maximum.
ERROR_PAUSE_SECONDS = 0.1
MAX_ERROR_PAUSE_SECONDS = 5.0
#: The client's own retry of one pull: short (the client's default keeps a pull retrying for 60 s, blind to
#: the job's idle clock); longer outages are the read's loop's to ride out.
PULL_RETRY = pubsub_retry(timeout=5.0, maximum=1.0)
_END = sys.maxsize

#: Last time each read (by its run token) got a message, shared by the DoFn instances of this process.
_last_message_at: dict[str, float] = {}


class _EndlessRestrictionProvider(RestrictionProvider):
    def initial_restriction(self, element) -> OffsetRange:
        return OffsetRange(0, _END)

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, element, restriction: OffsetRange) -> int:
        return 1

    def truncate(self, element, restriction: OffsetRange) -> None:
        return None  # on drain, stop pulling


_RESTRICTION = beam.DoFn.RestrictionParam(_EndlessRestrictionProvider())
_WATERMARK = beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider())


class PullMessagesFn(beam.DoFn):
    """Pulls from a subscription without acking; emits ReceivedMessage with its ack id."""

    def __init__(self, subscription: str, max_idle_seconds: float | None = None) -> None:
        self.subscription = subscription
        self.max_idle_seconds = max_idle_seconds
        self.run_token = uuid.uuid4().hex  # one idle clock per pipeline, even when a process runs several

    def setup(self) -> None:
        self.client = subscriber_client()
        self.pulled = metrics.counter(metrics.MESSAGES_PULLED)
        # Pulls fail in the prefetch thread: the counter keeps them for ``process`` to report (see metrics).
        self.pull_errors = metrics.counter(metrics.PULL_ERRORS)
        self.consecutive_errors = 0
        self.pull_size = PULL_SIZE
        self.prefetcher = _Prefetcher(self._pull)
        _last_message_at.setdefault(self.run_token, time.monotonic())

    def teardown(self) -> None:
        prefetcher = getattr(self, "prefetcher", None)
        if prefetcher is not None:
            prefetcher.stop()  # what it holds is not acked: Pub/Sub redelivers it
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def _pull(self) -> list:
        """What is waiting (possibly nothing); a failed pull is logged, paused on and reported as nothing."""
        try:
            received = self._pull_once()
        except exceptions.ResourceExhausted as error:
            # A response over gRPC's message limit (several bodies of megabytes): those messages are leased to
            # us and come back after the ack deadline; pull fewer at a time meanwhile. Messages are waiting, so
            # this is not idle time.
            self.pull_size = max(1, self.pull_size // 10)
            self.pull_errors.inc()
            _last_message_at[self.run_token] = time.monotonic()
            LOGGER.warning(
                "pull response from %s too large (%s); pulling %d at a time", self.subscription, error, self.pull_size
            )
            return []
        except Exception as error:  # transient or not, the read must survive it: the next poll tries again
            self.consecutive_errors += 1
            self.pull_errors.inc()
            pause = min(ERROR_PAUSE_SECONDS * 2 ** (self.consecutive_errors - 1), MAX_ERROR_PAUSE_SECONDS)
            log = (
                LOGGER.warning
                if self.consecutive_errors in (1, 10) or self.consecutive_errors % 100 == 0
                else LOGGER.debug
            )
            log(
                "pull from %s failed (%d in a row), retrying in %.1fs: %s: %s",
                self.subscription,
                self.consecutive_errors,
                pause,
                type(error).__name__,
                error,
            )
            time.sleep(pause)
            return []
        if self.consecutive_errors:
            LOGGER.warning("pulling from %s again after %d failed pulls", self.subscription, self.consecutive_errors)
            self.consecutive_errors = 0
        if received and self.pull_size < PULL_SIZE:
            self.pull_size = min(PULL_SIZE, self.pull_size * 2)
        return received

    def _pull_once(self) -> list:
        # return_immediately is deprecated for production Pub/Sub, where Dataflow's native read is used
        # instead; the emulator honours it, and it keeps an idle local pipeline from blocking ~29 s per pull.
        response = self.client.pull(
            retry=PULL_RETRY,
            request={
                "subscription": self.subscription,
                "max_messages": self.pull_size,
                "return_immediately": True,
            },
            timeout=30,
        )
        # The raw protobuf messages under proto-plus's wrappers: reading a field of a wrapper converts it on every
        # access, which cost more than the pull itself on a backlog (BENCHMARKS.md, streaming drain profile).
        return list(type(response).pb(response).received_messages)

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element,
        tracker=_RESTRICTION,
        watermark=_WATERMARK,
    ):
        restriction = tracker.current_restriction()
        if not tracker.try_claim(restriction.start):
            return
        self.prefetcher.start()
        received = self.prefetcher.take(MAX_MESSAGES_PER_BUNDLE, IDLE_PAUSE_SECONDS)
        metrics.report_pending()  # failed pulls, and acks of earlier flushes given up
        now = time.monotonic()
        idle = self.max_idle_seconds is not None and now - _last_message_at[self.run_token] >= self.max_idle_seconds
        if not received and idle:
            self.prefetcher.stop()  # no pull in flight from here on; one that just returned is still served
            received = self.prefetcher.take(MAX_MESSAGES_PER_BUNDLE, 0)
            if not received:
                LOGGER.info("no message for %.0fs on %s: draining", self.max_idle_seconds, self.subscription)
                tracker.try_claim(restriction.stop)  # claims the end: the read is done
                return
        for item in received:
            yield ReceivedMessage(
                data=item.message.data,
                attributes=dict(item.message.attributes),
                message_id=item.message.message_id,
                ack_id=item.ack_id,
                publish_time=utc_instant(item.message.publish_time),
            )
        if received:
            self.pulled.inc(len(received))
            _last_message_at[self.run_token] = now
        watermark.set_watermark(Timestamp.now())
        tracker.defer_remainder()


class _Prefetcher:
    """Calls ``pull()`` in a thread of its own and keeps what it returns until ``take``n, pausing while
    MAX_MESSAGES_PER_BUNDLE messages or PREFETCH_BYTES of bodies wait, and for IDLE_PAUSE_SECONDS after an
    empty pull. ``pull`` never raises (PullMessagesFn._pull turns errors into nothing and pauses itself)."""

    def __init__(self, pull) -> None:
        self._pull = pull
        self._waiting: collections.deque = collections.deque()
        self._bytes = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="pubsub-prefetch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stops pulling and waits for a pull in flight; what was pulled stays for ``take``."""
        thread, self._thread = self._thread, None
        if thread is not None:
            with self._changed:
                self._stopping = True
                self._changed.notify_all()
            thread.join()

    def take(self, limit: int, wait: float) -> list:
        """Up to ``limit`` waiting messages; waits up to ``wait`` seconds for the first."""
        with self._changed:
            if not self._waiting and wait > 0:
                self._changed.wait_for(lambda: self._waiting or self._stopping, timeout=wait)
            taken = []
            while self._waiting and len(taken) < limit:
                item = self._waiting.popleft()
                self._bytes -= len(item.message.data)
                taken.append(item)
            self._changed.notify_all()
        return taken

    def _full(self) -> bool:
        return len(self._waiting) >= MAX_MESSAGES_PER_BUNDLE or self._bytes >= PREFETCH_BYTES

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopping or not self._full())
                if self._stopping:
                    return
            received = self._pull()
            with self._changed:
                self._waiting.extend(received)
                self._bytes += sum(len(item.message.data) for item in received)
                self._changed.notify_all()
                if not received:
                    self._changed.wait_for(lambda: self._stopping, timeout=IDLE_PAUSE_SECONDS)


class ReadFromSubscriptionLocally(beam.PTransform):
    """PBegin -> PCollection[ReceivedMessage] (un-acked; sinks ack after commit)."""

    def __init__(self, subscription: str, max_idle_seconds: float | None = None) -> None:
        super().__init__()
        self.subscription = subscription
        self.max_idle_seconds = max_idle_seconds

    def expand(self, pbegin):
        return (
            pbegin
            | "Start" >> beam.Impulse()
            | "Pull" >> beam.ParDo(PullMessagesFn(self.subscription, self.max_idle_seconds))
        )
