"""The Pub/Sub subscriber client the local read and acker use.

Against the emulator (PUBSUB_EMULATOR_HOST), google-cloud-pubsub opens a channel with gRPC's default 4 MiB
receive limit, so one pull holding a few bodies of a MiB or more fails with ResourceExhausted, after the
emulator has already leased those messages: they come back only after the ack deadline. A channel without the
limit (as the client opens for Google's endpoint) avoids that.
"""

from __future__ import annotations

import os

#: What google-cloud-pubsub sets for Google's endpoint: no size limit on either direction.
UNLIMITED_MESSAGES = (("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1))


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
