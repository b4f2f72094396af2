"""The local read and the acker under Pub/Sub faults, at the client boundary: a failing pull or ack is retried
or left for redelivery, never raised into the pipeline."""

from __future__ import annotations

from google.api_core import exceptions
from google.pubsub_v1 import types as pubsub_types

from beam_pipelines import acks, metrics
from beam_pipelines.acks import SubscriptionAcker
from beam_pipelines.transforms import local_pubsub
from beam_pipelines.transforms.local_pubsub import PullMessagesFn


class FlakySubscriber:
    """Raises the queued errors, then returns one message per pull; records acks."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.acked = []

    def pull(self, request, timeout, retry=None):
        if self.errors:
            raise self.errors.pop(0)
        message = pubsub_types.PubsubMessage(data=b"{}", attributes={}, message_id="m1")
        return pubsub_types.PullResponse(received_messages=[pubsub_types.ReceivedMessage(message=message, ack_id="a1")])

    def acknowledge(self, request, retry, timeout):
        return retry(self._acknowledge)(request)  # the client library applies the retry it is given

    def _acknowledge(self, request):
        if self.errors:
            raise self.errors.pop(0)
        self.acked.extend(request["ack_ids"])


def _read_fn(client) -> PullMessagesFn:
    fn = PullMessagesFn("projects/p/subscriptions/s")
    fn.setup()
    fn.client = client
    return fn


def test_failed_pulls_pause_and_report_nothing_then_recover(monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")  # a client without credentials; never called
    monkeypatch.setattr(local_pubsub, "ERROR_PAUSE_SECONDS", 0.001)
    errors = [exceptions.ServiceUnavailable("emulator restarting"), exceptions.NotFound("subscription gone")]
    fn = _read_fn(FlakySubscriber(errors))
    metrics.take_pending()
    assert fn._pull() == [] and fn._pull() == []  # neither error escapes
    assert fn.consecutive_errors == 2
    assert metrics.take_pending() == {metrics.PULL_ERRORS: 2}  # outside a bundle: kept for process() to report
    (received,) = fn._pull()
    assert received.ack_id == "a1" and fn.consecutive_errors == 0


def test_a_failing_ack_is_retried_then_given_up_without_raising(monkeypatch):
    acker = SubscriptionAcker("projects/p/subscriptions/s")
    flaky = FlakySubscriber([exceptions.DeadlineExceeded("busy")])
    acker._client = flaky
    assert acker.ack(["a1", None, "a2"]) == 2 and flaky.acked == ["a1", "a2"]  # retried past the deadline

    monkeypatch.setattr(acks, "ACK_RETRY", acks.ACK_RETRY.with_timeout(0.01))
    down = FlakySubscriber([exceptions.ServiceUnavailable("down")] * 10_000)
    acker._client = down
    metrics.take_pending()
    assert acker.ack(["a3"]) == 0 and down.acked == []  # given up: the message is redelivered later
    assert metrics.take_pending() == {metrics.ACK_ERRORS: 1}  # kept for a bundle's thread to report


def test_an_oversized_pull_response_shrinks_the_pull_and_is_not_idle_time(monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    fn = _read_fn(FlakySubscriber([exceptions.ResourceExhausted("Received message larger than max")]))
    before = local_pubsub._last_message_at[fn.run_token]
    assert fn._pull() == []
    assert fn.pull_size == local_pubsub.PULL_SIZE // 10
    assert local_pubsub._last_message_at[fn.run_token] >= before  # messages are waiting: the idle clock restarts
    assert len(fn._pull()) == 1 and fn.pull_size == local_pubsub.PULL_SIZE // 5  # and grows back


def test_against_the_emulator_a_pull_may_hold_more_than_4_mib(pubsub, pubsub_names):
    """Bodies of a MiB and more: the read's client takes a 9 MB response whole (the stock client's 4 MiB
    channel limit fails it after the emulator has leased the messages)."""
    from google.cloud import pubsub_v1

    from beam_pipelines.pubsub_client import subscriber_client

    publisher = pubsub_v1.PublisherClient()
    for future in [publisher.publish(pubsub_names["topic"], b"x" * 1_500_000) for _ in range(6)]:
        future.result(timeout=60)
    client = subscriber_client()
    received = []
    try:
        while len(received) < 6:
            response = client.pull(
                request={"subscription": pubsub_names["subscription"], "max_messages": 10}, retry=None, timeout=30
            )
            received += response.received_messages
    finally:
        client.close()
    assert len(received) == 6 and all(len(m.message.data) == 1_500_000 for m in received)


def test_ack_later_returns_before_the_ack_is_sent_and_close_waits_for_it():
    import threading

    release = threading.Event()

    class SlowSubscriber(FlakySubscriber):
        def _acknowledge(self, request):
            assert release.wait(timeout=30)
            super()._acknowledge(request)

    acker = SubscriptionAcker("projects/p/subscriptions/s")
    slow = SlowSubscriber([])
    acker._client = slow
    acker.ack_later(["a1", None])
    acker.ack_later([])  # nothing to send: no request
    acker.ack_later(["a2"])
    assert slow.acked == []  # the caller did not wait for the subscriber
    release.set()
    acker.close()
    assert slow.acked == ["a1", "a2"]  # in the order asked for, all sent once close returns
    acker.close()  # closing twice is harmless


def test_the_prefetcher_holds_at_most_a_bundle_and_serves_what_it_pulled_after_stopping(monkeypatch):
    monkeypatch.setattr(local_pubsub, "MAX_MESSAGES_PER_BUNDLE", 5)
    pulls = []

    def pull():
        pulls.append(1)
        message = pubsub_types.PubsubMessage(data=b"{}", message_id=f"m{len(pulls)}")
        return [pubsub_types.ReceivedMessage(message=message, ack_id=f"a{len(pulls)}-{i}") for i in range(3)]

    prefetcher = local_pubsub._Prefetcher(pull)
    prefetcher.start()
    with prefetcher._changed:
        assert prefetcher._changed.wait_for(lambda: len(prefetcher._waiting) >= 5, timeout=30)
        assert len(pulls) == 2  # two pulls of 3 filled it past 5: it stops pulling until taken from
    first = prefetcher.take(100, wait=5)
    assert [m.ack_id for m in first] == ["a1-0", "a1-1", "a1-2", "a2-0", "a2-1", "a2-2"]
    prefetcher.stop()
    left = prefetcher.take(100, wait=0)  # a pull in flight at stop() is kept, not dropped
    assert len(pulls) * 3 == len(first) + len(left) and len(left) <= 6
    assert prefetcher.take(100, wait=0) == []
