"""Dead-letter rows that every warehouse and the dead-letter topic can take, whatever the message held.

A dead letter must never fail on its content, or the message it stands for could be neither stored nor acked.
So the row is built defensively: the raw bytes are kept (cut above MAX_PAYLOAD_BYTES, with the original size
and SHA-256 beside them), every text column is made valid Unicode without control characters and capped,
and the attributes become JSON that BigQuery's and DuckDB's JSON types accept.

Size bound of one row: payload_bytes <= 1 MiB, payload_string <= 1 MiB (UTF-8), attributes <= 64 KiB, error
text <= 16 KiB, stacktrace <= 32 KiB, ids <= 1 KiB: under 2.2 MiB as stored and under 5 MiB as a JSON row of
BigQuery's insertAll API (base64 bytes, escaped text) — BigQuery's limit is 10 MB per row; the BigQuery sink
also keeps each request under its 10 MB limit. On the topic: at most 1 MiB of data plus 100 attributes of at
most 1 KiB each, under Pub/Sub's 10 MB message limit.
"""

from __future__ import annotations

import hashlib
import json
import re
import traceback
from datetime import datetime, timezone
from typing import Any

from beam_pipelines.messages import DeadLetter, ReceivedMessage

#: Bodies up to this size are kept whole: it is the validator's MAX_BODY_BYTES, so any body that could have
#: been valid is kept exactly.
MAX_PAYLOAD_BYTES = 1 << 20
MAX_ATTRIBUTES_JSON = 64 << 10
MAX_ERROR_MESSAGE = 16 << 10
MAX_STACKTRACE = 32 << 10
MAX_ID = 1024
#: Pub/Sub: at most 100 attributes, keys up to 256 bytes, values up to 1024 bytes.
MAX_TOPIC_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY_BYTES = 256
MAX_ATTRIBUTE_VALUE_BYTES = 1024
_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]")

STAGE_ROWS = "rows"
STAGE_SINK = "sink"
INTERNAL_ERROR = "internal_error"


def clean_text(text: Any, max_bytes: int | None = None, keep_tail: bool = False) -> str | None:
    """``text`` as valid Unicode without control characters (lone surrogates shown as ``\\udxxx``, controls as
    U+FFFD), cut to ``max_bytes`` of UTF-8 (from the start, or keeping the end for stacktraces)."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    text = _CONTROL.sub("\ufffd", text.encode("utf-8", "backslashreplace").decode("utf-8"))
    if max_bytes is None:
        return text
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    marker = f"[... {len(encoded) - max_bytes:,} bytes cut]"
    room = max(max_bytes - len(marker), 0)
    if keep_tail:
        return marker + encoded[len(encoded) - room :].decode("utf-8", "ignore")
    return encoded[:room].decode("utf-8", "ignore") + marker


def clean_attributes(attributes: dict[Any, Any] | None) -> dict[str, str]:
    """Attributes with clean keys and values (each capped as Pub/Sub caps them)."""
    return {
        clean_text(key, MAX_ATTRIBUTE_KEY_BYTES): clean_text(value, MAX_ATTRIBUTE_VALUE_BYTES)
        for key, value in (attributes or {}).items()
    }


def _attributes_json(attributes: dict[str, str]) -> str:
    """The attributes as a JSON object, dropping the largest values until it fits MAX_ATTRIBUTES_JSON."""
    kept = dict(attributes)
    text = json.dumps(kept, sort_keys=True, ensure_ascii=False)
    while len(text.encode("utf-8")) > MAX_ATTRIBUTES_JSON and kept:
        kept.pop(max(kept, key=lambda key: len(key) + len(kept[key])))
        kept["_attributes_cut"] = "true"
        text = json.dumps(kept, sort_keys=True, ensure_ascii=False)
    return text


def _body_field(payload_string: str | None, name: str) -> str | None:
    """A top-level field of the body, when the body is a small enough JSON object to look into."""
    if payload_string is None:
        return None
    try:
        body = json.loads(payload_string)
    except (ValueError, RecursionError):
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return None if value is None or isinstance(value, dict | list) else str(value)


def dead_letter(
    message: ReceivedMessage,
    stage: str,
    kind: str,
    error_message: str,
    error_path: str | None = None,
    stacktrace: str | None = None,
) -> DeadLetter:
    """The dead-letter record for ``message``: payload kept byte for byte (up to 1 MiB), plus what was wrong and
    where. Never raises for any message content."""
    data = bytes(message.data or b"")
    truncated = len(data) > MAX_PAYLOAD_BYTES
    kept = data[:MAX_PAYLOAD_BYTES]
    try:
        payload_string: str | None = kept.decode("utf-8")
    except UnicodeDecodeError as error:
        # A cut inside a multi-byte character is still text; anything else invalid keeps only the bytes.
        payload_string = kept[: error.start].decode("utf-8") if truncated and error.start >= len(kept) - 3 else None
    attributes = clean_attributes(message.attributes)
    looked_up = payload_string if not truncated else None
    event_id = attributes.get("event_id") or _body_field(looked_up, "event_id")
    schema_version = attributes.get("schema_version") or _body_field(looked_up, "schema_version")
    row = {
        "timestamp": datetime.now(timezone.utc),
        "payload_string": clean_text(payload_string, MAX_PAYLOAD_BYTES),
        "payload_bytes": kept,
        "attributes": _attributes_json(attributes),
        "message_id": clean_text(message.message_id, MAX_ID),
        "dead_letter_id": clean_text(message.dead_letter_id, MAX_ID),
        "event_id": clean_text(event_id, MAX_ID),
        "schema_version": clean_text(schema_version, MAX_ID),
        "error_stage": clean_text(stage, MAX_ID),
        "error_kind": clean_text(kind, MAX_ID),
        "error_message": clean_text(error_message, MAX_ERROR_MESSAGE) or "",
        "error_path": clean_text(error_path, MAX_ID),
        "stacktrace": clean_text(stacktrace, MAX_STACKTRACE, keep_tail=True),
        "payload_size_bytes": len(data),
        "payload_sha256": hashlib.sha256(data).hexdigest(),
        "payload_truncated": truncated,
    }
    return DeadLetter(row, message.ack_id)


def internal_error(message: ReceivedMessage, stage: str, error: BaseException) -> DeadLetter:
    """The dead letter of a message whose handling raised something unforeseen (with the stacktrace)."""
    return dead_letter(
        message,
        stage,
        INTERNAL_ERROR,
        f"unexpected {type(error).__name__} at stage {stage}: {error}",
        None,
        traceback.format_exc(),
    )


def topic_attributes(row: dict[str, Any]) -> dict[str, str]:
    """Pub/Sub attributes of a dead letter: the original ones plus error_* and payload_* (within Pub/Sub's limits)."""
    extra = {
        "error_stage": row["error_stage"],
        "error_kind": row["error_kind"],
        "error_message": row["error_message"],
        "error_path": row["error_path"] or "",
        "dead_letter_id": row["dead_letter_id"] or "",
    }
    if row["payload_truncated"]:
        extra |= {
            "payload_truncated": "true",
            "payload_size_bytes": str(row["payload_size_bytes"]),
            "payload_sha256": row["payload_sha256"],
        }
    original = json.loads(row["attributes"] or "{}")
    room = MAX_TOPIC_ATTRIBUTES - len(extra)
    kept = dict(sorted(original.items())[:room])
    return clean_attributes({**kept, **extra})
