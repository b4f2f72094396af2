"""``--tee``: the JSONL record of what a topic acknowledged. Pub/Sub's client is replaced by a fake whose futures
succeed, fail or stay pending as each test says; the real emulator run is tests/e2e/test_verify_e2e.py."""

from __future__ import annotations

import subprocess
import sys
from concurrent import futures
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from publishers.outputs import JsonlTee, PublishError, jsonl_line, publish
from publishers.stream import Message

TOPIC = "projects/p/topics/orders"


class FakePublisher:
    """PublisherClient's calls that ``publish`` makes. Bodies in ``refused`` fail; bodies in ``pending`` never
    complete; the rest are acknowledged at once."""

    refused: frozenset[bytes] = frozenset()
    pending: frozenset[bytes] = frozenset()
    sent: list[bytes] = []

    def __init__(self, **settings) -> None:
        pass

    def get_topic(self, request, timeout=None):
        return request

    def publish(self, topic, data, ordering_key="", **attributes) -> futures.Future:
        FakePublisher.sent.append(data)
        future: futures.Future = futures.Future()
        if data in self.refused:
            future.set_exception(RuntimeError(f"refused {data!r}"))
        elif data not in self.pending:
            future.set_result(f"id-{len(FakePublisher.sent)}")
        return future

    def stop(self) -> None:
        pass


@pytest.fixture
def fake_pubsub(monkeypatch) -> type[FakePublisher]:
    monkeypatch.setattr(pubsub_v1, "PublisherClient", FakePublisher)
    FakePublisher.sent = []
    FakePublisher.refused = frozenset()
    FakePublisher.pending = frozenset()
    return FakePublisher


def messages(*bodies: bytes) -> list[Message]:
    return [Message(body, {"event_id": f"e{i}"}, "o1", "o1", i + 1) for i, body in enumerate(bodies)]


BODIES = [b'{"n":1}', b'{"n":2}', b'{"n":3}']


def test_the_tee_holds_every_acknowledged_body_in_publishing_order(fake_pubsub, tmp_path: Path) -> None:
    tee = JsonlTee(tmp_path / "tee.jsonl")
    assert publish(messages(*BODIES), TOPIC, 0.0, lambda n: None, tee=tee) == 3
    tee.close()
    assert (tmp_path / "tee.jsonl").read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    assert (tee.lines, tee.altered) == (3, 0)


def test_a_refused_message_is_not_in_the_tee(fake_pubsub, tmp_path: Path) -> None:
    fake_pubsub.refused = frozenset({BODIES[1]})
    tee = JsonlTee(tmp_path / "tee.jsonl")
    with pytest.raises(PublishError, match="1 messages were not published"):
        publish(messages(*BODIES), TOPIC, 0.0, lambda n: None, tee=tee)
    tee.close()
    assert (tmp_path / "tee.jsonl").read_bytes() == b'{"n":1}\n{"n":3}\n'


def test_an_interrupted_run_keeps_what_was_acknowledged(fake_pubsub, tmp_path: Path) -> None:
    fake_pubsub.pending = frozenset({BODIES[1]})

    def interrupted():
        yield from messages(*BODIES)
        raise KeyboardInterrupt

    tee = JsonlTee(tmp_path / "tee.jsonl")
    with pytest.raises(KeyboardInterrupt):
        publish(interrupted(), TOPIC, 0.0, lambda n: None, tee=tee)
    tee.close()
    assert fake_pubsub.sent == BODIES
    assert (tmp_path / "tee.jsonl").read_bytes() == b'{"n":1}\n{"n":3}\n'


def test_bodies_that_cannot_be_one_line_are_counted(fake_pubsub, tmp_path: Path) -> None:
    odd = [b'{"a":\n1}', b'{"a":1}\r', b"", b'{"a":2}']
    tee = JsonlTee(tmp_path / "tee.jsonl")
    publish(messages(*odd), TOPIC, 0.0, lambda n: None, tee=tee)
    tee.close()
    assert (tmp_path / "tee.jsonl").read_bytes() == b"".join(jsonl_line(body) for body in odd)
    assert jsonl_line(odd[0]) == b'{"a": 1}\n'
    assert (tee.lines, tee.altered) == (4, 3)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "publishers", *args], capture_output=True, text=True, timeout=120)


def test_tee_goes_with_topic_only(tmp_path: Path) -> None:
    result = _cli("--output", str(tmp_path / "e.jsonl"), "--tee", str(tmp_path / "t.jsonl"), "--orders", "1")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--tee goes with --topic" in line
    assert not (tmp_path / "t.jsonl").exists() and not (tmp_path / "e.jsonl").exists()
    assert "--tee" in _cli("--help").stdout
