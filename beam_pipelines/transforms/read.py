"""ReadOrderEvents: Pub/Sub (streaming) or JSONL files (batch backfill), as ReceivedMessage elements."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io import fileio

from beam_pipelines.messages import ReceivedMessage, numbered_bodies, utc_instant
from beam_pipelines.transforms.local_pubsub import ReadFromSubscriptionLocally


class FromPubsubMessage(beam.DoFn):
    """Beam's PubsubMessage (ReadFromPubSub with attributes, on Dataflow) as a ReceivedMessage.

    The publish time (commit latency in pipeline_metrics) is the message's own ``publish_time``: Beam's read
    deserializes the Pub/Sub proto it gets from the runner into a PubsubMessage with it
    (apache_beam/io/gcp/pubsub.py, ``PubsubMessage._from_proto_str``). Should the runner leave it empty, the
    element's timestamp is used instead, but only when it is the publish time: when no ``timestamp_attribute``
    is set (ReadFromPubSub then stamps elements with the publish time)."""

    def __init__(self, timestamp_is_publish_time: bool) -> None:
        self.timestamp_is_publish_time = timestamp_is_publish_time

    def process(self, message, timestamp=beam.DoFn.TimestampParam):
        publish_time = utc_instant(getattr(message, "publish_time", None))
        if publish_time is None and self.timestamp_is_publish_time:
            publish_time = utc_instant(timestamp)
        yield ReceivedMessage(
            data=message.data,
            attributes=dict(message.attributes or {}),
            message_id=message.message_id,
            publish_time=publish_time,
        )


def _numbered_lines(readable: fileio.ReadableFile) -> Iterator[ReceivedMessage]:
    """Each non-empty line of a file as a message whose origin is ``path:line`` (its dead-letter identity)."""
    path = readable.metadata.path
    with readable.open() as handle:
        for number, body in numbered_bodies(handle):
            yield ReceivedMessage(data=body, origin=f"{path}:{number}")


class ReadOrderEvents(beam.PTransform):
    """PBegin -> PCollection[ReceivedMessage].

    - ``subscription`` on Dataflow: Beam's native ReadFromPubSub, with attributes (acks follow Dataflow's
      durable checkpoints).
    - ``subscription`` locally: a pull read whose messages are acked by the sinks after their commit.
    - ``file_pattern``: one message body per line, read as bytes so that even invalid UTF-8 reaches the
      dead letter instead of failing the read; each line knows its file and number, so a backfill run twice
      dead-letters a bad line once. (Files are read whole by one worker each: backfills of many files
      parallelize, one huge file does not.)
    """

    def __init__(
        self,
        subscription: str | None = None,
        file_pattern: str | None = None,
        on_dataflow: bool = False,
        timestamp_attribute: str | None = "event_time",
        max_idle_seconds: float | None = None,
    ) -> None:
        super().__init__()
        if bool(subscription) == bool(file_pattern):
            raise ValueError("ReadOrderEvents needs exactly one of subscription or file_pattern")
        self.subscription = subscription
        self.file_pattern = file_pattern
        self.on_dataflow = on_dataflow
        self.timestamp_attribute = timestamp_attribute or None
        self.max_idle_seconds = max_idle_seconds

    def expand(self, pbegin):
        if self.file_pattern:
            return (
                pbegin
                | "MatchFiles" >> fileio.MatchFiles(self.file_pattern)
                | "ReadMatches" >> fileio.ReadMatches()
                | "ToMessages" >> beam.FlatMap(_numbered_lines)
            )
        if self.on_dataflow:
            return (
                pbegin
                | "ReadFromPubSub"
                >> beam.io.ReadFromPubSub(
                    subscription=self.subscription,
                    with_attributes=True,
                    timestamp_attribute=self.timestamp_attribute,
                )
                | "ToMessages" >> beam.ParDo(FromPubsubMessage(timestamp_is_publish_time=not self.timestamp_attribute))
            )
        return pbegin | "PullUntilCommit" >> ReadFromSubscriptionLocally(self.subscription, self.max_idle_seconds)
