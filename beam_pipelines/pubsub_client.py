"""The Pub/Sub subscriber client the local read and acker use, and which Pub/Sub errors are worth retrying.

Against the emulator (PUBSUB_EMULATOR_HOST), google-cloud-pubsub opens a channel with gRPC's default 4 MiB
receive limit, so one pull holding a few bodies of a MiB or more fails with ResourceExhausted, after the
emulator has already leased those messages: they come back only after the ack deadline. A channel without the
limit (as the client opens for Google's endpoint) avoids that.
"""

from __future__ import annotations

import os

from google.api_core import exceptions, retry

#: Pub/Sub faults worth retrying: the service (or emulator) briefly away, overloaded or slow.
TRANSIENT_PUBSUB_ERRORS = (
    exceptions.DeadlineExceeded,
    exceptions.ServiceUnavailable,
    exceptions.InternalServerError,
    exceptions.Aborted,
    exceptions.Unknown,
    exceptions.TooManyRequests,
    exceptions.ResourceExhausted,
    ConnectionError,
)

#: What google-cloud-pubsub sets for Google's endpoint: no size limit on either direction.
UNLIMITED_MESSAGES = (("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1))


def pubsub_retry(timeout: float, initial: float = 0.1, maximum: float = 2.0) -> retry.Retry:
    """Retry transient Pub/Sub errors with exponential backoff for at most ``timeout`` seconds."""
    return retry.Retry(
        predicate=retry.if_exception_type(*TRANSIENT_PUBSUB_ERRORS), initial=initial, maximum=maximum, timeout=timeout
    )


def subscriber_client():
    """A SubscriberClient; against the emulator, on a channel without the 4 MiB receive limit."""
    from google.cloud import pubsub_v1

    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        return pubsub_v1.SubscriberClient()
    import grpc
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    channel = grpc.insecure_channel(host, options=list(UNLIMITED_MESSAGES))
    return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
